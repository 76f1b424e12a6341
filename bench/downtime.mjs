// Benchmark 1: how long the Docker API is unreachable, measured from outside (20 ms /_ping), for
//   ours            docker-live-upgrade upgrade --to V (staged: install while serving, one restart)
//   hand-written    stop; apt-get update; apt-get install docker.io=V; start
//   stop-first+deb  the package already on disk: stop; dpkg -i; start
//   bare restart    stop; start (the floor: the new binary has to start)
// Rounds are interleaved; every install goes to a new patch release from the local repository.
import { execa } from "execa";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI, measureDown, median, ms, sandbox, sandboxConfig, table } from "./lib.mjs";

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const env = { DEBIAN_FRONTEND: "noninteractive", NEEDRESTART_SUSPEND: "1" };
const current = async () => (await execa("dpkg-query", ["-W", "-f=${Version}", "docker.io"])).stdout;

export async function runDowntime() {
  const start = await current();
  const up = start.replace(/-[^-]*$/, "").replace(/^\d+:/, "");
  const m = /^(\d+)\.(\d+)\.(\d+)(.*)$/.exec(up);
  if (!m) throw new Error(`cannot read a release from ${start}`);
  const versions = Array.from({ length: ROUNDS * 3 }, (_, i) => `${m[1]}.${m[2]}.${Number(m[3]) + 1 + i}${m[4]}-1`);
  console.error(`downtime: publishing ${versions.length} releases ${versions[0]} .. ${versions.at(-1)}`);
  await sandbox("repo", start, ...versions);
  const config = await sandboxConfig();
  const debs = await mkdtemp(join(tmpdir(), "dlu-debs-"));
  const results = { ours: [], "hand-written": [], "stop-first+deb": [], "bare restart": [] };
  let next = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const v1 = versions[next++], v2 = versions[next++], v3 = versions[next++];
    results["hand-written"].push(await measureDown(async () => {
      await sandbox("stop-daemon");
      await execa("apt-get", ["update", "-q"], { env });
      await execa("apt-get", ["install", "-y", "-q", `docker.io=${v1}`], { env });
      await sandbox("start-daemon");
    }));
    await execa("apt-get", ["download", "-q", `docker.io=${v2}`], { cwd: debs, env });
    const file = join(debs, `docker.io_${v2}_amd64.deb`);
    results["stop-first+deb"].push(await measureDown(async () => {
      await sandbox("stop-daemon");
      await execa("dpkg", ["-i", file], { env });
      await sandbox("start-daemon");
    }));
    results["bare restart"].push(await measureDown(async () => {
      await sandbox("stop-daemon");
      await sandbox("start-daemon");
    }));
    let reported = null;
    results.ours.push(await measureDown(async () => {
      const res = await execa("node", [CLI, "upgrade", "--to", v3, "--json", "--config", config], { reject: false });
      if (res.exitCode !== 0) throw new Error(`upgrade failed (${res.exitCode}): ${res.stdout.slice(0, 2000)}\n${res.stderr.slice(-2000)}`);
      reported = JSON.parse(res.stdout).daemonDowntimeMs;
    }));
    console.error(`downtime: round ${r + 1}/${ROUNDS}: ${Object.entries(results).map(([k, v]) => `${k} ${ms(v.at(-1))}`).join(", ")} (ours reported ${ms(reported)})`);
  }
  const hand = median(results["hand-written"]);
  const bare = median(results["bare restart"]);
  const rows = Object.entries(results).map(([k, v]) => [k, ms(median(v)), `${(median(v) / hand).toFixed(2)}x`, `${(median(v) / bare).toFixed(2)}x`, v.map(ms).join(", ")]);
  return `API down window, median of ${ROUNDS} interleaved rounds (20 ms outside ping)\n\n` +
    table(["procedure", "median", "vs hand-written", "vs bare restart", "rounds"], rows);
}
