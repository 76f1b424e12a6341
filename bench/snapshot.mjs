// Benchmark 2: snapshot + verify (two snapshots and a diff, as a run does) at 50, 150 and 300
// containers, against the Docker CLI's `docker inspect $(docker ps -aq)`, interleaved rounds.
import { execa } from "execa";
import { CLI, DOCKER, docker, median, ms, table, SOCKET } from "./lib.mjs";

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const SIZES = (process.env.SIZES ?? "50,150,300").split(",").map(Number);
void CLI;

async function ensureContainers(n) {
  const have = (await docker("ps", "-aq", "--filter", "label=dlu-bench")).stdout.split("\n").filter(Boolean).length;
  const todo = Array.from({ length: Math.max(0, n - have) }, (_, i) => have + i);
  for (let i = 0; i < todo.length; i += 8) {
    await Promise.all(todo.slice(i, i + 8).map((k) => docker("run", "-d", "--label", "dlu-bench", "--name", `bench-${k}`, "--network", "none", "local/busybox:1", "sleep", "1000000")));
  }
}

export async function runSnapshot() {
  const { DockerodeDocker } = await import("../dist/src/adapters/docker/dockerode-docker.js");
  const { takeSnapshot } = await import("../dist/src/upgrade/snapshot.js");
  const { diffContainers } = await import("../dist/src/upgrade/diff.js");
  const api = new DockerodeDocker(SOCKET);
  const rows = [];
  for (const n of SIZES) {
    await ensureContainers(n);
    const count = (await docker("ps", "-aq")).stdout.split("\n").filter(Boolean).length;
    const ours = [], cli = [];
    for (let r = 0; r < ROUNDS; r++) {
      let t = performance.now();
      const ids = (await execa(DOCKER[0], [...DOCKER.slice(1), "ps", "-aq"])).stdout.split("\n").filter(Boolean);
      await execa(DOCKER[0], [...DOCKER.slice(1), "inspect", ...ids]);
      cli.push(performance.now() - t);
      t = performance.now();
      const before = await takeSnapshot(api);
      const after = await takeSnapshot(api);
      const d = diffContainers(before, after);
      ours.push(performance.now() - t);
      if (d.unchanged.length !== count) throw new Error(`diff saw ${d.unchanged.length} of ${count}`);
    }
    rows.push([String(count), ms(median(ours)), ms(median(cli)), `${(median(ours) / median(cli)).toFixed(2)}x`]);
    console.error(`snapshot: ${count} containers: ours ${ms(median(ours))}, CLI ${ms(median(cli))}`);
  }
  return `Snapshot + verify (two snapshots + diff) vs \`docker inspect $(docker ps -aq)\`, median of ${ROUNDS}\n\n` +
    table(["containers", "ours", "docker CLI", "ratio"], rows);
}

export async function removeBenchContainers() {
  const ids = (await docker("ps", "-aq", "--filter", "label=dlu-bench")).stdout.split("\n").filter(Boolean);
  for (let i = 0; i < ids.length; i += 100) await docker("rm", "-f", ...ids.slice(i, i + 100));
}
