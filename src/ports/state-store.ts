import type { Journal } from "./journal.js";
import type { RunReport } from "../report/report.js";

/** Everything the tool keeps between runs, under stateDir. */
export interface StateStore {
  readonly dir: string;
  /** Writes and fsyncs the journal before returning: it is the record recovery relies on. */
  writeJournal(journal: Journal): Promise<void>;
  readJournal(): Promise<Journal | null>;
  /** Moves the finished journal out of the way (kept beside its report). */
  closeJournal(runId: string): Promise<void>;
  writeReport(report: RunReport): Promise<string>;
  reports(limit?: number): Promise<RunReport[]>;
  /** A folder for this run's downloaded packages ("target" or "rollback"). */
  cacheDir(runId: string, kind: "target" | "rollback"): Promise<string>;
  pruneCache(keepRunId: string | null): Promise<void>;
}
