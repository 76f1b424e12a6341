import { describe, expect, it } from "vitest";
import { duplicates, evr, parseDnfTransaction, parseRepoquery, parseRpmQuery, parseVersionlock } from "../../src/adapters/packages/dnf-parse.js";
import { assertRpmTargets } from "../../src/adapters/packages/dnf.js";

// Output captured from dnf 4.14 and rpm 4.18 on a test machine with Docker's rpm set.
const UPGRADE = `Last metadata expiration check: 0:00:01 ago on Mon Nov 23 03:02:36 2026.
Dependencies resolved.
================================================================================
 Package                 Arch     Version              Repository          Size
================================================================================
Upgrading:
 containerd.io           x86_64   1.6.21-3.1.el9       docker-ce-stable    34 M
 docker-buildx-plugin    x86_64   0.10.5-1.el9         docker-ce-stable   6.3 k
 docker-ce               x86_64   3:20.10.25-1.el9     docker-ce-stable    27 M
 docker-compose-plugin   x86_64   2.17.3-1.el9         docker-ce-stable   6.3 k

Transaction Summary
================================================================================
Upgrade  4 Packages

Total size: 61 M
`;

const REMOVE = `Dependencies resolved.
================================================================================
 Package           Arch       Version               Repository             Size
================================================================================
Removing:
 docker-ce-cli     x86_64     1:20.10.24-1.el9      @docker-ce-stable      43 M
Removing dependent packages:
 docker-ce         x86_64     3:20.10.24-1.el9      @docker-ce-stable      73 M

Transaction Summary
================================================================================
Remove  2 Packages

Freed space: 117 M
`;

// dnf puts a name longer than its column on a line of its own; an obsoleted package shows as "replacing".
const WRAPPED = `Dependencies resolved.
================================================================================
 Package                     Arch    Version                Repository     Size
================================================================================
Upgrading:
 docker-ce                   x86_64  3:24.0.9-1.el9         docker-ce-stable 25 M
     replacing  podman-docker.noarch 4:4.9.4-1.el9
 docker-ce-rootless-extras-with-a-very-long-name
                             x86_64  24.0.9-1.el9           docker-ce-stable 3.9 M
Downgrading:
 containerd.io               x86_64  1.6.20-3.1.el9         docker-ce-stable 34 M
Installing dependencies:
 fuse-overlayfs              x86_64  1.13-1.el9             appstream      50 k

Transaction Summary
================================================================================
`;

describe("dnf and rpm output", () => {
  it("reads the transaction dnf would run, by section", () => {
    expect(parseDnfTransaction(UPGRADE)).toEqual([
      { name: "containerd.io", from: null, to: "1.6.21-3.1.el9", action: "upgrade" },
      { name: "docker-buildx-plugin", from: null, to: "0.10.5-1.el9", action: "upgrade" },
      { name: "docker-ce", from: null, to: "3:20.10.25-1.el9", action: "upgrade" },
      { name: "docker-compose-plugin", from: null, to: "2.17.3-1.el9", action: "upgrade" },
    ]);
    expect(parseDnfTransaction(REMOVE)).toEqual([
      { name: "docker-ce-cli", from: "1:20.10.24-1.el9", to: null, action: "remove" },
      { name: "docker-ce", from: "3:20.10.24-1.el9", to: null, action: "remove" },
    ]);
    expect(parseDnfTransaction(WRAPPED)).toEqual([
      { name: "docker-ce", from: null, to: "3:24.0.9-1.el9", action: "upgrade" },
      { name: "podman-docker", from: "4:4.9.4-1.el9", to: null, action: "remove" },
      { name: "docker-ce-rootless-extras-with-a-very-long-name", from: null, to: "24.0.9-1.el9", action: "upgrade" },
      { name: "containerd.io", from: null, to: "1.6.20-3.1.el9", action: "downgrade" },
      { name: "fuse-overlayfs", from: null, to: "1.13-1.el9", action: "install" },
    ]);
    expect(parseDnfTransaction("Dependencies resolved.\nNothing to do.\nComplete!\n")).toEqual([]);
  });

  it("reads installed versions, and flags a name recorded twice (an interrupted transaction)", () => {
    expect(parseRpmQuery("docker-ce\t3\t20.10.24\t1.el9\ncontainerd.io\t(none)\t1.6.20\t3.1.el9\npackage docker is not installed\n")).toEqual([
      { name: "docker-ce", version: "3:20.10.24-1.el9", status: "installed", ok: true },
      { name: "containerd.io", version: "1.6.20-3.1.el9", status: "installed", ok: true },
    ]);
    const [cli] = parseRpmQuery("docker-ce-cli\t1\t20.10.24\t1.el9\ndocker-ce-cli\t1\t20.10.27\t1.el9\n");
    expect(cli).toMatchObject({ name: "docker-ce-cli", ok: false, status: expect.stringContaining("1:20.10.24-1.el9, 1:20.10.27-1.el9") });
  });

  it("finds duplicates in the whole database, leaving gpg-pubkey and kernels alone", () => {
    const qa = [
      "docker-ce-cli\t1\t20.10.24\t1.el9\tx86_64",
      "docker-ce-cli\t1\t20.10.27\t1.el9\tx86_64",
      "docker-ce\t3\t20.10.24\t1.el9\tx86_64",
      "kernel\t(none)\t5.14.0\t427.el9\tx86_64",
      "kernel\t(none)\t5.14.0\t503.el9\tx86_64",
      "gpg-pubkey\t(none)\t621e9f35\t58adea78\t(none)",
      "gpg-pubkey\t(none)\t8483c65d\t5ccc5b19\t(none)",
      "glibc\t(none)\t2.34\t100.el9\ti686",
      "glibc\t(none)\t2.34\t100.el9\tx86_64",
    ].join("\n");
    expect([...duplicates(qa)]).toEqual([["docker-ce-cli.x86_64", ["1:20.10.24-1.el9", "1:20.10.27-1.el9"]]]);
  });

  it("reads every offered version from repoquery, epoch 0 left out", () => {
    const out = "containerd.io\t0\t1.6.20\t3.1.el9\ncontainerd.io\t0\t1.6.21\t3.1.el9\ndocker-ce\t3\t20.10.24\t1.el9\n";
    expect(parseRepoquery(out, "containerd.io")).toEqual(["1.6.20-3.1.el9", "1.6.21-3.1.el9"]);
    expect(parseRepoquery(out, "docker-ce")).toEqual(["3:20.10.24-1.el9"]);
    expect(evr("(none)", "12", "1")).toBe("12-1");
  });

  it("reads versionlock's list", () => {
    expect(parseVersionlock("Last metadata expiration check: 0:00:02 ago on Mon Nov 23 03:02:36 2026.\ndocker-ce-3:20.10.24-1.el9.*\ncontainerd.io-0:1.6.20-3.1.el9.*\n")).toEqual([
      "docker-ce",
      "containerd.io",
    ]);
  });

  it("lets only rpm's characters through to an argv", () => {
    expect(() => assertRpmTargets([{ name: "docker-ce", version: "3:24.0.9-1.el9" }])).not.toThrow();
    expect(() => assertRpmTargets([{ name: "containerd.io", version: "1.7.22-3.1.el9" }])).not.toThrow();
    for (const version of ["3:24.0.9-1.el9;rm -rf /", "$(id)", "24.0.9 -1", "--nodeps", "1:2:3", ""]) {
      expect(() => assertRpmTargets([{ name: "docker-ce", version }]), version).toThrow(/refusing version/);
    }
    expect(() => assertRpmTargets([{ name: "-docker", version: "1" }])).toThrow(/refusing package name/);
  });
});
