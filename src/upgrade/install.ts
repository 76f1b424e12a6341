import type { InstallOptions, PackageTarget } from "../ports/packages.js";
import type { World } from "./world.js";

/** An install with the package scripts' service actions held: the run restarts dockerd itself, once. */
export async function installHeld(world: World, targets: readonly PackageTarget[], options: InstallOptions): Promise<void> {
  const { env } = await world.serviceHold.hold();
  try {
    await world.packages.install(targets, { ...options, env: { ...options.env, ...env } });
  } finally {
    await world.serviceHold.release();
  }
}
