import type { RunReport } from "../../report/report.js";
import { InterruptGate } from "../../upgrade/interrupt.js";
import { recoverRun } from "../../upgrade/recover.js";
import { EXIT } from "../../report/exit-codes.js";
import { runUpgrade } from "../../upgrade/run.js";
import type { World } from "../../upgrade/ports.js";
import { withLock } from "./run-locked.js";

export interface UpgradeFlags {
  dryRun: boolean;
  to?: string | undefined;
  beforeStop?: (phase: "install" | "stop") => string | null;
  fleetDeadline?: number | undefined;
}

/** Routes SIGINT/SIGTERM to whichever gate is current; returns a function that removes the handlers. */
export function trapSignals(world: World, current: () => InterruptGate): () => void {
  const handler = (signal: NodeJS.Signals) => {
    if (current().request(signal) === "abort-now") world.logger.warn({ signal }, "aborting at the next step: nothing on the host has changed yet");
    else world.logger.warn({ signal }, "dockerd is being cycled: finishing to a safe state first, then exiting");
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return () => {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
  };
}

export async function notifyOutcome(world: World, report: RunReport): Promise<void> {
  if (report.outcome === "refused") {
    const why = (r: RunReport) => r.checks.find((c) => !c.ok && c.level === "error")?.name ?? r.error?.step;
    // a known-bad target was announced when it failed; a refusal for the same reason as the run before
    // (dockerd down, live restore off: every window until fixed) was announced then: notify once
    if (why(report) === "known-bad-target") return;
    const previous = (await world.state.reports(2)).find((r) => r.id !== report.id);
    if (previous && !previous.dryRun && previous.outcome === "refused" && why(previous) === why(report)) return;
  }
  const event = report.outcome === "upgraded" ? "success" : report.outcome === "refused" ? "refusal" : report.outcome === "failed" || report.outcome === "rolled-back" ? "failure" : null;
  if (event && !report.dryRun) await world.notifier.notify(event, report);
}

/**
 * `upgrade` and `plan`: under the lock, first recover an unfinished run (not in a dry run, which changes
 * nothing and only warns), then one upgrade. Returns the reports written, recovery first.
 */
export async function upgradeCommand(world: World, flags: UpgradeFlags): Promise<RunReport[]> {
  let gate = new InterruptGate();
  const untrap = trapSignals(world, () => gate);
  try {
    return await withLock(world, flags.dryRun ? "plan" : "upgrade", async () => {
      const reports: RunReport[] = [];
      const journal = await world.state.readJournal();
      if (journal && flags.dryRun) {
        world.logger.warn({ runId: journal.runId, state: journal.state }, "an earlier run did not finish; run `docker-live-upgrade recover`");
      } else if (journal) {
        gate.commit();
        const rec = await recoverRun(world, journal);
        await world.state.writeReport(rec);
        reports.push(rec);
        if (rec.exitCode !== EXIT.ok) return reports;
        gate = new InterruptGate(); // the upgrade itself: a signal before its stop aborts it again
      }
      const report = await runUpgrade(world, { dryRun: flags.dryRun, to: flags.to, interrupt: gate, beforeStop: flags.beforeStop, fleetDeadline: flags.fleetDeadline });
      await world.state.writeReport(report);
      await notifyOutcome(world, report);
      if (!report.dryRun && report.outcome !== "up-to-date") {
        const post = await world.hooks.run("post", { run_id: report.id, outcome: report.outcome, exit_code: String(report.exitCode) });
        for (const h of post.filter((p) => !p.ok)) world.logger.warn({ hook: h.argv, message: h.message }, "post hook failed");
      }
      reports.push(report);
      return reports;
    });
  } finally {
    untrap();
  }
}
