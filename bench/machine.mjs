// Benchmark: on a machine with systemd as PID 1 and Docker's packages (scripts/machine.sh), the Docker
// API as a client sees it through /run/docker.sock (a GET /_ping every 20 ms from outside) during
//   ours          docker-live-upgrade upgrade --to V (staged: install while serving, restart
//                 docker.service alone, docker.socket keeps listening)
//   hand-written  systemctl stop docker; apt-get update; apt-get install docker-ce=V docker-ce-cli=V;
//                 systemctl start docker   (what people run today; the package scripts act freely)
//   bare restart  systemctl restart docker   (the floor: no install at all)
// `runMachine("rpm")`: the same on a machine with Docker's rpm packages, where the hand-written
// procedure is systemctl stop docker; dnf install -y docker-ce-V docker-ce-cli-V; systemctl start docker.
// Rounds are interleaved; every install goes to a new patch release. Reports refused calls, the
// longest single call (a connection waiting in the socket's queue) and the longest gap between two
// good answers, with ratios against the hand-written procedure and the bare restart.
import { execa } from "execa";
import { request } from "node:http";
import { join } from "node:path";
import { median, ms, ROOT, table } from "./lib.mjs";

const MACHINE = join(ROOT, "scripts/machine.sh");
const NAME = "bench";
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const machine = (...args) => execa("bash", [MACHINE, ...args]);
const inside = (...args) => machine("exec", NAME, ...args);
const CE = (up) => `5:${up}-1~debian.12~bookworm`;
const CE_RPM = (up) => `3:${up}-1.el9`;

function pingOnce(socketPath) {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: "/_ping", timeout: 60_000, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode === 200));
    });
    req.on("error", () => resolve(false));
    req.end();
  });
}

/** Pings every 20 ms while `action` runs (and until the API answers again afterwards); counts dockerd's starts in the journal. */
async function observe(socketPath, action) {
  let stop = false;
  const t = { refused: 0, calls: 0, longestCall: 0, longestGap: 0, starts: 0 };
  const cursor = /-- cursor: (\S+)/.exec((await inside("journalctl", "-n0", "--show-cursor", "--no-pager")).stdout)?.[1];
  let lastGood = performance.now();
  const loop = (async () => {
    while (!stop) {
      const t0 = performance.now();
      const ok = await pingOnce(socketPath);
      const t1 = performance.now();
      t.calls++;
      t.longestCall = Math.max(t.longestCall, t1 - t0);
      if (ok) {
        t.longestGap = Math.max(t.longestGap, t1 - lastGood);
        lastGood = t1;
      } else t.refused++;
      const wait = 20 - (performance.now() - t0);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  })();
  await action();
  for (let i = 0; i < 300 && !(await pingOnce(socketPath)); i++) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 200));
  stop = true;
  await loop;
  const journal = await inside("journalctl", "-u", "docker.service", "-o", "cat", "--no-pager", ...(cursor ? [`--after-cursor=${cursor}`] : []));
  t.starts = journal.stdout.split("\n").filter((l) => l.startsWith("Starting docker.service")).length;
  return t;
}

export async function runMachine(flavor = "deb") {
  const rpm = flavor === "rpm";
  await machine("down", NAME);
  await machine("up", NAME, ...(rpm ? ["--rpm"] : []));
  const ups = Array.from({ length: ROUNDS * 2 }, (_, i) => `20.10.${25 + i}`);
  console.error(`machine: publishing docker-ce ${ups[0]} .. ${ups.at(-1)}`);
  await machine("repo", NAME, ...ups.flatMap((u) => [`docker-ce=${u}`, `docker-ce-cli=${u}`]));
  const pid = (await machine("pid", NAME)).stdout.trim();
  const socketPath = `/proc/${pid}/root/run/docker.sock`;
  await inside("docker", "run", "-d", "--name", "web", "--network", "host", "local/busybox:1", "httpd", "-f", "-p", "127.0.0.1:18391", "-h", "/www");
  const env = ["env", "DEBIAN_FRONTEND=noninteractive"];
  const results = { ours: [], "hand-written": [], "bare restart": [] };
  let next = 0;
  try {
    for (let r = 0; r < ROUNDS; r++) {
      const v1 = ups[next++], v2 = ups[next++];
      // three starts a round: Docker's unit allows 3 in 60 s (StartLimitBurst), so each procedure
      // starts from a clean rate counter
      const fresh = () => inside("systemctl", "reset-failed", "docker.service", "docker.socket");
      await fresh();
      results["hand-written"].push(await observe(socketPath, async () => {
        await inside("systemctl", "stop", "docker");
        if (rpm) {
          await inside("dnf", "install", "-y", "-q", "--refresh", `docker-ce-${CE_RPM(v1)}`, `docker-ce-cli-1:${v1}-1.el9`);
        } else {
          await inside(...env, "apt-get", "update", "-q");
          await inside(...env, "apt-get", "install", "-y", "-q", `docker-ce=${CE(v1)}`, `docker-ce-cli=${CE(v1)}`);
        }
        await inside("systemctl", "start", "docker");
      }));
      await fresh();
      results["bare restart"].push(await observe(socketPath, () => inside("systemctl", "restart", "docker")));
      await fresh();
      results.ours.push(await observe(socketPath, async () => {
        const res = await execa("bash", [MACHINE, "exec", NAME, "docker-live-upgrade", "upgrade", "--to", rpm ? CE_RPM(v2) : CE(v2), "--json"], { reject: false });
        if (res.exitCode !== 0) throw new Error(`upgrade failed (${res.exitCode}): ${res.stdout.slice(0, 2000)}\n${res.stderr.slice(-2000)}`);
      }));
      console.error(`machine: round ${r + 1}/${ROUNDS}: ${Object.entries(results).map(([k, v]) => `${k} starts ${v.at(-1).starts}, refused ${v.at(-1).refused}, longest gap ${ms(v.at(-1).longestGap)}`).join("; ")}`);
    }
  } finally {
    await machine("down", NAME);
  }
  const gap = (k) => median(results[k].map((x) => x.longestGap));
  const hand = gap("hand-written");
  const bare = gap("bare restart");
  const rows = Object.entries(results).map(([k, v]) => [
    k,
    String(median(v.map((x) => x.starts))),
    String(median(v.map((x) => x.refused))),
    ms(median(v.map((x) => x.longestCall))),
    ms(gap(k)),
    `${(gap(k) / hand).toFixed(2)}x`,
    `${(gap(k) / bare).toFixed(2)}x`,
  ]);
  return `systemd machine, Docker's ${rpm ? "rpm packages (dnf)" : "packages"}: the API through docker.socket, median of ${ROUNDS} interleaved rounds (20 ms outside ping)\n\n` +
    table(["procedure", "dockerd starts", "refused calls", "longest call", "longest gap", "gap vs hand-written", "gap vs bare restart"], rows);
}
