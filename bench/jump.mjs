// Benchmark: a MAJOR.MINOR jump on a Debian 13 machine (scripts/machine.sh base-trixie), Debian's
// docker.io 26.1.5 + containerd 1.7 to unstable's real 28.5.2 + containerd 2.1, with JUMP_CONTAINERS
// busybox containers running (default 10; --network none, --restart unless-stopped). Each container's
// outage is read from the engine alike for both procedures: from its stop (State.FinishedAt) to its
// start again (State.StartedAt).
//   ours          docker-live-upgrade upgrade --allow-restart, staged (the default: the packages are
//                 installed while the old dockerd and the containers run, then the containers stop,
//                 dockerd restarts, the containers start again) and stop-first (containers, dockerd,
//                 install, start); each container waited for, up and steady 1 s)
//   by hand       docker stop $(docker ps -q); systemctl stop docker docker.socket; apt-get install
//                 docker.io=V containerd=V runc=V docker-cli=V; systemctl start docker; docker start IDS
//                 (the packages come from the machine's local repository: no download either way)
// Rounds are interleaved, each on a fresh machine. Prints the median and the longest outage per
// container and the ratio against the hand-run procedure.
import { execa } from "execa";
import { join } from "node:path";
import { median, ms, ROOT, table } from "./lib.mjs";

const MACHINE = join(ROOT, "scripts/machine.sh");
const NAME = "bench-jump";
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const N = Number(process.env.JUMP_CONTAINERS ?? 10);
const machine = (...args) => execa("bash", [MACHINE, ...args]);
const inside = (...args) => machine("exec", NAME, ...args);
const sh = (script) => inside("sh", "-c", script);
const version = async (pkg, up) => (await machine("version", pkg, up, "--trixie")).stdout.trim();

async function fresh(order) {
  await machine("down", NAME);
  await machine("up", NAME, "--trixie");
  for (let i = 0; i < N; i++) await inside("docker", "run", "-d", "--name", `c${i}`, "--network", "none", "--restart", "unless-stopped", "local/busybox:1", "sleep", "1000000");
  await machine("repo", NAME, "docker.io=28.5.2");
  await execa("bash", [MACHINE, "exec", NAME, "sh", "-c", "mkdir -p /etc/docker-live-upgrade && cat > /etc/docker-live-upgrade/config.yaml"], { input: `upgrade:\n  order: ${order}\n  restart:\n    steady: 1s\n` });
}

/** Each container's outage (ms): from its stop to its start again, as the engine recorded them. */
async function outages() {
  const out = (await sh("docker inspect -f '{{.State.FinishedAt}} {{.State.StartedAt}} {{.State.Status}}' $(docker ps -aq)")).stdout.trim().split("\n");
  return out.map((l) => {
    const [finished, started, status] = l.split(" ");
    if (status !== "running") throw new Error(`a container is ${status} after the jump`);
    return Date.parse(started) - Date.parse(finished);
  });
}

async function ours() {
  const r = await inside("docker-live-upgrade", "upgrade", "--allow-restart", "--json").catch((e) => e);
  const report = JSON.parse(r.stdout);
  if (report.outcome !== "upgraded") throw new Error(`ours: ${report.outcome}: ${report.error?.message}`);
  return outages();
}

async function byHand(set) {
  await sh("docker stop $(docker ps -q) >/dev/null");
  await inside("systemctl", "stop", "docker.socket", "docker.service");
  await inside("apt-get", "install", "-y", "-q", "--no-install-recommends", ...set);
  await inside("systemctl", "start", "docker.service");
  await sh("docker start $(docker ps -aq) >/dev/null");
  return outages();
}

export async function runJump() {
  const set = [
    `docker.io=${await version("docker.io", "28.5.2")}`,
    `docker-cli=${await version("docker-cli", "28.5.2")}`,
    `containerd=${await version("containerd", "2.1.9")}`,
    `runc=${await version("runc", "1.3.6")}`,
  ];
  const seen = { staged: [], "stop-first": [], hand: [] };
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const order = ["hand", "staged", "stop-first"];
      for (const which of round % 2 ? order.reverse() : order) {
        await fresh(which === "hand" ? "staged" : which);
        seen[which].push(...(which === "hand" ? await byHand(set) : await ours()));
      }
    }
  } finally {
    await machine("down", NAME).catch(() => undefined);
  }
  const base = median(seen.hand);
  const row = (label, xs) => [label, String(xs.length), ms(median(xs)), ms(Math.max(...xs)), `${(median(xs) / base).toFixed(2)}x`];
  return [
    `### A MAJOR.MINOR jump on Debian 13 (26.1.5 -> 28.5.2, containerd 1.7 -> 2.1): outage per container, ${N} containers, ${ROUNDS} round(s) each`,
    table(["procedure", "containers", "median outage", "longest outage", "median vs by hand"], [row("by hand (stop, apt-get install, start, docker start)", seen.hand), row("upgrade --allow-restart (staged, the default)", seen.staged), row("upgrade --allow-restart (stop-first)", seen["stop-first"])]),
  ].join("\n");
}
