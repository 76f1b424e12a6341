import { describe, expect, it } from "vitest";
import { until } from "./helpers.js";
import { bootEach, CE_RPM, CLI_RPM, CONTAINERD_RPM, pinger, type Machine } from "./machine.js";

// An rpm host: systemd as PID 1, Docker's rpm packages (docker-ce, docker-ce-cli, containerd.io,
// plugins) installed by dnf from a local repository shaped like download.docker.com's, their
// scriptlets as systemd's rpm macros expand them (%postun: systemctl try-restart). The tool runs as a
// user would: the command on PATH, no config file; it finds dnf on its own.
const NEXT = ["docker-ce=20.10.25", "docker-ce-cli=20.10.25", "containerd.io=1.6.21", "docker-ce=23.0.0"];
const STATE = "/var/lib/docker-live-upgrade";

const rpmClean = async (host: Machine) => {
  expect(String((await host.exec(["dnf", "-q", "check"])).stdout).trim()).toBe("");
  const v = await host.exec(["rpm", "-V", "--noconfig", "--nomtime", "docker-ce", "docker-ce-cli", "containerd.io"]);
  expect([v.exitCode, String(v.stdout).trim()]).toEqual([0, ""]);
};

describe("on an rpm host: dnf, rpm and Docker's rpm packages", () => {
  const boot = bootEach("rpm");

  it("dry run: the plan in rpm's versions, nothing downloaded, nothing changed; refused while rpm's lock is held", async () => {
    const host = await boot("rpm-dry", 18321, ...NEXT);
    const { exitCode, report } = await host.cli("upgrade", "--dry-run");
    expect(report.error).toBeNull();
    expect([exitCode, report.outcome]).toEqual([0, "would-upgrade"]);
    expect(report.engine).toEqual({ package: "docker-ce", from: CE_RPM("20.10.24"), to: CE_RPM("20.10.25") });
    expect(report.packages).toEqual(
      expect.arrayContaining([
        { name: "containerd.io", from: CONTAINERD_RPM("1.6.20"), to: CONTAINERD_RPM("1.6.21") },
        { name: "docker-ce-cli", from: CLI_RPM("20.10.24"), to: CLI_RPM("20.10.25") },
      ]),
    );
    expect(report.checks.find((c) => c.name === "simulation")).toMatchObject({ ok: true, message: expect.stringContaining("3 package change(s)") });
    expect(await host.sh(`find ${STATE} -name '*.rpm' | wc -l`)).toBe("0");
    expect(await host.version("docker-ce")).toBe(CE_RPM("20.10.24"));

    // another rpm transaction holding rpm's lock (where this rpm keeps it: %{_rpmlock_path}): refused, naming it
    const lock = (await host.run("rpm", "--eval", "%{_rpmlock_path}")).trim();
    const holder = host.exec(["python3", "-c", "import fcntl,sys,time; f=open(sys.argv[1],'a'); fcntl.lockf(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(120)", lock]);
    await until("the lock to be held", async () => (await host.exec(["pgrep", "-f", "fcntl.lockf"])).exitCode === 0);
    await new Promise((r) => setTimeout(r, 500));
    const locked = await host.cli("upgrade", "--dry-run");
    await host.exec(["pkill", "-f", "fcntl.lockf"]);
    await holder;
    expect([locked.exitCode, locked.report.outcome]).toEqual([3, "refused"]);
    expect(locked.report.checks.find((c) => c.name === "package-lock")).toMatchObject({ ok: false, message: expect.stringMatching(/locked by python3 \(pid \d+\)/) });
  });

  it("a patch upgrade: docker-ce and containerd.io by dnf, each service started once, no refused call, every container kept, versionlock moved on", async () => {
    const host = await boot("rpm-up", 18322, ...NEXT);
    // the upgrader keeps the versions held between runs (versionlock), lifting the lock for its own install
    await host.writeFile("/etc/docker-live-upgrade/config.yaml", "packages:\n  hold: true\n");
    await host.run("dnf", "-q", "-y", "versionlock", "add", "docker-ce", "docker-ce-cli", "containerd.io");
    const before = await host.identities();
    const since = new Date();
    await new Promise((r) => setTimeout(r, 1_100)); // journal --since has a 1 s granularity
    const client = pinger(await host.socket(), 20);

    const { exitCode, report } = await host.cli("upgrade");
    const seen = await client.stop();

    expect(report.error).toBeNull();
    expect([exitCode, report.outcome]).toEqual([0, "upgraded"]);
    expect(report.order).toBe("staged");
    expect(await host.version("docker-ce")).toBe(CE_RPM("20.10.25"));
    expect(await host.version("docker-ce-cli")).toBe(CLI_RPM("20.10.25"));
    expect(await host.version("containerd.io")).toBe(CONTAINERD_RPM("1.6.21"));
    expect(report.engineVersion.after).toBe("20.10.25+dfsg1");
    expect(await host.identities()).toEqual(before);
    expect(report.containers?.unchanged).toHaveLength(before.length);
    // %postun's `systemctl try-restart` was held (SYSTEMD_OFFLINE): the run's own restart is the only one
    expect(await host.starts("docker.service", since)).toBe(1);
    expect(await host.starts("containerd.service", since)).toBe(1);
    expect(seen.failed).toBe(0);
    expect(seen.ok).toBeGreaterThan(50);
    await rpmClean(host);
    expect((await host.run("dnf", "-q", "versionlock", "list")).trim().split("\n").sort()).toEqual([
      `containerd.io-0:${CONTAINERD_RPM("1.6.21")}.*`,
      `docker-ce-${CE_RPM("20.10.25")}.*`,
      `docker-ce-cli-${CLI_RPM("20.10.25")}.*`,
    ]);
  });

  it("a MINOR jump is refused before anything is touched", async () => {
    const host = await boot("rpm-minor", 18323, ...NEXT);
    const { exitCode, report } = await host.cli("upgrade", "--to", CE_RPM("23.0.0"));
    expect([exitCode, report.outcome]).toEqual([3, "refused"]);
    expect(report.error?.message).toMatch(/patch-only|MINOR|minor/);
    expect(await host.version("docker-ce")).toBe(CE_RPM("20.10.24"));
  });

  it("a release whose dockerd exits at once is rolled back with a dnf downgrade from the files fetched before", async () => {
    const host = await boot("rpm-bad", 18324, "docker-ce=20.10.25:dockerd-exits", "docker-ce-cli=20.10.25");
    await host.writeFile("/etc/docker-live-upgrade/config.yaml", "upgrade:\n  downtimeBudget: 30s\n");
    const before = await host.identities();

    const { exitCode, report } = await host.cli("upgrade");

    expect([exitCode, report.outcome]).toEqual([1, "rolled-back"]);
    expect(report.steps.map((s) => s.name)).toContain("rollback-install");
    expect(report.hostState).toMatch(/dockerd up, engine 20\.10\.24\+dfsg1; packages consistent/);
    expect(await host.version("docker-ce")).toBe(CE_RPM("20.10.24"));
    expect(await host.version("docker-ce-cli")).toBe(CLI_RPM("20.10.24"));
    expect(await host.identities()).toEqual(before);
    expect((await host.unit("docker.service", "ActiveState")).ActiveState).toBe("active");
    expect(await host.sh("dnf history list 2>/dev/null | grep -ci downgrade || true")).not.toBe("0");
    await rpmClean(host);
  });

  it("SIGKILL in the middle of the rpm transaction, then recover: no duplicate left in the rpm database, healthy, containers kept", async () => {
    const host = await boot("rpm-kill", 18325, "docker-ce=20.10.25:preinst-sleeps", "docker-ce-cli=20.10.25");
    const before = await host.identities();

    await host.run("systemd-run", "--unit", "dlu-run", "--collect", "docker-live-upgrade", "upgrade");
    const state = async () => {
      const r = await host.exec(["cat", `${STATE}/journal.json`]);
      return r.exitCode === 0 ? (JSON.parse(String(r.stdout)) as { state: string }).state : null;
    };
    await until("docker-ce's %pre to be running", async () => (await state()) === "installing" && (await host.exec(["pgrep", "-f", "^sleep 15"])).exitCode === 0, 120_000);
    // the run, dnf and the scriptlet die together, as with an OOM kill of the unit
    await host.run("systemctl", "kill", "-s", "KILL", "dlu-run.service");
    await until("the run to be dead", async () => (await host.exec(["pgrep", "-f", "dnf"])).exitCode !== 0);
    // what the interrupted transaction left: docker-ce-cli recorded twice
    expect(await host.version("docker-ce-cli")).toBe(`${CLI_RPM("20.10.24")},${CLI_RPM("20.10.25")}`);

    const status = await host.cli("status");
    expect((status.report as unknown as { unfinishedRun: unknown }).unfinishedRun).toMatchObject({ state: "installing" });
    const { exitCode, report } = await host.cli("recover");

    expect(report.error).toBeNull();
    expect(exitCode).toBe(0);
    expect(report.recovery?.found).toMatch(/interrupted at "installing"/);
    expect(report.hostState).toMatch(/dockerd up, engine 20\.10\.24\+dfsg1; packages consistent/);
    expect(await host.version("docker-ce")).toBe(CE_RPM("20.10.24"));
    expect(await host.version("docker-ce-cli")).toBe(CLI_RPM("20.10.24"));
    expect(await host.identities()).toEqual(before);
    await rpmClean(host);
  });
});
