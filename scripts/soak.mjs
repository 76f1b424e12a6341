// Soak on the sandbox engine: CYCLES pairs of (a real upgrade to the next patch release, then an upgrade
// to a release whose dockerd exits at once, which must roll back), with an HTTP probe and the standard
// containers. After every run, each container's Id, Pid, StartedAt and Paused are read with the Docker
// CLI and compared with the start. Prints one line per run and a summary.
//   CYCLES=20 node scripts/soak.mjs        (as root; scripts/sandbox.sh up first)
import { execa } from "execa";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");
const CYCLES = Number(process.env.CYCLES ?? 20);
const SOCK = "/run/docker-live-upgrade-sandbox/docker.sock";
const docker = (...a) => execa("/usr/bin/docker", ["-H", `unix://${SOCK}`, ...a]);
const sandbox = (...a) => execa("bash", [join(ROOT, "scripts/sandbox.sh"), ...a]);

const identities = async () => {
  const ids = (await docker("ps", "-aq", "--no-trunc")).stdout.split("\n").filter(Boolean);
  const out = (await docker("inspect", "-f", "{{.Name}} {{.Id}} {{.State.Pid}} {{.State.StartedAt}} {{.State.Paused}}", ...ids)).stdout;
  return new Map(out.split("\n").map((l) => [l.split(" ")[0], l]));
};

await sandbox("up");
const cur = (await execa("dpkg-query", ["-W", "-f=${Version}", "docker.io"])).stdout;
const m = /^(\d+)\.(\d+)\.(\d+)([^-]*)-/.exec(cur);
if (!m) throw new Error(`cannot read ${cur}`);
const v = (i) => `${m[1]}.${m[2]}.${Number(m[3]) + i}${m[4]}-1`;
const specs = [cur];
for (let k = 0; k < CYCLES; k++) specs.push(v(2 * k + 1), `${v(2 * k + 2)}:dockerd-exits`);
console.error(`soak: publishing ${specs.length} releases`);
await sandbox("repo", ...specs);

for (const id of (await docker("ps", "-aq")).stdout.split("\n").filter(Boolean)) await docker("rm", "-f", id);
const run = (...a) => docker("run", "-d", ...a);
await run("--name", "web", "--network", "host", "--restart", "unless-stopped", "local/busybox:1", "httpd", "-f", "-p", "127.0.0.1:18081", "-h", "/www");
await run("--name", "always", "--network", "none", "--restart", "always", "local/busybox:1", "sleep", "1000000");
await run("--name", "paused", "--network", "none", "local/busybox:1", "sleep", "1000000");
await docker("pause", "paused");
await run("--name", "logger", "--network", "none", "local/busybox:1", "sh", "-c", "i=0; while true; do i=$((i+1)); echo line $i; sleep 0.01; done");
await docker("run", "--name", "exited", "--network", "none", "local/busybox:1", "true");
const start = await identities();

const dir = await mkdtemp(join(tmpdir(), "dlu-soak-"));
const config = join(dir, "config.yaml");
await sandbox("config", config);
await writeFile(config, (await readFile(config, "utf8")) + "probes:\n  - name: web\n    http: http://127.0.0.1:18081/\n    interval: 100ms\nupgrade:\n  downtimeBudget: 10s\ndocker:\n  readyTimeout: 10s\n".replace("docker:\n  readyTimeout: 10s\n", ""));

let lost = 0, restarted = 0, probeFailures = 0, probeAttempts = 0;
const tally = { upgraded: 0, "rolled-back": 0, other: 0 };
const downs = [];
for (let k = 0; k < CYCLES; k++) {
  for (const [target, expected] of [[v(2 * k + 1), "upgraded"], [v(2 * k + 2), "rolled-back"]]) {
    const r = await execa("node", [join(ROOT, "dist/src/cli/main.js"), "upgrade", "--to", target, "--json", "--config", config], { reject: false });
    const report = JSON.parse(r.stdout);
    const now = await identities();
    const changed = [...start.keys()].filter((n) => now.get(n) !== start.get(n));
    const gone = [...start.keys()].filter((n) => !now.has(n));
    lost += gone.length;
    restarted += changed.length - gone.length;
    const p = report.probes[0] ?? { attempts: 0, failures: 0 };
    probeFailures += p.failures;
    probeAttempts += p.attempts;
    if (report.outcome === expected) tally[expected]++;
    else tally.other++;
    if (report.daemonDowntimeMs !== null) downs.push(report.daemonDowntimeMs);
    console.log(`cycle ${k + 1} ${target}: ${report.outcome} (exit ${r.exitCode}), API down ${report.daemonDowntimeMs} ms, containers changed ${changed.length}, probe ${p.failures}/${p.attempts} failed`);
  }
}
const installed = (await execa("dpkg-query", ["-W", "-f=${Version} ${Status}", "docker.io"])).stdout;
console.log(`soak: ${CYCLES} cycles (${CYCLES} upgrades, ${CYCLES} forced rollbacks): upgraded ${tally.upgraded}, rolled back ${tally["rolled-back"]}, unexpected ${tally.other}; containers lost ${lost}, restarted ${restarted}; probe failures ${probeFailures} of ${probeAttempts}; API down per run median ${downs.sort((a, b) => a - b)[Math.floor(downs.length / 2)]} ms, max ${Math.max(...downs)} ms; docker.io now ${installed}`);
