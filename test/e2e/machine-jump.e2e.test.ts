import { afterEach, describe, expect, it } from "vitest";
import { DEBIAN13, Machine } from "./machine.js";
import type { RunReport } from "../../src/report/report.js";

// A MAJOR.MINOR jump on Debian 13 machines with Debian's own builds: docker.io 26.1.5 + containerd
// 1.7.24 + runc 1.1.15 to unstable's docker.io 28.5.2 + containerd 2.1.9 + runc 1.3.6 (real binaries,
// no repacks), which live restore cannot carry. With the opt-in the containers are stopped, the
// packages upgraded, and the containers started again in order and verified; without it, refused.
const JUMP = "docker.io=28.5.2";
const OLD = DEBIAN13("docker.io", "26.1.5");
const NEW = DEBIAN13("docker.io", "28.5.2");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Seen {
  name: string;
  id: string;
  pid: number;
  startedAt: string;
  status: string;
}

describe("a MAJOR.MINOR jump on Debian 13 (planned container restarts)", () => {
  let current: Machine | null = null;
  afterEach(async () => {
    await current?.down();
    current = null;
  });

  /**
   * A Debian 13 machine with a compose pair (api depends on db), a web server with a health check on
   * 127.0.0.1:port, a worker without a restart policy, and a stopped container; unstable's set in its
   * repository (or a broken copy of it).
   */
  const boot = async (name: string, port: number, ...releases: string[]): Promise<Machine> => {
    const m = new Machine(name, "trixie");
    current = m;
    await m.down();
    await m.up();
    const run = (...a: string[]) => m.run("docker", "run", "-d", ...a);
    const compose = (service: string) => ["--label", "com.docker.compose.project=shop", "--label", `com.docker.compose.service=${service}`];
    await run("--name", "db", "--network", "none", "--restart", "unless-stopped", ...compose("db"), "local/busybox:1", "sleep", "1000000");
    await run("--name", "api", "--network", "none", "--restart", "unless-stopped", ...compose("api"), "--label", "com.docker.compose.depends_on=db:service_started:false", "-e", "MODE=api", "local/busybox:1", "sleep", "1000000");
    await run("--name", "web", "--network", "host", "--restart", "always", "--health-cmd", `wget -q -O /dev/null http://127.0.0.1:${port}/ || exit 1`, "--health-interval", "1s", "local/busybox:1", "sh", "-c", `mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 127.0.0.1:${port} -h /www`);
    await run("--name", "worker", "--network", "none", "local/busybox:1", "sleep", "1000000");
    await run("--name", "frozen", "--network", "none", "--restart", "unless-stopped", "local/busybox:1", "sleep", "1000000");
    await m.run("docker", "pause", "frozen");
    await m.run("docker", "run", "--name", "exited", "--network", "none", "local/busybox:1", "true");
    await m.writeFile("/etc/docker-live-upgrade/config.yaml", `upgrade:\n  restart:\n    steady: 2s\nprobes:\n  - name: web\n    tcp: 127.0.0.1:${port}\n`);
    await m.repo(...releases);
    return m;
  };

  const seen = async (m: Machine): Promise<Seen[]> => {
    const ids = (await m.run("docker", "ps", "-aq", "--no-trunc")).split("\n").filter(Boolean);
    const out = await m.run("docker", "inspect", "-f", "{{.Name}}\t{{.Id}}\t{{.State.Pid}}\t{{.State.StartedAt}}\t{{.State.Status}}", ...ids);
    return out
      .split("\n")
      .map((l) => l.split("\t"))
      .map(([name, id, pid, startedAt, status]) => ({ name: name!.slice(1), id: id!, pid: Number(pid), startedAt: startedAt!, status: status! }))
      .sort((a, b) => a.name.localeCompare(b.name));
  };
  const RAN = ["api", "db", "frozen", "web", "worker"];
  const running = (list: Seen[]) => list.filter((c) => c.status === "running" || c.status === "paused").map((c) => c.name);
  const byName = (list: Seen[], name: string) => list.find((c) => c.name === name)!;
  /** Each container that ran runs again under the same Id with a new process; the stopped one stays stopped. */
  const restartedAsPlanned = (before: Seen[], after: Seen[]) => {
    expect(after.map((c) => c.id)).toEqual(before.map((c) => c.id));
    expect(running(after)).toEqual(RAN);
    for (const name of RAN) expect(byName(after, name).startedAt).not.toBe(byName(before, name).startedAt);
    expect(byName(after, "exited").status).toBe("exited");
    // paused before, paused again
    expect(byName(after, "frozen").status).toBe("paused");
  };

  it("without the opt-in: up to date, the jump named; --to the jump refused, exit 3, nothing touched; the dry run names each container's fate and risks", async () => {
    const m = await boot("jump1", 18401, JUMP);
    const before = await seen(m);

    const plain = await m.cli("plan");
    expect([plain.exitCode, plain.report.outcome]).toEqual([0, "up-to-date"]);
    expect(plain.report.checks.find((c) => c.name === "target")?.message).toMatch(/28\.5\.2\+dfsg4-5 \(28\.5\) is a MAJOR\.MINOR jump, taken only with --allow-restart/);

    const refused = await m.cli("upgrade", "--to", "28.5.2");
    expect([refused.exitCode, refused.report.outcome]).toEqual([3, "refused"]);
    expect(refused.report.error?.message).toMatch(/crosses from 26\.1 to 28\.5: .*--allow-restart/);

    const dry = await m.cli("upgrade", "--dry-run", "--allow-restart");
    expect([dry.exitCode, dry.report.outcome, dry.report.path]).toEqual([0, "would-upgrade", "restart"]);
    expect(dry.report.engine).toEqual({ package: "docker.io", from: OLD, to: NEW });
    expect(dry.report.packages.map((p) => `${p.name} ${p.to}`)).toEqual(expect.arrayContaining([`containerd ${DEBIAN13("containerd", "2.1.9")}`, `runc ${DEBIAN13("runc", "1.3.6")}`]));
    const fate = (name: string) => dry.report.fates.find((f) => f.name === name)!;
    expect(RAN.map((n) => fate(n).fate)).toEqual(RAN.map(() => "restarted"));
    expect(fate("frozen").risks.join("; ")).toMatch(/paused: its processes restart from the beginning, then it is paused again/);
    expect(fate("exited").fate).toBe("left-stopped");
    expect(fate("worker").risks.join("; ")).toMatch(/no restart policy: it stays down if the host crashes mid-run.*no health check/);
    expect(fate("web").risks).toContain("waited for until its health check passes");
    expect(dry.report.checks.find((c) => c.name === "patch-only")).toMatchObject({ ok: true, message: expect.stringMatching(/taken by planned container restarts/) });

    expect(await seen(m)).toEqual(before);
    expect(await m.version("docker.io")).toBe(`${OLD} install ok installed`);
  });

  it("the jump: every container that ran runs again with its config (the compose pair in order), the stopped one stays stopped, the engine reports 28.5.2", async () => {
    const m = await boot("jump2", 18402, JUMP);
    const before = await seen(m);

    const { exitCode, report } = await m.cli("upgrade", "--allow-restart");

    expect(report.error).toBeNull();
    expect([exitCode, report.outcome, report.path]).toEqual([0, "upgraded", "restart"]);
    expect(report.engineVersion.after).toMatch(/^28\.5\.2/);
    expect(await m.version("docker.io")).toBe(`${NEW} install ok installed`);
    expect(await m.version("containerd")).toBe(`${DEBIAN13("containerd", "2.1.9")} install ok installed`);
    expect(await m.run("docker", "version", "-f", "{{.Server.Version}}")).toMatch(/^28\.5\.2/);
    expect(report.checks.find((c) => c.name === "containerd-version")).toMatchObject({ ok: true });
    const after = await seen(m);
    restartedAsPlanned(before, after);
    // db is up and steady before api starts
    expect(Date.parse(byName(after, "api").startedAt)).toBeGreaterThan(Date.parse(byName(after, "db").startedAt));
    expect(await m.run("docker", "inspect", "-f", "{{.State.Health.Status}}", "web")).toBe("healthy");
    expect(await m.run("docker", "inspect", "-f", "{{json .Config.Env}}", "api")).toMatch(/"MODE=api"/);
    expect(report.containers?.planned?.map((c) => c.name).sort()).toEqual(RAN);
    expect([report.containers?.restarted, report.containers?.missing, report.containers?.changed]).toEqual([[], [], []]);
    for (const name of RAN) expect(report.fates.find((f) => f.name === name)).toMatchObject({ fate: "restarted", outageMs: expect.any(Number) });
    // the probe saw the web server's outage
    const web = report.probes.find((p) => p.name === "web")!;
    expect(web.failures).toBeGreaterThan(0);
    expect(web.longestOutageMs).toBeGreaterThan(0);
  });

  it("a jump whose new dockerd exits at once, found after the containers stopped: rolled back to 26.1.5 and containerd 1.7, every container that ran running again", async () => {
    const m = await boot("jump3", 18403, `${JUMP}:dockerd-exits`, "containerd=2.1.9", "runc=1.3.6", "docker-cli=28.5.2");
    // stop-first: the containers and dockerd stop before the install (staged, the new dockerd's
    // rejection of the configuration would end the run before any container stops)
    await m.writeFile("/etc/docker-live-upgrade/config.yaml", "upgrade:\n  order: stop-first\n  downtimeBudget: 20s\n  restart:\n    steady: 2s\n");
    const before = await seen(m);

    const { exitCode, report } = await m.cli("upgrade", "--allow-restart");

    expect([exitCode, report.outcome]).toEqual([1, "rolled-back"]);
    expect(report.error?.step).toMatch(/validate-config|start/);
    expect(report.hostState).toMatch(/dockerd up, engine 26\.1\.5/);
    expect(await m.version("docker.io")).toBe(`${OLD} install ok installed`);
    expect(await m.version("containerd")).toBe(`${DEBIAN13("containerd", "1.7.24")} install ok installed`);
    restartedAsPlanned(before, await seen(m));
    expect(report.containers?.planned?.map((c) => c.name).sort()).toEqual(RAN);
  });

  it("SIGKILL while the packages install (the containers stopped, dockerd down), then recover: the containers run again", async () => {
    const m = await boot("jump4", 18404, JUMP);
    await m.writeFile("/etc/docker-live-upgrade/config.yaml", "upgrade:\n  order: stop-first\n  restart:\n    steady: 2s\n");
    const before = await seen(m);
    const pid = (await m.sh("docker-live-upgrade upgrade --allow-restart --json >/tmp/run.json 2>/tmp/run.log & echo $!")).trim();
    const deadline = Date.now() + 120_000;
    for (;;) {
      const j = await m.sh("cat /var/lib/docker-live-upgrade/journal.json 2>/dev/null || true");
      if (/"state": "installing"/.test(j) && /"phase": "stopped"/.test(j)) break;
      if (Date.now() > deadline) throw new Error(`the run never reached its install: ${await m.sh("tail -n 20 /tmp/run.log")}`);
      await sleep(50);
    }
    await m.run("kill", "-KILL", pid);

    const { exitCode, report } = await m.cli("recover");

    expect(exitCode).toBe(0);
    expect(["upgraded", "rolled-back"]).toContain(report.outcome);
    expect(report.hostState).toMatch(/^dockerd up/);
    restartedAsPlanned(before, await seen(m));
    const saved: RunReport = JSON.parse(await m.sh("cat /var/lib/docker-live-upgrade/reports/$(ls /var/lib/docker-live-upgrade/reports | grep '[.]json$' | tail -n 1)")) as RunReport;
    expect(saved.command).toBe("recover");
    expect(await m.sh("test -e /var/lib/docker-live-upgrade/journal.json && echo open || echo closed")).toBe("closed");
  });
});
