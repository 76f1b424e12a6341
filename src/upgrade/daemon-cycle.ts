import type { Clock } from "../ports/clock.js";
import type { DockerPort } from "../ports/docker.js";
import { enter, note, type MachineContext } from "./context.js";
import { isAt } from "./machine.js";
import { twice } from "./observe.js";
import { StepError, errorMessage } from "./steps.js";

/**
 * Waits for `GET /_ping` with tight, bounded polling on the clock (no fixed sleeps): 20 ms at first,
 * backing off to 100 ms, giving up after `budgetMs`. Returns when the first good ping was seen.
 */
export async function waitReady(docker: DockerPort, budgetMs: number, clock: Clock): Promise<number> {
  const deadline = clock.now() + budgetMs;
  let delay = 20;
  for (;;) {
    let last: unknown;
    try {
      await docker.ping(Math.max(50, Math.min(1_000, deadline - clock.now())));
      return clock.now();
    } catch (err) {
      last = err;
    }
    const left = deadline - clock.now();
    if (left <= 0) throw new Error(`dockerd did not answer /_ping within ${budgetMs}ms (last error: ${errorMessage(last)})`);
    await clock.sleep(Math.min(delay, left));
    delay = Math.min(100, Math.round(delay * 1.3));
  }
}

/**
 * Stops dockerd through the service manager. Makes no API call while it is down. A run going forward
 * asks, right before the stop and after its journal entry, whether it may still stop the old daemon
 * (the window still open, the fleet slot still held: the fence as close to the stop as it gets).
 */
export async function stopDaemon(ctx: MachineContext, options: { holdActivation: boolean }): Promise<void> {
  const { world } = ctx;
  await enter(ctx, "stopping");
  if (ctx.mode === "run" && ctx.journal.direction === "forward") {
    const veto = await ctx.beforeStop();
    if (veto) throw new StepError(veto.step, new Error(veto.message));
  }
  const now = world.clock.now();
  ctx.window.downSince ??= now; // still down from an earlier stop: the window goes on from that one
  ctx.window.cycleStart = now;
  ctx.acted = true;
  await ctx.steps.run("stop", () => world.service.stop(options));
  ctx.view = { ...ctx.view, daemonUp: false, engineVersion: null, binaryReplaced: null };
  // recovery decides alike from "stopping" and "stopped": no write of its own in the down window
  note(ctx, "stopped");
}

/**
 * Starts dockerd and waits for the API. Each start has a budget of its own (`upgrade.downtimeBudget`,
 * counted from its own stop, or from itself when dockerd was already down): a rollback or a safety
 * start after a slow first start is not left with what that one spent.
 */
export async function startDaemon(ctx: MachineContext, step = "start"): Promise<void> {
  const { world, journal: j } = ctx;
  const { clock, config } = world;
  // the build that will answer: the set installed now (a start picks up what is on disk)
  j.startedOn = isAt(j, ctx.view, "target") ? "target" : isAt(j, ctx.view, "previous") ? "previous" : j.startedOn;
  await enter(ctx, "starting");
  const cycleStart = ctx.window.cycleStart ?? clock.now();
  ctx.window.downSince ??= cycleStart;
  const left = () => Math.max(1_000, config.upgrade.downtimeBudget - (clock.now() - cycleStart));
  ctx.acted = true;
  await ctx.steps.run(step, () => world.service.start({ restartContainerd: j.restartContainerd, timeoutMs: left() }));
  const readyAt = await ctx.steps.run("wait-ready", () => waitReady(world.docker, Math.min(config.docker.readyTimeout, left()), clock));
  if (ctx.window.downSince !== null) ctx.window.downtimeMs = (ctx.window.downtimeMs ?? 0) + (readyAt - ctx.window.downSince);
  ctx.window.downSince = null;
  ctx.window.cycleStart = null;
  const engineVersion = await twice(async () => (await world.docker.version()).version);
  // a process just started from the file on disk (a socket-activated one too)
  ctx.view = { ...ctx.view, daemonUp: true, engineVersion, binaryReplaced: false };
  await enter(ctx, "started");
}

/** A live-restore restart of dockerd: the down window of a staged upgrade, or the undo's restart. */
export async function restartDaemon(ctx: MachineContext): Promise<void> {
  await stopDaemon(ctx, { holdActivation: false });
  await startDaemon(ctx);
}
