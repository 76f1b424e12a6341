import type { InstalledPackage, PackageTarget, SimulatedChange } from "../ports/packages.js";
import type { CheckResult } from "../report/report.js";
import { checkJump, patchCandidates, resolveTarget, type UpgradePath } from "./target.js";
import { enginePackages, KNOWN_BAD_UPSTREAM, knownPackages, roleOf } from "./roles.js";
import type { VersionScheme } from "../versions/scheme.js";
import { releaseOfPackage } from "../fleet/rollout.js";
import { fail, pass } from "../checks/verdicts.js";

export interface PlannedChange {
  name: string;
  from: string | null;
  to: string | null;
}

export interface UpgradePlan {
  engine: { name: string; from: string; to: string };
  /** What the package manager says it will do (simulation). */
  changes: PlannedChange[];
  /** name=version passed to the package manager. */
  targets: PackageTarget[];
  /** The versions installed now of every package that changes: what a rollback puts back. */
  previous: PackageTarget[];
  restartContainerd: boolean;
  /** live: the containers ride on live restore; restart: a MAJOR.MINOR jump, by planned container restarts. */
  path: UpgradePath;
}

export interface PackageSelection {
  engine: InstalledPackage | null;
  packages: InstalledPackage[];
  check: CheckResult;
}

/** names: auto finds the installed engine packages; engine: auto picks the first engine among them. */
export function selectPackages(
  installed: readonly InstalledPackage[],
  names: "auto" | readonly string[],
  engine: string,
  format: "deb" | "rpm" = "deb",
): PackageSelection {
  const wanted = names === "auto" ? knownPackages(format) : names;
  const packages = installed.filter((p) => wanted.includes(p.name));
  const engines = enginePackages(format);
  const engineName = engine === "auto" ? engines.find((n) => packages.some((p) => p.name === n)) : engine;
  const found = packages.find((p) => p.name === engineName) ?? null;
  if (!found) {
    const looked = engine === "auto" ? engines.join(", ") : engine;
    return {
      engine: null,
      packages,
      check: fail("engine-package", `no installed engine package found (looked for ${looked}); set packages.engine to the package that installs dockerd`),
    };
  }
  const others = packages.filter((p) => p !== found).map((p) => `${p.name} ${p.version}`);
  return {
    engine: found,
    packages,
    check: pass("engine-package", `${found.name} ${found.version}${others.length ? `; with ${others.join(", ")}` : ""}`),
  };
}

export type Resolution =
  | { kind: "target"; targets: PackageTarget[]; engineTarget: string; check: CheckResult; path: UpgradePath }
  | { kind: "up-to-date"; check: CheckResult }
  | { kind: "refused"; check: CheckResult };

/**
 * The version of an engine-family package (the CLI, rootless extras) that goes with the engine's
 * target: the same version string (deb), else the same version-release without the epoch (rpm:
 * docker-ce 3:24.0.9-1.el9, docker-ce-cli 1:24.0.9-1.el9), else the same upstream release. None: the
 * package stays as it is (never a release the engine is not on).
 */
export function followEngine(scheme: VersionScheme, engineTarget: string, versions: readonly string[]): string | undefined {
  if (versions.includes(engineTarget)) return engineTarget;
  const bare = (v: string) => v.replace(/^\d+:/, "");
  const newest = (list: string[]) => [...list].sort((a, b) => scheme.compare(b, a))[0];
  return newest(versions.filter((v) => bare(v) === bare(engineTarget))) ?? newest(versions.filter((v) => scheme.upstream(v) === scheme.upstream(engineTarget)));
}

/**
 * The engine's target and each companion's: engine-family follows the engine, containerd/runc take
 * their newest patch (on the planned-restart path: their newest release, never an older one).
 */
export function resolveTargets(
  scheme: VersionScheme,
  selection: PackageSelection & { engine: InstalledPackage },
  available: Record<string, string[]>,
  to: string | undefined,
  deny: readonly string[],
  beyond = false,
): Resolution {
  const engine = selection.engine;
  const allDeny = [...KNOWN_BAD_UPSTREAM, ...deny];
  const res = resolveTarget({ scheme, installed: engine.version, available: available[engine.name] ?? [], to, deny: allDeny, beyond });
  const path: UpgradePath = res.kind === "target" ? res.path : "live";
  if (res.kind === "refused") return { kind: "refused", check: fail("target", res.reason) };
  const targets: PackageTarget[] = [];
  const engineTarget = res.version;
  if (res.kind === "target") targets.push({ name: engine.name, version: engineTarget });
  for (const p of selection.packages) {
    if (p === engine) continue;
    const role = roleOf(p.name);
    const versions = available[p.name] ?? [];
    let version: string | undefined;
    if (role === "engine-family") {
      version = followEngine(scheme, engineTarget, versions);
    } else if (role === "containerd" || role === "runc") {
      version = path === "restart" ? [...versions].sort((a, b) => scheme.compare(b, a))[0] : patchCandidates({ scheme, installed: p.version, available: versions, deny: [] })[0];
    }
    if (version !== undefined && scheme.compare(version, p.version) > 0) targets.push({ name: p.name, version });
  }
  const plugins = selection.packages.filter((p) => roleOf(p.name) === "plugin").map((p) => p.name);
  const leftAlone = plugins.length ? `; left as they are: ${plugins.join(", ")} (client plugins: no running container depends on them)` : "";
  if (!targets.length) return { kind: "up-to-date", check: pass("target", `${res.note}${leftAlone}`) };
  const message = `${targets.map((t) => `${t.name} ${t.version}`).join(", ")} (${res.kind === "target" ? res.note : "engine up to date; companions have patch releases"})${leftAlone}`;
  return { kind: "target", targets, engineTarget, check: pass("target", message), path };
}

/**
 * This host's build of a fleet rollout's release (MAJOR.MINOR.PATCH): the newest package version of
 * it that the patch rule allows from `installed`, or null when the repositories offer none.
 */
export function buildOfRelease(scheme: VersionScheme, installed: string, available: readonly string[], release: string, deny: readonly string[]): string | null {
  const builds = patchCandidates({ scheme, installed, available, deny: [...KNOWN_BAD_UPSTREAM, ...deny] }).filter((v) => releaseOfPackage(scheme.upstream(v)) === release);
  return builds[0] ?? null;
}

/**
 * Every change the package manager would make must obey its role's live-restore rule; on the
 * planned-restart path (no container runs across the restart) only: never a downgrade.
 */
export function judgeSimulation(scheme: VersionScheme, changes: readonly SimulatedChange[], targets: readonly PackageTarget[], path: UpgradePath = "live"): CheckResult[] {
  const out: CheckResult[] = [];
  // a jump's new dependencies may replace a helper package (Debian: tini-static replaces tini); a
  // Docker package removed, or anything on the live path, is a conflict to resolve by hand
  const replaced = path === "restart" ? changes.filter((c) => c.action === "remove" && c.from !== null && roleOf(c.name) === null) : [];
  const removed = changes.filter((c) => c.action === "remove" && !replaced.includes(c));
  if (removed.length) {
    out.push(fail("simulation", `the package manager would remove ${removed.map((c) => c.name).join(", ")}; resolve the conflict by hand first`));
  }
  if (replaced.length) {
    out.push(pass("replaced-packages", `${replaced.map((c) => `${c.name} ${c.from}`).join(", ")} removed by the new release's dependencies; a rollback installs ${replaced.length === 1 ? "it" : "them"} again`, "warning"));
  }
  const missing = targets.filter((t) => !changes.some((c) => c.name === t.name && c.to === t.version));
  if (missing.length) {
    out.push(fail("simulation", `the package manager would not install ${missing.map((t) => `${t.name}=${t.version}`).join(", ")}`));
  }
  if (!removed.length && !missing.length) {
    out.push(pass("simulation", `${changes.length} package change(s): ${changes.map((c) => `${c.name} ${c.from ?? "(new)"} -> ${c.to ?? "(removed)"}`).join(", ")}`));
  }
  for (const c of changes) {
    if (c.action === "remove" || c.from === null || c.to === null) continue;
    const role = roleOf(c.name);
    if (role === null) continue;
    const live = checkJump(scheme, role, c.from, c.to);
    const down = scheme.compare(c.to, c.from) < 0;
    const verdict =
      path === "restart" && !live.ok && !down ? { ok: true, message: `${c.from} -> ${c.to}: beyond live restore, taken by planned container restarts (${live.message})` } : live;
    out.push({ name: role === "engine" ? "patch-only" : `patch-only:${c.name}`, ok: verdict.ok, message: verdict.message, level: "error" });
  }
  return out;
}

export function buildPlan(engine: { name: string; from: string; to: string }, changes: readonly SimulatedChange[], targets: PackageTarget[], path: UpgradePath = "live"): UpgradePlan {
  return {
    path,
    engine,
    changes: changes.map((c) => ({ name: c.name, from: c.from, to: c.to })),
    targets,
    previous: changes.filter((c) => c.from !== null).map((c) => ({ name: c.name, version: c.from! })),
    restartContainerd: changes.some((c) => roleOf(c.name) === "containerd"),
  };
}
