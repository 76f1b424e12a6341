import { execa } from "execa";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RunReport } from "../../src/report/report.js";
import { beforeEach, describe, expect, it } from "vitest";
import type { Journal } from "../../src/ports/journal.js";
import { cli, docker, dockerdPid, dpkgVersion, identities, killTree, makeContainers, OLD, processTree, resetEngine, SANDBOX, startCli, STATE_DIR, until, writeConfig, type Identity } from "./helpers.js";

const NEXT = "20.10.25+dfsg1-1";

async function journalState(): Promise<string | null> {
  try {
    return (JSON.parse(await readFile(join(STATE_DIR, "journal.json"), "utf8")) as Journal).state;
  } catch {
    return null;
  }
}


/** The maintainer script running under the upgrader `pid`, if there is one now. */
async function preinstOf(pid: number): Promise<number | null> {
  for (const p of await processTree(pid)) {
    const cmd = await readFile(`/proc/${p}/cmdline`, "utf8").catch(() => "");
    if (/preinst/.test(cmd)) return p;
  }
  return null;
}

/** What must hold after every fault: daemon up, dpkg consistent, no container restarted or lost. */
async function expectHostHealthy(before: Identity[], version: string): Promise<void> {
  expect(await dpkgVersion("docker.io")).toEqual({ version, status: "install ok installed" });
  expect((await execa("dpkg", ["--audit"])).stdout).toBe("");
  expect(await identities()).toEqual(before);
}

describe("never leave a host broken", () => {
  let before: Identity[];

  const prepare = async (releases: string[]) => {
    await resetEngine(releases);
    await makeContainers();
    before = await identities();
  };

  beforeEach(() => {
    before = [];
  });

  it("a release whose preinst fails: rolled back (exit 1), dockerd never stopped", async () => {
    await prepare([`${NEXT}:preinst-fails`]);
    const pid = await dockerdPid();
    const r = await cli("upgrade", "--json", "--config", await writeConfig());
    expect(r.exitCode).toBe(1);
    expect(r.report).toMatchObject({ outcome: "rolled-back", error: { step: "install", message: expect.stringMatching(/apt-get install/) } });
    expect(r.report!.error!.message).toMatch(/preinst: failing on purpose/);
    expect(r.report!.hostState).toMatch(/dockerd up, engine 20\.10\.24\+dfsg1; packages consistent/);
    expect(await dockerdPid()).toBe(pid);
    await expectHostHealthy(before, OLD);
  });

  it("a release whose dockerd exits at once: rolled back to the previous build (exit 1)", async () => {
    await prepare([`${NEXT}:dockerd-exits`]);
    const config = await writeConfig("upgrade:\n  downtimeBudget: 8s\ndocker:\n  readyTimeout: 8s\n");
    const r = await cli("upgrade", "--json", "--config", config);
    expect(r.exitCode).toBe(1);
    expect(r.report).toMatchObject({ outcome: "rolled-back", error: { step: "wait-ready" } });
    expect(r.report!.checks.find((c) => c.name === "rollback")).toMatchObject({ ok: true });
    expect(r.report!.containers).toMatchObject({ restarted: [], missing: [], changed: [] });
    await expectHostHealthy(before, OLD);
    expect((await execa("/usr/bin/docker", ["-H", "unix:///run/docker-live-upgrade-sandbox/docker.sock", "version", "-f", "{{.Server.Version}}"])).stdout).toBe("20.10.24+dfsg1");
  });

  it("SIGKILL right after the stop, then recover: dockerd started, run finished forward", async () => {
    await prepare([NEXT]);
    // the stop command kills the upgrader (its parent) as soon as dockerd is down
    const config = await writeConfig(`service:\n  stop: ["sh", "-c", "${SANDBOX} stop-daemon && kill -9 $PPID"]\n`);
    const killed = await cli("upgrade", "--config", config);
    expect(killed.exitCode).toBe(-1); // SIGKILL
    expect(await journalState()).toBe("stopping");
    const r = await cli("recover", "--json", "--config", await writeConfig());
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.report).toMatchObject({ command: "recover", outcome: "upgraded" });
    expect(r.report!.recovery!.actions).toContain("start");
    expect(await journalState()).toBeNull();
    await expectHostHealthy(before, NEXT);
  });

  it("SIGKILL during the package install (a preinst that sleeps), then recover: the previous version is back", async () => {
    await prepare([`${NEXT}:preinst-sleeps`]);
    const pid = await dockerdPid();
    const run = startCli(["upgrade", "--config", await writeConfig()]);
    await until("the install to be under way", async () => (await journalState()) === "installing" && (await preinstOf(run.pid!)) !== null);
    // A power cut: the upgrader, apt-get, and dpkg with its maintainer script: the run's tree, by PID
    await killTree(run.pid!);
    await run;
    const r = await cli("recover", "--json", "--config", await writeConfig());
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.report).toMatchObject({ outcome: "rolled-back" });
    expect(r.report!.recovery!.actions).toEqual(expect.arrayContaining(["repair", "install-previous"]));
    expect(await dockerdPid()).toBe(pid); // staged: the old daemon never stopped
    await expectHostHealthy(before, OLD);
  });

  it("SIGKILL after the install, before the start (stop-first), then an upgrade recovers first", async () => {
    await prepare([NEXT]);
    // the start command kills the upgrader before it starts anything
    const config = await writeConfig(`upgrade:\n  order: stop-first\nservice:\n  start: ["sh", "-c", "kill -9 $PPID"]\n`);
    await cli("upgrade", "--config", config);
    expect(await journalState()).toBe("starting");
    const down = await execa("/usr/bin/docker", ["-H", "unix:///run/docker-live-upgrade-sandbox/docker.sock", "version"], { reject: false });
    expect(down.exitCode).not.toBe(0);
    // any later upgrade recovers first (automatic recovery), then finds nothing to do
    const r = await cli("upgrade", "--json", "--config", await writeConfig());
    const all = JSON.parse(r.stdout) as { command: string; outcome: string }[];
    expect(all.map((x) => [x.command, x.outcome])).toEqual([
      ["recover", "upgraded"],
      ["upgrade", "up-to-date"],
    ]);
    expect(r.exitCode).toBe(0);
    await expectHostHealthy(before, NEXT);
  });

  it("a second run while one holds the lock exits 4 and touches nothing", async () => {
    await prepare([`${NEXT}:preinst-sleeps`]);
    const config = await writeConfig();
    const first = startCli(["upgrade", "--json", "--config", config]);
    await until("the first run to take the lock", async () => (await journalState()) === "installing");
    const second = await cli("upgrade", "--config", config);
    expect(second.exitCode).toBe(4);
    expect(second.stderr).toMatch(/another run holds the lock: pid \d+ \(upgrade\)/);
    const status = JSON.parse((await cli("status", "--json", "--config", config)).stdout) as { lock: { command: string } | null };
    expect(status.lock?.command).toBe("upgrade");
    const done = await first;
    expect(done.exitCode).toBe(0);
    await expectHostHealthy(before, NEXT);
  });

  it("stop-first, SIGKILL during the install, its rollback packages deleted, then recover: dockerd up, exit 1 naming what could not be done", async () => {
    await prepare([`${NEXT}:preinst-sleeps`]);
    const config = await writeConfig("upgrade:\n  order: stop-first\n");
    const run = startCli(["upgrade", "--config", config]);
    await until("the install to be under way", async () => (await journalState()) === "installing" && (await preinstOf(run.pid!)) !== null);
    await killTree(run.pid!);
    await run;
    const journal = JSON.parse(await readFile(join(STATE_DIR, "journal.json"), "utf8")) as Journal;
    await rm(journal.rollbackDir, { recursive: true, force: true });

    const r = await cli("recover", "--json", "--config", config);
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.report!.outcome).toBe("failed");
    // what could not be done, and how the host is left
    expect(r.report!.checks.find((c) => c.name === "rollback")).toMatchObject({ ok: false, message: expect.stringMatching(/rollback-install: .*apt-get install/) });
    expect(r.report!.hostState).toMatch(/^dockerd up, engine 20\.10\.24\+dfsg1; package database inconsistent/);
    expect((await docker("version", "-f", "{{.Server.Version}}")).trim()).toBe("20.10.24+dfsg1");
    // the journal stays: `recover` tries again once the packages can be had
    expect(await journalState()).not.toBeNull();
    expect((await identities()).map((c) => [c.name, c.pid])).toEqual(before.map((c) => [c.name, c.pid]));
  });

  it("a state folder on a tmpfs that fills up in a stop-first run's down window: dockerd ends up, a report is printed; space freed, recover ends healthy", async () => {
    await prepare([NEXT]);
    const dir = await mkdtemp(join(tmpdir(), "dlu-full-"));
    await execa("mount", ["-t", "tmpfs", "-o", "size=200m", "tmpfs", dir]);
    try {
      const state = join(dir, "state");
      // the disk fills to its last page as the new dockerd is started (apt frees its own cache files
      // in the state folder at the end of an install, so a fill before that would not last)
      const fill = `dd if=/dev/zero of=${dir}/filler bs=1M 2>/dev/null; dd if=/dev/zero of=${dir}/filler2 bs=4k 2>/dev/null; exec ${SANDBOX} start-daemon`;
      const config = await writeConfig(`upgrade:\n  order: stop-first\nstateDir: ${state}\nservice:\n  start: ["sh", "-c", "${fill}"]\n`);
      const done = await startCli(["upgrade", "--json", "--config", config]);
      expect(done.exitCode).toBe(1);
      const report = JSON.parse(String(done.stdout)) as RunReport;
      expect(report.outcome).toBe("rolled-back");
      expect(report.error?.message).toMatch(/could not write the journal: ENOSPC/);
      expect(report.hostState).toMatch(/^dockerd up, engine 20\.10\.24\+dfsg1; packages consistent; on the previous versions/);
      expect((await docker("version", "-f", "{{.Server.Version}}")).trim()).toBe("20.10.24+dfsg1");

      await rm(join(dir, "filler"));
      await rm(join(dir, "filler2"));
      const r = await cli("recover", "--json", "--config", await writeConfig(`stateDir: ${state}\n`));
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.report!.hostState).toMatch(/^dockerd up, engine 20\.10\.24\+dfsg1; packages consistent/);
      await expect(readFile(join(state, "journal.json"))).rejects.toThrow(/ENOENT/);
      await expectHostHealthy(before, OLD);
    } finally {
      await execa("umount", [dir], { reject: false });
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("package holds: a hold the upgrader did not make refuses (exit 3); with packages.hold it releases and re-applies its own", async () => {
    await prepare([NEXT]);
    await execa("apt-mark", ["hold", "docker.io"]);
    try {
      const refused = await cli("upgrade", "--json", "--config", await writeConfig());
      expect(refused.exitCode).toBe(3);
      expect(refused.report!.checks.find((c) => c.name === "package-holds")).toMatchObject({ ok: false, message: expect.stringMatching(/docker\.io held by someone else/) });
      expect((await dpkgVersion("docker.io")).version).toBe(OLD);

      const managed = await cli("upgrade", "--json", "--config", await writeConfig("packages:\n  hold: true\n"));
      expect(managed.exitCode, managed.stderr).toBe(0);
      expect(managed.report!.outcome).toBe("upgraded");
      expect((await execa("apt-mark", ["showhold"])).stdout.split("\n")).toContain("docker.io");
      expect(await dpkgVersion("docker.io")).toEqual({ version: NEXT, status: "hold ok installed" });
      expect((await execa("dpkg", ["--audit"])).stdout).toBe("");
      expect(await identities()).toEqual(before);
    } finally {
      await execa("apt-mark", ["unhold", "docker.io"]);
    }
  });
});
