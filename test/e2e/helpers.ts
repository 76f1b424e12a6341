import { execa, type ResultPromise } from "execa";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parse, stringify } from "yaml";
import type { RunReport } from "../../src/report/report.js";

export const ROOT = resolve(import.meta.dirname, "../..");
export const SANDBOX = join(ROOT, "scripts/sandbox.sh");
export const SANDBOX_DIR = "/var/lib/docker-live-upgrade-sandbox";
export const STATE_DIR = `${SANDBOX_DIR}/state`;
export const SOCKET = "/run/docker-live-upgrade-sandbox/docker.sock";
export const CLI = join(ROOT, "dist/src/cli/main.js");
export const OLD = "20.10.24+dfsg1-1+deb12u1+b6";

export async function sandbox(...args: string[]): Promise<string> {
  return (await execa("bash", [SANDBOX, ...args], { env: { DLU_PREINST_SLEEP: "20" } })).stdout;
}

export async function docker(...args: string[]): Promise<string> {
  return (await execa("/usr/bin/docker", ["-H", `unix://${SOCKET}`, ...args])).stdout;
}

export async function dpkgVersion(name: string): Promise<{ version: string; status: string }> {
  const { stdout } = await execa("dpkg-query", ["-W", "-f=${Version}\t${Status}", name]);
  const [version, status] = stdout.split("\t");
  return { version: version!, status: status! };
}

export async function dockerdPid(): Promise<number> {
  return Number((await readFile("/run/docker-live-upgrade-sandbox/docker.pid", "utf8")).trim());
}

export async function waitApi(): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if ((await execa("/usr/bin/docker", ["-H", `unix://${SOCKET}`, "version"], { reject: false })).exitCode === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("sandbox dockerd did not answer");
}

type Yaml = Record<string, unknown>;
const merge = (a: Yaml, b: Yaml): Yaml => {
  const out: Yaml = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] = cur && v && typeof cur === "object" && typeof v === "object" && !Array.isArray(v) ? merge(cur as Yaml, v as Yaml) : v;
  }
  return out;
};

/** A config file: the sandbox's own, deep-merged with the given YAML (which wins). */
export async function writeConfig(extra = "", raw = false): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "dlu-e2e-"));
  const file = join(dir, "config.yaml");
  await sandbox("config", file);
  if (raw) await writeFile(file, `${await readFile(file, "utf8")}${extra}`);
  else await writeFile(file, stringify(merge(parse(await readFile(file, "utf8")) as Yaml, (parse(extra) ?? {}) as Yaml)));
  return file;
}

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  report: RunReport | null;
}

export function startCli(args: string[], options: { detached?: boolean } = {}): ResultPromise {
  return execa("node", [CLI, ...args], { reject: false, detached: options.detached ?? false, env: { DOCKER_LIVE_UPGRADE_CONFIG: "" } });
}

export async function cli(...args: string[]): Promise<CliResult> {
  const r = await startCli(args);
  let report: RunReport | null = null;
  if (args.includes("--json")) {
    try {
      const parsed = JSON.parse(String(r.stdout)) as RunReport | RunReport[];
      report = Array.isArray(parsed) ? parsed.at(-1)! : parsed;
    } catch {
      report = null;
    }
  }
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr), report };
}

export interface Identity {
  id: string;
  name: string;
  pid: number;
  startedAt: string;
  paused: boolean;
  status: string;
}

/** Every container's identity, read with the Docker CLI (independent of the tool under test). */
export async function identities(): Promise<Identity[]> {
  const ids = (await docker("ps", "-aq", "--no-trunc")).split("\n").filter(Boolean);
  if (!ids.length) return [];
  const out = await docker("inspect", "-f", "{{.Id}}\t{{.Name}}\t{{.State.Pid}}\t{{.State.StartedAt}}\t{{.State.Paused}}\t{{.State.Status}}", ...ids);
  return out
    .split("\n")
    .map((l) => l.split("\t"))
    .map(([id, name, pid, startedAt, paused, status]) => ({ id: id!, name: name!.slice(1), pid: Number(pid), startedAt: startedAt!, paused: paused === "true", status: status! }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

export const WEB_PORT = 18_080;

/** The standard set: a probed HTTP service, a restart-policy one, a paused, an exited, a continuous logger. */
export async function makeContainers(): Promise<void> {
  await removeContainers();
  const run = (...a: string[]) => docker("run", "-d", ...a);
  await run("--name", "web", "--network", "host", "--restart", "unless-stopped", "local/busybox:1", "httpd", "-f", "-p", `127.0.0.1:${WEB_PORT}`, "-h", "/www");
  await run("--name", "always", "--network", "none", "--restart", "always", "local/busybox:1", "sleep", "1000000");
  await run("--name", "paused", "--network", "none", "local/busybox:1", "sleep", "1000000");
  await docker("pause", "paused");
  await run("--name", "logger", "--network", "none", "local/busybox:1", "sh", "-c", "i=0; while true; do i=$((i+1)); echo line $i; sleep 0.01; done");
  await docker("run", "--name", "exited", "--network", "none", "local/busybox:1", "true");
}

export async function removeContainers(): Promise<void> {
  const ids = (await docker("ps", "-aq")).split("\n").filter(Boolean);
  if (ids.length) await docker("rm", "-f", ...ids);
}

/**
 * Back to the starting point: the original docker.io installed and running, no journal, no reports,
 * no package holds, the given releases in the local repository.
 */
export async function resetEngine(releases: string[]): Promise<void> {
  // every package a run may hold (packages.hold holds the engine and its companions after a run)
  await execa("apt-mark", ["unhold", "docker.io", "containerd", "runc"], { reject: false });
  const now = await dpkgVersion("docker.io");
  if (now.version !== OLD || now.status !== "install ok installed") {
    await execa("dpkg", ["--configure", "-a"], { reject: false });
    await execa("apt-get", ["install", "-y", "-q", "--allow-downgrades", "--reinstall", `docker.io=${OLD}`], { env: { DEBIAN_FRONTEND: "noninteractive" } });
    await sandbox("stop-daemon");
  }
  await sandbox("start-daemon");
  await waitApi();
  await rm(STATE_DIR, { recursive: true, force: true });
  if (releases.length) await sandbox("repo", ...releases);
}

/** Polls `fn` until it holds, or fails naming what it waited for. */
export async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** `pid` and every process below it, whatever session it went to (apt-get runs dpkg in a session of its own). */
export async function processTree(pid: number): Promise<number[]> {
  const { readdir, readFile: read } = await import("node:fs/promises");
  const parent = new Map<number, number>();
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await read(`/proc/${name}/stat`, "utf8").catch(() => null);
    const m = stat ? /\)\s+\S\s+(\d+)/.exec(stat) : null;
    if (m) parent.set(Number(name), Number(m[1]));
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) for (const [child, p] of parent) if (p === tree[i] && !tree.includes(child)) tree.push(child);
  return tree;
}

/**
 * A power cut for one process and everything it started (and nothing else on the machine): the tree
 * is frozen first, so nothing in it can react, then killed.
 */
export async function killTree(pid: number): Promise<void> {
  const tree = await processTree(pid);
  const send = (p: number, s: NodeJS.Signals) => {
    try {
      process.kill(p, s);
    } catch {
      // gone already
    }
  };
  for (const p of tree) send(p, "SIGSTOP");
  for (const p of tree) send(p, "SIGKILL");
}
