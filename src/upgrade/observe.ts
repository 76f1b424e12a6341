import type { InstalledPackage } from "../ports/packages.js";
import type { HostView } from "./machine.js";
import type { World } from "./world.js";

/** A read of the host, tried twice: one failing query must not make a healthy host look broken. */
export async function twice<T>(fn: () => Promise<T>): Promise<T | null> {
  try {
    return await fn();
  } catch {
    try {
      return await fn();
    } catch {
      return null;
    }
  }
}

/**
 * What the host shows now: the named packages in the package database, whether that database is
 * consistent, whether dockerd answers and with which release. A query that fails twice counts
 * against the host (unknown packages, inconsistent, down): decisions then lean to the safe side.
 */
export async function observe(world: World, names: readonly string[]): Promise<HostView> {
  const { packages, docker } = world;
  const [installed, audit, up] = await Promise.all([
    twice(() => packages.installed(names)),
    twice(() => packages.audit()),
    twice(() => docker.ping(2_000).then(() => true)),
  ]);
  const engineVersion = up ? await twice(async () => (await docker.version()).version) : null;
  const binaryReplaced = engineVersion !== null ? await world.host.dockerdReplaced(world.config.docker.pidFile).catch(() => null) : null;
  const byName: Record<string, InstalledPackage | undefined> = {};
  for (const p of installed ?? []) byName[p.name] = p;
  return {
    installed: byName,
    consistent: installed !== null && audit !== null && audit.length === 0 && (installed ?? []).every((p) => p.ok),
    daemonUp: up === true && engineVersion !== null,
    engineVersion,
    binaryReplaced,
  };
}
