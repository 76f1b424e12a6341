// Benchmark: the down window against its floor at 5, 100 and 300 running containers, for
//   docker.io    Debian's package on the sandbox engine (dockerd and containerd run by scripts/sandbox.sh:
//                the service manager is its stop-daemon/start-daemon commands)
//   Docker CE    Docker's packages on a systemd machine (scripts/machine.sh: docker.service with
//                docker.socket listening)
// and two procedures, rounds interleaved, each round in the other order than the one before (bare then
// ours, ours then bare: neither always follows the other), each procedure started on an engine that
// has been up and idle for a second:
//   bare restart  the same build restarted, nothing installed (sandbox: stop-daemon; start-daemon;
//                 machine: systemctl restart docker), its filesystem synced first as ours is:
//                 nothing keeps the API away for less
//   ours          docker-live-upgrade upgrade --to V (staged: install while serving, then the restart),
//                 each round to a new patch release
// An outside client asks GET /_ping back to back (a new connection each, 1 ms apart): the window is the
// longest stretch between two good answers; a refused call is one that failed. From our report: the
// first good ping to the end of verification (every container inspected and compared), and the stop
// to the end of verification. Then, on the same machine, the daemon's resident memory while it waits and
// after a run (bench/daemon-memory.mjs).
import { execa } from "execa";
import { request } from "node:http";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { daemonMemory } from "./daemon-memory.mjs";
import { CLI, docker, median, quartile, ROOT, sandbox, sandboxConfig, SOCKET, table } from "./lib.mjs";

// single rounds of one procedure differ by 15-30% (dockerd's restore, CPU-bound on two cores): with 9
// rounds a row's ratio moved by about 10% from run to run, and 15 narrow that by about a quarter
const ROUNDS = Number(process.env.ROUNDS ?? 15);
const SETTLE_MS = 1_000;
const SIZES = (process.env.WINDOW_SIZES ?? "5,100,300").split(",").map(Number);
const MACHINE = join(ROOT, "scripts/machine.sh");
const NAME = "bench-window";
const machine = (...args) => execa("bash", [MACHINE, ...args]);
const inside = (...args) => machine("exec", NAME, ...args);
const CE = (up) => `5:${up}-1~debian.12~bookworm`;
const env = { DEBIAN_FRONTEND: "noninteractive" };

function pingOnce(socketPath) {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: "/_ping", timeout: 60_000, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode === 200));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
    req.end();
  });
}

/** Pings back to back while `action` runs and until the API answers again: the longest gap, the refused calls. */
async function observe(socketPath, action) {
  let stop = false;
  const t = { window: 0, refused: 0, result: null };
  let lastGood = performance.now();
  const loop = (async () => {
    while (!stop) {
      const ok = await pingOnce(socketPath);
      const now = performance.now();
      if (ok) {
        t.window = Math.max(t.window, now - lastGood);
        lastGood = now;
      } else t.refused++;
      await sleep(1);
    }
  })();
  t.result = await action();
  for (let i = 0; i < 600 && !(await pingOnce(socketPath)); i++) await sleep(50);
  await sleep(200);
  stop = true;
  await loop;
  return t;
}

/** From a run's report: first good ping -> verification done, and stop -> verification done. */
function verifyTimes(report) {
  const end = (name) => {
    const s = report.steps.find((x) => x.name === name);
    return s ? Date.parse(s.startedAt) + s.durationMs : NaN;
  };
  const down = report.steps.find((x) => x.name === "restart" || x.name === "stop");
  const verified = end("verify");
  return { afterPing: verified - end("wait-ready"), afterStop: verified - Date.parse(down.startedAt) };
}

const parseReport = (res) => {
  if (res.exitCode !== 0) throw new Error(`upgrade failed (${res.exitCode}): ${res.stdout.slice(0, 2000)}\n${res.stderr.slice(-2000)}`);
  const report = JSON.parse(res.stdout);
  if (report.outcome !== "upgraded" || report.containers.unchanged.length !== report.containers.before) throw new Error(`upgrade: ${report.outcome}, ${report.containers.unchanged.length}/${report.containers.before} unchanged`);
  return report;
};

/** The docker.io set on the sandbox engine. */
function sandboxSet() {
  let config = null;
  let versions = [];
  return {
    name: "docker.io (sandbox, no systemd)",
    socket: SOCKET,
    async prepare(total) {
      const start = (await execa("dpkg-query", ["-W", "-f=${Version}", "docker.io"])).stdout;
      const m = /^(\d+)\.(\d+)\.(\d+)(.*)-[^-]*$/.exec(start.replace(/^\d+:/, ""));
      if (!m) throw new Error(`cannot read a release from ${start}`);
      versions = Array.from({ length: total }, (_, i) => `${m[1]}.${m[2]}.${Number(m[3]) + 1 + i}${m[4]}-1`);
      await sandbox("repo", start, ...versions);
      config = await sandboxConfig();
    },
    async containers(n) {
      const have = (await docker("ps", "-q", "--filter", "label=dlu-window")).stdout.split("\n").filter(Boolean).length;
      const todo = Array.from({ length: Math.max(0, n - have) }, (_, i) => have + i);
      for (let i = 0; i < todo.length; i += 8) {
        await Promise.all(todo.slice(i, i + 8).map((k) => docker("run", "-d", "--label", "dlu-window", "--name", `window-${k}`, "--network", "none", "local/busybox:1", "sleep", "1000000")));
      }
    },
    bare: async () => {
      // the floor on a quiet filesystem, as ours flushes before its window (see flushBeforeWindow)
      await execa("sync", ["--file-system", "/var/lib/docker-live-upgrade-sandbox/data"]);
      await sandbox("stop-daemon");
      await sandbox("start-daemon");
    },
    ours: async (i) => parseReport(await execa("node", [CLI, "upgrade", "--to", versions[i], "--json", "--config", config], { reject: false, env })),
    async done() {
      const ids = (await docker("ps", "-aq", "--filter", "label=dlu-window")).stdout.split("\n").filter(Boolean);
      for (let i = 0; i < ids.length; i += 100) await docker("rm", "-f", ...ids.slice(i, i + 100));
    },
  };
}

/** Docker's packages on a machine booted with systemd. */
function machineSet() {
  let socket = "";
  let versions = [];
  return {
    name: "Docker CE (systemd machine, docker.socket)",
    get socket() {
      return socket;
    },
    async prepare(total) {
      await machine("down", NAME);
      await machine("up", NAME);
      // one more than the rounds use: the daemon's run (daemonMemory) goes to the newest
      versions = Array.from({ length: total + 1 }, (_, i) => `20.10.${25 + i}`);
      await machine("repo", NAME, ...versions.flatMap((u) => [`docker-ce=${u}`, `docker-ce-cli=${u}`]));
      socket = `/proc/${(await machine("pid", NAME)).stdout.trim()}/root/run/docker.sock`;
    },
    async containers(n) {
      // a fixed script; the counts are its arguments
      await inside("sh", "-c", 'have=$(docker ps -q | wc -l); [ "$have" -ge "$1" ] || seq "$((have + 1))" "$1" | xargs -P 8 -I{} docker run -d --network none --name c{} local/busybox:1 sleep 1000000 >/dev/null', "sh", String(n));
    },
    bare: async () => {
      // Docker's unit allows 3 starts in 60 s: each procedure starts from a clean rate counter
      await inside("systemctl", "reset-failed", "docker.service", "docker.socket");
      await inside("sync", "--file-system", "/var/lib/docker");
      await inside("systemctl", "restart", "docker");
    },
    ours: async (i) => {
      await inside("systemctl", "reset-failed", "docker.service", "docker.socket");
      return parseReport(await inside("docker-live-upgrade", "upgrade", "--to", CE(versions[i]), "--json").catch((err) => err));
    },
    memory: () => daemonMemory(inside, async () => (await inside("dpkg-query", "-W", "-f=${Version}", "docker-ce")).stdout, CE(versions.at(-1))),
    done: () => machine("down", NAME),
  };
}

const f = (x) => `${Math.round(x)} ms`;

export async function runWindow() {
  const rows = [];
  let memory = [];
  for (const set of [sandboxSet(), machineSet()]) {
    await set.prepare(SIZES.length * ROUNDS);
    let next = 0;
    try {
      for (const n of SIZES) {
        await set.containers(n);
        const bare = [], ours = [];
        for (let r = 0; r < ROUNDS; r++) {
          const steps = [async () => bare.push(await observe(set.socket, set.bare)), async () => ours.push(await observe(set.socket, () => set.ours(next++)))];
          for (const step of r % 2 === 0 ? steps : steps.reverse()) {
            await sleep(SETTLE_MS);
            await step();
          }
          console.error(`window: ${set.name}, ${n} containers, round ${r + 1}/${ROUNDS}: bare ${f(bare.at(-1).window)}, ours ${f(ours.at(-1).window)} (refused ${bare.at(-1).refused}/${ours.at(-1).refused})`);
        }
        const b = median(bare.map((x) => x.window)), o = median(ours.map((x) => x.window));
        const times = ours.map((x) => verifyTimes(x.result));
        const spread = (xs) => `${Math.round(quartile(xs, 1))}-${Math.round(quartile(xs, 3))}`;
        rows.push([set.name, String(n), f(b), f(o), `${(o / b).toFixed(2)}x`, `${spread(bare.map((x) => x.window))} / ${spread(ours.map((x) => x.window))} ms`, `${median(bare.map((x) => x.refused))} / ${median(ours.map((x) => x.refused))}`,
          f(median(times.map((t) => t.afterPing))), f(median(times.map((t) => t.afterStop)))]);
      }
      if (set.memory) memory = await set.memory();
    } finally {
      await set.done();
    }
  }
  const mib = (x) => `${x.toFixed(1)} MiB`;
  const mem = memory.map((m) => [m.label, mib(m.ours), mib(m.total), mib(m.node), `${(m.ours / m.node).toFixed(2)}x`, String(m.workers)]);
  return `The down window against a bare restart of the same build, median of ${ROUNDS} interleaved rounds, the middle half of the rounds beside it (outside /_ping back to back)\n\n` +
    table(["set", "containers", "bare restart", "ours", "ours / bare", "middle half (bare / ours)", "refused (bare / ours)", "first ping -> verified", "stop -> verified"], rows) +
    "\n\nThe daemon's resident memory, run by the shipped unit on the systemd machine (VmRSS), against Node.js doing nothing\n\n" +
    table(["moment", "daemon", "its unit, all processes", "node alone", "daemon / node", "workers left"], mem);
}
