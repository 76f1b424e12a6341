import type { Journal } from "../ports/journal.js";
import { EXIT } from "../report/exit-codes.js";
import type { RunReport } from "../report/report.js";
import { emptyReport, newRunId } from "../report/skeleton.js";
import { waitReady } from "./daemon-cycle.js";
import { InterruptGate } from "./interrupt.js";
import { withLock } from "./lock.js";
import { twice } from "./observe.js";
import { saveReport } from "./record.js";
import { recoverRun } from "./recover.js";
import { runUpgrade } from "./run.js";
import { errorMessage } from "./steps.js";
import type { World } from "./world.js";

export interface SessionRequest {
  command: "upgrade" | "recover";
  dryRun?: boolean;
  /** `--allow-restart`: a MAJOR.MINOR jump by planned container restarts, for this run. */
  allowRestart?: boolean;
  to?: string | undefined;
  /** See UpgradeOptions.beforeStop: the daemon's window checks. */
  beforeStop?: ((phase: "install" | "stop", extraMs?: number) => string | null) | undefined;
  fleetDeadline?: number | undefined;
}

/** Where SIGINT/SIGTERM come from: subscribes a handler, returns its removal. */
export type SignalSource = (handler: (signal: string) => void) => () => void;

/**
 * One command's work on the host, under the lock: an unfinished run is recovered first (a dry run only
 * warns), then, for `upgrade`, one run; each report saved, announced once, the post hooks run. The
 * CLI parses and prints; the daemon calls this in its windows and at its start.
 */
export async function runSession(world: World, request: SessionRequest, signals?: SignalSource): Promise<RunReport[]> {
  let gate = new InterruptGate();
  const untrap = signals?.((signal) => {
    if (gate.request(signal) === "abort-now") world.logger.warn({ signal }, "aborting at the next step: nothing on the host has changed yet");
    else world.logger.warn({ signal }, "the host is being changed: finishing to a safe state first, then exiting");
  });
  try {
    const lockName = request.command === "recover" ? "recover" : request.dryRun ? "plan" : "upgrade";
    return await withLock(world, lockName, async () => {
      const reports: RunReport[] = [];
      let journal: Journal | null;
      try {
        // read twice: one failed read must not turn a recovery into a report that it could not read
        journal = await world.state.readJournal().catch(() => world.state.readJournal());
      } catch (err) {
        gate.commit();
        const r = await settleWithoutJournal(world, errorMessage(err));
        return [await finish(world, r)];
      }
      if (journal && request.dryRun) {
        world.logger.warn({ runId: journal.runId, state: journal.state }, "an earlier run did not finish; run `docker-live-upgrade recover`");
      } else if (journal) {
        gate.commit();
        reports.push(await finish(world, await recoverRun(world, journal)));
        if (request.command === "recover" || reports[0]!.exitCode !== EXIT.ok || gate.requested) return reports;
        gate = new InterruptGate(); // the upgrade itself: a signal before its commit point aborts it again
      } else if (request.command === "recover") {
        gate.commit();
        return [await finish(world, await settleWithoutJournal(world, null))];
      }
      const report = await runUpgrade(world, { dryRun: request.dryRun === true, to: request.to, allowRestart: request.allowRestart === true, interrupt: gate, beforeStop: request.beforeStop, fleetDeadline: request.fleetDeadline });
      reports.push(await finish(world, report));
      if (!report.dryRun && report.outcome !== "up-to-date") {
        const post = await world.hooks.run("post", { run_id: report.id, outcome: report.outcome, exit_code: String(report.exitCode) }).catch((err: unknown) => [{ argv: ["(hooks)"], ok: false, message: errorMessage(err) }]);
        for (const h of post.filter((p) => !p.ok)) world.logger.warn({ hook: h.argv, message: h.message }, "post hook failed");
      }
      return reports;
    });
  } finally {
    untrap?.();
  }
}

/** Saves the report (again: a run's is saved before its journal closes) and announces it, once. */
async function finish(world: World, report: RunReport): Promise<RunReport> {
  await saveReport(world, report);
  await announce(world, report).catch((err: unknown) => world.logger.warn({ err }, "could not notify"));
  return report;
}

const refusalReason = (r: RunReport): string | undefined => r.checks.find((c) => !c.ok && c.level === "error")?.name ?? r.error?.step;

/** One notification per event: a refusal or a recovery like the one before is not announced again. */
export async function announce(world: World, report: RunReport): Promise<void> {
  if (report.dryRun) return;
  const previous = (await world.state.reports(3)).find((r) => r.id !== report.id);
  if (report.command === "recover") {
    if (!report.recovery?.runId) return;
    // the daemon retries a recovery that failed: one notification per run and outcome
    if (previous?.command === "recover" && previous.recovery?.runId === report.recovery.runId && previous.outcome === report.outcome) return;
    await world.notifier.notify(report.exitCode === EXIT.ok ? "recovery" : "failure", report);
    return;
  }
  if (report.outcome === "refused") {
    // a known-bad target was announced when it failed; a refusal for the same reason as the run before
    // (dockerd down, live restore off: every window until fixed) was announced then
    if (refusalReason(report) === "known-bad-target") return;
    if (previous && !previous.dryRun && previous.outcome === "refused" && refusalReason(previous) === refusalReason(report)) return;
  }
  const event = report.outcome === "upgraded" ? "success" : report.outcome === "refused" ? "refusal" : report.outcome === "failed" || report.outcome === "rolled-back" ? "failure" : null;
  if (event) await world.notifier.notify(event, report);
}

/**
 * `recover` with no unfinished run (or one whose journal cannot be read): the service hold released,
 * dockerd started if it is down; says what the host looks like. Touches no fleet record.
 */
async function settleWithoutJournal(world: World, problem: string | null): Promise<RunReport> {
  const { clock, config, logger } = world;
  const report = emptyReport(newRunId(clock.now()), "recover", clock.now(), false);
  report.recovery = { runId: null, found: problem ?? "no unfinished run", actions: [] };
  await world.serviceHold.release().catch((err: unknown) => logger.error({ err }, "could not release the service hold"));
  let up = (await twice(() => world.docker.ping(2_000).then(() => true))) === true;
  if (!up) {
    report.recovery.actions.push("start");
    try {
      await world.service.start({ restartContainerd: false, timeoutMs: config.upgrade.downtimeBudget });
      await waitReady(world.docker, Math.min(config.docker.readyTimeout, config.upgrade.downtimeBudget), clock);
      up = true;
    } catch (err) {
      report.error = { message: errorMessage(err), step: "start" };
    }
  }
  const version = up ? await twice(async () => (await world.docker.version()).version) : null;
  const audit = await twice(() => world.packages.audit());
  const consistent = audit !== null && audit.length === 0;
  report.engineVersion.after = version;
  report.hostState = [
    up ? `dockerd up, engine ${version ?? "?"}` : "dockerd NOT answering: start it (systemctl start docker) and look at its journal (journalctl -u docker)",
    consistent ? "packages consistent" : `package database inconsistent: ${world.packages.repairHint}`,
    ...(problem ? [problem] : []),
  ].join("; ");
  const healthy = up && consistent && problem === null;
  report.outcome = healthy ? "up-to-date" : "failed";
  report.exitCode = healthy ? EXIT.ok : EXIT.failed;
  if (!healthy && !report.error) report.error = { message: problem ?? report.hostState, step: "recover" };
  report.finishedAt = new Date(clock.now()).toISOString();
  return report;
}
