import { installHeld } from "./install.js";
import type { RunReport } from "../report/report.js";
import { type RunContext } from "./context.js";
import { restartDaemon, startDaemon } from "./daemon-cycle.js";
import { harmed } from "./diff.js";
import { decideRecovery, type Journal } from "./journal.js";
import type { World } from "./ports.js";
import { EXIT } from "../report/exit-codes.js";
import { emptyReport, newRunId } from "../report/skeleton.js";
import { describeHost } from "./host-state.js";
import { StepRecorder, errorMessage } from "./steps.js";
import { verifyAfterStart, settleContainers } from "./verify.js";

async function waitForPackageLock(world: World): Promise<void> {
  const deadline = world.clock.now() + world.config.packages.timeout;
  for (;;) {
    const holder = await world.packages.lockHolder();
    if (!holder) return;
    if (world.clock.now() >= deadline) throw new Error(`the package database is still locked by ${holder}`);
    world.logger.info({ holder }, "waiting for the package database lock");
    await world.clock.sleep(1_000);
  }
}


async function daemonUp(world: World): Promise<boolean> {
  return world.docker.ping(2_000).then(
    () => true,
    () => false,
  );
}

/**
 * Finishes or undoes the run a journal describes, and never leaves dockerd stopped. Exit 0 when the
 * host ends healthy (daemon up, package database consistent), 1 otherwise.
 */
export async function recoverRun(world: World, journal: Journal): Promise<RunReport> {
  const { clock, packages, logger } = world;
  const report = emptyReport(newRunId(clock.now()), "recover", clock.now(), false);
  const steps = new StepRecorder(clock);
  report.steps = steps.steps;
  report.order = journal.order;
  const engineTarget = journal.target[0];
  const enginePrev = journal.previous.find((p) => p.name === engineTarget?.name);
  report.engine = { package: engineTarget?.name ?? null, from: enginePrev?.version ?? null, to: engineTarget?.version ?? null };
  report.packages = journal.target.map((t) => ({ name: t.name, from: journal.previous.find((p) => p.name === t.name)?.version ?? null, to: t.version }));

  // A package run the crash orphaned may still be going: let it finish before judging the database.
  await steps.run("wait-package-lock", () => waitForPackageLock(world)).catch((err: unknown) => logger.warn({ err }, "the package database is still locked"));
  // The package database first: what is installed decides whether to finish or undo.
  if (journal.state === "installing" || journal.state === "rolling-back") {
    await steps.run("repair", () => packages.repair()).catch((err: unknown) => logger.warn({ err }, "dpkg --configure -a failed"));
  }
  const installed = Object.fromEntries(
    (await packages.installed(journal.target.map((t) => t.name))).map((p) => [p.name, p.ok ? p.version : undefined]),
  );
  const plan = decideRecovery(journal, { installed, daemonUp: await daemonUp(world) });
  report.recovery = { found: `run ${journal.runId} ${plan.reason}`, actions: plan.actions };
  logger.warn({ runId: journal.runId, state: journal.state, actions: plan.actions }, "recovering an unfinished run");

  const ctx: RunContext = { world, steps, journal, stopAt: null, downtimeMs: null, daemonDownByUs: false, everStopped: false };
  let failed: string | null = null;
  try {
    for (const action of plan.actions) {
      switch (action) {
        case "release-service-hold":
          await world.serviceHold.release();
          break;
        case "repair-packages":
          break; // done above, before deciding
        case "install-previous":
          await steps.run("install-previous", () => installHeld(world, journal.previous, { from: journal.rollbackDir, allowDowngrades: true, reinstall: true }));
          break;
        case "start-daemon":
          ctx.daemonDownByUs = true;
          ctx.stopAt = clock.now();
          await startDaemon(ctx, { restartContainerd: journal.restartContainerd });
          break;
        case "restart-daemon":
          await restartDaemon(ctx, journal.restartContainerd);
          break;
        case "verify":
          if (plan.direction === "forward") {
            const v = await steps.run("verify", () => verifyAfterStart(world, journal, journal.target));
            report.checks.push(...v.checks);
            report.containers = v.containers;
            report.engineVersion.after = v.engineVersion;
          } else {
            report.containers = await steps.run("verify", () => settleContainers(world, journal.snapshot, world.config.upgrade.settle));
          }
          break;
        case "reapply-holds":
          await packages.setHold(journal.releasedHolds, true);
          break;
      }
    }
  } catch (err) {
    failed = errorMessage(err);
    report.error = { message: failed, step: steps.steps.at(-1)?.name ?? "recover" };
  }
  report.daemonDowntimeMs = ctx.downtimeMs;
  const host = await describeHost(world, false);
  report.hostState = host.text;
  const healthy = host.daemonUp && host.packagesConsistent;
  if (healthy) {
    await world.state.closeJournal(journal.runId);
    await world.state.pruneCache(null);
  }
  const lost = report.containers ? harmed(report.containers) : 0;
  report.outcome = !healthy || failed ? "failed" : plan.direction === "undo" ? "rolled-back" : plan.direction === "forward" ? "upgraded" : "up-to-date";
  report.exitCode = healthy && !failed ? EXIT.ok : EXIT.failed;
  if (lost) logger.warn({ containers: report.containers }, "containers changed across the interrupted run");
  report.finishedAt = new Date(clock.now()).toISOString();
  return report;
}
