import { describe, expect, it } from "vitest";
import { checkJump, resolveTarget } from "../../src/plan/target.js";
import { followEngine, resolveTargets, selectPackages } from "../../src/plan/plan.js";
import { debScheme, rpmScheme } from "../../src/versions/scheme.js";

const DOCKER_CE = [
  "5:24.0.5-1~debian.12~bookworm",
  "5:24.0.2-1~debian.12~bookworm",
  "5:24.0.3-1~debian.12~bookworm",
  "5:24.0.9-1~debian.12~bookworm",
  "5:25.0.0-1~debian.12~bookworm",
  "5:24.0.10~rc.1-1~debian.12~bookworm",
  "5:23.0.6-1~debian.12~bookworm",
];

describe("target selection", () => {
  it("default: the newest patch release of the installed MAJOR.MINOR, not the package manager's candidate", () => {
    const r = resolveTarget({ scheme: debScheme, installed: "5:24.0.2-1~debian.12~bookworm", available: DOCKER_CE, deny: ["24.0.3"] });
    expect(r).toMatchObject({ kind: "target", version: "5:24.0.9-1~debian.12~bookworm", path: "live" });
    // a newer MAJOR.MINOR is said, never taken without the opt-in
    expect(r.kind === "target" && r.note).toBe("newest 24.0 patch release; 5:25.0.0-1~debian.12~bookworm (25.0) is a MAJOR.MINOR jump, taken only with --allow-restart or upgrade.beyondPatch: restart");
  });

  it("beyond patch (opted in): the newest release of a newer MAJOR.MINOR, on the planned-restart path", () => {
    const r = resolveTarget({ scheme: debScheme, installed: "5:24.0.2-1~debian.12~bookworm", available: DOCKER_CE, deny: [], beyond: true });
    expect(r).toMatchObject({ kind: "target", version: "5:25.0.0-1~debian.12~bookworm", path: "restart" });
    // --to a jump: taken; --to a patch release: the live path still; --to an older series: never
    expect(resolveTarget({ scheme: debScheme, installed: "5:24.0.2-1~debian.12~bookworm", available: DOCKER_CE, deny: [], beyond: true, to: "25.0.0" })).toMatchObject({ kind: "target", path: "restart" });
    expect(resolveTarget({ scheme: debScheme, installed: "5:24.0.2-1~debian.12~bookworm", available: DOCKER_CE, deny: [], beyond: true, to: "24.0.9" })).toMatchObject({ kind: "target", path: "live" });
    expect(resolveTarget({ scheme: debScheme, installed: "5:24.0.2-1~debian.12~bookworm", available: DOCKER_CE, deny: [], beyond: true, to: "23.0.6" })).toMatchObject({ kind: "refused" });
    // Debian's real builds: 26.1.5 (Debian 13) to unstable's 28.5.2
    const debian = resolveTarget({ scheme: debScheme, installed: "26.1.5+dfsg1-9+deb13u1+b1", available: ["26.1.5+dfsg1-9+deb13u1+b1", "28.5.2+dfsg4-5"], deny: [], beyond: true });
    expect(debian).toMatchObject({ kind: "target", version: "28.5.2+dfsg4-5", path: "restart" });
    // the newest release of the series is up to date without the opt-in, and says what is beyond it
    const up = resolveTarget({ scheme: debScheme, installed: "26.1.5+dfsg1-9+deb13u1+b1", available: ["26.1.5+dfsg1-9+deb13u1+b1", "28.5.2+dfsg4-5"], deny: [] });
    expect(up.kind === "up-to-date" && up.note).toMatch(/28\.5\.2\+dfsg4-5 \(28\.5\) is a MAJOR\.MINOR jump/);
  });

  it("compares 24.0.10 above 24.0.9 (package rules, not string order) and skips pre-releases", () => {
    const r = resolveTarget({ scheme: debScheme, installed: "5:24.0.2-1~debian.12~bookworm", available: [...DOCKER_CE, "5:24.0.10-1~debian.12~bookworm"], deny: [] });
    expect(r.kind === "target" && r.version).toBe("5:24.0.10-1~debian.12~bookworm");
  });

  it("up to date when nothing newer exists in the series", () => {
    const r = resolveTarget({ scheme: debScheme, installed: "5:24.0.9-1~debian.12~bookworm", available: DOCKER_CE, deny: [] });
    expect(r.kind).toBe("up-to-date");
  });

  it.each([
    ["24.0.5", "5:24.0.5-1~debian.12~bookworm"],
    ["5:24.0.5-1~debian.12~bookworm", "5:24.0.5-1~debian.12~bookworm"],
  ])("--to %s resolves to %s", (to, version) => {
    const r = resolveTarget({ scheme: debScheme, installed: "5:24.0.2-1~debian.12~bookworm", available: DOCKER_CE, to, deny: [] });
    expect(r).toMatchObject({ kind: "target", version });
  });

  it.each([
    ["25.0.0", /crosses from 24\.0 to 25\.0: live restore only holds across patch releases of one MAJOR\.MINOR; to take it by planned container restarts: --allow-restart .*; allowed in 24\.0: 5:24\.0\.9/],
    ["23.0.6", /is a downgrade/],
    ["24.0.3", /deny-list/],
    ["24.0.77", /no such version is available; allowed in 24\.0/],
  ])("--to %s is refused: %s", (to, reason) => {
    const r = resolveTarget({ scheme: debScheme, installed: "5:24.0.2-1~debian.12~bookworm", available: DOCKER_CE, to, deny: ["24.0.3"] });
    expect(r.kind).toBe("refused");
    expect(r.kind === "refused" && r.reason).toMatch(reason);
  });

  it("an upstream --to matching two package versions asks for the exact one", () => {
    const r = resolveTarget({ scheme: debScheme, installed: "20.10.24+dfsg1-1", available: ["20.10.25+dfsg1-1", "20.10.25+dfsg1-2"], to: "20.10.25", deny: [] });
    expect(r.kind === "refused" && r.reason).toMatch(/matches 2 versions/);
  });

  it("YY.MM series before 23.0: 19.03.x to 19.03.y is a patch, 18.09 to 19.03 is not", () => {
    expect(checkJump(debScheme, "engine", "5:19.03.14~3-0~debian-buster", "5:19.03.15~3-0~debian-buster").ok).toBe(true);
    expect(checkJump(debScheme, "engine", "5:18.09.9~3-0~debian-buster", "5:19.03.15~3-0~debian-buster").message).toMatch(/crosses from 18\.09 to 19\.03/);
    expect(checkJump(debScheme, "engine", "18.06.1~ce~3-0~ubuntu", "18.06.3~ce~3-0~ubuntu").ok).toBe(true);
  });

  it("containerd: a MAJOR change is never live-restorable; a patch is", () => {
    expect(checkJump(debScheme, "containerd", "1.6.20~ds1-1+deb12u2", "1.6.20~ds1-1+deb12u3").ok).toBe(true);
    expect(checkJump(debScheme, "containerd", "1.7.27-1", "2.0.0-1").message).toMatch(/changes containerd MAJOR 1 to 2: not live-restorable/);
  });

  it("rpm: 3:24.0.0-1.el8 to 3:24.0.7-1.el8 is a patch", () => {
    expect(checkJump(rpmScheme, "engine", "3:24.0.0-1.el8", "3:24.0.7-1.el8").ok).toBe(true);
    expect(checkJump(rpmScheme, "engine", "18.06.1.ce-3.el7", "18.09.0-3.el7").ok).toBe(false);
  });
});

describe("Docker's package set", () => {
  const installed = (name: string, version: string) => ({ name, version, status: "ii ", ok: true });
  const set = [
    installed("docker-ce", "5:20.10.24-1~debian.12~bookworm"),
    installed("docker-ce-cli", "5:20.10.24-1~debian.12~bookworm"),
    installed("containerd.io", "1.6.20-1"),
    installed("docker-buildx-plugin", "0.10.4-1~debian.12~bookworm"),
    installed("docker-compose-plugin", "2.17.2-1~debian.12~bookworm"),
  ];

  it("engine, CLI and containerd.io get their patch releases; the plugins are left as they are, and the plan says so", () => {
    const selection = selectPackages(set, "auto", "auto");
    expect(selection.engine?.name).toBe("docker-ce");
    const res = resolveTargets(
      debScheme,
      selection as typeof selection & { engine: NonNullable<typeof selection.engine> },
      {
        "docker-ce": ["5:20.10.25-1~debian.12~bookworm", "5:23.0.0-1~debian.12~bookworm"],
        "docker-ce-cli": ["5:20.10.25-1~debian.12~bookworm"],
        "containerd.io": ["1.6.21-1", "1.7.22-1"],
        "docker-buildx-plugin": ["0.11.0-1~debian.12~bookworm"],
        "docker-compose-plugin": ["2.20.0-1~debian.12~bookworm"],
      },
      undefined,
      [],
    );
    expect(res.kind).toBe("target");
    if (res.kind !== "target") return;
    expect(res.targets).toEqual([
      { name: "docker-ce", version: "5:20.10.25-1~debian.12~bookworm" },
      { name: "docker-ce-cli", version: "5:20.10.25-1~debian.12~bookworm" },
      { name: "containerd.io", version: "1.6.21-1" },
    ]);
    expect(res.check.message).toMatch(/left as they are: docker-buildx-plugin, docker-compose-plugin \(client plugins/);
  });
});

describe("Docker's rpm set and the distributions' packages (rpm hosts)", () => {
  const installed = (name: string, version: string) => ({ name, version, status: "installed", ok: true });

  it("docker-ce 3:24.0.7-1.el9: the newest 24.0 patch by rpm's ordering; 25.0 and a release candidate are not taken", () => {
    const set = [installed("docker-ce", "3:24.0.7-1.el9"), installed("docker-ce-cli", "1:24.0.7-1.el9"), installed("containerd.io", "1.6.28-3.1.el9")];
    const selection = selectPackages(set, "auto", "auto", "rpm");
    expect(selection.engine?.name).toBe("docker-ce");
    const res = resolveTargets(
      rpmScheme,
      selection as typeof selection & { engine: NonNullable<typeof selection.engine> },
      {
        "docker-ce": ["3:24.0.7-1.el9", "3:24.0.9-1.el9", "3:24.0.10~rc.1-1.el9", "3:25.0.0-1.el9"],
        "docker-ce-cli": ["1:24.0.7-1.el9", "1:24.0.9-1.el9"],
        "containerd.io": ["1.6.28-3.1.el9", "1.6.33-3.1.el9", "1.7.22-3.1.el9"],
      },
      undefined,
      [],
    );
    expect(res.kind).toBe("target");
    if (res.kind !== "target") return;
    expect(res.targets).toEqual([
      { name: "docker-ce", version: "3:24.0.9-1.el9" },
      { name: "docker-ce-cli", version: "1:24.0.9-1.el9" },
      { name: "containerd.io", version: "1.6.33-3.1.el9" },
    ]);
  });

  it("names: auto finds RHEL's and Amazon Linux's 'docker' on rpm hosts only (on Debian that name was another program)", () => {
    const set = [installed("docker", "25.0.6-1.amzn2023.0.2"), installed("containerd", "1.7.20-1.amzn2023.0.1"), installed("runc", "1.1.13-1.amzn2023.0.1")];
    expect(selectPackages(set, "auto", "auto", "rpm").engine?.name).toBe("docker");
    expect(selectPackages(set, "auto", "auto", "deb").engine).toBeNull();
    expect(selectPackages([installed("moby-engine", "24.0.5-1.fc39")], "auto", "auto", "rpm").engine?.name).toBe("moby-engine");
  });

  it.each([
    // the engine goes to 20.10.26 (--to) while a newer CLI is on offer: the CLI follows the engine, epoch or not
    ["rpm: epoch 3 engine, epoch 1 CLI", rpmScheme, "3:20.10.26-1.el9", ["1:20.10.25-1.el9", "1:20.10.26-1.el9", "1:20.10.27-1.el9"], "1:20.10.26-1.el9"],
    ["deb: the same version string", debScheme, "5:24.0.9-1~debian.12~bookworm", ["5:24.0.9-1~debian.12~bookworm", "5:24.0.10-1~debian.12~bookworm"], "5:24.0.9-1~debian.12~bookworm"],
    ["the engine's release in another packaging", rpmScheme, "3:24.0.9-1.el9", ["1:24.0.9-2.el9", "1:24.0.10-1.el9"], "1:24.0.9-2.el9"],
    ["no CLI of the engine's release: it stays as it is", rpmScheme, "3:24.0.9-1.el9", ["1:24.0.7-1.el9", "1:24.0.10-1.el9"], undefined],
  ])("the CLI follows the engine's release (%s)", (_what, scheme, engine, cli, expected) => {
    expect(followEngine(scheme, engine, cli)).toBe(expected);
  });
});
