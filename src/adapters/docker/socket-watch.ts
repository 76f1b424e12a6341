import { watch } from "node:fs";
import { basename, dirname } from "node:path";
import type { SocketWatch } from "../../ports/docker.js";

/**
 * Changes to the socket file, seen through its folder (inotify): dockerd removes a stale file and
 * makes a new one as it starts to listen, so a wait learns of it within a millisecond instead of
 * asking all along. null where the folder cannot be watched (the wait then polls).
 */
export function watchSocketFile(socketPath: string): SocketWatch | null {
  const name = basename(socketPath);
  let pending = false;
  let broken: Error | null = null;
  let waiter: { resolve: () => void; reject: (err: Error) => void } | null = null;
  const wake = (err?: Error) => {
    const w = waiter;
    waiter = null;
    if (!w) return;
    pending = false;
    if (err) w.reject(err);
    else w.resolve();
  };
  let watcher: ReturnType<typeof watch>;
  try {
    watcher = watch(dirname(socketPath), { persistent: false }, (_event, file) => {
      if (file !== null && file !== name) return;
      pending = true;
      wake();
    });
  } catch {
    return null;
  }
  watcher.on("error", (err) => {
    broken = err;
    wake(err);
  });
  return {
    changed: (signal) => {
      if (broken) return Promise.reject(broken);
      if (pending) {
        pending = false;
        return Promise.resolve();
      }
      return new Promise<void>((resolve, reject) => {
        const me = { resolve, reject };
        waiter = me;
        // given up on (the wait asked anyway): a change from now on is kept for the next call
        signal?.addEventListener("abort", () => {
          if (waiter === me) waiter = null;
          resolve();
        }, { once: true });
      });
    },
    close: () => {
      watcher.close();
      wake();
    },
  };
}
