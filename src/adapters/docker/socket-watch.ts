import { readlinkSync, realpathSync, watch } from "node:fs";
import { basename, dirname, join, resolve as resolvePath } from "node:path";
import type { SocketWatch } from "../../ports/docker.js";

/**
 * The file the socket really is: a configured path through a symlink is watched where it points,
 * a link to a socket not made yet (dockerd removed it) too.
 */
function resolved(socketPath: string, links = 0): string {
  try {
    return realpathSync(socketPath);
  } catch {
    // missing, or a link to a missing file: a link is followed by hand (at most a few deep)
  }
  if (links < 8) {
    try {
      return resolved(resolvePath(dirname(socketPath), readlinkSync(socketPath)), links + 1);
    } catch {
      // not a link
    }
  }
  try {
    return join(realpathSync(dirname(socketPath)), basename(socketPath));
  } catch {
    return socketPath;
  }
}

/**
 * Changes to the socket file, seen through its folder (inotify): dockerd removes a stale file and
 * makes a new one as it starts to listen, so a wait learns of it within a millisecond instead of
 * asking all along. null where the folder cannot be watched; broken (the wait then polls) once the
 * folder itself goes, which inotify reports under the folder's own name.
 */
export function watchSocketFile(socketPath: string): SocketWatch | null {
  const file = resolved(socketPath);
  const name = basename(file);
  const folderName = basename(dirname(file));
  let pending = false;
  let broken: Error | null = null;
  let waiter: { settle: (err?: Error) => void } | null = null;
  const wake = (err?: Error) => {
    const w = waiter;
    waiter = null;
    if (!w) return;
    pending = false;
    w.settle(err);
  };
  let watcher: ReturnType<typeof watch>;
  try {
    watcher = watch(dirname(file), { persistent: false }, (_event, changed) => {
      if (changed === folderName && changed !== name) {
        broken = new Error(`${dirname(file)} was removed or moved`);
        return wake(broken);
      }
      if (changed !== null && changed !== name) return;
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
      // given up on (the wait asked anyway), now or later: a change from then on is kept for the next call
      if (signal?.aborted) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const giveUp = () => {
          if (waiter === me) waiter = null;
          resolve();
        };
        const me = {
          settle: (err?: Error) => {
            signal?.removeEventListener("abort", giveUp);
            if (err) reject(err);
            else resolve();
          },
        };
        waiter = me;
        signal?.addEventListener("abort", giveUp, { once: true });
      });
    },
    close: () => {
      watcher.close();
      wake();
    },
  };
}
