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

/** Stops dockerd (and docker.socket) through the service manager. Makes no API call while it is down. */
export async function stopDaemon(ctx: RunContext): Promise<void> {
  const { world } = ctx;
  await transition(ctx, "stopping");
  // still down from an earlier stop (a start that never answered): the window goes on from that stop
  ctx.stopAt ??= world.clock.now();
  ctx.daemonDownByUs = true;
  ctx.everStopped = true;
  await ctx.steps.run("stop", () => world.service.stop());
  // recovery decides alike from "stopping" and "stopped": no fsync of its own in the down window
  note(ctx, "stopped");
}

/** Starts dockerd and waits for the API, within what is left of the downtime budget. */
export async function startDaemon(ctx: RunContext, options: { restartContainerd: boolean; step?: string }): Promise<void> {
  const { world } = ctx;
  await transition(ctx, "starting");
  await ctx.steps.run(options.step ?? "start", () => world.service.start({ restartContainerd: options.restartContainerd }));
  const spent = ctx.stopAt === null ? 0 : world.clock.now() - ctx.stopAt;
  const budget = Math.max(1_000, Math.min(world.config.docker.readyTimeout, world.config.upgrade.downtimeBudget - spent));
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
