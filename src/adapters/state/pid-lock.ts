import { mkdir, open, readFile, rename, rm, rmdir, stat } from "node:fs/promises";
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

const same = (a: LockFile | null, b: LockFile | null): boolean =>
  a !== null && b !== null && a.pid === b.pid && a.startTime === b.startTime && a.since === b.since;

/** A takeover that has sat this long was abandoned by a crash inside it (the work inside takes milliseconds). */
const TAKEOVER_ABANDONED_MS = 10_000;

/**
 * A lock file created with O_EXCL holding the owner's pid and start time. A lock whose owner is gone
 * (crash, SIGKILL, reboot) is taken over, atomically: only the process that created the takeover
 * folder (mkdir is atomic) may remove the stale file, and only after reading it again inside and
 * finding the very stale lock it judged; so a fresh lock another process just created is never
 * removed, and of many processes racing for one stale lock exactly one wins. Hand-written rather
 * than proper-lockfile: that one decides staleness by mtime, which a long download or install would
 * have to keep refreshing.
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
    for (let attempt = 0; attempt < 200; attempt++) {
      try {
        const fh = await open(this.path, "wx", 0o600);
        try {
          await fh.writeFile(JSON.stringify(mine));
          await fh.sync();
        } finally {
          await fh.close();
        }
        this.held = true;
        return { acquired: true, tookOverFrom: null };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      const current = await this.read();
      if (current && (await this.alive(current))) {
        return { acquired: false, holder: { pid: current.pid, command: current.command, since: current.since } };
      }
      // Stale (or unreadable: a crash between create and write): take it over under the takeover folder.
      if (await this.takeOver(current, mine)) {
        this.held = true;
        return { acquired: true, tookOverFrom: current ? { pid: current.pid, command: current.command, since: current.since } : null };
      }
      await new Promise((r) => setTimeout(r, 10 + Math.random() * 20));
    }
    throw new Error(`could not take the lock ${this.path}`);
  }

  /**
   * Replaces the stale lock `judged` with `mine` if, inside the takeover folder, it is still exactly
   * that one. The replacement is a rename over it: the lock file never goes missing, so no other
   * process can create one in between.
   */
  private async takeOver(judged: LockFile | null, mine: LockFile): Promise<boolean> {
    const guard = `${this.path}.takeover`;
    try {
      await mkdir(guard);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const age = await stat(guard).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age > TAKEOVER_ABANDONED_MS) await rmdir(guard).catch(() => undefined);
      return false;
    }
    try {
      const now = await this.read();
      // unreadable: a crash between create and write, or a live process that has not written yet
      const unreadable = judged === null && now === null && (await stat(this.path).then((s) => Date.now() - s.mtimeMs > 5_000, () => true));
      if (unreadable || (same(now, judged) && !(await this.alive(now!)))) {
        const tmp = `${this.path}.${process.pid}.tmp`;
        const fh = await open(tmp, "w", 0o600);
        try {
          await fh.writeFile(JSON.stringify(mine));
          await fh.sync();
        } finally {
          await fh.close();
        }
        await rename(tmp, this.path);
        return true;
      }
      return false;
    } finally {
      await rmdir(guard).catch(() => undefined);
    }
  }

  async release(): Promise<void> {
    if (!this.held) return;
    const current = await this.read();
    if (current?.pid === process.pid) await rm(this.path, { force: true });
    this.held = false;
  }
}
