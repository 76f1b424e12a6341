import type { RunReport } from "../report/report.js";

export interface BadTarget {
  version: string;
  runId: string;
  outcome: string;
  reason: string;
  at: string;
}

/**
 * A run that got as far as changing the host (an install or a stop), and then failed or was rolled
 * back for the target's sake: not one undone because its window closed before the stop.
 */
const attempted = (r: RunReport): boolean => r.steps.some((s) => s.name === "install" || s.name === "stop") && r.error?.step !== "before-stop";

/**
 * Engine targets that failed or were rolled back on this host and have not been installed since (a
 * later successful run to that very version, e.g. `upgrade --to`, clears one). `reports` newest first,
 * as the state store gives them. A newer release is another target and is tried as usual.
 */
export function badTargets(reports: readonly RunReport[]): BadTarget[] {
  const bad = new Map<string, BadTarget>();
  for (const r of [...reports].reverse()) {
    const to = r.engine.to;
    if (r.dryRun || r.command !== "upgrade" || !to) continue;
    if (r.outcome === "upgraded") bad.delete(to);
    else if ((r.outcome === "failed" || r.outcome === "rolled-back") && attempted(r)) {
      bad.set(to, { version: to, runId: r.id, outcome: r.outcome, reason: r.error?.message ?? r.outcome, at: r.finishedAt });
    }
  }
  return [...bad.values()];
}
