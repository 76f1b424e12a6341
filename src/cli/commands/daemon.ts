import { join } from "node:path";
import type { Logger } from "pino";
import { ConfigError } from "../../config/load.js";
import type { ConfigSource } from "../../config/source.js";
import type { World } from "../../upgrade/world.js";
import { sdNotify } from "../../daemon/sd-notify.js";
import type { Metrics } from "../../daemon/metrics.js";
import { daemonLoop, type Idle } from "../../daemon/loop.js";
import { wakeableSleep } from "../../daemon/wakeable.js";
import { IDLE_AFTER_MS, type FromWorker, type ToWorker } from "../../daemon/protocol.js";
import { processSignals } from "../signals.js";
import { PeriodicCheckpoints } from "../../checkpoint/periodic.js";

/** prom-client is loaded only where metrics are configured. */
const startMetrics = async (...args: Parameters<typeof import("../../daemon/metrics.js").startMetrics>): Promise<Metrics> =>
  (await import("../../daemon/metrics.js")).startMetrics(...args);

type Setup = (source: ConfigSource | null) => Promise<{ world: World; logger: Logger }>;
type CloseWorld = (world: World) => Promise<void>;

/** The worker's line to the resident daemon (an IPC channel): its first config, reloads, and where it reports. */
export interface WorkerLink {
  source: ConfigSource;
  lastRunAt: number | null | undefined;
  heartbeatMs: number;
  send: (m: FromWorker) => void;
  /** Reloads, one at a time in the order sent; the handler says whether the config was taken. */
  onReload: (handler: (source: ConfigSource) => Promise<boolean>) => void;
  /** The last word: sent, then the channel closed (it would keep the worker alive). */
  last: (m: FromWorker | null) => Promise<void>;
}

/** As the daemon's worker: waits for the config the daemon hands over, then answers on the same channel. */
export async function workerLink(): Promise<WorkerLink> {
  const send = (m: FromWorker) => void process.send?.(m, undefined, {}, () => undefined);
  // reloads queue until the loop listens, then run one after the other: answers come in order
  const queued: Extract<ToWorker, { type: "reload" }>[] = [];
  let handler: ((source: ConfigSource) => Promise<boolean>) | null = null;
  let busy = false;
  const drain = async () => {
    if (busy || !handler) return;
    busy = true;
    for (let m = queued.shift(); m; m = queued.shift()) send({ type: "reloaded", seq: m.seq, ok: await handler(m.source) });
    busy = false;
  };
  const first = await new Promise<Extract<ToWorker, { type: "config" }>>((resolve) => {
    process.on("message", (m: ToWorker) => {
      if (m.type === "config") resolve(m);
      else {
        queued.push(m);
        void drain();
      }
    });
  });
  const last = (m: FromWorker | null) =>
    new Promise<void>((resolve) => {
      const close = () => {
        process.disconnect?.();
        resolve();
      };
      if (m && process.send) process.send(m, undefined, {}, close);
      else close();
    });
  const onReload = (h: (source: ConfigSource) => Promise<boolean>) => {
    handler = h;
    void drain();
  };
  return { source: first.source, lastRunAt: first.lastRunAt, heartbeatMs: first.heartbeatMs, send, onReload, last };
}

/**
 * `daemon`: the loop of src/daemon/loop.ts with the process around it. In process (no link): READY,
 * STOPPING and WATCHDOG to systemd, SIGHUP reloads the config (an invalid one is refused and the old
 * one kept, the old world closed). As the resident daemon's worker (a link): the daemon does that,
 * reloads come as messages, and the loop returns when nothing is due for a while. SIGTERM/SIGINT end
 * it either way, never inside the down window; metrics while it runs (a worker with metrics stays).
 */
export async function daemonCommand(setup: Setup, closeWorld: CloseWorld, link: WorkerLink | null = null): Promise<number> {
  let source = link?.source ?? null;
  let { world, logger } = await setup(source);
  // periodic checkpoints keep their memory (failures, last results) across reloads
  const checkpoints = new PeriodicCheckpoints(() => world.config.checkpoints);
  let metrics: Metrics | null = world.config.metrics ? await startMetrics(world.config.metrics.listen, world, logger, checkpoints) : null;
  let stopping = false;
  const { sleep, wake } = wakeableSleep();
  const onTerm = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "stopping");
    if (!link) sdNotify("STOPPING=1");
    wake();
  };
  // a replaced world is closed between passes, never under a run (its fleet lease is that run's slot)
  const retired: World[] = [];
  const reload = (next: ConfigSource | null): Promise<boolean> =>
    setup(next).then(
      async (n) => {
        source = next;
        if (stopping) {
          retired.push(n.world);
          return true;
        }
        metrics?.close();
        retired.push(world);
        world = n.world;
        logger = n.logger;
        metrics = world.config.metrics ? await startMetrics(world.config.metrics.listen, world, logger, checkpoints) : null;
        logger.info("config reloaded");
        wake();
        return true;
      },
      (err: unknown) => {
        logger.error({ err: err instanceof ConfigError ? err.message : err }, "config reload refused; keeping the running config");
        return false;
      },
    );
  const onHup = () => {
    if (!stopping) void reload(source);
  };
  link?.onReload(reload);
  process.on("SIGTERM", onTerm);
  process.on("SIGINT", onTerm);
  // a worker's reloads come from the daemon; a SIGHUP sent to the whole unit must not end it
  const ignore = () => undefined;
  process.on("SIGHUP", link ? ignore : onHup);
  const beat = link ? setInterval(() => link.send({ type: "alive" }), link.heartbeatMs) : null;
  const watchdog = link ? null : sdNotify.watchdogInterval();
  const dog = watchdog ? setInterval(() => sdNotify("WATCHDOG=1"), watchdog / 2) : null;
  if (link) link.send({ type: "ready" });
  else sdNotify("READY=1");
  logger.info({ windows: world.config.schedule.windows.length }, link ? "daemon worker started" : "daemon started");
  let idle: Idle | null = null;
  try {
    const closeRetired = async () => {
      for (const w of retired.splice(0)) await closeWorld(w);
    };
    idle = await daemonLoop({
      world: () => world,
      logger: () => logger,
      stopping: () => stopping,
      sleep,
      signals: processSignals,
      afterLook: async () => metrics?.refresh(),
      idle: closeRetired,
      checkpoints,
      // metrics are served by the worker: with them it stays resident
      ...(link ? { idleAfter: () => (world.config.metrics ? undefined : IDLE_AFTER_MS), lastRunAt: link.lastRunAt } : {}),
    });
    await closeRetired();
  } finally {
    if (dog) clearInterval(dog);
    if (beat) clearInterval(beat);
    metrics?.close();
    // a worker keeps its handlers to the end (a signal between here and its exit must not kill it)
    if (!link) {
      process.off("SIGTERM", onTerm);
      process.off("SIGINT", onTerm);
      process.off("SIGHUP", onHup);
    }
  }
  if (link && idle && !stopping) {
    logger.info({ wakeAt: idle.wakeAt === null ? null : new Date(idle.wakeAt).toISOString() }, "nothing due for a while: the worker ends, the daemon wakes it");
    await link.last({ type: "idle", wakeAt: idle.wakeAt, lastRunAt: idle.lastRunAt, journal: join(world.config.stateDir, "journal.json") });
  } else await link?.last(null);
  return 0;
}
