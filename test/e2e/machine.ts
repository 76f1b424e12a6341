import { execa, execaSync, type Options } from "execa";
import { afterEach } from "vitest";
import { request } from "node:http";
import { join } from "node:path";
import type { RunReport } from "../../src/report/report.js";
import { ROOT, type Identity } from "./helpers.js";

export const MACHINE = join(ROOT, "scripts/machine.sh");

/** The machines' flavors: Docker's .deb set on Debian 12, Docker's rpm set on Debian 12, Debian 13's own packages. */
export type Flavor = "deb" | "rpm" | "trixie";

/** Docker's version forms, as the testbed builds them: asked of it (scripts/testbed/versions.sh), never written twice. */
const versions = new Map<string, string>();
const versionOf = (pkg: string, up: string, flavor: Flavor = "deb"): string => {
  const key = `${pkg} ${up} ${flavor}`;
  if (!versions.has(key)) versions.set(key, execaSync("bash", [MACHINE, "version", pkg, up, ...(flavor === "deb" ? [] : [`--${flavor}`])]).stdout.trim());
  return versions.get(key)!;
};
export const CE = (up: string) => versionOf("docker-ce", up);
export const CONTAINERD = (up: string) => versionOf("containerd.io", up);
/** ...and of Docker's rpm packages (EL9). */
export const CE_RPM = (up: string) => versionOf("docker-ce", up, "rpm");
export const CONTAINERD_RPM = (up: string) => versionOf("containerd.io", up, "rpm");
export const CLI_RPM = (up: string) => versionOf("docker-ce-cli", up, "rpm");
/**
 * ...and of Debian's own packages on a trixie machine (docker.io, docker-cli, containerd, runc, tini,
 * tini-static): the installed release's or unstable's real version (DEBIAN13("docker.io", "28.5.2") is
 * 28.5.2+dfsg4-5), else a repack's (DEBIAN13("docker.io", "26.1.6") is 26.1.6+dfsg1-1).
 * @public
 */
export const DEBIAN13 = (pkg: string, up: string) => versionOf(pkg, up, "trixie");

/** One machine of the testbed: Debian 12 (or 13) booted by systemd-nspawn, systemd as PID 1, an engine from packages. */
export class Machine {
  /**
   * `rpm`: Docker's rpm packages installed by dnf from a local repository instead of the .deb set.
   * `trixie`: Debian 13 with Debian's own docker.io 26.1, its repository serving unstable's real 28.5 on
   * `repo("docker.io=28.5.2")` (with containerd 2.1, runc 1.3, docker-cli 28.5 and tini-static).
   */
  constructor(
    readonly name: string,
    readonly flavor: Flavor = "deb",
  ) {}

  async up(): Promise<void> {
    await execa("bash", [MACHINE, "up", this.name, ...(this.flavor === "deb" ? [] : [`--${this.flavor}`])], { stdio: "inherit" });
  }

  /** Pulls the plug (every process ends at once); `up()` boots the same disk again. */
  async kill(): Promise<void> {
    await execa("bash", [MACHINE, "kill", this.name], { stdio: "inherit" });
  }

  async down(): Promise<void> {
    await execa("bash", [MACHINE, "down", this.name], { stdio: "inherit" });
  }

  /** Serves these releases (PACKAGE=UPSTREAM[:FAULT]) besides the installed ones. */
  async repo(...specs: string[]): Promise<void> {
    await execa("bash", [MACHINE, "repo", this.name, ...specs], { env: { DLU_PREINST_SLEEP: "15" } });
  }

  exec(args: string[], options: Options = {}) {
    return execa("bash", [MACHINE, "exec", this.name, ...args], { reject: false, ...options });
  }

  async run(...args: string[]): Promise<string> {
    const r = await this.exec(args);
    if (r.exitCode !== 0) throw new Error(`${args.join(" ")} in ${this.name} exited ${r.exitCode}: ${String(r.stderr)}`);
    return String(r.stdout);
  }

  async sh(script: string): Promise<string> {
    return this.run("sh", "-c", script);
  }

  async pid(): Promise<number> {
    return Number((await execa("bash", [MACHINE, "pid", this.name])).stdout.trim());
  }

  /** The machine's docker.sock as the host reaches it (through its PID 1's root). */
  async socket(): Promise<string> {
    return `/proc/${await this.pid()}/root/run/docker.sock`;
  }

  /** `docker-live-upgrade ARGS --json` inside the machine, as a user on it runs it. */
  async cli(...args: string[]): Promise<{ exitCode: number; report: RunReport; stderr: string }> {
    const r = await this.exec(["docker-live-upgrade", ...args, "--json"]);
    let report: RunReport;
    try {
      report = JSON.parse(String(r.stdout)) as RunReport;
    } catch {
      throw new Error(`no JSON report (exit ${r.exitCode}): ${String(r.stderr).slice(-2000)}`);
    }
    return { exitCode: r.exitCode ?? -1, report, stderr: String(r.stderr) };
  }

  /** deb, trixie: "VERSION STATUS" as dpkg-query says; rpm: every [EPOCH:]VERSION-RELEASE rpm records, comma-separated. */
  async version(pkg: string): Promise<string> {
    if (this.flavor === "rpm") {
      const r = await this.exec(["rpm", "-q", "--qf", "%{EPOCH}:%{VERSION}-%{RELEASE}\\n", pkg]);
      return String(r.stdout).trim().split("\n").map((v) => v.replace(/^(\(none\)|0):/, "")).join(",");
    }
    return (await this.run("dpkg-query", "-W", "-f=${Version} ${Status}", pkg)).trim();
  }

  async unit(unit: string, ...props: string[]): Promise<Record<string, string>> {
    const out = await this.run("systemctl", "show", ...props.flatMap((p) => ["-p", p]), unit);
    return Object.fromEntries(out.split("\n").filter(Boolean).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
  }

  /** How often systemd started a unit since a moment (its journal). */
  async starts(unit: string, since: Date): Promise<number> {
    const out = await this.run("journalctl", "-u", unit, "-o", "cat", "--no-pager", "--since", `@${Math.floor(since.getTime() / 1000)}`);
    return out.split("\n").filter((l) => l.startsWith(`Starting ${unit}`)).length;
  }

  /** Every container's identity, read with the Docker CLI inside the machine. */
  async identities(): Promise<Identity[]> {
    const ids = (await this.run("docker", "ps", "-aq", "--no-trunc")).split("\n").filter(Boolean);
    if (!ids.length) return [];
    const out = await this.run("docker", "inspect", "-f", "{{.Id}}\t{{.Name}}\t{{.State.Pid}}\t{{.State.StartedAt}}\t{{.State.Paused}}\t{{.State.Status}}", ...ids);
    return out
      .split("\n")
      .map((l) => l.split("\t"))
      .map(([id, name, pid, startedAt, paused, status]) => ({ id: id!, name: name!.slice(1), pid: Number(pid), startedAt: startedAt!, paused: paused === "true", status: status! }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The standard set: an HTTP service on 127.0.0.1:port, a restart-policy one, a paused, a logger, an exited one. */
  async makeContainers(port: number): Promise<void> {
    const run = (...a: string[]) => this.run("docker", "run", "-d", ...a);
    await run("--name", "web", "--network", "host", "--restart", "unless-stopped", "local/busybox:1", "httpd", "-f", "-p", `127.0.0.1:${port}`, "-h", "/www");
    await run("--name", "always", "--network", "none", "--restart", "always", "local/busybox:1", "sleep", "1000000");
    await run("--name", "paused", "--network", "none", "local/busybox:1", "sleep", "1000000");
    await this.run("docker", "pause", "paused");
    await run("--name", "logger", "--network", "none", "local/busybox:1", "sh", "-c", "i=0; while true; do i=$((i+1)); echo line $i; sleep 0.01; done");
    await this.run("docker", "run", "--name", "exited", "--network", "none", "local/busybox:1", "true");
  }

  async writeFile(path: string, content: string): Promise<void> {
    await execa("bash", [MACHINE, "exec", this.name, "sh", "-c", 'mkdir -p "$(dirname "$1")" && cat > "$1"', "sh", path], { input: content });
  }

  async readFile(path: string): Promise<string> {
    return this.run("cat", path);
  }
}

export interface PingTally {
  ok: number;
  failed: number;
  /** The longest single call, answered or not. */
  longestMs: number;
  errors: string[];
}

/** A client calling GET /_ping through the socket every `intervalMs` until stopped. */
export function pinger(socketPath: string, intervalMs = 20): { stop: () => Promise<PingTally> } {
  const tally: PingTally = { ok: 0, failed: 0, longestMs: 0, errors: [] };
  let running = true;
  const once = () =>
    new Promise<void>((resolve) => {
      const t0 = Date.now();
      const done = (ok: boolean, why?: string) => {
        tally.longestMs = Math.max(tally.longestMs, Date.now() - t0);
        if (ok) tally.ok++;
        else {
          tally.failed++;
          if (why && tally.errors.length < 10) tally.errors.push(why);
        }
        resolve();
      };
      const req = request({ socketPath, path: "/_ping", timeout: 60_000, agent: false }, (res) => {
        res.resume();
        res.on("end", () => done(res.statusCode === 200, `HTTP ${res.statusCode}`));
      });
      req.on("error", (e: NodeJS.ErrnoException) => done(false, e.code ?? e.message));
      req.end();
    });
  const loop = (async () => {
    while (running) {
      await once();
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return tally;
    },
  };
}

/**
 * One machine per test: `boot(name, port, ...releases)` starts it afresh with the standard containers
 * (web on 127.0.0.1:port) and the given releases in its repository; it is torn down after the test.
 */
export function bootEach(flavor: Flavor = "deb"): (name: string, port: number, ...releases: string[]) => Promise<Machine> {
  let current: Machine | null = null;
  afterEach(async () => {
    await current?.down();
    current = null;
  });
  return async (name, port, ...releases) => {
    const m = new Machine(name, flavor);
    current = m;
    await m.down();
    await m.up();
    await m.makeContainers(port);
    await m.repo(...releases);
    return m;
  };
}
