// Benchmark: a three-host rollout on etcd (Debian's etcd on loopback, three systemd machines of
// scripts/machine.sh), with `slots: 1` and `slots: 3`. All three hosts start `upgrade --to V` together;
// the wall time of the rollout is set against the sum of the single-host runs (each run's own time
// less its wait for a slot, measured in the same rollout), and the etcd requests each run made
// (the report's fleet.requests: ranges, transactions, lease calls; keepalive pings not counted).
import { execa } from "execa";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { median, ms, ROOT, table } from "./lib.mjs";

const MACHINE = join(ROOT, "scripts/machine.sh");
const HOSTS = ["bench-a", "bench-b", "bench-c"];
const ENDPOINT = "http://127.0.0.1:23792";
const CE = (up) => `5:${up}-1~debian.12~bookworm`;
const machine = (...args) => execa("bash", [MACHINE, ...args]);

async function startEtcd(dir) {
  const proc = execa("etcd", ["--name", "bench", "--data-dir", join(dir, "data"), "--listen-client-urls", ENDPOINT, "--advertise-client-urls", ENDPOINT,
    "--listen-peer-urls", "http://127.0.0.1:23802", "--initial-advertise-peer-urls", "http://127.0.0.1:23802", "--initial-cluster", "bench=http://127.0.0.1:23802"], { reject: false, stdio: "ignore" });
  for (let i = 0; i < 100; i++) {
    // wrapped: an async function returning the process itself would wait for it to exit
    if ((await execa("etcdctl", ["--endpoints", ENDPOINT, "endpoint", "health"], { reject: false, env: { ETCDCTL_API: "3" } })).exitCode === 0) return { proc };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("etcd did not come up");
}

const config = (host, slots, group) =>
  `fleet:\n  backend: etcd\n  group: ${group}\n  slots: ${slots}\n  host: ${host}\n  wait: 10m\n  etcd:\n    endpoints: ["${ENDPOINT}"]\n`;

async function rollout(slots, version, group) {
  await Promise.all(HOSTS.map((h) => execa("bash", [MACHINE, "exec", h, "sh", "-c", 'mkdir -p /etc/docker-live-upgrade && cat > /etc/docker-live-upgrade/config.yaml'], { input: config(h, slots, group) })));
  const t0 = performance.now();
  const reports = await Promise.all(HOSTS.map(async (h) => {
    const r = await execa("bash", [MACHINE, "exec", h, "docker-live-upgrade", "upgrade", "--to", CE(version), "--json"], { reject: false });
    const report = JSON.parse(r.stdout);
    if (report.outcome !== "upgraded") throw new Error(`${h}: ${report.outcome}: ${report.error?.message}`);
    return report;
  }));
  const wall = performance.now() - t0;
  const single = reports.map((r) => Date.parse(r.finishedAt) - Date.parse(r.startedAt) - r.fleet.waitedMs);
  return { wall, sum: single.reduce((a, b) => a + b, 0), longest: Math.max(...single), requests: reports.map((r) => r.fleet.requests) };
}

export async function runFleet() {
  const dir = await mkdtemp(join(tmpdir(), "dlu-bench-etcd-"));
  const { proc: etcd } = await startEtcd(dir);
  try {
    for (const h of HOSTS) {
      await machine("down", h);
      await machine("up", h);
      await machine("repo", h, "docker-ce=20.10.25", "docker-ce-cli=20.10.25", "docker-ce=20.10.26", "docker-ce-cli=20.10.26");
    }
    const one = await rollout(1, "20.10.25", "bench-1");
    const three = await rollout(3, "20.10.26", "bench-3");
    const row = (name, r) => [name, ms(r.wall), ms(r.sum), `${(r.wall / r.sum).toFixed(2)}x`, ms(r.longest), `${(r.wall / r.longest).toFixed(2)}x`, String(median(r.requests)), r.requests.join(", ")];
    return "three-host rollout on etcd (systemd machines, all hosts started together)\n\n" +
      table(["slots", "wall time", "sum of single-host runs", "wall vs sum", "longest single run", "wall vs longest", "etcd requests per run (median)", "per host"], [row("1", one), row("3", three)]);
  } finally {
    for (const h of HOSTS) await machine("down", h).catch(() => undefined);
    etcd.kill("SIGTERM");
    await etcd.catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}
