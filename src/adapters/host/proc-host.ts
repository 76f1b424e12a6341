import { access, open, readdir, readFile, readlink, stat, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import type { Exec } from "../../exec/index.js";
import { ExecError } from "../../exec/index.js";
import type { HostPort, ProcessEntry } from "../../ports/host.js";

/** /proc/<pid>/stat: "pid (comm) state ppid ..." */
export function parseProcStat(text: string): ProcessEntry | null {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < 0) return null;
  const rest = text.slice(close + 2).split(" ");
  return { pid: Number(text.slice(0, open).trim()), comm: text.slice(open + 1, close), ppid: Number(rest[1]) };
}

async function pidOf(hostRoot: string, pidFile: string): Promise<number | null> {
  const pid = Number((await readFile(join(hostRoot, pidFile), "utf8").catch(() => "")).trim());
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

/** Each process's binary opened (a process that is gone, or not ours to read, is skipped). */
async function openBinaries(pids: readonly number[]): Promise<FileHandle[]> {
  const handles = await Promise.all(pids.map((pid) => open(`/proc/${pid}/exe`, "r").catch(() => null)));
  return handles.filter((h): h is FileHandle => h !== null);
}

/** /proc for processes; dockerd itself for validating its configuration; coreutils' sync for a flush. */
export const createHost = (exec: Exec, hostRoot = "/"): HostPort => ({
  async validateDaemonConfig(configFile) {
    if (!(await access(join(hostRoot, configFile)).then(() => true, () => false))) return null;
    try {
      const r = await exec("dockerd", ["--validate", "--config-file", configFile], { timeoutMs: 30_000 });
      return { ok: true, message: (r.stdout || r.stderr).trim() || "configuration OK" };
    } catch (err) {
      const e = err as ExecError;
      return { ok: false, message: (e.stderr || e.stdout || e.message).trim().split("\n").slice(-3).join(" ") };
    }
  },
  dockerdPid: (pidFile) => pidOf(hostRoot, pidFile),
  async holdBinaries(pids) {
    const held = await openBinaries(pids);
    // the close frees an unlinked file's blocks, on libuv's threads: nobody waits for it
    return { count: held.length, release: () => void Promise.all(held.map((h) => h.close().catch(() => undefined))) };
  },
  async dockerdReplaced(pidFile) {
    const pid = await pidOf(hostRoot, pidFile);
    if (pid === null) return null;
    const exe = await readlink(`/proc/${pid}/exe`).catch(() => null);
    return exe === null ? null : exe.endsWith(" (deleted)");
  },
  async flushFilesystem(path) {
    if (!path.startsWith("/")) throw new Error(`not an absolute path: ${path}`);
    // a sync waiting on a stalled disk sleeps uninterruptibly: no signal ends it, so the run stops
    // waiting for it after a minute and goes on (the process ends when the disk answers)
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`sync --file-system ${path} did not finish within 60 s`)), 60_000);
    });
    try {
      await Promise.race([exec("sync", ["--file-system", "--", path], { timeoutMs: 60_000 }), late]);
    } finally {
      clearTimeout(timer);
    }
  },
  fileSizes(paths) {
    return Promise.all(paths.map((p) => (p.startsWith("/") ? stat(join(hostRoot, p)).then((s) => s.size, () => null) : Promise.resolve(null))));
  },
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
});
