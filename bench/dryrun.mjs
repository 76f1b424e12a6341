// Benchmark 3: `upgrade --dry-run` wall time with 50 containers (baseline: `docker ps -a` + `apt-cache
// policy` of the engine packages, what a person would look at), and the daemon's idle RSS.
import { execa } from "execa";
import { setTimeout as sleep } from "node:timers/promises";
import { readFile } from "node:fs/promises";
import { CLI, DOCKER, docker, median, ms, sandbox, sandboxConfig, table } from "./lib.mjs";

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
  // the resident daemon (its worker ends when no window is near) against Node doing nothing, same run
  const rssOf = async (pid) => Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, "utf8"))[1]) / 1024;
  const bare = execa("node", ["-e", "setInterval(() => {}, 1000)"], { reject: false });
  const daemon = execa("node", [CLI, "daemon", "--config", config], { reject: false });
  await sleep(5_000);
  const at5 = await rssOf(daemon.pid);
  await sleep(15_000);
  const at20 = await rssOf(daemon.pid);
  const nodeAlone = await rssOf(bare.pid);
  const workers = (await execa("ps", ["-o", "pid=", "--ppid", String(daemon.pid)], { reject: false })).stdout.trim().split("\n").filter(Boolean).length;
  daemon.kill("SIGTERM");
  bare.kill("SIGTERM");
  await Promise.all([daemon, bare]);
  const after = await afterRun(rssOf);
  const rows = [
    ["`upgrade --dry-run`, 50 containers", ms(median(ours)), `${(median(ours) / median(base)).toFixed(2)}x`],
    ["baseline: `docker ps -a` + `apt-cache policy`", ms(median(base)), "1.00x"],
    ["node start-up alone (`--version`)", ms(median(nodeStart)), `${(median(nodeStart) / median(base)).toFixed(2)}x`],
  ];
  return `Dry run, median of ${ROUNDS}\n\n${table(["what", "median", "vs baseline"], rows)}\n\nDaemon idle RSS (no window open): ${at5.toFixed(1)} MiB 5 s after start, ${at20.toFixed(1)} MiB at 20 s (${(at20 / nodeAlone).toFixed(2)}x Node alone, ${nodeAlone.toFixed(1)} MiB); workers left: ${workers}\n` +
    `Daemon RSS after a run (a window open at its start; it upgraded to ${after.release}, its worker ended): ${after.rss.toFixed(1)} MiB 10 s after the run, workers left: ${after.workers}`;
}

/** A daemon whose window is open: its worker upgrades to the next release and ends; the resident process is measured then. */
async function afterRun(rssOf) {
  const current = (await execa("dpkg-query", ["-W", "-f=${Version}", "docker.io"])).stdout;
  const m = /^(\d+)\.(\d+)\.(\d+)(.*)-[^-]*$/.exec(current.replace(/^\d+:/, ""));
  if (!m) throw new Error(`cannot read a release from ${current}`);
  const release = `${m[1]}.${m[2]}.${Number(m[3]) + 1}${m[4]}-1`;
  await sandbox("repo", current, release);
  const now = new Date();
  const config = await sandboxConfig(`schedule:\n  windows:\n    - cron: "${now.getUTCMinutes()} ${now.getUTCHours()} * * *"\n      duration: 1h\n      timezone: UTC\n`);
  const daemon = execa("node", [CLI, "daemon", "--config", config], { reject: false });
  const workers = async () => (await execa("ps", ["-o", "pid=", "--ppid", String(daemon.pid)], { reject: false })).stdout.trim().split("\n").filter(Boolean).length;
  try {
    for (let i = 0; ; i++) {
      if (i === 300) throw new Error(`the daemon did not upgrade to ${release} within 5 minutes`);
      await sleep(1_000);
      const installed = (await execa("dpkg-query", ["-W", "-f=${Version}", "docker.io"])).stdout;
      if (installed === release && (await workers()) === 0) break;
    }
    await sleep(10_000);
    return { release, rss: await rssOf(daemon.pid), workers: await workers() };
  } finally {
    daemon.kill("SIGTERM");
    await daemon;
  }
}
