import type { InstallOptions, PackageTarget } from "../ports/packages.js";
import type { World } from "./world.js";

/** A package run with the package scripts' service actions held: the run starts and stops dockerd itself. */
export async function heldServices<T>(world: World, fn: (env: Record<string, string>) => Promise<T>): Promise<T> {
  const { env } = await world.serviceHold.hold();
  try {
    return await fn(env);
  } finally {
    await world.serviceHold.release();
  }
}

/** An install with the package scripts' service actions held: the run restarts dockerd itself, once. */
export function installHeld(world: World, targets: readonly PackageTarget[], options: InstallOptions): Promise<void> {
  return heldServices(world, (env) => world.packages.install(targets, { ...options, env: { ...options.env, ...env } }));
}
