import type { RunResult } from "../ports/fleet.js";
import { perform, runNames } from "./actions.js";
import { enter, type MachineContext } from "./context.js";
import { startDaemon } from "./daemon-cycle.js";
import { LIMITS, containersDown, nextStep, turnBack, type Step } from "./machine.js";
import { CHECKPOINT_LABEL } from "../restart/fates.js";
import { outages, startContainers } from "./containers.js";
import { observe, twice } from "./observe.js";
import { judge, type Judgement } from "./outcome.js";
import { saveReport } from "./record.js";
import { StepError, errorMessage } from "./steps.js";
import { EXIT } from "../report/exit-codes.js";
import { againstTheRelease } from "../report/failures.js";


/** More steps than any path needs (each kind is bounded by LIMITS): a safety net, never reached. */
const MAX_STEPS = 4 * (LIMITS.repair + LIMITS.install.target + LIMITS.install.previous + LIMITS.stop + LIMITS.start * 2 + 3);

const errorOf = (err: unknown, fallback: string) => ({ message: errorMessage(err), step: err instanceof StepError ? err.step : fallback });

/** A step failed: going forward, the run turns back (once); going back, it is noted and the next step tried. Then the host is read again. */
async function onFailure(ctx: MachineContext, step: Step, err: unknown): Promise<void> {
  const e = errorOf(err, step.kind);
  ctx.world.logger.error({ step: e.step, err: e.message, direction: ctx.journal.direction }, "step failed");
  if (ctx.journal.direction === "forward") {
    ctx.report.error ??= e;
    turnBack(ctx.journal, ctx.tried);
    ctx.journal.failure = e;
    await enter(ctx, ctx.journal.state); // best effort now: the run goes back
  } else {
    ctx.undoErrors.push(`${e.step}: ${e.message}`);
  }
  ctx.view = await observe(ctx.world, runNames(ctx));
}

async function drive(ctx: MachineContext): Promise<void> {
  for (let n = 0; n < MAX_STEPS; n++) {
    const step = nextStep(ctx.journal, ctx.view, ctx.tried, ctx.world.packages.scheme, ctx.mode);
    if (step.kind === "done") return;
    ctx.report.recovery?.actions.push(step.kind === "install" ? `install-${step.set}` : step.kind);
    try {
      await perform(ctx, step);
    } catch (err) {
      await onFailure(ctx, step, err);
    }
  }
  throw new Error("the upgrade state machine did not settle");
}

/** Each part on its own, tried twice: one failing must not keep the others from running. Returns whether it did its part. */
async function guard(ctx: MachineContext, what: string, fn: () => Promise<unknown>): Promise<boolean> {
  try {
    await fn().catch(() => fn());
    return true;
  } catch (err) {
    ctx.world.logger.error({ err, what }, "could not put the host back");
    ctx.undoErrors.push(`${what}: ${errorMessage(err)}`);
    return false;
  }
}

/**
 * What every path passes, whatever was thrown before: the package scripts' service actions allowed
 * again, dockerd answering (one more start with a budget of its own), the holds as the run must leave
 * them, the probes and their timers stopped.
 */
async function guarantee(ctx: MachineContext): Promise<string[]> {
  const { world } = ctx;
  const unsettled: string[] = [];
  if (!(await guard(ctx, "release-service-hold", () => world.serviceHold.release()))) unsettled.push("the package scripts' service actions are still held (policy-rc.d)");
  const up = await twice(() => world.docker.ping(2_000).then(() => true));
  if (!up) {
    await guard(ctx, "safety-start", async () => {
      ctx.window.cycleStart = null;
      ctx.bestEffortJournal = true;
      await startDaemon(ctx, "safety-start");
    });
  }
  // the planned-restart path: no container that ran is left stopped while dockerd answers
  if (containersDown(ctx.journal) && (await twice(() => world.docker.ping(2_000).then(() => true)))) {
    await guard(ctx, "start-containers", async () => {
      ctx.bestEffortJournal = true;
      await startContainers(ctx);
    });
  }
  const held = await guard(ctx, "holds", async () => {
    const want = ctx.journal.holds.after;
    if (!want.length) return;
    const now = await world.packages.held(want);
    const missing = want.filter((n) => !now.includes(n));
    if (missing.length) await world.packages.setHold(missing, true);
  });
  if (!held) ctx.report.checks.push({ name: "package-holds", ok: false, message: `the holds on ${ctx.journal.holds.after.join(", ")} are not all back: ${ctx.undoErrors.find((e) => e.startsWith("holds:")) ?? "?"}; hold them by hand (${world.packages.holdsHint})`, level: "warning" });
  await guard(ctx, "probes", async () => {
    ctx.report.probes = await ctx.probes.stop();
  });
  return unsettled;
}

function fleetResult(ctx: MachineContext, j: Judgement): RunResult {
  const failure = ctx.journal.failure;
  const { engine } = ctx.journal;
  // the engine's version the host is on now (unchanged where only its companions were upgraded)
  const version = ctx.view.installed[engine.name]?.version ?? (j.outcome === "upgraded" ? engine.to : engine.from);
  const ok = j.outcome === "upgraded" || (j.healthy && !againstTheRelease(failure));
  return { ok, version, outcome: j.outcome, reason: ok ? null : (failure?.message ?? j.text) };
}

/** Fills the report from the judgement and what the run saw. */
function report(ctx: MachineContext, j: Judgement): void {
  const r = ctx.report;
  const { journal } = ctx;
  r.outcome = j.outcome;
  r.exitCode = j.exitCode;
  r.hostState = j.text;
  // called off right before the stop, with nothing changed yet: a refusal, as before the commit point
  if (ctx.mode === "run" && !ctx.acted && (journal.failure?.step === "before-stop" || journal.failure?.step === "fleet-fence") && j.outcome === "rolled-back") {
    r.outcome = "refused";
    r.exitCode = EXIT.refused;
    r.hostState = `unchanged: nothing was stopped or installed; ${j.text}`;
  }
  r.daemonDowntimeMs = ctx.window.downtimeMs;
  const planned = journal.restart;
  if (planned) {
    r.path = "restart";
    const outage = outages(planned);
    const known = new Map(journal.snapshot.map((c) => [c.id, c]));
    // a recovery reports the fates from the journal: what the run planned
    if (!r.fates.length) r.fates = journal.snapshot.map((c) => ({ id: c.id, name: c.name, fate: !c.running ? "left-stopped" : planned.checkpoint?.includes(c.id) ? "checkpointed" : "restarted", risks: [], outageMs: null }));
    for (const f of r.fates) if (outage.has(f.id)) f.outageMs = outage.get(f.id) ?? null;
    for (const f of r.fates) {
      const st = planned.state?.[f.id];
      if (st) f.state = st.restored ? (st.checkpoint ? `restored from ${st.checkpoint}` : `kept: ${st.why ?? "it never stopped"}`) : `lost: ${st.why ?? "?"}`;
      // labelled, but not checkpointed (paused, or checkpoints did not work here): stopped and started fresh like the others
      else if (f.fate === "restarted" && planned.phase !== "running" && known.get(f.id)?.spec?.labels[CHECKPOINT_LABEL] === "true") {
        f.state = `lost: not checkpointed (${known.get(f.id)?.paused ? "paused" : "checkpoints did not work here"}): stopped and started fresh`;
      }
    }
    if (planned.phase === "running") for (const f of r.fates) if ((f.fate === "restarted" || f.fate === "checkpointed") && known.get(f.id)?.running) f.fate = "kept";
  }
  r.engineVersion.after = ctx.view.engineVersion;
  const wentBack = journal.direction === "undo";
  if (wentBack && j.outcome !== "up-to-date" && r.outcome !== "refused") {
    r.checks.push(
      j.outcome === "rolled-back"
        ? { name: "rollback", ok: true, message: `previous versions back: ${journal.previous.map((p) => `${p.name} ${p.version}`).join(", ")}`, level: "error" }
        : { name: "rollback", ok: false, message: `rollback failed: ${ctx.undoErrors.join("; ") || j.text}`, level: "error" },
    );
  }
  if (ctx.undoErrors.length && j.outcome !== "failed") r.checks.push({ name: "restore", ok: false, message: `not all put back: ${ctx.undoErrors.join("; ")}`, level: "error" });
  if (j.outcome === "failed" && !r.error) r.error = { message: ctx.undoErrors[0] ?? j.text, step: ctx.mode === "run" ? "finish" : "recover" };
  if (ctx.journalBehind) r.hostState += `; the journal could not be written (${ctx.journalBehind})`;
}

/**
 * Runs the machine to its end and settles the host whatever happens on the way: returns the judgement
 * of the host as it then shows. The fleet slot is given back (or the group halted) and the report
 * saved before the journal closes, so a crash in between leaves a journal that recovery finishes.
 */
export async function runMachine(ctx: MachineContext): Promise<Judgement> {
  const { world } = ctx;
  let unsettled: string[] = [];
  try {
    await drive(ctx);
  } catch (err) {
    ctx.report.error ??= errorOf(err, "machine");
  } finally {
    unsettled = await guarantee(ctx);
  }
  // the planned-restart path: a host whose containers did not all run again is not done with
  if (containersDown(ctx.journal)) unsettled.push("containers that ran are not all running again (see the start-containers step): once what keeps them from starting is fixed, `docker-live-upgrade recover` starts them");
  ctx.view = await observe(world, runNames(ctx));
  const j = judge(
    { journal: ctx.journal, view: ctx.view, verified: ctx.verified, mode: ctx.mode, untouched: !ctx.acted && ctx.journal.state === "fetched", repairHint: world.packages.repairHint },
    world.packages.scheme,
  );
  report(ctx, j);
  // what is left undone (the service hold still in force) is not a healthy host: the journal stays open, `recover` finishes it
  if (unsettled.length) {
    ctx.report.hostState += `; ${unsettled.join("; ")}: run \`docker-live-upgrade recover\``;
    ctx.report.outcome = "failed";
    ctx.report.exitCode = EXIT.failed;
    ctx.report.error ??= { message: unsettled.join("; "), step: "release-service-hold" };
  }
  // the group's record of this run: written, or the journal stays open until recovery writes it
  let fleetUnsettled = false;
  if (ctx.releaseFleet) {
    const result = fleetResult(ctx, j);
    try {
      if (result.ok && ctx.mode === "run" && (world.config.fleet?.soak ?? 0) > 0) await world.clock.sleep(world.config.fleet!.soak);
      await ctx.releaseFleet(result);
      if (!result.ok) await world.notifier.notify("fleet-halt", ctx.report).catch(() => undefined);
    } catch (err) {
      fleetUnsettled = true;
      ctx.report.checks.push({
        name: "fleet-release",
        ok: false,
        message: `could not give the fleet slot back (${errorMessage(err)}): once its lease expires the group halts on this host as lost; the journal stays open and the next run, the daemon or \`docker-live-upgrade recover\` writes this run's record to the group (which lifts that halt when the host is healthy)`,
        level: "warning",
      });
      ctx.report.hostState += "; the fleet group's record of this run is not written yet (see the fleet-release check)";
    }
  }
  ctx.report.finishedAt = new Date(world.clock.now()).toISOString();
  await saveReport(world, ctx.report);
  if (j.healthy && !unsettled.length && fleetUnsettled) {
    // the host is settled; only the group's record is owed: recovery finds the run done and writes it
    ctx.bestEffortJournal = true;
    await enter(ctx, "done").catch(() => undefined);
  } else if (j.healthy && !unsettled.length) {
    try {
      ctx.bestEffortJournal = true;
      await enter(ctx, "done");
      await world.state.closeJournal(ctx.journal.runId);
    } catch (err) {
      ctx.report.hostState += `; the journal could not be closed (${errorMessage(err)}): run \`docker-live-upgrade recover\` once that is fixed`;
      await saveReport(world, ctx.report);
    }
    await world.state.pruneCache(j.outcome === "upgraded" ? null : ctx.journal.runId).catch((err: unknown) => world.logger.warn({ err }, "could not prune the package cache"));
  }
  return j;
}
