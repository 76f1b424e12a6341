import { describe, expect, it } from "vitest";
import { bootEach, CE, CONTAINERD, pinger } from "./machine.js";

// A real systemd host: systemd as PID 1 runs docker.service, docker.socket and containerd.service
// from Docker's own packages (docker-ce, docker-ce-cli, containerd.io, plugins), with debhelper's
// maintainer scripts restarting services on upgrade. The tool runs as a user would: the command on
// PATH, no config file.
const NEXT = ["docker-ce=20.10.25", "docker-ce-cli=20.10.25", "containerd.io=1.6.21", "docker-ce=23.0.0"];
const SITE_POLICY = "#!/bin/sh\n# site policy: allow everything\nexit 0\n";

describe("on a systemd host with Docker's packages", () => {
  const boot = bootEach();

  it("no config at all: upgrades docker-ce and containerd.io, restarts each once, refuses no API call, keeps every container", async () => {
    const host = await boot("up1", 18301, ...NEXT);
    await host.writeFile("/usr/sbin/policy-rc.d", SITE_POLICY);
    await host.run("chmod", "755", "/usr/sbin/policy-rc.d");
    const before = await host.identities();
    const since = new Date();
    await new Promise((r) => setTimeout(r, 1_100)); // journal --since has a 1 s granularity
    const client = pinger(await host.socket(), 20);

    const { exitCode, report } = await host.cli("upgrade");
    const seen = await client.stop();

    expect(report.error).toBeNull();
    expect([exitCode, report.outcome]).toEqual([0, "upgraded"]);
    expect(report.engine).toEqual({ package: "docker-ce", from: CE("20.10.24"), to: CE("20.10.25") });
    expect(report.packages.map((p) => p.name).sort()).toEqual(["containerd.io", "docker-ce", "docker-ce-cli"]);
    expect(await host.version("docker-ce")).toBe(`${CE("20.10.25")} install ok installed`);
    expect(await host.version("containerd.io")).toBe(`${CONTAINERD("1.6.21")} install ok installed`);
    // the new builds run: containerd reports v1.6.21 (a leading v, as upstream builds do)
    expect(report.checks.find((c) => c.name === "containerd-version")).toMatchObject({ ok: true, message: expect.stringContaining("v1.6.21") });
    expect(report.engineVersion.after).toBe("20.10.25+dfsg1");
    expect(await host.identities()).toEqual(before);
    expect(report.containers?.unchanged).toHaveLength(before.length);
    // one start of each during the run: the package scripts' restarts were held back
    expect(await host.starts("docker.service", since)).toBe(1);
    expect(await host.starts("containerd.service", since)).toBe(1);
    // zero refused calls: docker.socket kept listening and queued the connections
    expect(seen.failed).toBe(0);
    expect(seen.ok).toBeGreaterThan(50);
    const api = report.probes.find((p) => p.name === "docker-api");
    expect(api).toMatchObject({ failures: 0 });
    expect(api!.longestWaitMs).toBeGreaterThan(0);
    // the site's own policy-rc.d is back, byte for byte
    expect(await host.readFile("/usr/sbin/policy-rc.d")).toBe(SITE_POLICY.trimEnd());
    expect((await host.unit("docker.socket", "ActiveState")).ActiveState).toBe("active");
  });

  it("stop-first: docker.socket is stopped for the install, so no client re-activates dockerd in the middle", async () => {
    const host = await boot("up2", 18302, ...NEXT);
    await host.writeFile("/etc/docker-live-upgrade/config.yaml", "upgrade:\n  order: stop-first\n");
    const before = await host.identities();
    const since = new Date();
    await new Promise((r) => setTimeout(r, 1_100));
    const client = pinger(await host.socket(), 20);

    const { exitCode, report } = await host.cli("upgrade");
    await client.stop();

    expect([exitCode, report.outcome]).toEqual([0, "upgraded"]);
    expect(await host.identities()).toEqual(before);
    // a client hammering the socket during the install did not start dockerd: one start only
    expect(await host.starts("docker.service", since)).toBe(1);
    expect((await host.unit("docker.socket", "ActiveState")).ActiveState).toBe("active");
    expect(await host.sh("ls /usr/sbin/policy-rc.d 2>/dev/null || echo none")).toBe("none");
  });

  it("a release whose dockerd exits at once is rolled back, though Restart= and the start limit put docker.service in the failed state", async () => {
    const host = await boot("up3", 18303, "docker-ce=20.10.25:dockerd-exits", "docker-ce-cli=20.10.25");
    await host.writeFile("/etc/docker-live-upgrade/config.yaml", "upgrade:\n  downtimeBudget: 30s\n");
    // restarts come quickly here, so the broken build reaches the start limit (3 in 60 s) for sure
    await host.writeFile("/etc/systemd/system/docker.service.d/restart-quickly.conf", "[Service]\nRestartSec=200ms\n");
    await host.run("systemctl", "daemon-reload");
    const before = await host.identities();
    const since = new Date();
    await new Promise((r) => setTimeout(r, 1_100));
    // clients keep knocking: each connection to docker.socket asks systemd to start the broken build
    const client = pinger(await host.socket(), 50);

    const { exitCode, report } = await host.cli("upgrade");
    await client.stop();

    expect([exitCode, report.outcome]).toEqual([1, "rolled-back"]);
    expect(report.hostState).toMatch(/dockerd up, engine 20\.10\.24\+dfsg1; packages consistent/);
    expect(await host.version("docker-ce")).toBe(`${CE("20.10.24")} install ok installed`);
    expect(await host.identities()).toEqual(before);
    expect((await host.unit("docker.service", "ActiveState")).ActiveState).toBe("active");
    expect((await host.unit("docker.socket", "ActiveState")).ActiveState).toBe("active");
    const journal = await host.run("journalctl", "-u", "docker.service", "-u", "docker.socket", "-o", "cat", "--no-pager", "--since", `@${Math.floor(since.getTime() / 1000)}`);
    expect(journal).toMatch(/broken build: dockerd exits at once/);
    expect(journal).toMatch(/Start request repeated too quickly|start-limit-hit/);
  });

  it.each([
    ["masked", "systemctl mask --now docker.socket"],
    ["absent", "systemctl disable --now docker.socket && rm -f /lib/systemd/system/docker.socket"],
  ])("docker.socket %s: the upgrade works, and the socket is left as it was", async (how, setup) => {
    const host = await boot(`sock-${how}`, how === "masked" ? 18304 : 18305, ...NEXT);
    // a docker.service of the site's own, listening itself (a drop-in cannot remove Requires=docker.socket)
    await host.sh(
      "sed -e 's#-H fd://#-H unix:///run/docker.sock#' -e '/^Requires=docker.socket/d' -e 's/ docker.socket / /' /lib/systemd/system/docker.service > /etc/systemd/system/docker.service",
    );
    await host.sh(`${setup} && systemctl daemon-reload && systemctl restart docker.service`);
    const socketBefore = await host.unit("docker.socket", "LoadState", "ActiveState");
    const before = await host.identities();

    const { exitCode, report } = await host.cli("upgrade");

    expect(report.error).toBeNull();
    expect([exitCode, report.outcome]).toEqual([0, "upgraded"]);
    expect(report.checks.find((c) => c.name === "unit:docker.socket")).toMatchObject({ ok: true, message: expect.stringMatching(/left alone/) });
    expect(await host.identities()).toEqual(before);
    const socketAfter = await host.unit("docker.socket", "LoadState", "ActiveState");
    expect(socketAfter.ActiveState).toBe("inactive");
    if (how === "masked") expect(socketAfter).toEqual(socketBefore);
  });

  it("docker.socket masked while docker.service still requires it: refused before anything is touched", async () => {
    const host = await boot("sock-req", 18306, ...NEXT);
    await host.run("systemctl", "mask", "docker.socket");
    const { exitCode, report } = await host.cli("upgrade");
    expect([exitCode, report.outcome]).toEqual([3, "refused"]);
    expect(report.error?.message).toMatch(/unit:docker\.socket: .*Requires=docker\.socket/);
    expect(await host.version("docker-ce")).toBe(`${CE("20.10.24")} install ok installed`);
  });
});
