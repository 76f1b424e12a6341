import type { Logger } from "pino";
import type { Config } from "../../config/schema.js";
import { ConfigError } from "../../config/load.js";
import type { World } from "../../upgrade/world.js";
import { sdNotify } from "../../daemon/sd-notify.js";
import type { Metrics } from "../../daemon/metrics.js";
import { daemonLoop } from "../../daemon/loop.js";
import { processSignals } from "../signals.js";

/** prom-client is loaded only where metrics are configured. */
const startMetrics = async (...args: Parameters<typeof import("../../daemon/metrics.js").startMetrics>): Promise<Metrics> =>
  (await import("../../daemon/metrics.js")).startMetrics(...args);

type Setup = (opts: { config?: string }) => Promise<{ config: Config; world: World; logger: Logger }>;
type CloseWorld = (world: World) => Promise<void>;

/**
 * `daemon`: the loop of src/daemon/loop.ts with the process around it: READY/STOPPING/WATCHDOG to
 * systemd, SIGHUP reloads the config (an invalid one is refused and the old one kept, the old world
 * closed), SIGTERM/SIGINT end it, never inside the down window, metrics while it runs.
 */
export async function daemonCommand(configFlag: string | undefined, setup: Setup, closeWorld: CloseWorld): Promise<number> {
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
  // a replaced world is closed between passes, never under a run (its fleet lease is that run's slot)
  const retired: World[] = [];
  const onHup = () => {
    if (stopping) return;
    setup({ config: configFlag }).then(
      async (next) => {
        if (stopping) return void retired.push(next.world);
        metrics?.close();
        retired.push(world);
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
  try {
    const closeRetired = async () => {
      for (const w of retired.splice(0)) await closeWorld(w);
    };
    await daemonLoop({ world: () => world, logger: () => logger, stopping: () => stopping, sleep, signals: processSignals, afterLook: async () => metrics?.refresh(), idle: closeRetired });
    await closeRetired();
  } finally {
    if (dog) clearInterval(dog);
    metrics?.close();
    process.off("SIGTERM", onTerm);
    process.off("SIGINT", onTerm);
    process.off("SIGHUP", onHup);
  }
  return 0;
}
