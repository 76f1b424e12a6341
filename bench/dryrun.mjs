// Benchmark 3: `upgrade --dry-run` wall time with 50 containers (baseline: `docker ps -a` + `apt-cache
// policy` of the engine packages, what a person would look at), and the daemon's idle RSS.
import { execa } from "execa";
import { setTimeout as sleep } from "node:timers/promises";
import { readFile } from "node:fs/promises";
import { CLI, DOCKER, docker, median, ms, sandboxConfig, table } from "./lib.mjs";

const ROUNDS = Number(process.env.ROUNDS ?? 5);

export async function runDryRun() {
  const have = (await docker("ps", "-aq")).stdout.split("\n").filter(Boolean).length;
  for (let k = have; k < 50; k++) await docker("run", "-d", "--label", "dlu-bench", "--name", `dry-${k}`, "--network", "none", "local/busybox:1", "sleep", "1000000");
  const config = await sandboxConfig();
  const ours = [], base = [], nodeStart = [];
  for (let r = 0; r < ROUNDS; r++) {
    let t = performance.now();
    const res = await execa("node", [CLI, "plan", "--json", "--config", config], { reject: false });
    ours.push(performance.now() - t);
    if (res.exitCode !== 0) throw new Error(`plan exited ${res.exitCode}: ${res.stderr.slice(-1000)}`);
    t = performance.now();
    await execa(DOCKER[0], [...DOCKER.slice(1), "ps", "-a"]);
    await execa("apt-cache", ["policy", "docker.io", "containerd", "runc"]);
    base.push(performance.now() - t);
    t = performance.now();
    await execa("node", [CLI, "--version"]);
    nodeStart.push(performance.now() - t);
  }
  const daemon = execa("node", [CLI, "daemon", "--config", config], { reject: false });
  await sleep(5_000);
  const status = await readFile(`/proc/${daemon.pid}/status`, "utf8");
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
  daemon.kill("SIGTERM");
  await daemon;
  const rows = [
    ["`upgrade --dry-run`, 50 containers", ms(median(ours)), `${(median(ours) / median(base)).toFixed(2)}x`],
    ["baseline: `docker ps -a` + `apt-cache policy`", ms(median(base)), "1.00x"],
    ["node start-up alone (`--version`)", ms(median(nodeStart)), `${(median(nodeStart) / median(base)).toFixed(2)}x`],
  ];
  return `Dry run, median of ${ROUNDS}\n\n${table(["what", "median", "vs baseline"], rows)}\n\nDaemon idle RSS (no window open, 5 s after start): ${(rss / 1024).toFixed(1)} MiB`;
}
