import { mkdir, readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { ExecError, type Exec } from "../../exec/index.js";
import { assertPackageNames as assertNames } from "../../versions/names.js";
import type { InstallOptions, InstalledPackage, PackageManagerPort, PackageTarget, SimulatedChange } from "../../ports/packages.js";
import { rpmScheme } from "../../versions/scheme.js";
import { lockHoldersFromProcLocks } from "./proc-locks.js";
import { duplicates, parseDnfTransaction, parseRepoquery, parseRpmQuery, parseVersionlock } from "./dnf-parse.js";

const ENV = { LC_ALL: "C" };
/**
 * versionlock hides every other version of a held package from dnf: queries, the simulation and the
 * downloads look past it (the package-holds check judges holds, and the run lifts the upgrader's
 * own for the install), as apt's --allow-change-held-packages does.
 */
const PAST_LOCKS = ["--disableplugin=versionlock"];
const ANY_EXIT = Array.from({ length: 256 }, (_, i) => i);
const QF = "%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\n";
/** rpm's characters for versions and releases; an epoch is digits. Nothing else reaches an argv. */
const RPM_EVR = /^(?:\d{1,10}:)?[A-Za-z0-9._+~^]{1,128}(?:-[A-Za-z0-9._+~^]{1,128})?$/;


export function assertRpmTargets(targets: readonly PackageTarget[]): void {
  assertNames(targets.map((t) => t.name));
  for (const t of targets) {
    if (!RPM_EVR.test(t.version) || !rpmScheme.isValid(t.version)) throw new Error(`refusing version ${JSON.stringify(t.version)} for ${t.name}`);
  }
}

/** NAME-[EPOCH:]VERSION-RELEASE: how dnf names one exact version. */
const nevra = (targets: readonly PackageTarget[]): string[] => {
  assertRpmTargets(targets);
  return targets.map((t) => `${t.name}-${t.version}`);
};

/** VERSION-RELEASE: what file names and rpm's own package arguments carry (no epoch). */
const withoutEpoch = (version: string): string => version.replace(/^\d+:/, "");

/** The file `dnf download` writes for a version: NAME-VERSION-RELEASE.ARCH.rpm. */
function fileMatches(file: string, t: PackageTarget): boolean {
  return file.startsWith(`${t.name}-${withoutEpoch(t.version)}.`) && file.endsWith(".rpm");
}

export interface DnfPaths {
  /** dnf's own lock: a pid file, stale when that process is gone. */
  dnfLock: string;
  procLocks: string;
  hostRoot: string;
}

export function dnfPaths(hostRoot = "/"): DnfPaths {
  return { dnfLock: join(hostRoot, "/var/lib/dnf/rpmdb_lock.pid"), procLocks: "/proc/locks", hostRoot };
}

/**
 * dnf (4) and rpm on RHEL, Rocky, Alma, CentOS Stream, Fedora, Amazon Linux. Exact versions are named
 * NAME-[EPOCH:]VERSION-RELEASE; installs run from the downloaded files with every repository
 * disabled, so nothing is fetched once dockerd is down.
 */
export class DnfPackageManager implements PackageManagerPort {
  readonly kind = "dnf" as const;
  readonly scheme = rpmScheme;
  readonly repairHint = "run docker-live-upgrade recover after an interrupted run, else settle what dnf check reports";
  readonly holdsHint = "dnf versionlock list";
  private rpmLock: string | null = null;

  constructor(
    private readonly exec: Exec,
    private readonly timeoutMs: number,
    private readonly paths: DnfPaths = dnfPaths(),
    /** What audit() verifies with `rpm -V` besides `dnf check`: the engine's packages. */
    private readonly verifyNames: readonly string[] = ["docker-ce", "docker-ce-cli", "containerd.io", "docker", "moby-engine", "containerd", "runc"],
  ) {}

  private dnf(args: readonly string[], options: { env?: Record<string, string>; okExitCodes?: number[] } = {}) {
    return this.exec("dnf", ["-y", "-q", "--setopt=install_weak_deps=False", ...args], {
      env: { ...ENV, ...options.env },
      timeoutMs: this.timeoutMs,
      okExitCodes: options.okExitCodes,
    });
  }

  async refresh(): Promise<void> {
    await this.dnf(["makecache", "--refresh"]);
  }

  async installed(names: readonly string[]): Promise<InstalledPackage[]> {
    assertNames(names);
    if (!names.length) return [];
    // the exit code counts the names not installed
    const { stdout } = await this.exec("rpm", ["-q", "--qf", QF, "--", ...names], { env: ENV, okExitCodes: ANY_EXIT });
    return parseRpmQuery(stdout);
  }

  async available(names: readonly string[]): Promise<Record<string, string[]>> {
    assertNames(names);
    if (!names.length) return {};
    const { stdout } = await this.dnf([...PAST_LOCKS, "repoquery", "--showduplicates", "--qf", QF.replace(/%\{(\w+)\}/g, (_, f: string) => `%{${f.toLowerCase()}}`), "--", ...names]);
    return Object.fromEntries(names.map((n) => [n, parseRepoquery(stdout, n)]));
  }

  async simulate(targets: readonly PackageTarget[]): Promise<SimulatedChange[]> {
    // --assumeno resolves and prints the transaction, downloads nothing, and exits 1 ("Operation aborted").
    const { stdout, exitCode } = await this.exec("dnf", [...PAST_LOCKS, "install", "--assumeno", "--setopt=install_weak_deps=False", "--", ...nevra(targets)], {
      env: ENV,
      timeoutMs: this.timeoutMs,
      okExitCodes: [0, 1],
    });
    const changes = parseDnfTransaction(stdout);
    if (exitCode !== 0 && !changes.length && !/Nothing to do/.test(stdout)) {
      throw new Error(`dnf could not resolve the transaction (dnf install --assumeno ${nevra(targets).join(" ")}):\n${stdout.trim().split("\n").slice(-12).join("\n")}`);
    }
    const now = new Map((await this.installed(changes.map((c) => c.name))).map((p) => [p.name, p.version]));
    return changes.map((c) => (c.action === "remove" ? c : { ...c, from: now.get(c.name) ?? null }));
  }

  async downloadable(targets: readonly PackageTarget[]): Promise<{ ok: boolean; message: string }> {
    const { stdout } = await this.dnf([...PAST_LOCKS, "repoquery", "--location", "--", ...nevra(targets)], { okExitCodes: [0, 1] });
    const locations = stdout.split("\n").filter((l) => l.trim());
    const missing = targets.filter((t) => !locations.some((l) => l.includes(`/${t.name}-${withoutEpoch(t.version)}.`)));
    return missing.length
      ? { ok: false, message: `not downloadable: ${missing.map((t) => `${t.name}-${t.version} (no source)`).join("; ")}` }
      : { ok: true, message: `${targets.map((t) => `${t.name}-${t.version}`).join(", ")} downloadable` };
  }

  async fetch(targets: readonly PackageTarget[], dir: string): Promise<string[]> {
    await mkdir(dir, { recursive: true });
    // What the transaction needs that is not installed yet (new dependencies)...
    await this.dnf([...PAST_LOCKS, "install", "--downloadonly", `--destdir=${dir}`, "--", ...nevra(targets)]);
    // ...and each named version itself that is installed now (a rollback needs it): a reinstall that
    // only downloads, with core dnf (no dnf-plugins-core and its `dnf download` needed).
    const have = await readdir(dir);
    const missing = targets.filter((t) => !have.some((f) => fileMatches(f, t)));
    if (missing.length) await this.dnf([...PAST_LOCKS, "reinstall", "--downloadonly", `--destdir=${dir}`, "--", ...nevra(missing)]);
    return (await readdir(dir)).filter((f) => f.endsWith(".rpm")).map((f) => join(dir, f));
  }

  async install(targets: readonly PackageTarget[], options: InstallOptions): Promise<void> {
    assertRpmTargets(targets);
    const files = (await readdir(options.from)).filter((f) => f.endsWith(".rpm")).sort();
    const missing = targets.filter((t) => !files.some((f) => fileMatches(f, t)));
    if (missing.length) throw new Error(`not downloaded into ${options.from}: ${missing.map((t) => `${t.name}-${t.version}`).join(", ")}`);
    const now = new Map((await this.installed(targets.map((t) => t.name))).map((p) => [p.name, p]));
    // dnf installs a local file of a lower version as a downgrade; the same version needs `reinstall`.
    const same = targets.filter((t) => {
      const p = now.get(t.name);
      return p?.ok && this.scheme.compare(p.version, t.version) === 0;
    });
    const lower = targets.filter((t) => {
      const p = now.get(t.name);
      return p && this.scheme.compare(t.version, p.version) < 0;
    });
    if (lower.length && !options.allowDowngrades) throw new Error(`refusing to downgrade ${lower.map((t) => `${t.name} to ${t.version}`).join(", ")}`);
    const path = (f: string) => join(options.from, f);
    const change = files.filter((f) => !same.some((t) => fileMatches(f, t)));
    const env = options.env ?? {};
    const offline = ["--disablerepo=*"];
    if (change.length) await this.dnf([...offline, "install", "--", ...change.map(path)], { env });
    if (options.reinstall && same.length) {
      await this.dnf([...offline, "reinstall", "--", ...files.filter((f) => same.some((t) => fileMatches(f, t))).map(path)], { env });
    }
  }

  /**
   * What an interrupted rpm transaction leaves: the new and the old version of a package both in
   * the database (the old one's erasure never ran). The older entries are dropped from the database
   * alone (no scripts: the files are the newer package's), as `dnf remove --duplicates` would without
   * its network reinstall; the run then installs the versions it wants from its downloads.
   */
  async repair(): Promise<void> {
    const { stdout } = await this.exec("rpm", ["-qa", "--qf", QF.replace("\\n", "\\t%{ARCH}\\n")], { env: ENV });
    for (const [key, versions] of duplicates(stdout)) {
      const sorted = [...versions].sort((a, b) => this.scheme.compare(a, b));
      const name = key.replace(/\.[^.]+$/, "");
      assertNames([name]);
      for (const old of sorted.slice(0, -1)) {
        assertRpmTargets([{ name, version: old }]);
        await this.exec("rpm", ["-e", "--justdb", "--nodeps", "--noscripts", "--notriggers", `${name}-${withoutEpoch(old)}`], { env: ENV, timeoutMs: this.timeoutMs });
      }
    }
  }

  async lockHolder(): Promise<string | null> {
    const holders: string[] = [];
    const pid = Number((await readFile(this.paths.dnfLock, "utf8").catch(() => "")).trim());
    if (pid > 0 && (await stat(`/proc/${pid}`).then(() => true, () => false))) holders.push(`${await comm(pid)} (pid ${pid}, dnf's lock)`);
    this.rpmLock ??= (await this.exec("rpm", ["--eval", "%{_rpmlock_path}"], { env: ENV })).stdout.trim();
    const s = await stat(join(this.paths.hostRoot, this.rpmLock)).catch(() => null);
    if (s) {
      for (const p of lockHoldersFromProcLocks(await readFile(this.paths.procLocks, "utf8"), new Set([s.ino]))) {
        if (p !== pid) holders.push(`${await comm(p)} (pid ${p})`);
      }
    }
    return holders.length ? holders.join(", ") : null;
  }

  async audit(): Promise<string[]> {
    const problems: string[] = [];
    const check = await this.exec("dnf", ["-q", "check"], { env: ENV, okExitCodes: [0, 1] });
    problems.push(...`${check.stdout}`.split("\n").filter((l) => l.trim()));
    const installed = (await this.installed(this.verifyNames)).filter((p) => p.ok).map((p) => p.name);
    if (installed.length) {
      // files of the engine's packages missing or changed (configuration files left out: sites edit them)
      const v = await this.exec("rpm", ["-V", "--noconfig", "--nomtime", "--", ...installed], { env: ENV, okExitCodes: [0, 1] });
      problems.push(...v.stdout.split("\n").filter((l) => l.trim()).map((l) => `rpm -V: ${l.trim()}`));
    }
    return problems;
  }

  async held(names: readonly string[]): Promise<string[]> {
    const locked = await this.versionlocks();
    return locked === null ? [] : names.filter((n) => locked.includes(n));
  }

  async holdSupport(): Promise<string | null> {
    return (await this.versionlocks()) === null ? "dnf has no versionlock command: install python3-dnf-plugin-versionlock (EL8/9: dnf install 'dnf-command(versionlock)')" : null;
  }

  async setHold(names: readonly string[], hold: boolean): Promise<void> {
    assertNames(names);
    if (!names.length) return;
    if ((await this.versionlocks()) === null) {
      throw new Error("dnf has no versionlock command: install python3-dnf-plugin-versionlock (EL8/9: dnf install 'dnf-command(versionlock)') to hold versions");
    }
    await this.dnf(["versionlock", hold ? "add" : "delete", "--", ...names]);
  }

  /** The names versionlock holds, or null without the plugin. */
  private async versionlocks(): Promise<string[] | null> {
    try {
      const { stdout } = await this.dnf(["versionlock", "list"]);
      return parseVersionlock(stdout);
    } catch (err) {
      if (err instanceof ExecError && /No such command: versionlock/.test(`${err.stdout}${err.stderr}`)) return null;
      throw err;
    }
  }
}

async function comm(pid: number): Promise<string> {
  return (await readFile(`/proc/${pid}/comm`, "utf8").catch(() => "?")).trim();
}
