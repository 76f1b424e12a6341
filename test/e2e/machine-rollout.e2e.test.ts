import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunReport } from "../../src/report/report.js";
import { EtcdCluster } from "./etcd-cluster.js";
import { CE, Machine } from "./machine.js";
import { Prometheus } from "./prometheus.js";

// Three systemd hosts on a TLS etcd cluster with auth, a real Prometheus: a rollout in batches
// (a canary first, then the rest after a soak) behind the alert gate.
const NEXT = ["docker-ce=20.10.25", "docker-ce-cli=20.10.25"];
const SOAK_MS = 20_000;

const grantedAt = (r: RunReport): number => {
  const s = r.steps.find((x) => x.name === "fleet-slot")!;
  return Date.parse(s.startedAt) + s.durationMs;
};

describe("a rollout in batches behind an alert gate, on three systemd hosts", () => {
  const cluster = new EtcdCluster(24_379);
  const prometheus = new Prometheus();
  const hosts = ["ra", "rb", "rc"].map((n) => new Machine(n));

  beforeAll(async () => {
    await cluster.create();
    await prometheus.start(["Watchdog", "DiskAlmostFull"]);
    await Promise.all(
      hosts.map(async (m, i) => {
        await m.down();
        await m.up();
        await m.run("docker", "run", "-d", "--name", "web", "--network", "host", "local/busybox:1", "httpd", "-f", "-p", `127.0.0.1:${18_421 + i}`, "-h", "/www");
        await m.repo(...NEXT);
        const pki = "/etc/docker-live-upgrade/pki";
        for (const [f, text] of Object.entries(await cluster.clientFiles())) await m.writeFile(`${pki}/${f}`, text);
        await m.writeFile(
          "/etc/docker-live-upgrade/config.yaml",
          [
            "fleet:",
            "  group: rollout",
            "  slots: 2",
            `  host: ${m.name}`,
            "  wait: 3m",
            '  rollout: [1, "100%"]',
            "  canaries: [rc]",
            `  batchSoak: ${SOAK_MS / 1000}s`,
            "  alerts:",
            `    prometheus: ${prometheus.url}`,
            "    ignore: Watchdog",
            "  etcd:",
            cluster.configYaml("    ", pki),
            "    leaseTtl: 5s",
            "",
          ].join("\n"),
        );
      }),
    );
  }, 300_000);
  afterAll(async () => {
    await Promise.all(hosts.map((m) => m.down()));
    await prometheus.stop();
    await cluster.destroy();
  });

  it("an active alert defers every host before it asks for a slot; nothing is touched", async () => {
    const runs = await Promise.all(hosts.map((h) => h.cli("upgrade")));
    for (const r of runs) {
      expect([r.exitCode, r.report.outcome, r.report.error?.step]).toEqual([0, "deferred", "fleet-alerts"]);
      expect(r.report.error?.message).toMatch(/1 alert\(s\) active in Prometheus at http:\/\/127\.0\.0\.1:19090: DiskAlmostFull \(firing\)/);
    }
    for (const h of hosts) expect(await h.version("docker-ce")).toBe(`${CE("20.10.24")} install ok installed`);
    // the hosts checked in: the group knows all three, nobody holds a slot
    const status = await hosts[0]!.cli("fleet", "status");
    expect(Object.keys((status.report as unknown as { state: { hosts: object } }).state.hosts).sort()).toEqual(["ra", "rb", "rc"]);
  });

  it("alerts quiet: the canary goes first; the other batch starts after it soaked, two at once", async () => {
    await prometheus.fire(["Watchdog"]);
    const runs = await Promise.all(hosts.map((h) => h.cli("upgrade")));
    expect(runs.map((r) => r.report.outcome)).toEqual(["upgraded", "upgraded", "upgraded"]);
    const [a, b, c] = runs.map((r) => r.report);
    // rc (the canary) finished, then the soak, then ra and rb: together (slots: 2)
    for (const r of [a!, b!]) expect(grantedAt(r)).toBeGreaterThanOrEqual(Date.parse(c!.finishedAt) + SOAK_MS - 1_000);
    expect(Math.max(grantedAt(a!), grantedAt(b!))).toBeLessThan(Math.min(Date.parse(a!.finishedAt), Date.parse(b!.finishedAt)));
    const status = (await hosts[0]!.cli("fleet", "status")).report as unknown as { state: { rollouts: Record<string, { release: string; batches: string[][] }> } };
    expect(status.state.rollouts["20.10"]).toMatchObject({ release: "20.10.25", batches: [["rc"], ["ra", "rb"]] });
    const text = await hosts[0]!.run("docker-live-upgrade", "fleet", "status");
    expect(text).toMatch(/rollout 20\.10: to 20\.10\.25 .*: finished/);
  });
});
