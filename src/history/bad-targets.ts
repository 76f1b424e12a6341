import { againstTheRelease } from "../report/failures.js";
import type { RunReport } from "../report/report.js";

export interface BadTarget {
  version: string;
  runId: string;
  outcome: string;
  reason: string;
  at: string;
}

/**
 * A run that failed or was rolled back for the target's sake (its install, its start, its
 * verification: not one called off before the stop, nor one stopped by this host's own trouble); or
 * the recovery that finished undoing such a run (its report carries the run's failure).
 */
const attempted = (r: RunReport): boolean => againstTheRelease(r.error);

/**
 * Engine targets that failed or were rolled back on this host and have not been installed since (a
 * later successful run to that very version, e.g. `upgrade --to`, clears one). `reports` newest first,
 * as the state store gives them. A newer release is another target and is tried as usual.
 */
export function badTargets(reports: readonly RunReport[]): BadTarget[] {
  const bad = new Map<string, BadTarget>();
  for (const r of [...reports].reverse()) {
    const to = r.engine.to;
    if (r.dryRun || !to) continue;
    if (r.outcome === "upgraded") bad.delete(to);
    else if ((r.outcome === "failed" || r.outcome === "rolled-back") && attempted(r)) {
      bad.set(to, { version: to, runId: r.id, outcome: r.outcome, reason: r.error?.message ?? r.outcome, at: r.finishedAt });
    }
  }
  return [...bad.values()];
}
