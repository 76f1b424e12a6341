import { ProbeRunner, dockerApiProbe } from "../probes/probe-runner.js";
import { EXIT } from "../report/exit-codes.js";
import { emptyReport, newRunId } from "../report/skeleton.js";
import { describeHost } from "./host-state.js";
import { installHeld } from "./install.js";
import type { CheckResult, Outcome, RunReport } from "../report/report.js";
import { transition, type RunContext } from "./context.js";
import { restartDaemon, startDaemon, stopDaemon } from "./daemon-cycle.js";
import { harmed } from "./diff.js";
import type { InterruptGate } from "./interrupt.js";
import type { Journal } from "./journal.js";
import type { World } from "./ports.js";
import { preflight } from "./preflight.js";
import { rollback } from "./rollback.js";
import { StepError, StepRecorder, errorMessage } from "./steps.js";
import { releaseOf } from "../versions/scheme.js";
import { verifyAfterStart } from "./verify.js";
import { takeSnapshot } from "./snapshot.js";
import type { ContainerState } from "../ports/docker.js";
import type { HookKind, HookResult } from "../hooks/hooks.js";
import type { Acquired, FleetSlot } from "../ports/fleet.js";

export interface UpgradeOptions {
  dryRun: boolean;
  to?: string | undefined;
  interrupt: InterruptGate;
  /**
   * Asked before the host changes and again right before dockerd stops; a reason string cancels the
   * run (e.g. the window closed). `phase` "install": staged, the install still comes before the stop.
   */
  beforeStop?: (phase: "install" | "stop") => string | null;
  /** With a fleet: wait for a slot until then (epoch ms; the window's end less the run); else fleet.wait from now. */
  fleetDeadline?: number | undefined;
}

const hookChecks = (kind: HookKind, results: readonly HookResult[]): CheckResult[] =>
  results.map((h) => ({ name: `hook:${kind}:${h.argv[0]}`, ok: h.ok, message: h.message, level: "error" }));

const summarize = (containers: readonly ContainerState[]): RunReport["snapshot"] =>
  containers.map((c) => ({ id: c.id, name: c.name, status: c.status, pid: c.pid, startedAt: c.startedAt, paused: c.paused }));

const errorOf = (err: unknown, fallbackStep: string) => ({ message: errorMessage(err), step: err instanceof StepError ? err.step : fallbackStep });

/**
 * One live upgrade: preflight, snapshot, download, then (staged) install with service actions held,
 * one restart; or (stop-first) stop, install, start; then verify, roll back on failure, report.
 * Every state that changes the host is journaled before it is entered.
 */
export async function runUpgrade(world: World, options: UpgradeOptions): Promise<RunReport> {
  const { clock, config, logger } = world;
  const started = clock.now();
  const report = emptyReport(newRunId(started), "upgrade", started, options.dryRun);
  const steps = new StepRecorder(clock);
  report.steps = steps.steps;
  const finish = (outcome: Outcome, exitCode: number, hostState: string): RunReport => {
    report.outcome = outcome;
    report.exitCode = exitCode;
    report.hostState = hostState;
    report.finishedAt = new Date(clock.now()).toISOString();
    return report;
  };

  let pre;
  try {
    pre = await steps.run("preflight", () => preflight(world, { to: options.to, dryRun: options.dryRun }));
  } catch (err) {
    report.error = errorOf(err, "preflight");
    return finish("failed", EXIT.failed, "unchanged: the preflight could not complete, nothing was touched");
  }
  report.checks = pre.checks;
  report.engine = pre.engine;
  report.engineVersion.before = pre.version?.version ?? null;
  report.snapshot = summarize(pre.snapshot);
  report.packages = pre.plan?.changes ?? [];
  report.order = config.upgrade.order;
  const untouched = "unchanged: nothing was stopped, installed or downloaded";

  if (pre.verdict === "refused") {
    const first = pre.checks.find((c) => !c.ok && c.level === "error");
    report.error = { message: first ? `${first.name}: ${first.message}` : "refused", step: "preflight" };
    return finish("refused", EXIT.refused, untouched);
  }
  if (pre.verdict === "up-to-date") return finish("up-to-date", EXIT.ok, `unchanged: ${pre.engine.package} ${pre.engine.from} is the target`);
  const plan = pre.plan!;
  if (options.dryRun) return finish("would-upgrade", EXIT.ok, untouched);

  const facts = { run_id: report.id, engine_package: plan.engine.name, from: plan.engine.from, to: plan.engine.to, socket: config.docker.socket };
  const preHooks = await steps.run("hooks-pre", () => world.hooks.run("pre", facts));
  report.checks.push(...hookChecks("pre", preHooks));
  const failedHook = preHooks.find((h) => !h.ok);
  if (failedHook) {
    report.error = { message: `pre hook ${failedHook.argv.join(" ")} failed: ${failedHook.message}`, step: "hooks-pre" };
    return finish("refused", EXIT.refused, untouched);
  }

  // The fleet: a slot after the preflight passed, before anything is downloaded or changed.
  let slot: FleetSlot | null = null;
  const fleetRequests0 = world.fleet?.requests ?? 0;
  const fleetReport = () => {
    if (world.fleet) report.fleet = { backend: world.fleet.backend, group: config.fleet?.group ?? "", waitedMs: steps.steps.find((s) => s.name === "fleet-slot")?.durationMs ?? 0, requests: world.fleet.requests - fleetRequests0 };
  };
  if (world.fleet) {
    const deadline = options.fleetDeadline ?? clock.now() + (config.fleet?.wait ?? 0);
    let got: Acquired;
    try {
      got = await steps.run("fleet-slot", () => world.fleet!.acquire({ runId: report.id, target: plan.engine.to }, deadline, options.interrupt.abortSignal));
    } catch (err) {
      report.error = errorOf(err, "fleet-slot");
      fleetReport();
      return finish("refused", EXIT.refused, untouched);
    }
    if (got.kind !== "slot") {
      fleetReport();
      report.error = { message: got.reason, step: "fleet-slot" };
      report.checks.push({ name: "fleet-slot", ok: false, message: got.reason, level: got.kind === "halted" ? "error" : "warning" });
      return got.kind === "halted" ? finish("refused", EXIT.refused, untouched) : finish("deferred", EXIT.ok, untouched);
    }
    slot = got.slot;
    report.checks.push({ name: "fleet-slot", ok: true, message: `slot granted in group ${config.fleet?.group ?? "?"} (rollout target ${got.target})`, level: "error" });
  }
  const giveBack = async (ok: boolean, outcome: string, version: string, reason: string | null) => {
    if (!slot) return;
    if (ok && (config.fleet?.soak ?? 0) > 0) await clock.sleep(config.fleet!.soak);
    await slot.release({ ok, version, outcome, reason }).catch((err: unknown) => logger.error({ err }, "could not give the fleet slot back"));
    fleetReport();
    if (!ok) await world.notifier.notify("fleet-halt", report);
  };

  const journal: Journal = {
    version: 1,
    runId: report.id,
    pid: process.pid,
    startedAt: report.startedAt,
    order: config.upgrade.order,
    state: "fetched",
    previous: plan.previous,
    target: plan.targets,
    targetDir: await world.state.cacheDir(report.id, "target"),
    rollbackDir: await world.state.cacheDir(report.id, "rollback"),
    restartContainerd: plan.restartContainerd,
    releasedHolds: [],
    snapshot: pre.snapshot,
    engineOptions: pre.info ? { driver: pre.info.driver, dockerRootDir: pre.info.dockerRootDir, cgroupDriver: pre.info.cgroupDriver } : null,
    transitions: [],
  };
  const ctx: RunContext = { world, steps, journal, stopAt: null, downtimeMs: null, daemonDownByUs: false, everStopped: false };
  /** Before the commit point: drop the downloads and end with the host as it was. */
  const abandon = async (error: RunReport["error"], outcome: Outcome, exitCode: number): Promise<RunReport> => {
    report.error = error;
    await world.state.pruneCache(null).catch(() => undefined);
    // nothing was changed: the slot goes back without halting the group
    await giveBack(true, outcome, plan.engine.from, error?.message ?? null);
    return finish(outcome, exitCode, untouched);
  };

  try {
    options.interrupt.throwIfRequested();
    await steps.run("download", async () => {
      await world.packages.fetch(plan.targets, journal.targetDir);
      await world.packages.fetch(plan.previous, journal.rollbackDir);
    });
    options.interrupt.throwIfRequested();
  } catch (err) {
    return abandon(errorOf(err, "download"), "failed", EXIT.failed);
  }

  // The fence: act as the slot's holder only while it still is one (its lease alive, not cleared).
  if (slot) {
    try {
      await steps.run("fleet-fence", () => slot.assertHeld());
    } catch (err) {
      return abandon(errorOf(err, "fleet-fence"), "refused", EXIT.refused);
    }
  }
  const cancel = options.beforeStop?.(config.upgrade.order === "staged" ? "install" : "stop");
  if (cancel) return abandon({ message: `not stopping dockerd: ${cancel}`, step: "before-stop" }, "refused", EXIT.refused);
  // The snapshot verification compares against: the containers as they are right before the host changes
  // (the preflight's may be minutes old after a slow download).
  try {
    journal.snapshot = await steps.run("snapshot", () => takeSnapshot(world.docker));
  } catch (err) {
    return abandon(errorOf(err, "snapshot"), "failed", EXIT.failed);
  }
  report.snapshot = summarize(journal.snapshot);
  // The commit point: from here on the run finishes to a safe state whatever happens.
  options.interrupt.commit();
  await transition(ctx, "fetched");
  // no outcome yet: the start event carries what is about to happen, not the report's placeholder outcome
  await world.notifier.notify("start", { id: report.id, startedAt: report.startedAt, engine: report.engine, packages: report.packages, order: report.order });
  const probes = new ProbeRunner(
    [...config.probes.map((p) => ({ ...p, counted: true })), ...(config.docker.apiProbeInterval > 0 ? [dockerApiProbe(config.docker.socket, config.docker.apiProbeInterval)] : [])],
    world.probeCheck,
    clock,
  );
  probes.start();
  if (config.packages.hold) {
    const held = await world.packages.held(plan.targets.map((t) => t.name));
    // journal first, then act: a crash right after the release leaves a journal that re-applies them
    journal.releasedHolds = held;
    if (held.length) await world.state.writeJournal(journal);
    await world.packages.setHold(held, false);
  }

  let failure: { why: string; step: string } | null = null;
  try {
    // FAILURE-MODES #8: the new build must accept the daemon's configuration. Staged, this runs before the
    // old daemon is stopped: a refusal rolls back with no down window at all.
    const validateConfig = async () => {
      const rel = releaseOf(world.packages.scheme.upstream(plan.engine.to));
      if (!rel || rel.major < 23) return;
      const v = await steps.run("validate-config", () => world.host.validateDaemonConfig(config.docker.configFile));
      if (!v) return;
      report.checks.push({ name: "daemon-config", ok: v.ok, message: `${config.docker.configFile}: ${v.message}`, level: "error" });
      if (!v.ok) throw new StepError("validate-config", new Error(`the new dockerd rejects ${config.docker.configFile}: ${v.message}`));
    };
    const install = async () => {
      await transition(ctx, "installing");
      await steps.run("install", () => installHeld(world, plan.targets, { from: journal.targetDir, allowDowngrades: false }));
      await transition(ctx, "installed");
      await world.service.reload();
      await validateConfig();
    };
    if (config.upgrade.order === "staged") {
      await install();
      // the install may have taken longer than expected: the stop must still fit the window
      const late = options.beforeStop?.("stop");
      if (late) throw new StepError("before-stop", new Error(`not stopping dockerd: ${late}; the install is undone, dockerd kept serving`));
      await restartDaemon(ctx, plan.restartContainerd);
    } else {
      await stopDaemon(ctx, { holdActivation: true });
      await install();
      await startDaemon(ctx, { restartContainerd: plan.restartContainerd });
    }
    const verification = await steps.run("verify", () => verifyAfterStart(world, journal, plan.targets));
    report.checks.push(...verification.checks);
    report.containers = verification.containers;
    report.engineVersion.after = verification.engineVersion;
    const verifyHooks = await steps.run("hooks-verify", () => world.hooks.run("verify", facts));
    report.checks.push(...hookChecks("verify", verifyHooks));
    const threshold = config.upgrade.rollbackOn.probeFailures;
    if (threshold !== null && probes.failures() > threshold) {
      report.checks.push({ name: "probes", ok: false, message: `${probes.failures()} probe failures (allowed ${threshold})`, level: "error" });
    }
    const failed = report.checks.find((c) => !c.ok && c.level === "error");
    if (failed) failure = { why: `${failed.name}: ${failed.message}`, step: "verify" };
  } catch (err) {
    const e = errorOf(err, "upgrade");
    failure = { why: e.message, step: e.step };
  }

  let outcome: Outcome = "upgraded";
  let exitCode: number = EXIT.ok;
  if (failure) {
    report.error = { message: failure.why, step: failure.step };
    const rb = await rollback(ctx, failure.why);
    report.checks.push(...rb.checks);
    if (rb.containers) report.containers = rb.containers;
    outcome = rb.ok ? "rolled-back" : "failed";
    exitCode = EXIT.failed;
  }

  // Never leave dockerd stopped by us, whatever went wrong above.
  if (ctx.daemonDownByUs) {
    await startDaemon(ctx, { restartContainerd: false, step: "safety-start" }).catch((err: unknown) => {
      logger.error({ err }, "could not start dockerd");
    });
  }
  if (journal.releasedHolds.length) await world.packages.setHold(journal.releasedHolds, true).catch((err: unknown) => logger.error({ err }, "could not re-apply holds"));
  report.probes = await probes.stop();
  report.daemonDowntimeMs = ctx.downtimeMs;
  const host = await describeHost(world, ctx.daemonDownByUs);
  if (host.daemonUp && host.packagesConsistent) {
    await transition(ctx, "done");
    await world.state.closeJournal(journal.runId);
    await world.state.pruneCache(outcome === "upgraded" ? null : journal.runId);
  }
  if (outcome === "upgraded" && report.containers && harmed(report.containers) > 0) logger.warn({ containers: report.containers }, "containers changed");
  finish(outcome, exitCode, host.text);
  // an install undone because the window closed says nothing against the release: no halt
  const halts = outcome !== "upgraded" && report.error?.step !== "before-stop";
  await giveBack(!halts, outcome, outcome === "upgraded" ? plan.engine.to : plan.engine.from, report.error?.message ?? null);
  return report;
}
