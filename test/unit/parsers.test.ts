import { describe, expect, it } from "vitest";
import { debFilePrefix, parseDpkgQuery, parseMadison, parseSimulation } from "../../src/adapters/packages/apt-parse.js";
import { lockHoldersFromProcLocks } from "../../src/adapters/packages/proc-locks.js";
import { parseSystemctlShow } from "../../src/adapters/service/systemd.js";
import { parseProcStat } from "../../src/adapters/host/proc-host.js";
import { toContainerState } from "../../src/adapters/docker/dockerode-docker.js";
import { containerdVerdict, unitVerdicts } from "../../src/checks/verdicts.js";
import { readFileSync } from "node:fs";

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), "utf8");

describe("apt and dpkg output, captured on Debian 12", () => {
  it("dpkg-query: a held package (hi) is installed and fine", () => {
    expect(parseDpkgQuery("docker.io\t20.10.24+dfsg1-1+deb12u1+b6\thi \n")).toEqual([{ name: "docker.io", version: "20.10.24+dfsg1-1+deb12u1+b6", status: "hi", ok: true }]);
  });

  it("dpkg-query: installed packages and half-configured ones", () => {
    expect(parseDpkgQuery("docker.io\t20.10.24+dfsg1-1+deb12u1+b6\tii \ncontainerd\t1.6.20~ds1-1+deb12u3\tiF \ndocker-ce\t\tun \n")).toEqual([
      { name: "docker.io", version: "20.10.24+dfsg1-1+deb12u1+b6", status: "ii", ok: true },
      { name: "containerd", version: "1.6.20~ds1-1+deb12u3", status: "iF", ok: false },
    ]);
  });

  it("apt-cache madison", () => {
    expect(parseMadison(fixture("madison-docker.io.txt"), "docker.io")).toEqual(["20.11.0+dfsg1-1", "20.10.25+dfsg1-1", "20.10.24+dfsg1-1+deb12u1+b6"]);
  });

  it("apt-get -s install (a real capture: a downgrade of both)", () => {
    expect(parseSimulation(fixture("apt-simulate.txt"))).toEqual([
      { name: "containerd", from: "1.6.20~ds1-1+deb12u3", to: "1.6.20~ds1-1+deb12u2", action: "upgrade" },
      { name: "docker.io", from: "20.10.25+dfsg1-1", to: "20.10.24+dfsg1-1+deb12u1+b6", action: "upgrade" },
    ]);
  });

  it("apt-get -s install: new packages and removals", () => {
    const out = "Remv docker-ce [5:24.0.7-1~debian.12~bookworm]\nInst tini (0.19.0-1 Debian:12.8/stable [amd64])\nConf tini (0.19.0-1 Debian:12.8/stable [amd64])\n";
    expect(parseSimulation(out)).toEqual([
      { name: "docker-ce", from: "5:24.0.7-1~debian.12~bookworm", to: null, action: "remove" },
      { name: "tini", from: null, to: "0.19.0-1", action: "install" },
    ]);
  });

  it("/proc/locks holders of the dpkg lock inodes", () => {
    const locks = "1: POSIX  ADVISORY  WRITE 4321 fe:01:5505029 0 EOF\n2: FLOCK  ADVISORY  WRITE 99 00:19:77 0 EOF\n";
    expect(lockHoldersFromProcLocks(locks, new Set([5505029]))).toEqual([4321]);
    expect(lockHoldersFromProcLocks(locks, new Set([1]))).toEqual([]);
  });

  it("file names apt-get download writes (epoch colon encoded)", () => {
    expect(debFilePrefix("docker-ce", "5:24.0.7-1~debian.12~bookworm")).toBe("docker-ce_5%3a24.0.7-1~debian.12~bookworm_");
  });
});

describe("systemd and /proc", () => {
  const show = "KillMode=process\nDelegate=no\nRequires=docker.socket containerd.service\nBindsTo=\nActiveState=active\nLoadState=loaded\n\nKillMode=mixed\nDelegate=yes\nRequires=\nBindsTo=\nActiveState=active\nLoadState=loaded\n";

  it("systemctl show blocks per unit, judged: containerd with KillMode=mixed fails", () => {
    const units = parseSystemctlShow(show, ["docker.service", "containerd.service"]);
    expect(units["docker.service"]?.KillMode).toBe("process");
    const verdicts = unitVerdicts({ units }, false);
    expect(verdicts.map((v) => [v.name, v.ok])).toEqual([
      ["unit:docker.service", true],
      ["unit:containerd.service", false],
    ]);
    expect(verdicts[1]?.message).toMatch(/KillMode=mixed .*set KillMode=process/);
  });

  it("BindsTo=containerd.service fails only when containerd is upgraded", () => {
    const units = { "docker.service": { KillMode: "process", BindsTo: "containerd.service", LoadState: "loaded" } };
    expect(unitVerdicts({ units }, false)[0]?.ok).toBe(true);
    expect(unitVerdicts({ units }, true)[0]?.message).toMatch(/BindsTo=containerd.service/);
  });

  it("/proc/<pid>/stat with a command name holding spaces and parentheses", () => {
    expect(parseProcStat("123 (containerd (x) y) S 45 123 123 0 -1")).toEqual({ pid: 123, comm: "containerd (x) y", ppid: 45 });
  });

  it("containerd as a child of dockerd is refused; an external one passes", () => {
    const info = { serverVersion: "", liveRestoreEnabled: true, swarmState: "inactive", containerdAddress: null, driver: "", dockerRootDir: "", cgroupDriver: "" };
    expect(containerdVerdict(info, [{ pid: 5, ppid: 1, comm: "dockerd" }, { pid: 6, ppid: 5, comm: "containerd" }]).ok).toBe(false);
    expect(containerdVerdict(info, [{ pid: 5, ppid: 1, comm: "dockerd" }, { pid: 6, ppid: 1, comm: "containerd" }]).ok).toBe(true);
  });
});

describe("Docker API JSON, captured from dockerd 20.10", () => {
  it("container inspect to the fields compared", () => {
    const raw = JSON.parse(fixture("inspect-web.json")) as Parameters<typeof toContainerState>[0];
    expect(toContainerState(raw)).toMatchObject({ name: "web", running: true, paused: false, restartPolicy: "unless-stopped", networks: ["host"], ports: "" });
  });
});
