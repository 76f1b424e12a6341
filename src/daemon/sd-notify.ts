import { spawnQuiet } from "../exec/common.js";

/**
 * sd_notify through systemd-notify(1) (Node has no unix datagram sockets); the unit sets
 * NotifyAccess=all so the helper's messages count. A no-op when NOTIFY_SOCKET is unset.
 */
export function sdNotify(state: string, env: NodeJS.ProcessEnv = process.env): void {
  if (!env.NOTIFY_SOCKET) return;
  void spawnQuiet("systemd-notify", [`--pid=${process.pid}`, state], 5_000);
}

/** WATCHDOG_USEC in milliseconds, when the watchdog is on for this process. */
sdNotify.watchdogInterval = (env: NodeJS.ProcessEnv = process.env): number | null => {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.NOTIFY_SOCKET || !Number.isFinite(usec) || usec <= 0) return null;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== process.pid) return null;
  return usec / 1000;
};
