import { mkdir, readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Exec } from "../../exec/index.js";
import { assertPackageNames as assertNames, PACKAGE_NAME } from "../../versions/names.js";
import type { InstallOptions, InstalledPackage, PackageManagerPort, PackageTarget, SimulatedChange } from "../../ports/packages.js";
import { debScheme } from "../../versions/scheme.js";
import { debFilePrefix, parseDpkgQuery, parseMadison, parseSimulation } from "./apt-parse.js";
import { lockHoldersFromProcLocks } from "./proc-locks.js";

const ENV = {
  DEBIAN_FRONTEND: "noninteractive",
  // needrestart (hooked into apt on Debian/Ubuntu) would otherwise restart services on its own.
  NEEDRESTART_SUSPEND: "1",
  NEEDRESTART_MODE: "l",
  LC_ALL: "C",
};



export function assertTargets(targets: readonly PackageTarget[]): void {
  assertNames(targets.map((t) => t.name));
  for (const t of targets) {
    if (!debScheme.isValid(t.version)) throw new Error(`refusing version ${JSON.stringify(t.version)} for ${t.name}`);
  }
}

const spec = (targets: readonly PackageTarget[]): string[] => {
  assertTargets(targets);
  return targets.map((t) => `${t.name}=${t.version}`);
};

export interface AptPaths {
  dpkgLocks: string[];
  procLocks: string;
  /** Where apt keeps its binary package cache for our calls (a path as the host sees it), or null for apt's own setting. */
  pkgcacheDir: string | null;
}

/** The files the adapter reads or writes itself, under the host's root ("/" unless run from the image). */
export function aptPaths(hostRoot = "/", stateDir: string | null = null): AptPaths {
  const at = (p: string) => join(hostRoot, p);
  return {
    dpkgLocks: [at("/var/lib/dpkg/lock-frontend"), at("/var/lib/dpkg/lock")],
    procLocks: "/proc/locks", // global to the kernel
    pkgcacheDir: stateDir === null ? null : join(stateDir, "apt"),
  };
}

/** apt-get / apt-cache / dpkg on Debian and Ubuntu. */
export class AptPackageManager implements PackageManagerPort {
  readonly kind = "apt" as const;
  readonly scheme = debScheme;
  readonly repairHint = "run dpkg --configure -a, then docker-live-upgrade recover";
  readonly holdsHint = "apt-mark showhold";

  /**
   * Options after the verb, so that a command reads "apt-get install ..." in errors and logs.
   * apt's binary cache of the package lists, kept in our state folder: hosts made from Docker's Debian
   * images turn apt's own off (Dir::Cache::pkgcache ""), and every apt call then rebuilds it (0.6 s
   * each here; 20 ms with a cache). apt checks it against the lists and rebuilds it when they change.
   */
  private readonly cache: string[];

  constructor(
    private readonly exec: Exec,
    private readonly timeoutMs: number,
    private readonly paths: AptPaths = aptPaths(),
  ) {
    const dir = paths.pkgcacheDir;
    this.cache = dir ? ["-o", `Dir::Cache::pkgcache=${join(dir, "pkgcache.bin")}`, "-o", `Dir::Cache::srcpkgcache=${join(dir, "srcpkgcache.bin")}`] : [];
    // apt keeps the cache in memory alone where it cannot write it (a dry run by a user, say)
    if (dir) void mkdir(dir, { recursive: true }).catch(() => undefined);
  }

  async refresh(): Promise<void> {
    await this.exec("apt-get", ["update", ...this.cache, "-q"], { env: ENV, timeoutMs: this.timeoutMs });
  }

  async installed(names: readonly string[]): Promise<InstalledPackage[]> {
    assertNames(names);
    if (!names.length) return [];
    const { stdout } = await this.exec(
      "dpkg-query",
      ["-W", "-f=${Package}\t${Version}\t${db:Status-Abbrev}\n", "--", ...names],
      { env: ENV, okExitCodes: [0, 1] },
    );
    return parseDpkgQuery(stdout);
  }

  async available(names: readonly string[]): Promise<Record<string, string[]>> {
    assertNames(names);
    if (!names.length) return {};
    const { stdout } = await this.exec("apt-cache", ["madison", ...this.cache, ...names], { env: ENV });
    return Object.fromEntries(names.map((n) => [n, parseMadison(stdout, n)]));
  }

  async simulate(targets: readonly PackageTarget[]): Promise<SimulatedChange[]> {
    const { stdout } = await this.exec(
      "apt-get",
      // holds are judged by the package-holds check, which names them; the simulation only reports
      ["install", ...this.cache, "-s", "-y", "--allow-downgrades", "--allow-change-held-packages", "--no-install-recommends", ...spec(targets)],
      { env: ENV, timeoutMs: this.timeoutMs },
    );
    return parseSimulation(stdout);
  }

  async downloadable(targets: readonly PackageTarget[]): Promise<{ ok: boolean; message: string }> {
    const ok = { ok: true, message: `${targets.map((t) => `${t.name}=${t.version}`).join(", ")} downloadable` };
    // one query for all; only when it fails, one each, to name what is missing
    const all = await this.exec("apt-get", ["download", ...this.cache, "--print-uris", "-q", ...spec(targets)], { env: ENV, timeoutMs: this.timeoutMs }).then(
      (r) => r.stdout.split("\n").filter((l) => l.startsWith("'")).length >= targets.length,
      () => false,
    );
    if (all) return ok;
    const verdicts = await Promise.all(
      spec(targets).map(async (s): Promise<string | null> => {
        try {
          const { stdout } = await this.exec("apt-get", ["download", ...this.cache, "--print-uris", "-q", s], { env: ENV, timeoutMs: this.timeoutMs });
          return stdout.trim() ? null : `${s} (no source)`;
        } catch (err) {
          return `${s} (${(err as Error).message.split("\n").pop()})`;
        }
      }),
    );
    const missing = verdicts.filter((v): v is string => v !== null);
    return missing.length ? { ok: false, message: `not downloadable: ${missing.join("; ")}` } : ok;
  }

  async fetch(targets: readonly PackageTarget[], dir: string): Promise<string[]> {
    await mkdir(join(dir, "partial"), { recursive: true });
    // First what an install of these versions needs that is not installed yet (new dependencies included)...
    await this.exec(
      "apt-get",
      ["install", ...this.cache, "--download-only", "-y", "-q", "--allow-downgrades", "--allow-change-held-packages", "--no-install-recommends", "-o", `Dir::Cache::Archives=${dir}`, ...spec(targets)],
      { env: ENV, timeoutMs: this.timeoutMs },
    );
    // ...then each named version itself, even one that is installed now (a rollback needs it), and
    // one a local (file:) source serves, which apt uses in place instead of downloading. `apt-get
    // download` writes to the working directory: set inside the command with `env --chdir`, since
    // `chroot` (the image's hostRoot) resets a working directory given from outside to the host's "/".
    // The same for every package the install brings in besides them (a new dependency from a local
    // source, e.g. Debian 13's docker-cli and tini-static for a jump): an install with --no-download
    // cannot take a file: source's package in place ("Pathname to install is not absolute").
    assertTargets(targets);
    // (only what reads as a plain name and version: anything else, e.g. a foreign-architecture
    // "name:arch", stays with the download above, as before)
    const brought = (await this.simulate(targets))
      .filter((c) => c.to !== null && !targets.some((t) => t.name === c.name) && PACKAGE_NAME.test(c.name) && debScheme.isValid(c.to))
      .map((c) => ({ name: c.name, version: c.to! }));
    for (const t of [...targets, ...brought]) {
      const have = (await readdir(dir)).some((f) => f.startsWith(debFilePrefix(t.name, t.version)) && f.endsWith(".deb"));
      if (!have) await this.exec("env", [`--chdir=${dir}`, "apt-get", "download", ...this.cache, "-q", `${t.name}=${t.version}`], { env: ENV, timeoutMs: this.timeoutMs });
    }
    return (await readdir(dir)).filter((f) => f.endsWith(".deb")).map((f) => join(dir, f));
  }

  async install(targets: readonly PackageTarget[], options: InstallOptions): Promise<void> {
    const args = [
      "install",
      ...this.cache,
      "-y",
      "-q",
      "--no-install-recommends",
      "--no-download",
      "-o",
      `Dir::Cache::Archives=${options.from}`,
      "-o",
      "Dpkg::Options::=--force-confdef",
      "-o",
      "Dpkg::Options::=--force-confold",
      "-o",
      "DPkg::Lock::Timeout=30",
      ...(options.allowDowngrades ? ["--allow-downgrades"] : []),
      ...(options.reinstall ? ["--reinstall"] : []),
      ...spec(targets),
    ];
    await this.exec("apt-get", args, { env: { ...ENV, ...options.env }, timeoutMs: this.timeoutMs });
  }

  async repair(env: Record<string, string> = {}): Promise<void> {
    await this.exec("dpkg", ["--configure", "-a", "--force-confdef", "--force-confold"], { env: { ...ENV, ...env }, timeoutMs: this.timeoutMs });
  }

  async lockHolder(): Promise<string | null> {
    const inodes = new Set<number>();
    for (const p of this.paths.dpkgLocks) {
      const s = await stat(p).catch(() => null);
      if (s) inodes.add(s.ino);
    }
    const pids = lockHoldersFromProcLocks(await readFile(this.paths.procLocks, "utf8"), inodes);
    if (!pids.length) return null;
    const names = await Promise.all(
      pids.map(async (pid) => `${(await readFile(`/proc/${pid}/comm`, "utf8").catch(() => "?")).trim()} (pid ${pid})`),
    );
    return names.join(", ");
  }

  async audit(): Promise<string[]> {
    const { stdout } = await this.exec("dpkg", ["--audit"], { env: ENV, okExitCodes: [0, 1] });
    return stdout.split("\n").filter((l) => l.trim());
  }

  async held(names: readonly string[]): Promise<string[]> {
    const { stdout } = await this.exec("apt-mark", ["showhold"], { env: ENV });
    const all = stdout.split("\n").map((l) => l.trim().replace(/:\w+$/, ""));
    return names.filter((n) => all.includes(n));
  }

  holdSupport(): Promise<string | null> {
    return Promise.resolve(null); // apt-mark is part of apt
  }

  async setHold(names: readonly string[], hold: boolean): Promise<void> {
    assertNames(names);
    if (names.length) await this.exec("apt-mark", [hold ? "hold" : "unhold", ...names], { env: ENV });
  }
}
