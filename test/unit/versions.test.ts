import { describe, expect, it } from "vitest";
import { compareDebVersions, parseDebVersion } from "../../src/versions/dpkg-version.js";
import { compareRpmVersions, rpmvercmp } from "../../src/versions/rpm-version.js";
import { debScheme, releaseOf, rpmScheme } from "../../src/versions/scheme.js";
import { isSemverPrerelease } from "../../src/versions/semver-rule.js";

const sign = (n: number) => (n < 0 ? "lt" : n > 0 ? "gt" : "eq");

describe("Debian versions, ordered as dpkg --compare-versions orders them", () => {
  // Expected verdicts were produced by dpkg 1.21 itself.
  it.each([
    ["5:24.0.7-1~debian.12~bookworm", "5:24.0.9-1~debian.12~bookworm", "lt"],
    ["5:23.0.0~beta.0-1~debian.12~bookworm", "5:23.0.0-1~debian.12~bookworm", "lt"],
    ["5:19.03.14~3-0~debian-buster", "5:19.03.15~3-0~debian-buster", "lt"],
    ["5:19.03.14~3-0~debian-buster", "19.03.15~3-0~debian-buster", "gt"],
    ["18.06.1~ce~3-0~ubuntu", "18.06.3~ce~3-0~ubuntu", "lt"],
    ["18.06.1~ce~3-0~ubuntu", "18.06.1~ce-0~ubuntu", "lt"],
    ["20.10.24+dfsg1-1+deb12u1+b6", "20.10.24+dfsg1-1+deb12u1", "gt"],
    ["20.10.24+dfsg1-1+deb12u1+b6", "20.10.25+dfsg1-1", "lt"],
    ["20.10.24+dfsg1-1+deb12u1+b6", "20.10.24+dfsg1-1+deb12u1+b7", "lt"],
    ["1.6.20~ds1-1+deb12u2", "1.6.20~ds1-1+deb12u3", "lt"],
    ["1.6.20~ds1-1+deb12u3", "1.6.20-1", "lt"],
    ["1.6.20~ds1", "1.6.20", "lt"],
    ["1.0", "1.0", "eq"],
    ["1.0", "1.00", "eq"],
    ["1.2.10", "1.2.9", "gt"],
    ["1.0~rc1", "1.0", "lt"],
    ["1.0+a", "1.0~a", "gt"],
    ["1:0.1", "2.0", "gt"],
    ["2.30-1", "2.30", "gt"],
    ["1.0-1", "1.0-1ubuntu1", "lt"],
    ["24.0.7", "24.0.10", "lt"],
  ])("%s vs %s: %s", (a, b, expected) => {
    expect(sign(compareDebVersions(a, b))).toBe(expected);
    expect(sign(compareDebVersions(b, a))).toBe(expected === "lt" ? "gt" : expected === "gt" ? "lt" : "eq");
  });

  it.each([
    ["5:24.0.7-1~debian.12~bookworm", { epoch: 5, upstream: "24.0.7", revision: "1~debian.12~bookworm" }],
    // dpkg splits the revision at the LAST hyphen.
    ["5:19.03.14~3-0~debian-buster", { epoch: 5, upstream: "19.03.14~3-0~debian", revision: "buster" }],
    ["20.10.24+dfsg1-1+deb12u1+b6", { epoch: 0, upstream: "20.10.24+dfsg1", revision: "1+deb12u1+b6" }],
    ["1.6.20~ds1-1+deb12u3", { epoch: 0, upstream: "1.6.20~ds1", revision: "1+deb12u3" }],
    ["24.0.7", { epoch: 0, upstream: "24.0.7", revision: "" }],
  ])("parses %s", (text, parsed) => {
    expect(parseDebVersion(text)).toEqual(parsed);
  });

  it.each(["", "latest", "5:", "1.0; rm -rf /", "$(id)", "1.0 2.0"])("rejects %j", (text) => {
    expect(() => parseDebVersion(text)).toThrow(/not a Debian package version/);
  });
});

describe("RPM versions, ordered as rpmvercmp orders them", () => {
  // Vectors from rpm's own test suite (tests/rpmvercmp.at).
  it.each([
    ["1.0", "1.0", 0],
    ["1.0", "2.0", -1],
    ["2.0.1", "2.0.1a", -1],
    ["5.5p1", "5.5p2", -1],
    ["5.5p10", "5.5p1", 1],
    ["10xyz", "10.1xyz", -1],
    ["xyz10", "xyz10.1", -1],
    ["a", "1", -1],
    ["1.0010", "1.9", 1],
    ["2_0", "2.0", 0],
    ["1.0~rc1", "1.0", -1],
    ["1.0~rc1", "1.0~rc2", -1],
    ["1.0^", "1.0", 1],
    ["1.0^git1", "1.0^git2", -1],
    ["1.0^git1~pre", "1.0^git1", -1],
  ])("rpmvercmp(%s, %s) = %i", (a, b, expected) => {
    expect(rpmvercmp(a, b)).toBe(expected);
  });

  it.each([
    ["3:24.0.0-1.el8", "3:24.0.7-1.el8", -1],
    ["3:24.0.0-1.el8", "24.0.7-1.el8", 1],
    ["18.06.1.ce-3.el7", "18.06.3.ce-3.el7", -1],
    ["3:24.0.7-1.el8", "3:24.0.7-2.el8", -1],
  ])("EVR %s vs %s = %i", (a, b, expected) => {
    expect(Math.sign(compareRpmVersions(a, b))).toBe(expected);
  });
});

describe("upstream release and pre-release detection", () => {
  it.each([
    [debScheme, "5:24.0.7-1~debian.12~bookworm", "24.0.7", [24, 0, 7]],
    [debScheme, "5:19.03.14~3-0~debian-buster", "19.03.14~3-0~debian", [19, 3, 14]],
    [debScheme, "18.06.1~ce~3-0~ubuntu", "18.06.1~ce~3", [18, 6, 1]],
    [debScheme, "20.10.24+dfsg1-1+deb12u1+b6", "20.10.24+dfsg1", [20, 10, 24]],
    [debScheme, "1.6.20~ds1-1+deb12u3", "1.6.20~ds1", [1, 6, 20]],
    [rpmScheme, "3:24.0.0-1.el8", "24.0.0", [24, 0, 0]],
    [rpmScheme, "18.06.1.ce-3.el7", "18.06.1.ce", [18, 6, 1]],
  ] as const)("%#: %s has upstream %s", (scheme, version, upstream, [major, minor, patch]) => {
    expect(scheme.upstream(version)).toBe(upstream);
    expect(releaseOf(scheme.upstream(version))).toEqual({ major, minor, patch });
  });

  it.each([["20.10.24+dfsg1"], ["24.0.7"], ["17.06.2-ce"]])("engine /version %s has a release", (v) => {
    expect(releaseOf(v)).not.toBeNull();
  });

  // upstream containerd builds report a leading v; read as no release, a good upgrade was rolled back
  it.each([
    ["v1.7.27", [1, 7, 27]],
    ["v1.6.21~ds", [1, 6, 21]],
    ["1.7.27", [1, 7, 27]],
  ] as const)("containerd reports %s: release %j", (v, [major, minor, patch]) => {
    expect(releaseOf(v)).toEqual({ major, minor, patch });
  });

  it.each([
    ["23.0.0~beta.0", true],
    ["17.06.0~ce~rc1", true],
    ["24.0.0-rc.1", true],
    ["19.03.14~3", false],
    ["18.06.1~ce~3", false],
    ["20.10.24+dfsg1", false],
    ["1.6.20~ds1", false],
  ])("%s is a pre-release: %s", (upstream, expected) => {
    expect(isSemverPrerelease(upstream)).toBe(expected);
  });
});
