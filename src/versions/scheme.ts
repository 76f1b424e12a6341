import { compareDebVersions, isDebVersion, parseDebVersion } from "./dpkg-version.js";
import { compareRpmVersions, parseRpmVersion } from "./rpm-version.js";

/** How one package manager writes and orders versions. */
export interface VersionScheme {
  readonly name: "deb" | "rpm";
  /** <0, 0, >0 by the package manager's own rules. */
  compare(a: string, b: string): number;
  /** The upstream part: no epoch, no packaging revision/release. */
  upstream(version: string): string;
  isValid(version: string): boolean;
}

export const debScheme: VersionScheme = {
  name: "deb",
  compare: compareDebVersions,
  upstream: (v) => parseDebVersion(v).upstream,
  isValid: isDebVersion,
};

export const rpmScheme: VersionScheme = {
  name: "rpm",
  compare: compareRpmVersions,
  upstream: (v) => parseRpmVersion(v).version,
  isValid: (v) => {
    try {
      parseRpmVersion(v);
      return true;
    } catch {
      return false;
    }
  },
};

/**
 * MAJOR.MINOR.PATCH of an upstream or engine version: `20.10.24+dfsg1`, `19.03.14~3`, `18.06.1.ce`,
 * `17.06.2-ce`, and the `v1.7.27` that upstream builds of containerd report.
 */
export interface Release {
  major: number;
  minor: number;
  patch: number;
}

export function releaseOf(upstreamOrEngineVersion: string): Release | null {
  // Not semver: Docker's YY.0M releases (17.06.2, 19.03.14) have leading zeros that SemVer forbids.
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(upstreamOrEngineVersion.trim());
  if (!m) return null;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3] ?? 0) };
}

export const formatSeries = (r: Release): string =>
  r.major < 23 ? `${r.major}.${String(r.minor).padStart(2, "0")}` : `${r.major}.${r.minor}`;
export const sameSeries = (a: Release, b: Release): boolean => a.major === b.major && a.minor === b.minor;
