import type { Logger } from "pino";
import type { Config } from "../../config/schema.js";
import { ConfigError } from "../../config/load.js";
import { decideRun, currentWindow } from "../../schedule/windows.js";
import type { World } from "../../upgrade/ports.js";
import { sdNotify } from "../../daemon/sd-notify.js";
import type { Metrics } from "../../daemon/metrics.js";

/** prom-client is loaded only where metrics are configured. */
const startMetrics = async (...args: Parameters<typeof import("../../daemon/metrics.js").startMetrics>): Promise<Metrics> =>
  (await import("../../daemon/metrics.js")).startMetrics(...args);

type Setup = (opts: { config?: string }) => Promise<{ config: Config; world: World; logger: Logger }>;

const MAX_SLEEP = 60_000;

/**
 * Asked just before the stop: the window must still be open and hold the worst case from here on,
 * the downtime budget plus the verification. Never stop dockerd into a closing window.
 */
export function stopVerdict(world: World, stopping: boolean, installMs = 0): string | null {
  if (stopping) return "the daemon is stopping";
  const now = world.clock.now();
  const w = currentWindow(world.config.schedule, now);
  if (!w) return "the maintenance window closed before the stop";
  const need = installMs + world.config.upgrade.downtimeBudget + world.config.upgrade.settle;
  if (w.closes - now < need) return `the window closes in ${Math.round((w.closes - now) / 1000)}s, less than the ${Math.round(need / 1000)}s the rest of the run may take`;
  return null;
}

/** Expected install time (staged: it comes before the stop): the slowest recent install x1.5, else a tenth of the expected run. */
export async function expectedInstall(world: World): Promise<number> {
  const installs = (await world.state.reports(10)).flatMap((r) => r.steps.filter((s) => s.name === "install" && s.ok).map((s) => s.durationMs));
  return installs.length ? Math.max(...installs) * 1.5 : world.config.schedule.expectedDuration / 10;
}

/** Expected run time: the slowest of the last few runs, else the configured default. */
async function expectedDuration(world: World): Promise<number> {
  const recent = (await world.state.reports(10)).filter((r) => !r.dryRun && r.outcome !== "refused" && r.finishedAt);
  const spans = recent.map((r) => Date.parse(r.finishedAt) - Date.parse(r.startedAt)).filter((n) => n > 0);
  return spans.length ? Math.max(...spans) * 1.5 : world.config.schedule.expectedDuration;
}

/**
 * `daemon`: wakes at least every minute, runs an upgrade when a window is open and leaves room for
 * it, re-checks the window just before the stop. SIGHUP reloads the config (an invalid one is refused
 * and the old one kept); SIGTERM/SIGINT end it, never inside the down window.
 */
export async function daemonCommand(configFlag: string | undefined, setup: Setup): Promise<number> {
  let { world, logger } = await setup({ config: configFlag });
  let metrics: Metrics | null = world.config.metrics ? await startMetrics(world.config.metrics.listen, world, logger) : null;
  let stopping = false;
  let wake: (() => void) | null = null;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  const onTerm = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "stopping");
    sdNotify("STOPPING=1");
    wake?.();
  };
  const onHup = () => {
    setup({ config: configFlag }).then(
      async (next) => {
        metrics?.close();
        world = next.world;
        logger = next.logger;
        metrics = world.config.metrics ? await startMetrics(world.config.metrics.listen, world, logger) : null;
        logger.info("config reloaded");
        wake?.();
      },
      (err: unknown) => logger.error({ err: err instanceof ConfigError ? err.message : err }, "config reload refused; keeping the running config"),
    );
  };
  process.on("SIGTERM", onTerm);
  process.on("SIGINT", onTerm);
  process.on("SIGHUP", onHup);
  const watchdog = sdNotify.watchdogInterval();
  const dog = watchdog ? setInterval(() => sdNotify("WATCHDOG=1"), watchdog / 2) : null;
  sdNotify("READY=1");
  logger.info({ windows: world.config.schedule.windows.length }, "daemon started");
  const previous = (await world.state.reports(20)).find((r) => !r.dryRun && r.command === "upgrade");
  let lastRunAt: number | null = previous ? Date.parse(previous.startedAt) : null;
  try {
    while (!stopping) {
      const now = world.clock.now();
      const expected = await expectedDuration(world);
      const decision = decideRun(world.config.schedule, now, lastRunAt, expected);
      await metrics?.refresh();
      if (decision.run) {
        logger.info({ closes: new Date(decision.window.closes).toISOString() }, "maintenance window open: upgrading");
        lastRunAt = now;
        const installMs = await expectedInstall(world);
        const { upgradeCommand } = await import("./upgrade.js"); // loaded when a window first opens
        const reports = await upgradeCommand(world, {
          dryRun: false,
          // before a staged install, the window must hold the install too; right before the stop, the rest
          beforeStop: (phase) => stopVerdict(world, stopping, phase === "install" ? installMs : 0),
          // a fleet slot is worth waiting for only while the window can still hold the whole run
          fleetDeadline: decision.window.closes - expected,
        }).catch((err: unknown) => {
          logger.error({ err }, "run failed");
          return [];
        });
        for (const r of reports) logger.info({ id: r.id, outcome: r.outcome, downtimeMs: r.daemonDowntimeMs }, "run finished");
        await metrics?.refresh();
        continue;
      }
      const wait = Math.max(1_000, Math.min(MAX_SLEEP, (decision.retryAt ?? now + MAX_SLEEP) - now));
      logger.debug({ reason: decision.reason, waitMs: wait }, "waiting");
      await sleep(wait);
    }
  } finally {
    if (dog) clearInterval(dog);
    metrics?.close();
    process.off("SIGTERM", onTerm);
    process.off("SIGINT", onTerm);
    process.off("SIGHUP", onHup);
  }
  return 0;
}
