/**
 * Messages between the resident daemon (src/daemon/supervisor.ts) and its worker (`daemon` run with
 * DLU_DAEMON_WORKER=1): the daemon hands the worker the config's text, the worker says when it is ready
 * and, when nothing is due for a while, when to wake it, then exits.
 */
import type { ConfigSource } from "../config/source.js";

export const WORKER_ENV = "DLU_DAEMON_WORKER";

export type ToWorker =
  /** The config, and when the last upgrade ran as the previous worker knew it (absent: the reports say). */
  | { type: "config"; source: ConfigSource; lastRunAt?: number | null; heartbeatMs: number }
  /** Reloads are numbered; the worker takes them one at a time and answers each. */
  | { type: "reload"; seq: number; source: ConfigSource };

export type FromWorker =
  | { type: "ready" }
  /** Sent every `heartbeatMs` (a quarter of systemd's watchdog at most): the daemon's pings vouch for a worker that answers. */
  | { type: "alive" }
  | { type: "reloaded"; seq: number; ok: boolean }
  /** Nothing due before wakeAt (null: no window ahead); `journal`: the file whose appearance means a run to recover. */
  | { type: "idle"; wakeAt: number | null; lastRunAt: number | null; journal: string };

export const HEARTBEAT_MS = 10_000;

/** A worker sleeps no longer than this between looks while it is resident; longer waits are the daemon's. */
export const IDLE_AFTER_MS = 5 * 60_000;
/** The daemon wakes its worker this long before a window opens (config, world, the first look). */
export const WAKE_LEAD_MS = 60_000;
