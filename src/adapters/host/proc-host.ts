import { readdir, readFile } from "node:fs/promises";
import type { HostPort, ProcessEntry } from "../../ports/host.js";

/** /proc/<pid>/stat: "pid (comm) state ppid ..." */
export function parseProcStat(text: string): ProcessEntry | null {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < 0) return null;
  const rest = text.slice(close + 2).split(" ");
  return { pid: Number(text.slice(0, open).trim()), comm: text.slice(open + 1, close), ppid: Number(rest[1]) };
}

export const procHost: HostPort = {
  async processes() {
    const out: ProcessEntry[] = [];
    for (const d of await readdir("/proc")) {
      if (!/^\d+$/.test(d)) continue;
      const text = await readFile(`/proc/${d}/stat`, "utf8").catch(() => null);
      const entry = text && parseProcStat(text);
      if (entry) out.push(entry);
    }
    return out;
  },
};
