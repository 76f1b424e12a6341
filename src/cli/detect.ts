import { access, constants } from "node:fs/promises";
import type { Config } from "../config/schema.js";
import type { Exec } from "../exec/index.js";
import { AptPackageManager, aptPaths } from "../adapters/packages/apt.js";
import { join } from "node:path";
import { DnfPackageManager, dnfPaths } from "../adapters/packages/dnf.js";
import { enginePackages, knownPackages, roleOf } from "../plan/roles.js";
import type { PackageManagerPort } from "../ports/packages.js";

export class UnsupportedHostError extends Error {
  override name = "UnsupportedHostError";
}

const executable = (path: string): Promise<boolean> => access(path, constants.X_OK).then(() => true, () => false);

/** What `rpm -V` checks after a run: the engine, its family and the runtime (not the client plugins). */
function verifyNames(config: Config): string[] {
  const names = config.packages.names === "auto" ? knownPackages("rpm") : config.packages.names;
  return names.filter((n) => roleOf(n) !== "plugin");
}

/** Ordered strategies: each says whether the host is its kind and builds the adapter; one clear error when none fits. */
type Strategy = { name: "apt" | "dnf"; detect: () => Promise<boolean>; build: () => PackageManagerPort };

export async function detectPackageManager(config: Config, exec: Exec): Promise<PackageManagerPort> {
  const host = (p: string) => join(config.hostRoot, p);
  const strategies: Strategy[] = [
    {
      name: "apt",
      detect: async () => (await executable(host("/usr/bin/apt-get"))) && (await executable(host("/usr/bin/dpkg-query"))),
      build: () => new AptPackageManager(exec, config.packages.timeout, aptPaths(config.hostRoot, config.stateDir)),
    },
    {
      name: "dnf",
      detect: async () => (await executable(host("/usr/bin/dnf"))) && (await executable(host("/usr/bin/rpm"))),
      build: () => new DnfPackageManager(exec, config.packages.timeout, dnfPaths(config.hostRoot), verifyNames(config)),
    },
  ];
  const wanted = config.packages.manager;
  if (wanted !== "auto") {
    const s = strategies.find((x) => x.name === wanted)!;
    return s.build();
  }
  const present: Strategy[] = [];
  for (const s of strategies) if (await s.detect()) present.push(s);
  if (present.length === 1) return present[0]!.build();
  if (present.length > 1) {
    // Both tools on one host (rpm installed on Debian, say): the one whose database has Docker's engine.
    const engines = await Promise.all(
      present.map(async (s) => {
        const pm = s.build();
        const names = config.packages.engine === "auto" ? enginePackages(pm.scheme.name) : [config.packages.engine];
        const found = await pm.installed(names).catch(() => []);
        return found.length > 0 ? pm : null;
      }),
    );
    return engines.find((pm) => pm !== null) ?? present[0]!.build();
  }
  throw new UnsupportedHostError("no supported package manager found (looked for apt-get + dpkg-query, dnf + rpm); set packages.manager");
}
