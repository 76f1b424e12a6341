import { mkdir, readdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { StateStore } from "../../ports/state-store.js";
import type { RunReport } from "../../report/report.js";
import { migrateJournal, type Journal } from "../../ports/journal.js";
import { writeFileDurable } from "./fs-atomic.js";

/**
 * stateDir/
 *   journal.json         the unfinished run, if any
 *   journals/<id>.json   finished runs' journals
 *   reports/<id>.json    one report per run
 *   cache/<id>/{target,rollback}/   packages downloaded before the stop
 */
export class FsStateStore implements StateStore {
  constructor(readonly dir: string) {}

  private async ensure(sub = ""): Promise<string> {
    const path = join(this.dir, sub);
    await mkdir(path, { recursive: true, mode: 0o700 });
    return path;
  }

  /** The journal's writes, one after the other in the order asked: the last one asked is what stays. */
  private journalWrites: Promise<void> = Promise.resolve();

  writeJournal(journal: Journal): Promise<void> {
    const text = JSON.stringify(journal, null, 2);
    const write = this.journalWrites.then(async () => {
      await this.ensure();
      await writeFileDurable(join(this.dir, "journal.json"), text);
    });
    this.journalWrites = write.catch(() => undefined);
    return write;
  }

  async readJournal(): Promise<Journal | null> {
    try {
      return migrateJournal(JSON.parse(await readFile(join(this.dir, "journal.json"), "utf8")) as Parameters<typeof migrateJournal>[0]);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw new Error(`the journal ${join(this.dir, "journal.json")} is unreadable (${(err as Error).message}); inspect it, then move it aside`);
    }
  }

  async closeJournal(runId: string): Promise<void> {
    await this.ensure("journals");
    await rename(join(this.dir, "journal.json"), join(this.dir, "journals", `${runId}.json`)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "ENOENT") throw err;
    });
  }

  async writeReport(report: RunReport): Promise<string> {
    const dir = await this.ensure("reports");
    const path = join(dir, `${report.id}.json`);
    await writeFileDurable(path, JSON.stringify(report, null, 2));
    return path;
  }

  async reports(limit = Infinity): Promise<RunReport[]> {
    const dir = join(this.dir, "reports");
    const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith(".json")).sort().reverse();
    const out: RunReport[] = [];
    for (const f of files.slice(0, limit)) {
      try {
        out.push(JSON.parse(await readFile(join(dir, f), "utf8")) as RunReport);
      } catch {
        // a report being written right now, or damaged: history shows the others
      }
    }
    return out;
  }

  async cacheDir(runId: string, kind: "target" | "rollback"): Promise<string> {
    return this.ensure(join("cache", runId, kind));
  }

  async pruneCache(keepRunId: string | null): Promise<void> {
    const dir = join(this.dir, "cache");
    for (const d of await readdir(dir).catch(() => [] as string[])) {
      if (d !== keepRunId) await rm(join(dir, d), { recursive: true, force: true });
    }
  }
}
