import type { Journal } from "../ports/journal.js";
import type { FleetSlot } from "../ports/fleet.js";
import { blockingAlerts, describeAlerts } from "../fleet/alerts.js";
import type { ContainerState } from "../ports/docker.js";
import type { HookKind, HookResult } from "../hooks/hooks.js";
import type { UpgradePlan } from "../plan/plan.js";
import { ProbeRunner, dockerApiProbe } from "../probes/probe-runner.js";
import { EXIT } from "../report/exit-codes.js";
import type { CheckResult, Outcome, RunReport } from "../report/report.js";
import { emptyReport, newRunId } from "../report/skeleton.js";
import type { MachineContext, StopVeto } from "./context.js";
import { runMachine } from "./drive.js";
import type { InterruptGate } from "./interrupt.js";
import { noAttempts, type HostView } from "./machine.js";
import { preflight, type PreflightResult } from "./preflight.js";
import { takeSnapshot } from "./snapshot.js";
import { restartAllowanceMs, startLevels } from "../restart/order.js";
import { StepError, StepRecorder, errorMessage } from "./steps.js";
import type { World } from "./world.js";

export interface UpgradeOptions {
  dryRun: boolean;
  to?: string | undefined;
  /** `--allow-restart`: a MAJOR.MINOR jump by planned container restarts, for this run. */
  allowRestart?: boolean;
  interrupt: InterruptGate;
  /**
   * Asked before the host changes and again right before dockerd stops; a reason string cancels the
   * run (e.g. the window closed). `phase` "install": staged, the install still comes before the stop.
   */
  beforeStop?: (phase: "install" | "stop", extraMs?: number) => string | null;
  /** With a fleet: wait for a slot until then (epoch ms; the window's end less the run); else fleet.wait from now. */
  fleetDeadline?: number | undefined;
}

const UNTOUCHED = "unchanged: nothing was stopped, installed or downloaded";

const hookChecks = (kind: HookKind, results: readonly HookResult[]): CheckResult[] =>
  results.map((h) => ({ name: `hook:${kind}:${h.argv[0]}`, ok: h.ok, message: h.message, level: "error" }));

const summarize = (containers: readonly ContainerState[]): RunReport["snapshot"] =>
  containers.map((c) => ({ id: c.id, name: c.name, status: c.status, pid: c.pid, startedAt: c.startedAt, paused: c.paused }));

const errorOf = (err: unknown, fallbackStep: string) => ({ message: errorMessage(err), step: err instanceof StepError ? err.step : fallbackStep });

/** One run's report, its steps and how it ends before the commit point. */
class Run {
  readonly report: RunReport;
  readonly steps: StepRecorder;

  constructor(
    readonly world: World,
    readonly options: UpgradeOptions,
  ) {
    this.report = emptyReport(newRunId(world.clock.now()), "upgrade", world.clock.now(), options.dryRun);
    this.steps = new StepRecorder(world.clock);
    this.report.steps = this.steps.steps;
  }

  end(outcome: Outcome, exitCode: number, hostState: string, error: RunReport["error"] = this.report.error): RunReport {
    Object.assign(this.report, { outcome, exitCode, hostState, error, finishedAt: new Date(this.world.clock.now()).toISOString() });
    return this.report;
  }
}

/** The preflight and the pre hooks: a plan to carry out, or the run's end (refused, up to date, dry run). */
async function planRun(run: Run): Promise<{ plan: UpgradePlan; pre: PreflightResult } | RunReport> {
  const { world, report, steps, options } = run;
  let pre: PreflightResult;
  try {
    pre = await steps.run("preflight", () => preflight(world, { to: options.to, dryRun: options.dryRun, allowRestart: options.allowRestart === true }));
  } catch (err) {
    return run.end("failed", EXIT.failed, "unchanged: the preflight could not complete, nothing was touched", errorOf(err, "preflight"));
  }
  Object.assign(report, { checks: pre.checks, engine: pre.engine, snapshot: summarize(pre.snapshot), packages: pre.plan?.changes ?? [], order: world.config.upgrade.order, path: pre.plan?.path ?? null, fates: pre.fates });
  report.engineVersion.before = pre.version?.version ?? null;
  if (pre.verdict === "refused") {
    const first = pre.checks.find((c) => !c.ok && c.level === "error");
    return run.end("refused", EXIT.refused, UNTOUCHED, { message: first ? `${first.name}: ${first.message}` : "refused", step: "preflight" });
  }
  if (pre.verdict === "up-to-date") {
    if (!options.dryRun) await holdUpToDate(run, pre.packages);
    return run.end("up-to-date", EXIT.ok, `unchanged: ${pre.engine.package} ${pre.engine.from} is the target`);
  }
  if (options.dryRun) return run.end("would-upgrade", EXIT.ok, UNTOUCHED);
  const plan = pre.plan!;
  const facts = { run_id: report.id, engine_package: plan.engine.name, from: plan.engine.from, to: plan.engine.to, socket: world.config.docker.socket };
  const preHooks = await steps.run("hooks-pre", () => world.hooks.run("pre", facts)).catch((err: unknown) => [{ argv: ["(hooks)"], ok: false, message: errorMessage(err) }]);
  report.checks.push(...hookChecks("pre", preHooks));
  const failed = preHooks.find((h) => !h.ok);
  if (failed) return run.end("refused", EXIT.refused, UNTOUCHED, { message: `pre hook ${failed.argv.join(" ")} failed: ${failed.message}`, step: "hooks-pre" });
  return { plan, pre };
}

/** packages.hold: the engine's packages stay held between runs, also when there was nothing to upgrade. */
async function holdUpToDate(run: Run, names: readonly string[]): Promise<void> {
  const { world, report } = run;
  if (!world.config.packages.hold || !names.length) return;
  try {
    const held = await world.packages.held(names);
    const missing = names.filter((n) => !held.includes(n));
    if (missing.length) await world.packages.setHold(missing, true);
    report.checks.push({ name: "package-holds", ok: true, message: `${names.join(", ")} held between runs (packages.hold)`, level: "warning" });
  } catch (err) {
    report.checks.push({ name: "package-holds", ok: false, message: `could not hold ${names.join(", ")}: ${errorMessage(err)}`, level: "warning" });
  }
}

type Slot = { slot: FleetSlot | null; requestsBefore: number };

/** Before a host takes a slot: no alert active in the monitoring (less the filtered ones), or the run is deferred. */
async function alertGate(run: Run): Promise<RunReport | null> {
  const { world, report, steps } = run;
  const alerts = world.alerts;
  const filter = world.config.fleet?.alerts;
  if (!alerts || !filter) return null;
  let message: string;
  try {
    const blocking = blockingAlerts(await steps.run("fleet-alerts", () => alerts.active()), filter);
    if (!blocking.length) {
      report.checks.push({ name: "fleet-alerts", ok: true, message: `no alert active in ${alerts.source}`, level: "warning" });
      return null;
    }
    message = `${blocking.length} alert(s) active in ${alerts.source}: ${describeAlerts(blocking)}; no slot is taken while they are (fleet.alerts)`;
  } catch (err) {
    // monitoring that cannot answer is no evidence that all is well
    message = `${errorMessage(err)}; no slot is taken without an answer (fleet.alerts)`;
  }
  report.checks.push({ name: "fleet-alerts", ok: false, message, level: "warning" });
  return run.end("deferred", EXIT.ok, UNTOUCHED, { message, step: "fleet-alerts" });
}

/** The fleet slot, after the preflight passed and before anything is downloaded or changed. */
async function takeSlot(run: Run, plan: UpgradePlan): Promise<Slot | RunReport> {
  const { world, report, steps, options } = run;
  const fleet = world.fleet;
  const requestsBefore = fleet?.requests ?? 0;
  if (!fleet) return { slot: null, requestsBefore };
  const fleetReport = () => {
    report.fleet = { backend: fleet.backend, group: world.config.fleet?.group ?? "", waitedMs: steps.steps.find((s) => s.name === "fleet-slot")?.durationMs ?? 0, requests: fleet.requests - requestsBefore };
  };
  const deadline = options.fleetDeadline ?? world.clock.now() + (world.config.fleet?.wait ?? 0);
  const quiet = await alertGate(run);
  if (quiet !== null) return quiet;
  try {
    const got = await steps.run("fleet-slot", () => fleet.acquire({ runId: report.id, target: plan.engine.to }, deadline, options.interrupt.abortSignal));
    fleetReport();
    if (got.kind === "retarget") {
      report.checks.push({ name: "fleet-slot", ok: false, message: got.reason, level: "warning" });
      return run.end("deferred", EXIT.ok, UNTOUCHED, { message: got.reason, step: "fleet-retarget" });
    }
    if (got.kind !== "slot") {
      report.checks.push({ name: "fleet-slot", ok: false, message: got.reason, level: got.kind === "halted" ? "error" : "warning" });
      return got.kind === "halted" ? run.end("refused", EXIT.refused, UNTOUCHED, { message: got.reason, step: "fleet-slot" }) : run.end("deferred", EXIT.ok, UNTOUCHED, { message: got.reason, step: "fleet-slot" });
    }
    report.checks.push({ name: "fleet-slot", ok: true, message: `slot granted in group ${world.config.fleet?.group ?? "?"} (rollout to ${got.release})`, level: "error" });
    return { slot: got.slot, requestsBefore };
  } catch (err) {
    fleetReport();
    return run.end("refused", EXIT.refused, UNTOUCHED, errorOf(err, "fleet-slot"));
  }
}

/**
 * Before the commit point: the journal's record, the downloads (target and rollback), the fence, the
 * window, the snapshot. Any failure ends the run with the host as it was and the slot given back.
 */
async function prepare(run: Run, plan: UpgradePlan, pre: PreflightResult, held: Slot): Promise<Journal | RunReport> {
  const { world, report, steps, options } = run;
  const { config } = world;
  let early = false;
  const abandon = async (error: RunReport["error"], outcome: Outcome, exitCode: number): Promise<RunReport> => {
    await world.state.pruneCache(null).catch(() => undefined);
    // nothing was changed: the slot goes back without halting the group
    const given = held.slot
      ? await held.slot.release({ ok: true, version: plan.engine.from, outcome, reason: error?.message ?? null }).then(
          () => true,
          (err: unknown) => {
            world.logger.error({ err }, "could not give the fleet slot back");
            report.checks.push({ name: "fleet-release", ok: false, message: `could not give the fleet slot back (${errorMessage(err)}); the journal stays open and this host's recovery settles it`, level: "warning" });
            return false;
          },
        )
      : true;
    // the journal on record is what lets this host's recovery settle a slot not given back
    if (early && given) await world.state.closeJournal(report.id).catch((err: unknown) => world.logger.warn({ err }, "could not close the journal"));
    if (world.fleet && report.fleet) report.fleet.requests = world.fleet.requests - held.requestsBefore;
    return run.end(outcome, exitCode, UNTOUCHED, error);
  };
  let journal: Journal;
  try {
    options.interrupt.throwIfRequested();
    // the engine's own packages (never the dependencies the package manager pulls in: their security updates must go on)
    const names = [...new Set([...pre.packages, ...plan.targets.map((t) => t.name)])].filter((n) => pre.packages.includes(n));
    const before = await world.packages.held(names);
    journal = {
      version: 2,
      runId: report.id,
      pid: process.pid,
      startedAt: report.startedAt,
      order: config.upgrade.order,
      state: "fetched",
      direction: "forward",
      failure: null,
      startedOn: "previous",
      engine: { ...plan.engine },
      previous: plan.previous,
      target: plan.targets,
      targetDir: await world.state.cacheDir(report.id, "target"),
      rollbackDir: await world.state.cacheDir(report.id, "rollback"),
      restartContainerd: plan.restartContainerd,
      holds: { before, after: config.packages.hold ? [...new Set([...before, ...names])] : before },
      snapshot: pre.snapshot,
      engineOptions: pre.info ? { driver: pre.info.driver, dockerRootDir: pre.info.dockerRootDir, cgroupDriver: pre.info.cgroupDriver } : null,
      fleetSlot: held.slot !== null,
      transitions: [],
    };
    // holding a fleet slot: on record before the (long) download, so that a crash there is settled by
    // this host's recovery instead of halting the group on a host that was never touched
    if (held.slot) {
      await world.state.writeJournal(journal);
      early = true;
    }
    await steps.run("download", async () => {
      await world.packages.fetch(plan.targets, journal.targetDir);
      await world.packages.fetch(plan.previous, journal.rollbackDir);
    });
    options.interrupt.throwIfRequested();
  } catch (err) {
    return abandon(errorOf(err, "download"), "failed", EXIT.failed);
  }
  // The fence: act as the slot's holder only while it still is one (its lease alive, not cleared).
  if (held.slot) {
    try {
      await steps.run("fleet-fence", () => held.slot!.assertHeld());
    } catch (err) {
      return abandon(errorOf(err, "fleet-fence"), "refused", EXIT.refused);
    }
  }
  // the planned-restart path: the containers' stops and starts take the window's time too
  const extra = plan.path === "restart" ? restartAllowanceMs(pre.snapshot.filter((c) => c.running), config.upgrade.restart.steady) : 0;
  const cancel = options.beforeStop?.(config.upgrade.order === "staged" ? "install" : "stop", extra);
  if (cancel) return abandon({ message: `not stopping dockerd: ${cancel}`, step: "before-stop" }, "refused", EXIT.refused);
  // What verification compares against: the containers right before the host changes (the
  // preflight's may be minutes old after a slow download).
  try {
    journal.snapshot = await steps.run("snapshot", () => takeSnapshot(world.docker));
  } catch (err) {
    return abandon(errorOf(err, "snapshot"), "failed", EXIT.failed);
  }
  report.snapshot = summarize(journal.snapshot);
  if (plan.path === "restart") {
    const running = journal.snapshot.filter((c) => c.running);
    const lost = running.filter((c) => c.autoRemove);
    // started with --rm since the preflight: its stop would remove it
    if (lost.length) return abandon({ message: `${lost.map((c) => c.name).join(", ")} run with --rm: the planned restart's stop would remove them; stop them yourself, or recreate them without --rm`, step: "snapshot" }, "refused", EXIT.refused);
    const checkpoint = running.filter((c) => pre.checkpoint.includes(c.id) && !c.paused).map((c) => c.id);
    journal.restart = { levels: startLevels(running), phase: "running", stoppedAt: {}, readyAt: {}, ...(checkpoint.length ? { checkpoint, checkpoints: {}, state: {} } : {}) };
  }
  // The commit point: the journal is on disk before anything on the host changes. A signal that came
  // in the last stretch still aborts here, as it was told it would.
  try {
    options.interrupt.throwIfRequested();
  } catch (err) {
    return abandon({ message: errorMessage(err), step: "interrupted" }, "failed", EXIT.failed);
  }
  try {
    journal.transitions.push({ state: "fetched", direction: "forward", at: new Date(world.clock.now()).toISOString() });
    await world.state.writeJournal(journal);
  } catch (err) {
    return abandon({ message: `could not write the journal: ${errorMessage(err)}`, step: "journal" }, "failed", EXIT.failed);
  }
  return journal;
}

/** Asked right before a forward stop of dockerd: the window still open, the fleet slot still held. */
function stopGate(run: Run, slot: FleetSlot | null, journal: Journal): () => Promise<StopVeto> {
  const kept = run.world.config.upgrade.order === "staged" ? "; the install is undone, dockerd kept serving" : "; dockerd kept serving";
  return async () => {
    const r = journal.restart;
    const then = r && r.phase !== "running" ? `${kept}; the containers are started again` : kept;
    // (the containers' stops done already: only their starts are still to come)
    const extra = r ? restartAllowanceMs(journal.snapshot.filter((c) => r.levels.flat().includes(c.id)), run.world.config.upgrade.restart.steady, r.phase !== "running") : 0;
    const late = run.options.beforeStop?.("stop", extra);
    if (late) return { step: "before-stop", message: `not stopping dockerd: ${late}${then}` };
    if (slot) {
      try {
        await run.steps.run("fleet-fence", () => slot.assertHeld());
      } catch (err) {
        return { step: "fleet-fence", message: `${errorMessage(err)}${then}` };
      }
    }
    return null;
  };
}

export function startProbes(world: World): ProbeRunner {
  const { config } = world;
  const probes = new ProbeRunner(
    [...config.probes.map((p) => ({ ...p, counted: true })), ...(config.docker.apiProbeInterval > 0 ? [dockerApiProbe(config.docker.socket, config.docker.apiProbeInterval)] : [])],
    world.probeCheck,
    world.clock,
  );
  probes.start();
  return probes;
}

/**
 * One live upgrade: preflight, fleet slot, download, snapshot, then the state machine from the commit
 * point (staged: install while dockerd serves, one restart; stop-first: stop, install, start; verify;
 * back to the previous versions on failure). The report is saved by the machine before it closes the journal.
 */
export async function runUpgrade(world: World, options: UpgradeOptions): Promise<RunReport> {
  const run = new Run(world, options);
  const planned = await planRun(run);
  if (!("plan" in planned)) return planned;
  const { plan, pre } = planned;
  const held = await takeSlot(run, plan);
  if (!("requestsBefore" in held)) return held;
  const journal = await prepare(run, plan, pre, held);
  if (!("runId" in journal)) return journal;

  options.interrupt.commit(); // from here on the run finishes to a safe state whatever is asked
  const { report } = run;
  await world.notifier.notify("start", { id: report.id, startedAt: report.startedAt, engine: report.engine, packages: report.packages, order: report.order }).catch(() => undefined);
  const installed = Object.fromEntries(plan.previous.map((p) => [p.name, { name: p.name, version: p.version, status: "ii", ok: true }]));
  // what the preflight saw moments ago: the machine starts from it and keeps it up to date
  const view: HostView = { installed, consistent: true, daemonUp: true, engineVersion: pre.version?.version ?? null, binaryReplaced: null };
  const slot = held.slot;
  const ctx: MachineContext = {
    world,
    mode: "run",
    journal,
    report,
    steps: run.steps,
    view,
    tried: noAttempts(),
    verified: false,
    window: { downSince: null, cycleStart: null, downtimeMs: null },
    beforeStop: stopGate(run, slot, journal),
    probes: startProbes(world),
    facts: { run_id: report.id, engine_package: plan.engine.name, from: plan.engine.from, to: plan.engine.to, socket: world.config.docker.socket },
    releaseFleet: slot
      ? async (result) => {
          await slot.release(result);
          if (world.fleet && report.fleet) report.fleet.requests = world.fleet.requests - held.requestsBefore;
        }
      : null,
    bestEffortJournal: false,
    journalBehind: null,
    acted: false,
    undoErrors: [],
  };
  await runMachine(ctx);
  return report;
}
