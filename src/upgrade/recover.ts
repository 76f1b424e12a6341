import type { Journal } from "../ports/journal.js";
import type { RunReport } from "../report/report.js";
import { emptyReport, newRunId } from "../report/skeleton.js";
import type { MachineContext } from "./context.js";
import { runMachine } from "./drive.js";
import { noAttempts, passedVerification } from "./machine.js";
import { observe } from "./observe.js";
import { startProbes } from "./run.js";
import { StepRecorder } from "./steps.js";
import type { World } from "./world.js";

/** A package run the crash orphaned may still be going: let it finish before the database is judged. */
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

/**
 * Finishes or undoes the run a journal describes: the state machine resumed from the journal and from
 * what the host shows. It never leaves dockerd stopped; the outcome is what the host shows at the end.
 */
export async function recoverRun(world: World, journal: Journal): Promise<RunReport> {
  const { clock, logger } = world;
  const report = emptyReport(newRunId(clock.now()), "recover", clock.now(), false);
  const steps = new StepRecorder(clock);
  report.steps = steps.steps;
  report.order = journal.order;
  report.engine = { package: journal.engine.name, from: journal.engine.from, to: journal.engine.to };
  report.packages = journal.target.map((t) => ({ name: t.name, from: journal.previous.find((p) => p.name === t.name)?.version ?? null, to: t.version }));
  report.snapshot = journal.snapshot.map((c) => ({ id: c.id, name: c.name, status: c.status, pid: c.pid, startedAt: c.startedAt, paused: c.paused }));
  report.recovery = { runId: journal.runId, found: `run ${journal.runId} interrupted at "${journal.state}" going ${journal.direction === "forward" ? "forward" : "back"}${journal.failure ? ` (after ${journal.failure.step} failed: ${journal.failure.message})` : ""}`, actions: [] };
  // the run's own failure, when it had one: why it was being undone (and a target not to try again)
  if (journal.failure) report.error = { ...journal.failure };
  logger.warn({ runId: journal.runId, state: journal.state, direction: journal.direction }, "recovering an unfinished run");
  // the planned-restart path: whatever stopped containers since their start (a power loss stops those
  // without a restart policy), every one that ran is started again (those running are left as they are)
  if (journal.restart?.phase === "started") journal.restart.phase = "starting";

  // a crashed run's policy-rc.d would hold every package's service actions on this host: first thing
  await steps.run("release-service-hold", () => world.serviceHold.release()).catch((err: unknown) => logger.error({ err }, "could not release the service hold"));
  await steps.run("wait-package-lock", () => waitForPackageLock(world)).catch((err: unknown) => logger.warn({ err }, "the package database is still locked"));
  const ctx: MachineContext = {
    world,
    mode: "recover",
    journal,
    report,
    steps,
    view: await observe(world, [...new Set([...journal.target, ...journal.previous].map((t) => t.name))]),
    tried: noAttempts(),
    verified: passedVerification(journal),
    window: { downSince: null, cycleStart: null, downtimeMs: null },
    beforeStop: () => Promise.resolve(null),
    probes: startProbes(world),
    facts: { run_id: journal.runId, engine_package: journal.engine.name, from: journal.engine.from, to: journal.engine.to, socket: world.config.docker.socket },
    releaseFleet: journal.fleetSlot && world.fleet ? (result) => world.fleet!.settleRun(journal.runId, result) : null,
    bestEffortJournal: false,
    journalBehind: null,
    acted: false,
    undoErrors: [],
  };
  await runMachine(ctx);
  if (report.containers && report.containers.restarted.length + report.containers.missing.length) logger.warn({ containers: report.containers }, "containers changed across the interrupted run");
  return report;
}
