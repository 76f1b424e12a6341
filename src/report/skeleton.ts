import { randomBytes } from "node:crypto";
import type { RunReport } from "./report.js";
import { EXIT } from "./exit-codes.js";

/** A run's id: its start time (UTC, to the second) and a random suffix. */
/**
 * A run's id, and its report's file name: the start time to the millisecond, then a random suffix.
 * Ids sort in the order the runs started (history lists them so); at a resolution of seconds, two
 * runs started within one second were ordered by the suffix.
 */
export function newRunId(now: number): string {
  return `${new Date(now).toISOString().replace(/[-:]/g, "")}-${randomBytes(3).toString("hex")}`;
}

/** A report before anything is known: every field present, the outcome "failed" until the run says otherwise. */
export function emptyReport(id: string, command: RunReport["command"], startedAt: number, dryRun: boolean): RunReport {
  return {
    id,
    command,
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: "",
    dryRun,
    outcome: "failed",
    engine: { package: null, from: null, to: null },
    packages: [],
    checks: [],
    daemonDowntimeMs: null,
    containers: null,
    probes: [],
    steps: [],
    error: null,
    hostState: "",
    order: null,
    engineVersion: { before: null, after: null },
    snapshot: [],
    path: null,
    fates: [],
    recovery: null,
    fleet: null,
    exitCode: EXIT.failed,
  };
}
