import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RunReport } from "../../src/report/report.js";
import { until } from "./helpers.js";
import { Etcd } from "./fleet-etcd.js";
import { CE, Machine } from "./machine.js";

// Three machines (systemd as PID 1, Docker's packages), one real etcd on loopback: a fleet group.
const NEXT = ["docker-ce=20.10.25", "docker-ce-cli=20.10.25"];

const grantedAt = (r: RunReport): number => {
  const s = r.steps.find((x) => x.name === "fleet-slot")!;
  return Date.parse(s.startedAt) + s.durationMs;
};

describe("a fleet of three systemd hosts on etcd", () => {
  const etcd = new Etcd();
  let machines: Machine[] = [];
  let group = 0;

  beforeAll(async () => {
    await etcd.start();
  });
  afterAll(async () => {
    await etcd.destroy();
  });
  afterEach(async () => {
    await Promise.all(machines.map((m) => m.down()));
    machines = [];
    await etcd.start(); // a test that stopped it and failed before restarting it must not fail the next
  });

  /** Three hosts in a new group, each with the given releases and a config naming etcd (plus `extra` YAML). */
  const fleet = async (slots: number, releases: string[][] = [NEXT, NEXT, NEXT], extra = "", leaseTtl = "4s") => {
    group++;
    machines = ["fa", "fb", "fc"].map((n) => new Machine(n));
    await Promise.all(
      machines.map(async (m, i) => {
        await m.down();
        await m.up();
        await m.run("docker", "run", "-d", "--name", "web", "--network", "host", "local/busybox:1", "httpd", "-f", "-p", `127.0.0.1:${18_321 + i}`, "-h", "/www");
        await m.repo(...releases[i]!);
        await m.writeFile(
          "/etc/docker-live-upgrade/config.yaml",
          `fleet:\n  backend: etcd\n  group: g${group}\n  slots: ${slots}\n  host: ${m.name}\n  wait: 3m\n  etcd:\n    endpoints: ["${etcd.endpoint}"]\n    leaseTtl: ${leaseTtl}\n${extra}`,
        );
      }),
    );
    return machines;
  };

  it("slots: 1, each host's daemon in the same open window: the three upgrades never overlap, and all end upgraded", async () => {
    const now = new Date();
    // a window that opened this minute and lasts two hours, on every host
    const window = `schedule:\n  windows:\n    - cron: "${now.getUTCMinutes()} ${now.getUTCHours()} * * *"\n      duration: 2h\n      timezone: UTC\n  expectedDuration: 5m\n`;
    const hosts = await fleet(1, [NEXT, NEXT, NEXT], window);
    await Promise.all(hosts.map((h) => h.sh("install -m 0644 /opt/docker-live-upgrade/systemd/docker-live-upgrade.service /etc/systemd/system/ && systemctl daemon-reload && systemctl start docker-live-upgrade.service")));
    const reportOf = async (h: Machine): Promise<RunReport | null> => {
      const name = (await h.sh("ls /var/lib/docker-live-upgrade/reports 2>/dev/null || true")).split("\n").find((n) => n.endsWith(".json")); // not a report still being written
      return name ? (JSON.parse(await h.readFile(`/var/lib/docker-live-upgrade/reports/${name}`)) as RunReport) : null;
    };
    await until("every daemon to finish its run", async () => (await Promise.all(hosts.map(reportOf))).every((r) => r !== null), 240_000);
    const runs = (await Promise.all(hosts.map(reportOf))).map((report) => ({ report: report! }));
    expect(runs.map((r) => r.report.outcome)).toEqual(["upgraded", "upgraded", "upgraded"]);
    // the hosts that waited, waited in the window: the slot's wait shows in their reports
    expect(runs.map((r) => r.report.fleet?.waitedMs ?? 0).sort((a, b) => a - b)[2]).toBeGreaterThan(1_000);
    const spans = runs.map((r) => ({ from: grantedAt(r.report), to: Date.parse(r.report.finishedAt) })).sort((a, b) => a.from - b.from);
    for (let i = 1; i < spans.length; i++) expect(spans[i]!.from).toBeGreaterThanOrEqual(spans[i - 1]!.to);
    const status = await hosts[0]!.cli("fleet", "status");
    expect(status.report).toMatchObject({ slots: 1, holders: [], state: { halted: null, rollouts: { "20.10": { release: "20.10.25" } }, hosts: { fa: { version: CE("20.10.25") } } } });
  });

  it("slots: 2: at most two overlap", async () => {
    const hosts = await fleet(2);
    const runs = await Promise.all(hosts.map((h) => h.cli("upgrade")));
    expect(runs.map((r) => r.report.outcome)).toEqual(["upgraded", "upgraded", "upgraded"]);
    const spans = runs.map((r) => ({ from: grantedAt(r.report), to: Date.parse(r.report.finishedAt) }));
    for (const s of spans) expect(spans.filter((o) => o.from <= s.from && s.from < o.to).length).toBeLessThanOrEqual(2);
  });

  it("a rolled-back run halts the group; the others do not start; fleet clear lets them go on", async () => {
    const hosts = await fleet(1, [["docker-ce=20.10.25:dockerd-exits", "docker-ce-cli=20.10.25"], NEXT, NEXT]);
    const bad = await hosts[0]!.cli("upgrade");
    expect(bad.report.outcome).toBe("rolled-back");
    const others = await Promise.all(hosts.slice(1).map((h) => h.cli("upgrade")));
    for (const o of others) {
      expect([o.exitCode, o.report.outcome]).toEqual([3, "refused"]);
      expect(o.report.error?.message).toMatch(/halted by fa [\s\S]*fleet clear fa/);
      expect(await hosts[1]!.version("docker-ce")).toBe(`${CE("20.10.24")} install ok installed`);
    }
    const status = await hosts[1]!.cli("fleet", "status");
    expect(status.report).toMatchObject({ state: { halted: { host: "fa", runId: bad.report.id, kind: "failed" } } });
    // the failed host is healthy again (rolled back): its recover says so, and leaves the halt for an operator
    const rec = await hosts[0]!.cli("recover");
    expect([rec.exitCode, rec.report.outcome]).toEqual([0, "up-to-date"]);
    expect((await hosts[1]!.cli("fleet", "status")).report).toMatchObject({ state: { halted: { host: "fa", runId: bad.report.id } } });
    await hosts[1]!.run("docker-live-upgrade", "fleet", "clear", "fa");
    const after = await Promise.all(hosts.slice(1).map((h) => h.cli("upgrade")));
    expect(after.map((a) => a.report.outcome)).toEqual(["upgraded", "upgraded"]);
  });

  it("etcd stopped mid-rollout, then restarted: the waiting host defers cleanly, the holder finishes, no slot is granted twice", async () => {
    // etcd stays away until the waiter gave up (its retries take about 8 s): a holder whose lease went
    // unrenewed for twice its TTL counts it lost (the etcd client's rule) and undoes its run, so the TTL
    // here outlasts the outage
    const hosts = await fleet(1, [["docker-ce=20.10.25:preinst-sleeps", "docker-ce-cli=20.10.25"], NEXT, NEXT], "", "10s");
    const holder = hosts[0]!.cli("upgrade");
    await until("fa to hold the slot and install", async () => (await hosts[0]!.exec(["pgrep", "-f", "^sleep 15"])).exitCode === 0, 120_000);
    const waiter = hosts[1]!.cli("upgrade");
    // fb is past its preflight and waiting for the slot: its alive key (bound to its lease) is there
    await until("fb to wait for a slot", async () => (await etcd.keys(`/docker-live-upgrade/groups/g${group}/alive/fb`)).length > 0, 120_000);
    await etcd.stop();
    const waited = await waiter;
    expect([waited.exitCode, waited.report.outcome]).toEqual([0, "deferred"]);
    expect(waited.report.error?.message).toContain(etcd.endpoint);
    expect(await hosts[1]!.version("docker-ce")).toBe(`${CE("20.10.24")} install ok installed`);
    await etcd.start();
    const held = await holder;
    expect(held.report.outcome).toBe("upgraded");
    const again = await hosts[1]!.cli("upgrade");
    expect(again.report.outcome).toBe("upgraded");
    expect(grantedAt(again.report)).toBeGreaterThanOrEqual(Date.parse(held.report.finishedAt));
    expect((await hosts[2]!.cli("fleet", "status")).report).toMatchObject({ holders: [], state: { halted: null } });
  });

  it("an upgrader SIGKILLed mid-run: its lease expires, the group halts (the slot is not handed on); its recover lets the group go on", async () => {
    const hosts = await fleet(1, [["docker-ce=20.10.25:preinst-sleeps", "docker-ce-cli=20.10.25"], NEXT, NEXT]);
    const victim = hosts[0]!;
    const run = victim.exec(["docker-live-upgrade", "upgrade"]);
    await until("fa to be installing", async () => (await victim.exec(["pgrep", "-f", "^sleep 15"])).exitCode === 0, 120_000);
    await victim.exec(["pkill", "-KILL", "-f", "docker-live-upgrade upgrade"]);
    await run;
    await new Promise((r) => setTimeout(r, 6_000)); // the 4 s lease runs out
    const waiting = await hosts[1]!.cli("upgrade");
    expect([waiting.exitCode, waiting.report.outcome]).toEqual([3, "refused"]);
    expect(waiting.report.error?.message).toMatch(/halted by fa [\s\S]*lost mid-upgrade/);
    expect((await hosts[1]!.cli("fleet", "status")).report).toMatchObject({ holders: [{ host: "fa", leaseAlive: false }] });

    const rec = await victim.cli("recover");
    expect(rec.exitCode).toBe(0);
    const next = await hosts[1]!.cli("upgrade");
    expect(next.report.outcome).toBe("upgraded");
  });
});
