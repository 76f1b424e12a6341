import { describe, expect, it } from "vitest";
import { patchStep, toSemver } from "../../src/versions/semver-rule.js";
import { debScheme, rpmScheme } from "../../src/versions/scheme.js";

describe("upstream releases read as SemVer", () => {
  it.each([
    ["17.06.2-ce", "17.6.2"],
    ["18.09.9", "18.9.9"],
    ["19.03.15", "19.3.15"],
    ["19.03.14~3", "19.3.14"],
    ["18.06.1~ce~3", "18.6.1"],
    ["20.10.24+dfsg1", "20.10.24"],
    ["23.0.0~beta.0", "23.0.0-beta.0"],
    ["17.06.0~ce~rc1", "17.6.0-rc.1"],
    ["24.0.0-rc.1", "24.0.0-rc.1"],
    ["24.0.9", "24.0.9"],
    ["27.3.1", "27.3.1"],
    ["v1.7.27", "1.7.27"],
    ["1.6.20~ds1", "1.6.20"],
  ])("%s is %s", (upstream, expected) => {
    expect(toSemver(upstream)?.version).toBe(expected);
  });

  it.each([
    [debScheme, "5:27.3.1-1~debian.12~bookworm", "27.3.1"],
    [debScheme, "20.10.24+dfsg1-1+deb12u1+b6", "20.10.24"],
    [rpmScheme, "3:24.0.9-1.el9", "24.0.9"],
    [rpmScheme, "1.7.22-3.1.el9", "1.7.22"],
  ] as const)("package version %s is release %s", (scheme, version, expected) => {
    expect(toSemver(scheme.upstream(version))?.version).toBe(expected);
  });

  it("a string with no release reads as none", () => {
    expect(toSemver("latest")).toBeNull();
  });
});

describe("the patch rule on releases (semver)", () => {
  it.each([
    ["20.10.24+dfsg1", "20.10.25+dfsg1", false, { ok: true }],
    ["19.03.14~3", "19.03.15", false, { ok: true }],
    ["24.0.9", "24.0.9", false, { ok: true }],
    ["20.10.24+dfsg1", "23.0.0", false, { ok: false, why: "other-series" }],
    ["24.0.9", "24.1.0", false, { ok: false, why: "other-series" }],
    ["24.0.9", "24.0.7", false, { ok: false, why: "not-newer" }],
    ["22.06.0~beta.0", "22.06.0", false, { ok: true }],
    ["24.0.9", "24.0.10~rc.1", false, { ok: false, why: "prerelease" }],
    ["24.0.9", "24.0.10~rc.1", true, { ok: true }],
    ["v1.7.26", "1.7.27", false, { ok: true }],
    ["latest", "24.0.9", false, { ok: false, why: "unreadable" }],
  ] as const)("%s -> %s (pre-release asked for: %s)", (from, to, allowPrerelease, verdict) => {
    expect(patchStep(from, to, { allowPrerelease })).toEqual(verdict);
  });
});
