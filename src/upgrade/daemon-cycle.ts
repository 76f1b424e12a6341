import type { Clock } from "../ports/clock.js";
import { PingError, type DockerPort, type SocketWatch } from "../ports/docker.js";
import { enter, note, type MachineContext } from "./context.js";
import { isAt } from "./machine.js";
import { twice } from "./observe.js";
import { StepError, errorMessage } from "./steps.js";

/** How often a wait that cannot watch the socket file asks. */
const POLL_MS = 5;
/** How often a wait that watches the socket file asks anyway (a ping that failed for another reason). */
const WATCHED_POLL_MS = 50;
/** After the socket file changed: the asks right behind it (dockerd binds the file, then listens). */
const AFTER_CHANGE = { asks: 20, everyMs: 1 };

/**
 * Waits for `GET /_ping`; returns when the first good ping was seen, gives up after `budgetMs`.
 * Where the socket file can be watched, it asks the moment dockerd makes the file, then every 50 ms
 * (a socket unit's file is always there: its connection is held until dockerd answers, and an ask
 * that timed out so is made again at once); every 5 ms after an ask that connected and failed, and
 * where it cannot watch. A failed ask costs about 0.1 ms of CPU, beside a dockerd that is starting.
 */
export async function waitReady(docker: DockerPort, budgetMs: number, clock: Clock): Promise<number> {
  const deadline = clock.now() + budgetMs;
  let watch = docker.watchSocket?.() ?? null;
  let quick = 0;
  try {
    for (;;) {
      let last: unknown;
      const timeoutMs = Math.max(50, Math.min(1_000, deadline - clock.now()));
      try {
        await docker.ping(timeoutMs);
        return clock.now();
      } catch (err) {
        last = err;
      }
      const left = deadline - clock.now();
      if (left <= 0) throw new Error(`dockerd did not answer /_ping within ${budgetMs}ms (last error: ${errorMessage(last)})`);
      // why it failed, as the ping tells it (an error it cannot tell is taken for nothing listening)
      const failure = last instanceof PingError ? last.failure : "unreachable";
      // a connection held until the ask timed out (a socket unit, a dockerd still restoring): asked again at once
      if (failure === "held") continue;
      // connected and answered badly, reset or closed (a dockerd restarted under it): the file will not change
      if (!watch || failure === "failed") await clock.sleep(Math.min(POLL_MS, left));
      else if (quick > 0) {
        quick--;
        await clock.sleep(Math.min(AFTER_CHANGE.everyMs, left));
      } else {
        const seen = await changedWithin(watch, clock, Math.min(WATCHED_POLL_MS, left));
        if (seen === "changed") quick = AFTER_CHANGE.asks;
        if (seen === "broken") {
          watch.close();
          watch = null;
          await clock.sleep(Math.min(POLL_MS, left));
        }
      }
    }
  } finally {
    watch?.close();
  }
}

/** Whether the socket file changed within `ms`, or the watch broke (the wait then polls). */
async function changedWithin(watch: SocketWatch, clock: Clock, ms: number): Promise<"changed" | "quiet" | "broken"> {
  const stop = new AbortController();
  const quiet = () => "quiet" as const;
  try {
    return await Promise.race([watch.changed(stop.signal).then(() => "changed" as const, () => "broken" as const), clock.sleep(ms, stop.signal).then(quiet, quiet)]);
  } finally {
    stop.abort();
  }
}

/**
 * The journal entry and the fence before dockerd goes down; the window's clocks start. A run going
 * forward asks, right after its journal entry, whether it may still stop the old daemon (the window
 * still open, the fleet slot still held: the fence as close to the stop as it gets).
 */
async function goingDown(ctx: MachineContext): Promise<void> {
  await enter(ctx, "stopping");
  if (ctx.mode === "run" && ctx.journal.direction === "forward") {
    const veto = await ctx.beforeStop();
    if (veto) throw new StepError(veto.step, new Error(veto.message));
  }
  const now = ctx.world.clock.now();
  ctx.window.downSince ??= now; // still down from an earlier stop: the window goes on from that one
  ctx.window.cycleStart = now;
  ctx.acted = true;
}

/**
 * The planned-restart path: a dockerd that starts starts the containers whose restart policy is
 * "always" by itself, stopped or not. From its journal entry on, they may run: stopped again before
 * any later stop or restart, started (and checked) once it answers.
 */
function mayStartContainers(ctx: MachineContext): void {
  const r = ctx.journal.restart;
  if (r?.phase === "stopped") r.phase = "starting";
}

/** Stops dockerd through the service manager. Makes no API call while it is down. */
export async function stopDaemon(ctx: MachineContext, options: { holdActivation: boolean }): Promise<void> {
  await goingDown(ctx);
  await ctx.steps.run("stop", () => ctx.world.service.stop(options));
  ctx.view = { ...ctx.view, daemonUp: false, engineVersion: null, binaryReplaced: null };
  // recovery decides alike from "stopping" and "stopped": no write of its own in the down window
  note(ctx, "stopped");
}

/** What is left of the downtime budget for this cycle (`upgrade.downtimeBudget`, counted from its own stop). */
const budgetLeft = (ctx: MachineContext, cycleStart: number) => () => Math.max(1_000, ctx.world.config.upgrade.downtimeBudget - (ctx.world.clock.now() - cycleStart));

/** The set a start picks up: the one installed now. */
const installedSet = (ctx: MachineContext) => {
  const j = ctx.journal;
  return isAt(j, ctx.view, "target") ? "target" : isAt(j, ctx.view, "previous") ? "previous" : j.startedOn;
};

/**
 * Starts dockerd and waits for the API. Each start has a budget of its own (`upgrade.downtimeBudget`,
 * counted from its own stop, or from itself when dockerd was already down): a rollback or a safety
 * start after a slow first start is not left with what that one spent.
 */
export async function startDaemon(ctx: MachineContext, step = "start", options: { inRestart?: boolean } = {}): Promise<void> {
  const { world, journal: j } = ctx;
  if (options.inRestart) {
    // the second half of a restart: its journal entry ("stopping", startedOn unknown) was written
    // before the stop, nothing is written inside the window
    note(ctx, "starting");
  } else {
    // the build that will answer: the set installed now (a start picks up what is on disk)
    j.startedOn = installedSet(ctx);
    mayStartContainers(ctx);
    await enter(ctx, "starting");
  }
  const cycleStart = ctx.window.cycleStart ?? world.clock.now();
  ctx.window.downSince ??= cycleStart;
  const left = budgetLeft(ctx, cycleStart);
  ctx.acted = true;
  await ctx.steps.run(step, () => world.service.start({ restartContainerd: j.restartContainerd, timeoutMs: left() }));
  if (options.inRestart) j.startedOn = installedSet(ctx); // written with "started"
  await answered(ctx, left);
}

/** The first good ping ends the window; then the build that answers, recorded. */
async function answered(ctx: MachineContext, left: () => number): Promise<void> {
  const { world } = ctx;
  const readyAt = await ctx.steps.run("wait-ready", () => waitReady(world.docker, Math.min(world.config.docker.readyTimeout, left()), world.clock));
  if (ctx.window.downSince !== null) ctx.window.downtimeMs = (ctx.window.downtimeMs ?? 0) + (readyAt - ctx.window.downSince);
  ctx.window.downSince = null;
  ctx.window.cycleStart = null;
  const engineVersion = await twice(async () => (await world.docker.version()).version);
  // a process just started from the file on disk (a socket-activated one too)
  ctx.view = { ...ctx.view, daemonUp: true, engineVersion, binaryReplaced: false };
  await enter(ctx, "started");
}

/**
 * The install's writes flushed to disk while dockerd still serves: the new dockerd's overlay2 driver
 * makes a test mount at its start, and unmounting an overlay syncs the filesystem under it, which then
 * waited for everything the install left in memory (measured: 80-300 ms of the window on a machine).
 * Best effort: a flush that fails or takes too long costs time in the window, nothing more.
 */
async function flushBeforeWindow(ctx: MachineContext): Promise<void> {
  if (!ctx.view.daemonUp) return; // already down: a flush would only lengthen the window
  const root = ctx.journal.engineOptions?.dockerRootDir ?? "/var/lib/docker";
  await ctx.steps.run("flush", () => ctx.world.host.flushFilesystem(root)).catch((err: unknown) => {
    ctx.world.logger.warn({ err: errorMessage(err), root }, "could not flush the filesystem before the restart");
  });
}

/** The longest the restart waits for the binaries to be held open (they are in well under 1 ms). */
const HOLD_WAIT_MS = 2_000;

/**
 * The binaries the restart ends, held open from before the stop until dockerd answers again (see
 * HostPort.holdBinaries): an old binary that the install replaced is freed after the window, not by
 * the exiting dockerd inside it. Best effort: nothing is held when dockerd's process cannot be found.
 */
async function holdOldBinaries(ctx: MachineContext): Promise<() => void> {
  const { host, config, logger } = ctx.world;
  // where containerd restarts too, nothing is held: with the hold, that path's API probe saw a failed
  // call in 2 of 11 machine runs (0 of 8 without); until that is understood, it runs as before
  if (!ctx.view.daemonUp || ctx.journal.restartContainerd) return () => undefined;
  const holding = (async () => {
    const pid = await host.dockerdPid(config.docker.pidFile);
    const pids = pid === null ? [] : [pid];
    const hold = await host.holdBinaries(pids);
    logger.debug({ pids, held: hold.count }, "the running binaries held open across the restart");
    return hold.release;
  })();
  // /proc on a host whose disk hangs: the restart does not wait for it; a hold made late is let go at once
  const stopWaiting = new AbortController();
  const late = ctx.world.clock.sleep(HOLD_WAIT_MS, stopWaiting.signal).then(
    () => null,
    () => null,
  );
  try {
    const release = await Promise.race([holding, late]);
    if (release) return release;
    logger.debug({ waitedMs: HOLD_WAIT_MS }, "the running binaries were not held open in time");
    void holding.then((r) => r()).catch(() => undefined);
    return () => undefined;
  } catch (err) {
    logger.debug({ err: errorMessage(err) }, "could not hold the running binaries open");
    return () => undefined;
  } finally {
    stopWaiting.abort();
  }
}

/**
 * A live-restore restart of dockerd: the down window of a staged upgrade, or the undo's restart. One
 * act of the service manager, as a bare restart is: the journal's record ("stopping", the build that
 * will answer not known until it does) is written before, the build that answers after the first
 * good ping. Where containerd's package changed (its restart goes between the stop and the start), or
 * the service manager has no restart of its own: stop, then start, with the same record (no write
 * between them either).
 */
export async function restartDaemon(ctx: MachineContext): Promise<void> {
  mayStartContainers(ctx); // written with the restart's "stopping" entry
  const held = holdOldBinaries(ctx); // alongside the flush, both before the window; never rejects
  try {
    await flushBeforeWindow(ctx);
    await held; // in place before the stop
    await restartHeld(ctx);
  } finally {
    const release = await held;
    try {
      release();
    } catch (err) {
      ctx.world.logger.debug({ err: errorMessage(err) }, "could not let go of the held binaries");
    }
  }
}

async function restartHeld(ctx: MachineContext): Promise<void> {
  const service = ctx.world.service;
  const j = ctx.journal;
  if (j.restartContainerd || !service.restart) {
    j.startedOn = "unknown";
    await stopDaemon(ctx, { holdActivation: false });
    await startDaemon(ctx, "start", { inRestart: true });
    return;
  }
  if (service.prepareRestart) await ctx.steps.run("restart-prepare", () => service.prepareRestart!());
  // until the first good ping, which build answers is not known: a recovery in between asks the host
  // (the API, the binary on disk) and, where they cannot tell, does not guess
  j.startedOn = "unknown";
  await goingDown(ctx);
  const left = budgetLeft(ctx, ctx.window.cycleStart!);
  await ctx.steps.run("restart", () => service.restart!({ timeoutMs: left() }));
  ctx.view = { ...ctx.view, daemonUp: false, engineVersion: null, binaryReplaced: null };
  j.startedOn = installedSet(ctx);
  await answered(ctx, left);
}
