import semver, { type SemVer } from "semver";

/**
 * An upstream Docker or containerd release as SemVer, for the patch rule. Package ordering stays with
 * dpkg's and rpm's own rules (epochs, revisions, `~`); this only reads the release: epoch and revision
 * already stripped by the package scheme, then the distribution's suffix (`+dfsg1`, `~ds1`, `-ce`,
 * `~3`, `~ce~3`) dropped, the leading zeros of Docker's YY.0M releases (`19.03.15`) dropped, a leading
 * `v` (containerd's `v1.7.27`) dropped, and `~beta.1` / `~rc.1` / `-rc.1` / `~ce~rc1` made a SemVer
 * pre-release.
 */
export function toSemver(upstream: string): SemVer | null {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?(.*)$/.exec(upstream.trim());
  if (!m) return null;
  const core = `${Number(m[1])}.${Number(m[2])}.${Number(m[3] ?? 0)}`;
  const pre = /(?:^|[~.\-+])(alpha|beta|rc|tp)\.?(\d*)(?=$|[~.\-+])/i.exec(m[4] ?? "");
  return semver.parse(pre ? `${core}-${pre[1]!.toLowerCase()}.${pre[2] || "0"}` : core);
}

export type PatchVerdict = { ok: true } | { ok: false; why: "unreadable" | "other-series" | "not-newer" | "prerelease" };

/**
 * The live-restore rule on releases: the same MAJOR.MINOR, a higher PATCH (or the same release, a new
 * packaging of it), and no pre-release target unless one was asked for by name.
 */
export function patchStep(fromUpstream: string, toUpstream: string, options: { allowPrerelease: boolean }): PatchVerdict {
  const a = toSemver(fromUpstream);
  const b = toSemver(toUpstream);
  if (!a || !b) return { ok: false, why: "unreadable" };
  if (a.major !== b.major || a.minor !== b.minor) return { ok: false, why: "other-series" };
  if (b.prerelease.length && !a.prerelease.length && !options.allowPrerelease) return { ok: false, why: "prerelease" };
  if (semver.lt(b, a)) return { ok: false, why: "not-newer" };
  return { ok: true };
}

/**
 * A pre-release (beta, rc, alpha, tp) as Docker has shipped them: `23.0.0~beta.0`, `17.06.0~ce~rc1`,
 * `24.0.0-rc.1`; the legacy `~3` in `19.03.14~3` and `~ce~3` in `18.06.1~ce~3` are packaging counters.
 */
export const isSemverPrerelease = (upstream: string): boolean => (toSemver(upstream)?.prerelease.length ?? 0) > 0;
