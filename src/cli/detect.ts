import { access, constants } from "node:fs/promises";
import type { Config } from "../config/schema.js";
import type { Exec } from "../exec/index.js";
import { AptPackageManager, aptPaths } from "../adapters/packages/apt.js";
import { join } from "node:path";
import type { PackageManagerPort } from "../ports/packages.js";

export class UnsupportedHostError extends Error {
  override name = "UnsupportedHostError";
}

const executable = (path: string): Promise<boolean> => access(path, constants.X_OK).then(() => true, () => false);

/** Ordered strategies: each says whether the host is its kind and builds the adapter; one clear error when none fits. */
type Strategy = { name: "apt" | "dnf"; detect: () => Promise<boolean>; build: () => PackageManagerPort };

export async function detectPackageManager(config: Config, exec: Exec): Promise<PackageManagerPort> {
  const host = (p: string) => join(config.hostRoot, p);
  const strategies: Strategy[] = [
    {
      name: "apt",
      detect: async () => (await executable(host("/usr/bin/apt-get"))) && (await executable(host("/usr/bin/dpkg-query"))),
      build: () => new AptPackageManager(exec, config.packages.timeout, aptPaths(config.hostRoot)),
    },
    {
      name: "dnf",
      detect: async () => (await executable(host("/usr/bin/dnf"))) && (await executable(host("/usr/bin/rpm"))),
      build: () => {
        throw new UnsupportedHostError(
          "packages.manager dnf: RPM hosts are detected but not supported by this version (version rules are ready, the dnf adapter is not); upgrade by hand",
        );
      },
    },
  ];
  const wanted = config.packages.manager;
  for (const s of strategies) {
    if (wanted !== "auto" && wanted !== s.name) continue;
    if (wanted === "auto" && !(await s.detect())) continue;
    return s.build();
  }
  throw new UnsupportedHostError(
    wanted === "auto" ? "no supported package manager found (looked for apt-get + dpkg-query, dnf + rpm); set packages.manager" : `packages.manager ${wanted} is not available on this host`,
  );
}
