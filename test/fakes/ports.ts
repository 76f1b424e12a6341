import type { HostPort } from "../../src/ports/host.js";
import type { LockPort, LockResult } from "../../src/ports/lock.js";
import type { StateStore } from "../../src/ports/state-store.js";
import { migrateJournal, type Journal } from "../../src/ports/journal.js";
import type { RunReport } from "../../src/report/report.js";
import { againstTheRelease } from "../../src/report/failures.js";
import { copyJournal } from "./host.js";
import type { SimProcess } from "./process.js";
import { View } from "./view.js";

const enospc = (what: string) => Object.assign(new Error(`ENOSPC: no space left on device, ${what}`), { code: "ENOSPC" });

export class SimState extends View implements StateStore {
  readonly dir = "/state";
  /** Every journal write, in order (its state). */
  readonly journalStates: string[] = [];
  get journal(): Journal | null {
    return this.h.readJournal();
  }
  set journal(j: Journal | null) {
    this.h.journalFile = j === null ? null : copyJournal(j);
  }
  get saved(): RunReport[] {
    return this.h.reportFiles.map((f) => JSON.parse(f.json) as RunReport);
  }

  writeJournal(j: Journal): Promise<void> {
    return this.p.call("write", "state", "writeJournal", () => {
      if (this.h.diskFull) throw enospc("write /state/journal.json");
      this.h.journalFile = copyJournal(j);
      this.journalStates.push(j.state);
      if (againstTheRelease(j.failure)) this.h.recordedFailures.add(j.runId);
    });
  }
  readJournal(): Promise<Journal | null> {
    return this.p.call("read", "state", "readJournal", () => (this.h.journalFile === null ? null : migrateJournal(copyJournal(this.h.journalFile))));
  }
  closeJournal(runId: string): Promise<void> {
    // a rename: it needs no room on the disk
    return this.p.call("write", "state", "closeJournal", () => {
      if (this.h.journalFile !== null) this.h.closedJournals.push(runId);
      this.h.journalFile = null;
    });
  }
  writeReport(r: RunReport): Promise<string> {
    return this.p.call("write", "state", "writeReport", () => {
      if (this.h.diskFull) throw enospc(`write /state/reports/${r.id}.json`);
      const file = { id: r.id, json: JSON.stringify(r) };
      const i = this.h.reportFiles.findIndex((x) => x.id === r.id);
      if (i >= 0) this.h.reportFiles[i] = file;
      else this.h.reportFiles.push(file);
      return `/state/reports/${r.id}.json`;
    });
  }
  reports(limit = Infinity): Promise<RunReport[]> {
    return this.p.call("read", "state", "reports", () => this.h.reportFiles.slice(Math.max(0, this.h.reportFiles.length - limit)).reverse().map(parsedReport));
  }
  cacheDir(runId: string, kind: "target" | "rollback"): Promise<string> {
    return this.p.call("write", "state", "cacheDir", () => {
      if (this.h.diskFull) throw enospc(`mkdir /state/cache/${runId}/${kind}`);
      return `/state/cache/${runId}/${kind}`;
    });
  }
  pruneCache(keepRunId: string | null): Promise<void> {
    return this.p.call("write", "state", "pruneCache", () => {
      for (const dir of [...this.h.files.keys()]) {
        if (dir.startsWith("/state/cache/") && !dir.startsWith(`/state/cache/${keepRunId}/`)) this.h.files.delete(dir);
      }
    });
  }
}

/** A saved report as read back: parsed once per file and frozen (readers never change a report they read). */
const parsed = new WeakMap<object, RunReport>();
function parsedReport(file: { id: string; json: string }): RunReport {
  let r = parsed.get(file);
  if (!r) {
    r = deepFreeze(JSON.parse(file.json) as RunReport);
    parsed.set(file, r);
  }
  return r;
}
function deepFreeze<T>(x: T): T {
  if (x && typeof x === "object") {
    for (const v of Object.values(x)) deepFreeze(v);
    Object.freeze(x);
  }
  return x;
}

export class SimLock extends View implements LockPort {
  acquire(command: string): Promise<LockResult> {
    return this.p.call("write", "lock", "acquire", () => {
      const h = this.h;
      const cur = h.lockFile;
      if (cur && h.alive.has(cur.pid)) return { acquired: false as const, holder: cur };
      h.lockFile = { pid: this.p.pid, command, since: new Date(h.now).toISOString() };
      return { acquired: true as const, tookOverFrom: cur };
    });
  }
  release(): Promise<void> {
    return this.p.call("write", "lock", "release", () => {
      if (this.h.lockFile?.pid === this.p.pid) this.h.lockFile = null;
    });
  }
  holder() {
    return this.p.call("read", "lock", "holder", () => (this.h.lockFile && this.h.alive.has(this.h.lockFile.pid) ? this.h.lockFile : null));
  }
}

export function simHost(p: SimProcess): HostPort & { daemonConfigVerdict: { ok: boolean; message: string } | null } {
  const port = {
    daemonConfigVerdict: null as { ok: boolean; message: string } | null,
    processes: () => p.call("read", "host", "processes", () => [{ pid: 10, ppid: 1, comm: "containerd" }, { pid: 11, ppid: 1, comm: "dockerd" }]),
    validateDaemonConfig: () => p.call("read", "host", "validateDaemonConfig", () => port.daemonConfigVerdict),
    dockerdReplaced: () => p.call("read", "host", "dockerdReplaced", () => (p.host.daemonUp ? p.host.binaryReplaced : null)),
    flushFilesystem: () => p.call("read", "host", "flushFilesystem", () => undefined),
    holdBinaries: (pids: readonly number[]) =>
      p.call("read", "host", "holdBinaries", () => {
        p.host.events.push(`host.hold ${pids.join(" ")}`);
        return { count: pids.length, release: () => void p.host.events.push("host.release") };
      }),
    dockerdPid: () => p.call("read", "host", "dockerdPid", () => (p.host.daemonUp ? 11 : null)),
    fileSizes: (paths: readonly string[]) => p.call("read", "host", "fileSizes", () => paths.map((path: string) => p.host.logSizes.get(path) ?? null)),
  };
  return port;
}
