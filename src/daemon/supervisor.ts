import { fork, type ChildProcess } from "node:child_process";
import { access } from "node:fs/promises";
import { constants } from "node:os";
import { createLogger } from "../logging/logger.js";
import { ConfigError, readConfigSource, type ConfigSource } from "../config/source.js";
import { sdNotify } from "./sd-notify.js";
import { wakeableSleep } from "./wakeable.js";
import { HEARTBEAT_MS, WAKE_LEAD_MS, WORKER_ENV, type FromWorker, type ToWorker } from "./protocol.js";

/** The longest the resident daemon sleeps between two looks at the clock and the journal's file. */
const LOOK_EVERY_MS = 60_000;
/** A worker that said it is idle and has not exited this long after is ended. */
const IDLE_EXIT_GRACE_MS = 30_000;

type IdleMessage = Extract<FromWorker, { type: "idle" }>;

interface Worker {
  child: ChildProcess;
  /** true at "ready"; false when it exited before (an invalid config: exit 2). */
  ready: Promise<boolean>;
  /** Its exit code (128 + the signal's number when a signal ended it), and what it said last about when to wake it. */
  exited: Promise<{ code: number; idle: IdleMessage | null }>;
  /** Reloads sent and not answered yet, by number. */
  pending: Map<number, ConfigSource>;
  lastAlive: number;
}

/**
 * The resident `daemon`: it holds the config's text, talks to systemd (READY, STOPPING, WATCHDOG),
 * and sleeps; a worker (this same command, DLU_DAEMON_WORKER=1) validates the config, looks at the
 * windows and the journal and runs upgrades and recoveries, and exits when nothing is due for a
 * while, saying when to wake it. So the waiting daemon holds none of the upgrade machinery (the
 * config schema, the Docker client, the package adapters), and a run's memory goes with its worker.
 *
 * SIGTERM/SIGINT reach the worker (the unit's KillMode=mixed signals this process only) and the
 * daemon waits for it: a run finishes to a safe state first. SIGHUP re-reads the config file: a
 * running worker validates and takes it; otherwise a new worker does; an invalid one is refused and
 * the text last taken is kept. A worker that ends unexpectedly ends the daemon with its code
 * (systemd's Restart= brings both back; the new worker recovers what the journal shows).
 */
export async function superviseDaemon(script: string, configFlag: string | undefined): Promise<number> {
  const logger = createLogger("info");
  let source: ConfigSource;
  try {
    source = await readConfigSource(configFlag);
  } catch (err) {
    process.stderr.write(`docker-live-upgrade: ${err instanceof ConfigError ? err.message : String(err)}\n`);
    return 2;
  }
  // set by SIGHUP while no worker runs, or left by a worker that ended before answering (a closure: the compiler cannot see it change)
  let candidate = null as ConfigSource | null;
  let lastRunAt: number | null | undefined = undefined;
  let current: Worker | null = null;
  let seq = 0;
  let stopping = false;
  const { sleep: nap, wake } = wakeableSleep();

  const start = (config: ConfigSource): Worker => {
    const env: NodeJS.ProcessEnv = { ...process.env, [WORKER_ENV]: "1" };
    // systemd hears from this process only
    delete env.NOTIFY_SOCKET;
    delete env.WATCHDOG_USEC;
    delete env.WATCHDOG_PID;
    const child = fork(script, ["daemon"], { env, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const w: Worker = { child, ready: Promise.resolve(false), exited: Promise.resolve({ code: 1, idle: null }), pending: new Map(), lastAlive: Date.now() };
    let idle: IdleMessage | null = null;
    let onReady: (ok: boolean) => void = () => undefined;
    w.ready = new Promise((r) => (onReady = r));
    child.on("message", (m: FromWorker) => {
      w.lastAlive = Date.now();
      if (m.type === "ready") onReady(true);
      else if (m.type === "idle") {
        idle = m;
        // it exits next; one that does not is ended
        setTimeout(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"), IDLE_EXIT_GRACE_MS).unref();
      } else if (m.type === "reloaded") {
        const taken = w.pending.get(m.seq);
        w.pending.delete(m.seq);
        if (m.ok && taken) source = taken;
      }
    });
    child.on("error", (err) => logger.error({ err: err.message }, "the daemon's worker: process error"));
    w.exited = new Promise((resolve) => {
      // "close": the channel is drained too, so its last message has arrived
      child.on("close", (code, signal) => {
        onReady(false);
        // reloads it did not answer go to the next worker (the newest of them)
        const unanswered = [...w.pending.entries()].sort((a, b) => a[0] - b[0]).at(-1)?.[1];
        if (unanswered) candidate = unanswered;
        resolve({ code: code ?? 128 + (signal ? (constants.signals[signal] ?? 15) : 15), idle });
      });
    });
    send(child, { type: "config", source: config, heartbeatMs, ...(lastRunAt !== undefined ? { lastRunAt } : {}) });
    return w;
  };
  const send = (child: ChildProcess, m: ToWorker) => {
    if (child.connected) child.send(m, undefined, {}, (err) => err && logger.warn({ err: err.message }, "the daemon's worker did not get a message"));
  };

  const onTerm = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "stopping");
    sdNotify("STOPPING=1");
    current?.child.kill(signal);
    wake();
  };
  const onHup = () => {
    if (stopping) return;
    readConfigSource(configFlag).then(
      (next) => {
        const w = current;
        if (w?.child.connected) {
          // the running worker validates it, and keeps its own config when it is invalid
          const n = ++seq;
          w.pending.set(n, next);
          send(w.child, { type: "reload", seq: n, source: next });
        } else {
          candidate = next;
          wake();
        }
      },
      (err: unknown) => logger.error({ err: err instanceof Error ? err.message : String(err) }, "config reload refused; keeping the running config"),
    );
  };
  process.on("SIGTERM", onTerm);
  process.on("SIGINT", onTerm);
  process.on("SIGHUP", onHup);
  // the watchdog vouches for the worker only while it answers (its heartbeat well inside the watchdog's period)
  const watchdog = sdNotify.watchdogInterval();
  const heartbeatMs = watchdog ? Math.min(HEARTBEAT_MS, watchdog / 4) : HEARTBEAT_MS;
  const dog = watchdog
    ? setInterval(() => {
        if (!current || Date.now() - current.lastAlive < watchdog) sdNotify("WATCHDOG=1");
      }, watchdog / 2)
    : null;

  const exists = (file: string) => access(file).then(() => true, () => false);

  try {
    let first = true;
    while (!stopping) {
      const trying = candidate;
      candidate = null;
      const w = start(trying ?? source);
      current = w;
      if (!(await w.ready)) {
        current = null;
        const { code } = await w.exited;
        // asked to stop while it started: nothing was under way
        if (stopping) return 0;
        if (first) return code === 0 ? 1 : code;
        if (trying) {
          logger.error({ file: trying.file }, "config reload refused; keeping the running config");
          continue;
        }
        return code === 0 ? 1 : code;
      }
      if (trying) {
        source = trying;
        logger.info("config reloaded");
      }
      if (first) {
        first = false;
        sdNotify("READY=1");
        logger.info("daemon started");
      }
      const { code, idle } = await w.exited;
      current = null;
      if (stopping) return code;
      // a worker that ended without saying when to wake it failed: systemd's Restart= takes over
      if (!idle) {
        logger.error({ code }, "the daemon's worker ended unexpectedly");
        return code === 0 ? 1 : code;
      }
      lastRunAt = idle.lastRunAt;
      // asleep until a window is near, the journal shows a run to recover, a reload or a stop
      const wakeAt = idle.wakeAt === null ? Infinity : idle.wakeAt - WAKE_LEAD_MS;
      while (!stopping && candidate === null && Date.now() < wakeAt && !(await exists(idle.journal))) {
        await nap(Math.min(LOOK_EVERY_MS, wakeAt - Date.now()));
      }
    }
    return 0;
  } finally {
    if (dog) clearInterval(dog);
    process.off("SIGTERM", onTerm);
    process.off("SIGINT", onTerm);
    process.off("SIGHUP", onHup);
  }
}

/** `daemon` with at most a config flag: what the resident daemon takes; anything else (help, typos) goes to the full command line. */
export function daemonArgs(args: readonly string[]): { config: string | undefined } | null {
  if (args[0] !== "daemon") return null;
  const rest = args.slice(1);
  if (rest.length === 0) return { config: undefined };
  if (rest.length === 1 && rest[0]!.startsWith("--config=")) return { config: rest[0]!.slice("--config=".length) };
  if (rest.length === 2 && (rest[0] === "--config" || rest[0] === "-c")) return { config: rest[1] };
  return null;
}
