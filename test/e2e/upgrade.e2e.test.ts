import { execa } from "execa";
import { link, mkdir, mkdtemp, readdir, readFile, readlink, rm, rmdir, symlink, writeFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { createServer as httpServer } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DockerodeDocker } from "../../src/adapters/docker/dockerode-docker.js";
import { pingSocket } from "../../src/probes/transport.js";
import { createHost } from "../../src/adapters/host/proc-host.js";
import { compareDebVersions } from "../../src/versions/dpkg-version.js";
import { cli, docker, dockerdPid, dpkgVersion, identities, makeContainers, OLD, removeContainers, resetEngine, sandbox, SOCKET, STATE_DIR, WEB_PORT, writeConfig, waitApi } from "./helpers.js";

const NEXT = "20.10.25+dfsg1-1";
const MINOR = "20.11.0+dfsg1-1";
const probes = `probes:\n  - name: web\n    http: http://127.0.0.1:${WEB_PORT}/\n    interval: 100ms\n`;

/** A test server on a unix socket in `dir`; resolves with the socket's path once it listens. */
const listen = (server: { listen(path: string, cb: () => void): unknown }, dir: string, name: string) => new Promise<string>((r) => server.listen(join(dir, name), () => r(join(dir, name))));
const close = (server: { close(cb: () => void): unknown }) => new Promise<void>((r) => server.close(() => r()));

describe("live upgrade on a real engine", () => {
  beforeAll(async () => {
    await resetEngine([NEXT, MINOR]);
    await makeContainers();
  });

  it("upgrade --dry-run changes nothing: same daemon, same package, no download, no journal", async () => {
    const config = await writeConfig(probes);
    const pid = await dockerdPid();
    const before = await identities();
    const r = await cli("upgrade", "--dry-run", "--json", "--config", config);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.report).toMatchObject({ outcome: "would-upgrade", dryRun: true, engine: { package: "docker.io", from: OLD, to: NEXT } });
    expect(r.report!.packages).toEqual([{ name: "docker.io", from: OLD, to: NEXT }]);
    expect(r.report!.snapshot.map((s) => s.name).sort()).toEqual(before.map((b) => b.name));
    expect(await dockerdPid()).toBe(pid);
    expect((await dpkgVersion("docker.io")).version).toBe(OLD);
    // no download: neither where apt keeps packages nor where a real run fetches them (stateDir/cache/RUN/{target,rollback})
    expect((await readdir("/var/cache/apt/archives")).filter((f) => f.startsWith("docker.io_20.10.25"))).toEqual([]);
    const written = (await readdir(STATE_DIR, { recursive: true }).catch(() => [] as string[])).map(String);
    expect(written.filter((f) => f.endsWith(".deb") || f.startsWith("cache/"))).toEqual([]);
    expect(await readdir(STATE_DIR).catch(() => [])).not.toContain("journal.json");
    expect(await identities()).toEqual(before);
  });

  it("refuses a minor jump with exit 3 and leaves the daemon untouched", async () => {
    const config = await writeConfig();
    const pid = await dockerdPid();
    const r = await cli("upgrade", "--to", "20.11.0", "--json", "--config", config);
    expect(r.exitCode).toBe(3);
    expect(r.report?.outcome).toBe("refused");
    expect(r.report?.error?.message).toMatch(/crosses from 20\.10 to 20\.11.*allowed in 20\.10: 20\.10\.25\+dfsg1-1/);
    expect(await dockerdPid()).toBe(pid);
    expect((await dpkgVersion("docker.io")).version).toBe(OLD);
    expect(await docker("version", "-f", "{{.Server.Version}}")).toBe("20.10.24+dfsg1");
  });

  it("upgrades to the next patch release while every container keeps running", async () => {
    const config = await writeConfig(probes);
    const before = await identities();
    const pid = await dockerdPid();
    const r = await cli("upgrade", "--json", "--config", config);

    expect(r.exitCode, r.stderr).toBe(0);
    const report = r.report!;
    expect(report.outcome).toBe("upgraded");
    expect(report.engine).toEqual({ package: "docker.io", from: OLD, to: NEXT });
    expect(await dpkgVersion("docker.io")).toEqual({ version: NEXT, status: "install ok installed" });
    expect(await docker("version", "-f", "{{.Server.Version}}")).toBe("20.10.25+dfsg1");
    expect(await dockerdPid()).not.toBe(pid);
    // Id, Pid, StartedAt, Paused of every container, read independently with the Docker CLI.
    expect(await identities()).toEqual(before);
    expect(before.find((c) => c.name === "paused")?.paused).toBe(true);
    expect(report.containers).toMatchObject({ before: 5, after: 5, restarted: [], missing: [], changed: [], new: [] });
    expect(report.containers!.unchanged).toHaveLength(5);
    // the configured probe, and the built-in one of the API: without docker.socket (the sandbox's
    // dockerd listens itself) its calls are refused while dockerd restarts, and the report says so
    expect(report.probes).toEqual([
      expect.objectContaining({ name: "web", failures: 0 }),
      expect.objectContaining({ name: "docker-api", target: `unix://${SOCKET}` }),
    ]);
    expect(report.probes[1]!.attempts).toBeGreaterThan(5);
    expect(report.probes[0]!.attempts).toBeGreaterThan(5);
    expect(report.daemonDowntimeMs).toBeGreaterThan(0);
    expect(report.checks.filter((c) => !c.ok && c.level === "error")).toEqual([]);
    expect(report.steps.map((s) => s.name)).toEqual(expect.arrayContaining(["preflight", "download", "install", "stop", "start", "wait-ready", "verify"]));
    // the logger kept writing across the window
    const lines = (await docker("logs", "--tail", "1", "logger")).trim();
    expect(lines).toMatch(/^line \d+$/);
  });

  it("holds the running dockerd's binary open until released (the old file is freed after the down window)", async () => {
    const host = createHost(() => Promise.reject(new Error("no commands here")));
    const pid = await host.dockerdPid("/run/docker-live-upgrade-sandbox/docker.pid");
    expect((await readFile(`/proc/${pid}/comm`, "utf8")).trim()).toBe("dockerd");
    const exe = await readlink(`/proc/${pid}/exe`);
    const open = async () => (await Promise.all((await readdir("/proc/self/fd")).map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => "")))).filter((l) => l === exe).length;
    const before = await open();
    const hold = await host.holdBinaries([pid!, 999_999_999]); // a process that is gone is skipped
    expect(hold.count).toBe(1);
    expect(await open()).toBe(before + 1);
    hold.release();
    await vi.waitFor(async () => expect(await open()).toBe(before));
  });

  it("pings the engine on its socket; a missing socket, a refused connect, a bad answer and no answer fail, each saying so and why", async () => {
    await new DockerodeDocker(SOCKET).ping(2_000);
    const dir = await mkdtemp(join(tmpdir(), "dlu-ping-"));
    const gone = createServer();
    const bad = httpServer((_, res) => res.writeHead(500).end("no"));
    const silent = createServer((c) => c.resume()); // reads the request, never answers (and sees the client go)
    try {
      // each failure says why: nothing listened, it was held without an answer, or it was answered badly
      const failed = (failure: string, message: RegExp) => ({ failure, message: expect.stringMatching(message) as unknown });
      await expect(new DockerodeDocker(join(dir, "missing.sock")).ping(500)).rejects.toMatchObject(failed("unreachable", /ENOENT/));
      // a socket file left behind with nobody listening (a dockerd that crashed): closing the server
      // removes its path, a second link to the socket stays
      await link(await listen(gone, dir, "live.sock"), join(dir, "stale.sock"));
      await close(gone);
      await expect(new DockerodeDocker(join(dir, "stale.sock")).ping(500)).rejects.toMatchObject(failed("unreachable", /ECONNREFUSED/));
      await expect(new DockerodeDocker(await listen(bad, dir, "bad.sock")).ping(500)).rejects.toMatchObject(failed("failed", /answered 500/));
      await expect(new DockerodeDocker(await listen(silent, dir, "silent.sock")).ping(300)).rejects.toMatchObject(failed("held", /no answer within 300ms/));
    } finally {
      await Promise.all([close(bad), close(silent)]);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("watches the socket file: a change to it wakes the wait, other files do not, a change after giving up is kept", async () => {
    const dir = await mkdtemp(join(tmpdir(), "dlu-watch-"));
    const watch = new DockerodeDocker(join(dir, "docker.sock")).watchSocket()!;
    const within = (p: Promise<void>, ms: number) => Promise.race([p.then(() => "changed"), sleep(ms).then(() => "quiet")]);
    try {
      expect(watch).not.toBeNull();
      const first = watch.changed();
      await writeFile(join(dir, "other.sock"), "");
      expect(await within(first, 100)).toBe("quiet");
      const server = createServer();
      await listen(server, dir, "docker.sock");
      expect(await within(first, 1_000)).toBe("changed");
      // given up on (the wait asked anyway), then the file goes: the next call learns of it at once
      const giveUp = new AbortController();
      const second = watch.changed(giveUp.signal);
      giveUp.abort();
      await second;
      await close(server);
      await sleep(50);
      expect(await within(watch.changed(), 0)).toBe("changed");
      // the probes' stop ends a ping that a silent server holds
      const silent = createServer((c) => c.resume());
      const stop = new AbortController();
      const ping = pingSocket(await listen(silent, dir, "silent.sock"), 30_000, stop.signal);
      await sleep(50);
      stop.abort();
      await expect(ping).rejects.toThrow(/stopped/);
      await close(silent);
      // a socket path through a symlinked folder is watched where it points
      await mkdir(join(dir, "real"));
      await symlink(join(dir, "real"), join(dir, "link"));
      const through = new DockerodeDocker(join(dir, "link", "docker.sock")).watchSocket()!;
      await writeFile(join(dir, "real", "docker.sock"), "");
      expect(await within(through.changed(), 1_000)).toBe("changed");
      // a link to a socket not made yet is watched where it points
      await symlink(join(dir, "real", "later.sock"), join(dir, "dangling.sock"));
      const dangling = new DockerodeDocker(join(dir, "dangling.sock")).watchSocket()!;
      await writeFile(join(dir, "real", "later.sock"), "");
      expect(await within(dangling.changed(), 1_000)).toBe("changed");
      dangling.close();
      await rm(join(dir, "real", "later.sock"));
      // the folder removed: the watch says it broke (the wait then polls)
      await rm(join(dir, "real", "docker.sock"));
      expect(await within(through.changed(), 1_000)).toBe("changed");
      const broke = expect(through.changed()).rejects.toThrow(/removed or moved/);
      await rmdir(join(dir, "real"));
      await broke;
      through.close();
    } finally {
      watch.close();
      await rm(dir, { recursive: true, force: true });
    }
    expect(new DockerodeDocker("/nonexistent-dlu/docker.sock").watchSocket()).toBeNull();
  });

  it("is up to date on a second run (exit 0), and history and status show the runs", async () => {
    const config = await writeConfig();
    const r = await cli("upgrade", "--json", "--config", config);
    expect(r.exitCode).toBe(0);
    expect(r.report?.outcome).toBe("up-to-date");
    const h = await cli("history", "--json", "--config", config);
    const runs = JSON.parse(h.stdout) as { outcome: string }[];
    expect(runs.map((x) => x.outcome)).toEqual(["up-to-date", "upgraded", "refused", "would-upgrade"]);
    const s = await cli("status", "--json", "--config", config);
    expect(JSON.parse(s.stdout)).toMatchObject({ engine: { package: "docker.io", installed: NEXT, target: NEXT }, daemonUp: true, lock: null, lastRun: { outcome: "up-to-date" } });
  });

  it("an invalid config exits 2 naming each bad key, and touches nothing", async () => {
    const config = await writeConfig("probes:\n  - name: web\n    htp: http://127.0.0.1/\nupgrade:\n  order: sideways\n", true);
    const r = await cli("upgrade", "--config", config);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/probes\[0\]: unknown key "htp"/);
    expect(r.stderr).toMatch(/upgrade\.order: /);
  });

  it("bad usage exits 2", async () => {
    expect((await cli("upgrade", "--bogus")).exitCode).toBe(2);
    expect((await cli("frobnicate")).exitCode).toBe(2);
  });

  it("the TypeScript version ordering agrees with dpkg --compare-versions on every version seen here", async () => {
    const versions = [OLD, NEXT, MINOR, "20.10.24+dfsg1-1+deb12u1", "5:24.0.7-1~debian.12~bookworm", "5:19.03.14~3-0~debian-buster", "18.06.1~ce~3-0~ubuntu", "1.6.20~ds1-1+deb12u2", "1.6.20~ds1-1+deb12u3", "23.0.0~beta.0-1"];
    for (const a of versions) {
      for (const b of versions) {
        const lt = (await execa("dpkg", ["--compare-versions", a, "lt", b], { reject: false })).exitCode === 0;
        const gt = (await execa("dpkg", ["--compare-versions", a, "gt", b], { reject: false })).exitCode === 0;
        const ours = Math.sign(compareDebVersions(a, b));
        expect(ours, `${a} vs ${b}`).toBe(lt ? -1 : gt ? 1 : 0);
      }
    }
  });

  it("refuses when live restore is off (exit 3), without stopping anything", async () => {
    // without live restore dockerd kills running containers when it starts and stops: none are left to kill
    await removeContainers();
    await resetEngine([NEXT]);
    await sandbox("stop-daemon");
    await execa("bash", [new URL("../../scripts/sandbox.sh", import.meta.url).pathname, "start-daemon"], { env: { DLU_SANDBOX_LIVE_RESTORE: "0" } });
    await waitApi();
    try {
      const config = await writeConfig();
      const pid = await dockerdPid();
      const r = await cli("upgrade", "--json", "--config", config);
      expect(r.exitCode).toBe(3);
      expect(r.report?.checks.find((c) => c.name === "live-restore")).toMatchObject({ ok: false, message: expect.stringMatching(/live restore is off/) });
      expect(await dockerdPid()).toBe(pid);
      expect((await dpkgVersion("docker.io")).version).toBe(OLD);
    } finally {
      await sandbox("stop-daemon");
      await sandbox("start-daemon");
      await waitApi();
    }
  });
});
