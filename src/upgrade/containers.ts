import pMap from "p-map";
import type { ContainerState } from "../ports/docker.js";
import type { PlannedRestart } from "../ports/journal.js";
import { persist, type MachineContext } from "./context.js";
import { StepError, errorMessage } from "./steps.js";
import { takeSnapshot } from "./snapshot.js";
import { startLevels } from "../restart/order.js";
import { autoName } from "../checkpoint/names.js";
import { restoreWithRetry } from "../checkpoint/ops.js";

/** Containers stopped or started at once (each stop waits out its own timeout: they overlap). */
const CONCURRENCY = 16;
/** How often a started container is looked at while it gets ready. */
const POLL_MS = 250;
/** The engine's stop timeout when a container has none of its own. */
const DEFAULT_STOP_S = 10;

/** Acts on each container of a level at once (bounded): one that fails is noted by name, the others go on. */
async function eachOf(level: readonly string[], known: ReadonlyMap<string, ContainerState>, failed: string[], act: (id: string) => Promise<void>): Promise<void> {
  await pMap(level, (id) => act(id).catch((err: unknown) => void failed.push(`${known.get(id)?.name ?? id}: ${errorMessage(err)}`)), { concurrency: CONCURRENCY });
}

const planOf = (ctx: MachineContext): PlannedRestart => {
  const r = ctx.journal.restart;
  if (!r) throw new Error("not a planned-restart run");
  return r;
};

const recorded = (ctx: MachineContext) => new Map(ctx.journal.snapshot.map((c) => [c.id, c]));

/**
 * Stops the containers that run, gracefully, each with its own stop timeout: the dependents' level
 * first (compose dependencies stop last). The phase is on disk before the first stop, so a crash in
 * the middle leaves a journal whose recovery starts them all again. Going forward, the stop gate
 * (window still open, fleet slot still held) is asked first: stopping the containers is the run's
 * first act that takes anything down.
 */
export async function stopContainers(ctx: MachineContext): Promise<void> {
  const { world } = ctx;
  const r = planOf(ctx);
  ctx.tried.containersStop++;
  // read-only, asked before anything is written or stopped: a veto leaves the host as it was
  if (ctx.mode === "run" && ctx.journal.direction === "forward") {
    const veto = await ctx.beforeStop();
    if (veto) throw new StepError(veto.step, new Error(veto.message));
  }
  await refreshPlan(ctx, r);
  // each checkpoint is named in the journal before it is made: a recovery restores from it, or (never
  // made) starts the container fresh
  const planned = new Set(r.levels.flat());
  const known = recorded(ctx);
  for (const id of r.checkpoint ?? []) {
    if (!planned.has(id) || !world.checkpoints) continue;
    (r.checkpoints ??= {})[id] ??= autoName(world.clock.now(), "upgrade-");
    const policy = known.get(id)?.restartPolicy ?? "no";
    if (policy !== "no") (r.policies ??= {})[id] ??= policy;
  }
  r.phase = "stopping";
  await persist(ctx);
  ctx.acted = true;
  const failed: string[] = [];
  await ctx.steps.run("stop-containers", async () => {
    for (const level of [...r.levels].reverse()) {
      await eachOf(level, known, failed, async (id) => {
        try {
          if (await checkpointed(ctx, r, id)) {
            r.stoppedAt[id] ??= world.clock.now();
            return;
          }
          await world.docker.stopContainer(id, known.get(id)?.stopTimeout ?? DEFAULT_STOP_S);
          r.stoppedAt[id] ??= world.clock.now();
        } catch (err) {
          // removed meanwhile: nothing to stop (the verification reports it missing)
          if ((await world.docker.inspect(id).catch(() => undefined)) === null) return;
          throw err;
        }
      });
    }
    if (failed.length) throw new Error(`could not stop ${failed.length} container(s): ${failed.join("; ")}`);
  });
  r.phase = "stopped";
  await persist(ctx);
}

/**
 * A labelled container stopped at a checkpoint (the engine's `checkpoint create`, exit): true when so.
 * A dump that fails lets the container run on: it is stopped like the others, its state lost (said so).
 */
async function checkpointed(ctx: MachineContext, r: PlannedRestart, id: string): Promise<boolean> {
  const name = r.checkpoints?.[id];
  const cp = ctx.world.checkpoints;
  if (name === undefined || !cp) return false;
  const now = await ctx.world.docker.inspect(id);
  if (now?.running && !now.paused) {
    try {
      // no restart policy while it is stopped at the checkpoint: the new dockerd would start it fresh
      if (r.policies?.[id] !== undefined) await cp.setRestartPolicy(id, "no");
      await cp.create(id, name, true);
      return true;
    } catch (err) {
      lose(r, id, null, `its checkpoint failed (${errorMessage(err)}): stopped and started fresh`);
    }
  } else if (now && !now.running) {
    // stopped at it already (a run before this process, or an earlier try): the checkpoint is kept for
    // the start; one never made (a crash before the dump) is not
    const have = await cp.list(id).then((l) => l.some((e) => e.name === name));
    if (have) return true;
  }
  delete r.checkpoints![id];
  return false;
}

/** A checkpointed container's state is lost: said once, the first loss kept (a later restore brings back only what came after it). */
function lose(r: PlannedRestart, id: string, checkpoint: string | null, why: string): void {
  const state = (r.state ??= {});
  if (state[id]?.restored === false) return;
  state[id] = { restored: false, checkpoint, why };
}

/**
 * Starts a container stopped at a checkpoint from it (retried on the engine's "content already
 * exists"); a restore that fails starts it fresh. One already running (its restart policy, or an
 * earlier try) lost its checkpointed state: recorded, not hidden.
 */
async function resume(ctx: MachineContext, r: PlannedRestart, id: string, running: boolean): Promise<void> {
  const { world } = ctx;
  try {
    await resumeFrom(ctx, r, id, running);
  } finally {
    // its own restart policy back, running or not (recorded before it was taken away)
    const policy = r.policies?.[id];
    if (policy !== undefined && world.checkpoints) {
      await world.checkpoints.setRestartPolicy(id, policy);
      delete r.policies![id];
    }
  }
}

async function resumeFrom(ctx: MachineContext, r: PlannedRestart, id: string, running: boolean): Promise<void> {
  const { world } = ctx;
  const name = r.checkpoints?.[id];
  if (name === undefined || !world.checkpoints) {
    // planned for a checkpoint, but not stopped at one: its state is gone, and the report says so
    if (r.checkpoint?.includes(id) && !running) lose(r, id, null, "it was not stopped at a checkpoint: started fresh");
    if (!running) await world.docker.startContainer(id);
    return;
  }
  if (running) {
    // running with no checkpoint: it never stopped (a crash between the journal and the dump), its
    // state as it was; with one: restored by an interrupted run, or started by someone: cannot be told
    const have = await world.checkpoints.list(id).then((l) => l.some((e) => e.name === name));
    if (have) lose(r, id, name, `it ran already when its restore came (an interrupted run restored it, or someone started it): its state cannot be told; the checkpoint ${name} is kept`);
    else (r.state ??= {})[id] ??= { restored: true, checkpoint: null, why: "it never stopped" };
    delete r.checkpoints![id];
    return;
  }
  try {
    await restoreWithRetry({ docker: world.docker, checkpoints: world.checkpoints, clock: world.clock }, id, name);
    // restored: but a state lost earlier in the run (a fresh start before this checkpoint) stays lost
    (r.state ??= {})[id] ??= { restored: true, checkpoint: name, why: null };
  } catch (err) {
    // the checkpoint stays: an engine that can restore it later still can
    lose(r, id, name, `the engine could not restore it (${errorMessage(err)}): started fresh; the checkpoint ${name} is kept`);
    delete r.checkpoints![id];
    await persist(ctx, { bestEffort: true });
    await world.docker.startContainer(id);
    return;
  }
  // on disk before the checkpoint goes: a crash after this is not taken for a lost state (and with the
  // journal behind, the checkpoint stays: a recovery then says its state cannot be told, never "lost")
  delete r.checkpoints![id];
  await persist(ctx, { bestEffort: true });
  if (ctx.journalBehind === null) await world.checkpoints.remove(id, name).catch(() => undefined);
}

/**
 * The plan against what runs now. Containers started since the snapshot (a cron job's `docker run`,
 * a `compose up` during a long install) must not ride the restart either: they join the plan, with
 * their config recorded. At the first stop, a planned container that someone stopped meanwhile is left
 * as it is now (not started again by the run). The start order is made again. One with --rm cannot be
 * started again after its stop: the run stops here, before any container is stopped.
 */
async function refreshPlan(ctx: MachineContext, r: PlannedRestart): Promise<void> {
  const planned = new Set(r.levels.flat());
  const now = await takeSnapshot(ctx.world.docker);
  const byId = new Map(now.map((c) => [c.id, c]));
  const fresh = now.filter((c) => c.running && !planned.has(c.id));
  const stoppedSince = r.phase === "running" ? [...planned].filter((id) => byId.get(id)?.running === false) : [];
  if (!fresh.length && !stoppedSince.length) return;
  const rm = fresh.filter((c) => c.autoRemove);
  if (rm.length) throw new StepError("stop-containers", new Error(`${rm.map((c) => c.name).join(", ")} started with --rm since the snapshot: their stop would remove them; stopping nothing`));
  const changed = new Set([...fresh.map((c) => c.id), ...stoppedSince]);
  ctx.journal.snapshot = [...ctx.journal.snapshot.filter((c) => !changed.has(c.id)), ...[...changed].map((id) => byId.get(id)!)];
  const keep = [...planned].filter((id) => !stoppedSince.includes(id));
  const running = [...keep.map((id) => byId.get(id) ?? ctx.journal.snapshot.find((c) => c.id === id)).filter((c): c is ContainerState => c !== undefined), ...fresh];
  r.levels = startLevels(running);
  ctx.world.logger.warn({ joined: fresh.map((c) => c.name), stoppedSince: stoppedSince.map((id) => byId.get(id)?.name ?? id) }, "the planned restart follows what runs now");
}

type Wait = { id: string; name: string; steadySince: number | null; pid: number };

type Readiness = { kind: "ready" } | { kind: "waiting" } | { kind: "failed"; why: string };
const READY: Readiness = { kind: "ready" };
const WAITING: Readiness = { kind: "waiting" };

/** Ready: the health check passing (where there is one), else running with the same Pid for `steady`. */
function readiness(w: Wait, now: ContainerState | null, steadyMs: number, at: number, was: ContainerState | undefined): Readiness {
  if (!now) return { kind: "failed", why: "gone" };
  // as it was, no better: one that was crash-looping or unhealthy before the run is not waited for to be well
  if (was?.status === "restarting") return READY;
  const hasHealthcheck = was?.healthcheck === true && was.health !== "unhealthy";
  // (its restart policy may bring it back: waited for, up to the timeout)
  if (!now.running) return now.status === "restarting" || (now.status === "exited" && now.restartPolicy !== "no") ? WAITING : { kind: "failed", why: `not running (status ${now.status})` };
  if (hasHealthcheck) return now.health === "healthy" ? READY : WAITING;
  if (w.steadySince === null || now.pid !== w.pid) {
    w.steadySince = at;
    w.pid = now.pid;
    return steadyMs === 0 ? READY : WAITING;
  }
  return at - w.steadySince >= steadyMs ? READY : WAITING;
}

/**
 * Waits for one level's containers to be ready: those that got ready, as last seen; what failed goes
 * to `failed`, one line each.
 */
async function awaitLevel(ctx: MachineContext, ids: readonly string[], failed: string[]): Promise<Map<string, ContainerState>> {
  const { world } = ctx;
  const { readyTimeout, steady } = world.config.upgrade.restart;
  const known = recorded(ctx);
  const r = planOf(ctx);
  const deadline = world.clock.now() + readyTimeout;
  const ready = new Map<string, ContainerState>();
  let pending: Wait[] = ids.map((id) => ({ id, name: known.get(id)?.name ?? id, steadySince: null, pid: 0 }));
  for (;;) {
    const seen = await pMap(pending, (w) => world.docker.inspect(w.id), { concurrency: CONCURRENCY });
    const last = new Map(pending.map((w, i) => [w.id, seen[i] ?? null]));
    const at = world.clock.now();
    const next: Wait[] = [];
    pending.forEach((w) => {
      const now = last.get(w.id) ?? null;
      const verdict = readiness(w, now, steady, at, known.get(w.id));
      if (verdict.kind === "ready") {
        r.readyAt[w.id] = at;
        ready.set(w.id, now!);
      } else if (verdict.kind === "waiting") next.push(w);
      else failed.push(`${w.name}: ${verdict.why}`);
    });
    pending = next;
    if (!pending.length) return ready;
    if (at >= deadline) {
      failed.push(...pending.map((w) => `${w.name}: not ready within ${Math.round(readyTimeout / 1000)} s (${describe(last.get(w.id) ?? null)})`));
      return ready;
    }
    await world.clock.sleep(POLL_MS);
  }
}

const describe = (c: ContainerState | null): string => (c === null ? "gone" : `status ${c.status}${c.health !== null ? `, health ${c.health}` : ""}`);

/**
 * Starts the containers that ran again, level by level (compose dependencies first), each level
 * waited for before the next: its health check passing, or up and steady. Every container is started
 * even when one fails (none is left stopped for another's fault); then a failure is thrown.
 */
export async function startContainers(ctx: MachineContext): Promise<void> {
  const { world } = ctx;
  const r = planOf(ctx);
  ctx.tried.containersStart++;
  r.phase = "starting";
  await persist(ctx);
  ctx.acted = true;
  const known = recorded(ctx);
  const failed: string[] = [];
  await ctx.steps.run("start-containers", async () => {
    for (const level of r.levels) {
      const started: string[] = [];
      await eachOf(level, known, failed, async (id) => {
        const now = await world.docker.inspect(id);
        if (now === null) return; // removed meanwhile: reported missing
        // running already (started by its restart policy, or by an earlier try: a paused one
        // cannot be started again)
        await resume(ctx, r, id, now.running);
        started.push(id);
      });
      const ready = await awaitLevel(ctx, level.filter((id) => started.includes(id)), failed);
      // paused before the run: paused again once running (a stop and a start unpause it)
      for (const [id, seen] of ready) {
        if (!known.get(id)?.paused || seen.paused) continue;
        await world.docker.pauseContainer(id).catch((err: unknown) => failed.push(`${known.get(id)?.name ?? id}: could not pause it again: ${errorMessage(err)}`));
      }
    }
    if (failed.length) throw new Error(`${failed.length} container(s) not running again as they were: ${failed.join("; ")}`);
  });
  r.phase = "started";
  await persist(ctx);
}

/** Each restarted container's outage, from its stop to ready again (null: not measured in this process). */
export function outages(r: PlannedRestart): Map<string, number | null> {
  const out = new Map<string, number | null>();
  for (const id of r.levels.flat()) {
    const a = r.stoppedAt[id];
    const b = r.readyAt[id];
    out.set(id, a !== undefined && b !== undefined && b >= a ? b - a : null);
  }
  return out;
}
