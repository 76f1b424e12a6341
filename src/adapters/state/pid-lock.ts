import { mkdir, open, readFile, rm } from "node:fs/promises";
import { dirname } from "node:path";
import type { LockHolder, LockPort, LockResult } from "../../ports/lock.js";

interface LockFile extends LockHolder {
  /** /proc/<pid>/stat start time: a pid reused by another process is not the holder. */
  startTime: string | null;
}

async function procStartTime(pid: number): Promise<string | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // the command name (field 2) may contain spaces and parentheses: split after the last ')'
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

/**
 * A lock file created with O_EXCL holding the owner's pid and start time. A lock whose owner is gone
 * (crash, SIGKILL, reboot) is taken over. Hand-written rather than proper-lockfile: that one decides
 * staleness by mtime, which a long download or install would have to keep refreshing.
 */
export class PidLock implements LockPort {
  private held = false;

  constructor(private readonly path: string) {}

  private async read(): Promise<LockFile | null> {
    try {
      return JSON.parse(await readFile(this.path, "utf8")) as LockFile;
    } catch {
      return null;
    }
  }

  private async alive(lock: LockFile): Promise<boolean> {
    const start = await procStartTime(lock.pid);
    return start !== null && (lock.startTime === null || lock.startTime === start);
  }

  async holder(): Promise<LockHolder | null> {
    const lock = await this.read();
    if (!lock || !(await this.alive(lock))) return null;
    return { pid: lock.pid, command: lock.command, since: lock.since };
  }

  async acquire(command: string): Promise<LockResult> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    const mine: LockFile = { pid: process.pid, command, since: new Date().toISOString(), startTime: await procStartTime(process.pid) };
    let staleHolder: LockHolder | null = null;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fh = await open(this.path, "wx", 0o600);
        try {
          await fh.writeFile(JSON.stringify(mine));
          await fh.sync();
        } finally {
          await fh.close();
        }
        this.held = true;
        return { acquired: true, tookOverFrom: attempt > 0 ? staleHolder : null };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      const current = await this.read();
      if (current && (await this.alive(current))) {
        return { acquired: false, holder: { pid: current.pid, command: current.command, since: current.since } };
      }
      // Stale (or unreadable: a crash between create and write). Remove it and race for a fresh one.
      staleHolder = current ? { pid: current.pid, command: current.command, since: current.since } : null;
      await rm(this.path, { force: true });
    }
    throw new Error(`could not take the lock ${this.path}`);
  }

  async release(): Promise<void> {
    if (!this.held) return;
    const current = await this.read();
    if (current?.pid === process.pid) await rm(this.path, { force: true });
    this.held = false;
  }
}
