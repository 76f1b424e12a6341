import type { World } from "../../upgrade/ports.js";
import { EXIT } from "../../report/exit-codes.js";

export class LockedError extends Error {
  override name = "LockedError";
  readonly exitCode = EXIT.locked;
}

/** Takes the host lock for fn (exit 4 when another run holds it), releases it whatever happens. */
export async function withLock<T>(world: World, command: string, fn: () => Promise<T>): Promise<T> {
  const lock = await world.lock.acquire(command);
  if (!lock.acquired) {
    throw new LockedError(
      `another run holds the lock: pid ${lock.holder.pid} (${lock.holder.command}) since ${lock.holder.since}; nothing was touched`,
    );
  }
  if (lock.tookOverFrom) world.logger.warn({ stale: lock.tookOverFrom }, "took over a lock left by a process that is gone");
  try {
    return await fn();
  } finally {
    await world.lock.release();
  }
}
