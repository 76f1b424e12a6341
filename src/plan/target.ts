import {
  formatSeries,
  releaseOf,
  sameSeries,
  type Release,
  type VersionScheme,
} from "../versions/scheme.js";
import type { PackageRole } from "./roles.js";
import { isSemverPrerelease, patchStep } from "../versions/semver-rule.js";

/** How the containers cross the upgrade: kept by live restore (patch releases), or stopped and started again (a MAJOR.MINOR jump, opted in). */
export type UpgradePath = "live" | "restart";

export type TargetResolution =
  | { kind: "target"; version: string; note: string; path: UpgradePath }
  | { kind: "up-to-date"; version: string; note: string }
  | { kind: "refused"; reason: string };

export interface TargetRequest {
  scheme: VersionScheme;
  installed: string;
  /** Every version the package manager can install, any order, may include the installed one. */
  available: readonly string[];
  /** `--to`: an exact package version or an upstream version matching exactly one candidate. */
  to?: string | undefined;
  /** Upstream versions never to select (known restore bugs, operator's list). */
  deny: readonly string[];
  /** A MAJOR.MINOR jump may be targeted (upgrade.beyondPatch: restart, or --allow-restart): the planned-restart path. */
  beyond?: boolean;
}

const descending = (scheme: VersionScheme, versions: readonly string[]): string[] =>
  [...new Set(versions)].sort((a, b) => scheme.compare(b, a));

function seriesOf(scheme: VersionScheme, version: string): Release | null {
  return releaseOf(scheme.upstream(version));
}

function denied(scheme: VersionScheme, version: string, deny: readonly string[]): string | undefined {
  const upstream = scheme.upstream(version);
  const rel = releaseOf(upstream);
  return deny.find((d) => d === version || d === upstream || (rel !== null && /^\d+\.\d+\.\d+$/.test(d) && sameRelease(rel, releaseOf(d))));
}

const sameRelease = (a: Release, b: Release | null): boolean =>
  b !== null && a.major === b.major && a.minor === b.minor && a.patch === b.patch;

/**
 * The versions in the installed MAJOR.MINOR series that may be targeted: newest first, no pre-releases
 * (unless the installed version is one), nothing on the deny-list.
 */
export function patchCandidates(req: Omit<TargetRequest, "to">): string[] {
  const { scheme, installed, deny } = req;
  if (!seriesOf(scheme, installed)) return [];
  const from = scheme.upstream(installed);
  // the patch rule in SemVer terms; a pre-release only where one is installed (else only by --to)
  const allowPrerelease = isSemverPrerelease(from);
  return descending(scheme, req.available).filter((v) => patchStep(from, scheme.upstream(v), { allowPrerelease }).ok && denied(scheme, v, deny) === undefined);
}

/**
 * Releases of a newer MAJOR.MINOR than the installed one, newest first: no pre-releases, nothing on the
 * deny-list (a jump is never a downgrade, nor a step back to an older series).
 */
export function jumpCandidates(req: Omit<TargetRequest, "to">): string[] {
  const { scheme, installed, deny } = req;
  const from = seriesOf(scheme, installed);
  if (!from) return [];
  return descending(scheme, req.available).filter((v) => {
    const r = seriesOf(scheme, v);
    return r !== null && (r.major > from.major || (r.major === from.major && r.minor > from.minor)) && !isSemverPrerelease(scheme.upstream(v)) && denied(scheme, v, deny) === undefined;
  });
}

/** Picks the engine's target: the newest patch release of the installed MAJOR.MINOR, or what `--to` names. */
export function resolveTarget(req: TargetRequest): TargetResolution {
  const { scheme, installed } = req;
  const series = seriesOf(scheme, installed);
  if (!series) return { kind: "refused", reason: `cannot read a MAJOR.MINOR from the installed version ${installed}` };
  const candidates = patchCandidates(req);
  const seriesName = formatSeries(series);
  const allowed = candidates.length
    ? `allowed in ${seriesName}: ${candidates.slice(0, 5).join(", ")}`
    : `no other ${seriesName} release is available`;

  const jumps = jumpCandidates(req);
  const newer = jumps[0];
  const newerSeries = newer !== undefined ? formatSeries(seriesOf(scheme, newer)!) : null;
  if (req.to === undefined) {
    if (req.beyond && newer !== undefined) {
      return { kind: "target", version: newer, note: `newest release, of ${newerSeries}: a MAJOR.MINOR jump from ${seriesName}, made by planned container restarts`, path: "restart" };
    }
    // a newer series is said, never taken without the opt-in
    const hint = newer !== undefined ? `; ${newer} (${newerSeries}) is a MAJOR.MINOR jump, taken only with --allow-restart or upgrade.beyondPatch: restart` : "";
    const newest = candidates[0];
    if (newest === undefined || scheme.compare(newest, installed) <= 0) {
      return { kind: "up-to-date", version: installed, note: `${installed} is the newest ${seriesName} release available${hint}` };
    }
    return { kind: "target", version: newest, note: `newest ${seriesName} patch release${hint}`, path: "live" };
  }

  const to = req.to.trim();
  const all = descending(scheme, [...req.available, installed]);
  let chosen: string;
  if (all.includes(to)) {
    chosen = to;
  } else {
    const matches = all.filter((v) => {
      const up = scheme.upstream(v);
      const rel = releaseOf(up);
      return up === to || (/^\d+\.\d+\.\d+$/.test(to) && rel !== null && sameRelease(rel, releaseOf(to)));
    });
    if (matches.length === 0) {
      return { kind: "refused", reason: `--to ${to}: no such version is available; ${allowed}` };
    }
    if (matches.length > 1) {
      return { kind: "refused", reason: `--to ${to} matches ${matches.length} versions (${matches.join(", ")}); name one exactly` };
    }
    chosen = matches[0]!;
  }
  const rule = checkJump(scheme, "engine", installed, chosen);
  const jump = !rule.ok && jumps.includes(chosen);
  if (!rule.ok && !(jump && req.beyond)) {
    const how = jump ? "; to take it by planned container restarts: --allow-restart (or upgrade.beyondPatch: restart)" : "";
    return { kind: "refused", reason: `${rule.message}${how}; ${allowed}` };
  }
  const bad = denied(scheme, chosen, req.deny);
  if (bad !== undefined) {
    return { kind: "refused", reason: `${chosen} is on the deny-list (${bad}: known live-restore bug); ${allowed}` };
  }
  if (scheme.compare(chosen, installed) === 0) {
    return { kind: "up-to-date", version: installed, note: `${installed} is already installed` };
  }
  return jump
    ? { kind: "target", version: chosen, note: `requested with --to: a MAJOR.MINOR jump from ${seriesName}, made by planned container restarts`, path: "restart" }
    : { kind: "target", version: chosen, note: "requested with --to", path: "live" };
}

export interface JumpVerdict {
  ok: boolean;
  message: string;
}

/**
 * The live-restore rule for one package change, by role. Engine and engine-family: same MAJOR.MINOR
 * and not a downgrade. containerd and runc: same MAJOR (containerd 1.x to 2.x is not live-restorable)
 * and not a downgrade. Plugins: anything.
 */
export function checkJump(scheme: VersionScheme, role: PackageRole | null, from: string, to: string): JumpVerdict {
  if (role === "plugin" || role === null) return { ok: true, message: `${from} -> ${to}: no live-restore rule for this package` };
  const a = seriesOf(scheme, from);
  const b = seriesOf(scheme, to);
  if (!a || !b) return { ok: false, message: `cannot read MAJOR.MINOR from ${!a ? from : to}` };
  const cmp = scheme.compare(to, from);
  if (cmp < 0) {
    return { ok: false, message: `${from} -> ${to} is a downgrade; live restore across a downgrade is not supported` };
  }
  if (role === "engine" || role === "engine-family") {
    if (!patchStep(scheme.upstream(from), scheme.upstream(to), { allowPrerelease: true }).ok) {
      return {
        ok: false,
        message: `${from} -> ${to} crosses from ${formatSeries(a)} to ${formatSeries(b)}: live restore only holds across patch releases of one MAJOR.MINOR`,
      };
    }
    return { ok: true, message: `${from} -> ${to}: patch release within ${formatSeries(a)}` };
  }
  if (a.major !== b.major) {
    return { ok: false, message: `${from} -> ${to} changes ${role} MAJOR ${a.major} to ${b.major}: not live-restorable` };
  }
  if (!sameSeries(a, b)) {
    return { ok: false, message: `${from} -> ${to} changes ${role} MINOR (${a.major}.${a.minor} to ${b.major}.${b.minor}): only patch releases are planned` };
  }
  return { ok: true, message: `${from} -> ${to}: patch release within ${a.major}.${a.minor}` };
}
