import pRetry from "p-retry";
import type { DockerPort } from "../ports/docker.js";
import { note, transition, type RunContext } from "./context.js";

/**
 * Waits for `GET /_ping` with tight, bounded polling (no fixed sleeps): 20 ms at first, backing off
 * to 100 ms, giving up after `budgetMs`. Returns when the first good ping was seen.
 */
export async function waitReady(docker: DockerPort, budgetMs: number, now: () => number): Promise<number> {
  const deadline = now() + budgetMs;
  await pRetry(
    async () => {
      const left = deadline - now();
      await docker.ping(Math.max(50, Math.min(1_000, left)));
    },
    { retries: 100_000, factor: 1.3, minTimeout: 20, maxTimeout: 100, maxRetryTime: budgetMs, randomize: false },
  ).catch((err: unknown) => {
    throw new Error(`dockerd did not answer /_ping within ${budgetMs}ms (last error: ${err instanceof Error ? err.message : String(err)})`);
  });
  return now();
}

/**
 * Stops dockerd through the service manager. Makes no API call while it is down. `holdActivation`:
 * it stays down for an install, so nothing may start it meanwhile (docker.socket is stopped too).
 */
export async function stopDaemon(ctx: RunContext, options: { holdActivation: boolean } = { holdActivation: false }): Promise<void> {
  const { world } = ctx;
  await transition(ctx, "stopping");
  // still down from an earlier stop (a start that never answered): the window goes on from that stop
  ctx.stopAt ??= world.clock.now();
  ctx.daemonDownByUs = true;
  ctx.everStopped = true;
  await ctx.steps.run("stop", () => world.service.stop(options));
  // recovery decides alike from "stopping" and "stopped": no fsync of its own in the down window
  note(ctx, "stopped");
}

/** Starts dockerd and waits for the API, within what is left of the downtime budget. */
export async function startDaemon(ctx: RunContext, options: { restartContainerd: boolean; step?: string }): Promise<void> {
  const { world } = ctx;
  await transition(ctx, "starting");
  // The start and the wait for the API share what is left of the downtime budget: a start that
  // blocks (TimeoutStartSec=0 and a dockerd that never reports ready) cannot outlast it.
  const left = () => {
    const spent = ctx.stopAt === null ? 0 : world.clock.now() - ctx.stopAt;
    return Math.max(1_000, world.config.upgrade.downtimeBudget - spent);
  };
  await ctx.steps.run(options.step ?? "start", () => world.service.start({ restartContainerd: options.restartContainerd, timeoutMs: left() }));
  const budget = Math.min(world.config.docker.readyTimeout, left());
  const readyAt = await ctx.steps.run("wait-ready", () => waitReady(world.docker, budget, world.clock.now));
  if (ctx.stopAt !== null) ctx.downtimeMs = (ctx.downtimeMs ?? 0) + (readyAt - ctx.stopAt);
  ctx.stopAt = null;
  ctx.daemonDownByUs = false;
  await transition(ctx, "started");
}

/** A live-restore restart of dockerd: the down window of a staged upgrade. */
export async function restartDaemon(ctx: RunContext, restartContainerd: boolean): Promise<void> {
  await stopDaemon(ctx);
  await startDaemon(ctx, { restartContainerd });
}
