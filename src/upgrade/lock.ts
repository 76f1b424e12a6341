import type { World } from "./world.js";
import { EXIT } from "../report/exit-codes.js";
import { errorMessage } from "./steps.js";

export class LockedError extends Error {
  override name = "LockedError";
  readonly exitCode = EXIT.locked;
}

/**
 * Takes the host lock for fn (exit 4 when another run holds it) and releases it whatever happens. A
 * lock that cannot be released is left to the next run, which takes it over once this process is gone:
 * the work done under it (and its report) stands.
 */
export async function withLock<T>(world: World, command: string, fn: () => Promise<T>): Promise<T> {
  let lock;
  try {
    lock = await world.lock.acquire(command);
  } catch (err) {
    throw new Error(`could not take the lock in ${world.state.dir}: ${errorMessage(err)}; nothing was touched`);
  }
  if (!lock.acquired) {
    throw new LockedError(`another run holds the lock: pid ${lock.holder.pid} (${lock.holder.command}) since ${lock.holder.since}; nothing was touched`);
  }
  if (lock.tookOverFrom) world.logger.warn({ stale: lock.tookOverFrom }, "took over a lock left by a process that is gone");
  try {
    return await fn();
  } finally {
    await world.lock.release().catch((err: unknown) => world.logger.error({ err }, "could not release the lock; the next run takes it over"));
  }
}
