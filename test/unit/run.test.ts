import { againstTheRelease } from "../../src/report/failures.js";
import { describe, expect, it, vi } from "vitest";
import { runSession } from "../../src/upgrade/session.js";
import { InterruptGate } from "../../src/upgrade/interrupt.js";
import { runUpgrade } from "../../src/upgrade/run.js";
import { container, fakeWorld, simWorld, SimHost } from "../fakes/world.js";
import { recoverRun } from "../../src/upgrade/recover.js";
import { journalOf } from "../fakes/journal.js";

const gate = () => new InterruptGate();

describe("the upgrade state machine, with fakes at every port", () => {
  it("staged (default): installs with service actions held while dockerd serves, then one restart", async () => {
    const world = fakeWorld();
    const report = await runUpgrade(world, { dryRun: false, interrupt: gate() });

    expect(report.outcome).toBe("upgraded");
    expect(report.exitCode).toBe(0);
    expect(world.events.filter((e) => !e.startsWith("packages.refresh") && !e.startsWith("notify"))).toEqual([
      expect.stringMatching(/^packages\.fetch docker\.io=20\.10\.25\+dfsg1-1 -> target$/),
      expect.stringMatching(/^packages\.fetch docker\.io=20\.10\.24\+dfsg1-1\+deb12u1\+b6 -> rollback$/),
      "packages.install docker.io=20.10.25+dfsg1-1 (services held)",
      // the old dockerd's binary, replaced on disk, held open across the restart: freed after the window
      "host.hold 11",
      "service.stop",
      "service.start",
      "host.release",
    ]);
    // durable writes: none in the down window (the restart is one act; "started" follows the first good ping)
    expect(world.memory.journalStates).toEqual(["fetched", "installing", "installed", "stopping", "started", "verified", "done"]);
    expect(world.memory.journal).toBeNull();
    expect(world.memory.journal).toBeNull();
    expect(report.engine).toEqual({ package: "docker.io", from: "20.10.24+dfsg1-1+deb12u1+b6", to: "20.10.25+dfsg1-1" });
    expect(report.engineVersion).toEqual({ before: "20.10.24+dfsg1", after: "20.10.25+dfsg1" });
    expect(report.containers?.unchanged.map((c) => c.name)).toEqual(["web", "db"]);
    expect(report.daemonDowntimeMs).toBe(200); // stop + start, 100 ms each on the fake clock
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
  });

  it("compares against the containers as they were right before the host changed, not at the preflight", async () => {
    const world = fakeWorld();
    world.fakePackages.onFetch = () => {
      if (!world.engine.containers.some((c) => c.name === "late")) world.engine.containers.push(container("late"));
    };
    const report = await runUpgrade(world, { dryRun: false, interrupt: gate() });
    expect(report.outcome).toBe("upgraded");
    expect(report.containers?.new).toEqual([]);
    expect(report.containers?.unchanged.map((c) => c.name)).toEqual(["web", "db", "late"]);
    expect(report.steps.map((s) => s.name)).toEqual(["preflight", "hooks-pre", "download", "snapshot", "install", "reload", "flush", "restart-prepare", "restart", "wait-ready", "verify", "hooks-verify"]);
  });

  describe("dockerd --validate on the daemon config (engines 23.0+)", () => {
    const dockerCe = () => {
      const world = fakeWorld();
      world.fakePackages.installedVersions = { "docker-ce": "5:24.0.2-1~debian.12~bookworm" };
      world.fakePackages.availableVersions = { "docker-ce": ["5:24.0.2-1~debian.12~bookworm", "5:24.0.9-1~debian.12~bookworm"] };
      world.engine.version_ = "24.0.2";
      return world;
    };

    it("a config the new build rejects rolls back before the old daemon is ever stopped", async () => {
      const world = dockerCe();
      (world.host as unknown as { daemonConfigVerdict: unknown }).daemonConfigVerdict = { ok: false, message: 'unknown directive "bip6"' };
      const report = await runUpgrade(world, { dryRun: false, interrupt: gate() });
      expect(report.outcome).toBe("rolled-back");
      expect(report.error).toEqual({ step: "validate-config", message: 'the new dockerd rejects /etc/docker/daemon.json: unknown directive "bip6"' });
      expect(world.events.filter((e) => e.startsWith("service"))).toEqual([]);
      expect(report.daemonDowntimeMs).toBeNull();
      expect(world.fakePackages.installedVersions["docker-ce"]).toBe("5:24.0.2-1~debian.12~bookworm");
    });

    it("an accepted config is reported and the upgrade goes on", async () => {
      const world = dockerCe();
      (world.host as unknown as { daemonConfigVerdict: unknown }).daemonConfigVerdict = { ok: true, message: "configuration OK" };
      const report = await runUpgrade(world, { dryRun: false, interrupt: gate() });
      expect(report.outcome).toBe("upgraded");
      expect(report.checks.find((c) => c.name === "daemon-config")).toMatchObject({ ok: true, message: "/etc/docker/daemon.json: configuration OK" });
    });
  });

  it("stop-first: stops, installs, starts", async () => {
    const world = fakeWorld({ upgrade: { order: "stop-first" } });
    const report = await runUpgrade(world, { dryRun: false, interrupt: gate() });
    expect(report.outcome).toBe("upgraded");
    expect(world.events.filter((e) => !e.startsWith("notify")).slice(-3)).toEqual(["service.stop", "packages.install docker.io=20.10.25+dfsg1-1 (services held)", "service.start"]);
    expect(world.memory.journalStates).toEqual(["fetched", "stopping", "installing", "installed", "starting", "started", "verified", "done"]);
    // dockerd stays down for the install: nothing (docker.socket) may start it meanwhile
    expect(world.fakeService.stops).toEqual([{ holdActivation: true }]);
  });

  it("a dry run reads and reports, and touches nothing", async () => {
    const world = fakeWorld();
    const report = await runUpgrade(world, { dryRun: true, interrupt: gate() });
    expect(report.outcome).toBe("would-upgrade");
    expect(report.exitCode).toBe(0);
    expect(world.events).toEqual([]);
    expect(world.memory.journalStates).toEqual([]);
    expect(report.packages).toEqual([{ name: "docker.io", from: "20.10.24+dfsg1-1+deb12u1+b6", to: "20.10.25+dfsg1-1" }]);
    expect(report.snapshot).toHaveLength(2);
  });

  it("refuses a MAJOR.MINOR jump with exit 3, naming what is allowed, and touches nothing", async () => {
    const world = fakeWorld();
    const report = await runUpgrade(world, { dryRun: false, to: "20.11.0", interrupt: gate() });
    expect(report.outcome).toBe("refused");
    expect(report.exitCode).toBe(3);
    expect(report.error?.message).toMatch(/crosses from 20\.10 to 20\.11.*allowed in 20\.10: 20\.10\.25\+dfsg1-1/);
    expect(world.events.filter((e) => e !== "packages.refresh")).toEqual([]);
  });

  it.each([
    ["live restore off", (w: ReturnType<typeof fakeWorld>) => (w.engine.info_.liveRestoreEnabled = false), "live-restore"],
    ["swarm active", (w: ReturnType<typeof fakeWorld>) => (w.engine.info_.swarmState = "active"), "swarm-inactive"],
    ["dpkg inconsistent", (w: ReturnType<typeof fakeWorld>) => (w.fakePackages.auditProblems = ["docker.io half-configured"]), "package-state"],
    ["dockerd down", (w: ReturnType<typeof fakeWorld>) => (w.engine.up = false), "api-reachable"],
  ])("refuses when %s (exit 3, nothing touched)", async (_what, arrange, check) => {
    const world = fakeWorld();
    arrange(world);
    const report = await runUpgrade(world, { dryRun: false, interrupt: gate() });
    expect(report.outcome).toBe("refused");
    expect(report.exitCode).toBe(3);
    expect(report.checks.find((c) => c.name === check)?.ok).toBe(false);
    expect(world.events.filter((e) => e !== "packages.refresh")).toEqual([]);
  });

  it("is up to date when no newer patch release exists", async () => {
    const world = fakeWorld();
    world.fakePackages.availableVersions["docker.io"] = ["20.10.24+dfsg1-1+deb12u1+b6", "23.0.1+dfsg1-1"];
    const report = await runUpgrade(world, { dryRun: false, interrupt: gate() });
    expect(report.outcome).toBe("up-to-date");
    expect(report.exitCode).toBe(0);
  });

  it("bounds each start by what is left of the downtime budget, not the service timeout", async () => {
    const world = fakeWorld({ upgrade: { downtimeBudget: "90s" }, service: { manager: "command", stop: ["stop"], start: ["start"], timeout: "120s" } });
    world.fakeService.stepMs = 5_000;
    const report = await runUpgrade(world, { dryRun: false, interrupt: gate() });
    expect(report.outcome).toBe("upgraded");
    // the restart (one act) may take the 90 s budget, not the service's 120 s
    expect(world.fakeService.restarts.map((s) => s.timeoutMs)).toEqual([90_000]);
    // a restart leaves docker.socket listening: connections wait instead of being refused
    expect(world.fakeService.stops).toEqual([{ holdActivation: false }]);
  });

  it("where the service manager has no restart of its own: stop, then a start bounded by what the stop left of the budget", async () => {
    const world = fakeWorld({ upgrade: { downtimeBudget: "90s" }, service: { manager: "command", stop: ["stop"], start: ["start"], timeout: "120s" } });
    Object.assign(world.fakeService, { restart: undefined });
    world.fakeService.stepMs = 5_000;
    const report = await runUpgrade(world, { dryRun: false, interrupt: gate() });
    expect(report.outcome).toBe("upgraded");
    // the stop took 5 s of the 90 s budget: the start may take the 85 s left, not 120 s
    expect(world.fakeService.starts.map((s) => s.timeoutMs)).toEqual([85_000]);
    expect(report.steps.map((s) => s.name)).toEqual(expect.arrayContaining(["stop", "start", "wait-ready"]));
    // no durable write between the stop and the start either
    expect(world.memory.journalStates).toEqual(["fetched", "installing", "installed", "stopping", "started", "verified", "done"]);
  });

  it("rolls back when the new build never answers, and says so", async () => {
    const world = fakeWorld({ upgrade: { downtimeBudget: "1s" }, docker: { readyTimeout: "1s" } });
    world.fakeService.brokenBuilds.add("20.10.25+dfsg1");
    const report = await runUpgrade(world, { dryRun: false, interrupt: gate() });
    expect(report.outcome).toBe("rolled-back");
    expect(report.exitCode).toBe(1);
    // Type=notify: the restart job fails when the new dockerd exits before it reports ready
    expect(report.error).toMatchObject({ step: "restart", message: expect.stringMatching(/Job for docker\.service failed/) });
    expect(againstTheRelease(report.error)).toBe(true); // the release is blamed: a fleet halts, the target is marked bad
    // the rollback's restart finds dockerd down: no flush in the window
    expect(report.steps.filter((s) => s.name === "flush")).toHaveLength(1);
    expect(world.events).toContain("packages.install docker.io=20.10.24+dfsg1-1+deb12u1+b6 (downgrades) (services held)");
    expect(world.fakePackages.installedVersions["docker.io"]).toBe("20.10.24+dfsg1-1+deb12u1+b6");
    expect(world.engine.up).toBe(true);
    // down from the first stop to the first good ping, the failed restart's window included: its stop
    // and start 100 ms each (the job fails as the new dockerd exits), then the rollback's restart
    expect(report.daemonDowntimeMs).toBe(400);
    expect(report.hostState).toMatch(/dockerd up, engine 20\.10\.24\+dfsg1; packages consistent/);
    expect(report.steps.map((s) => s.name)).toContain("rollback-install");
    expect(world.memory.journal).toBeNull();
  });

  it("holds the old binaries across a restart and lets go after it: when it fails, with containerd, when the hold fails", async () => {
    const held = (w: { events: string[] }) => w.events.filter((e) => e.startsWith("host."));
    // a restart that fails: released; the rollback's restart finds dockerd down, nothing to hold
    const failing = fakeWorld({ upgrade: { downtimeBudget: "1s" }, docker: { readyTimeout: "1s" } });
    failing.fakeService.brokenBuilds.add("20.10.25+dfsg1");
    expect((await runUpgrade(failing, { dryRun: false, interrupt: gate() })).outcome).toBe("rolled-back");
    expect(held(failing)).toEqual(["host.hold 11", "host.release"]);
    expect(failing.events.indexOf("host.release")).toBeLessThan(failing.events.findIndex((e) => e.includes("(downgrades)")));
    // containerd's package changes: that path holds nothing (see holdOldBinaries)
    const containerd = fakeWorld();
    containerd.fakePackages.availableVersions.containerd = ["1.6.20~ds1-1+deb12u3", "1.6.21~ds1-1"];
    containerd.engine.containerdVersion = "1.6.20~ds1";
    expect((await runUpgrade(containerd, { dryRun: false, interrupt: gate() })).outcome).toBe("upgraded");
    expect(held(containerd)).toEqual([]);
    // a hold that cannot be made costs nothing but the time it saves
    const refused = fakeWorld();
    refused.host.holdBinaries = () => Promise.reject(new Error("EACCES: permission denied, open '/proc/11/exe'"));
    expect((await runUpgrade(refused, { dryRun: false, interrupt: gate() })).outcome).toBe("upgraded");
    // one that hangs (/proc on a stalled disk): the restart goes on after 2 s, the late hold is let go at once
    const slow = fakeWorld();
    slow.host.holdBinaries = () => new Promise((r) => setTimeout(() => r({ count: 1, release: () => void slow.events.push("late release") }), 20));
    expect((await runUpgrade(slow, { dryRun: false, interrupt: gate() })).outcome).toBe("upgraded");
    await vi.waitFor(() => expect(slow.events).toContain("late release"));
    const hung = fakeWorld();
    hung.host.holdBinaries = () => new Promise(() => undefined);
    expect((await runUpgrade(hung, { dryRun: false, interrupt: gate() })).outcome).toBe("upgraded");
  });

  it("rolls back when containers were restarted by the new daemon", async () => {
    const world = fakeWorld({ upgrade: { settle: "1s" } });
    world.engine.restartOnStart = true;
    const report = await runUpgrade(world, { dryRun: false, interrupt: gate() });
    expect(report.outcome).toBe("rolled-back");
    expect(report.error?.message).toMatch(/^containers: 2 restarted/);
  });

  it("a failing install in staged mode is undone without ever stopping dockerd", async () => {
    const world = fakeWorld();
    world.fakePackages.failInstallOf = "20.10.25+dfsg1-1";
    const report = await runUpgrade(world, { dryRun: false, interrupt: gate() });
    expect(report.outcome).toBe("rolled-back");
    expect(report.error?.step).toBe("install");
    expect(report.error?.message).toMatch(/pre-installation script/);
    expect(world.events).not.toContain("service.stop");
    expect(report.daemonDowntimeMs).toBeNull();
  });

  it("a signal before the stop aborts with nothing changed", async () => {
    const world = fakeWorld();
    const g = gate();
    g.request("SIGTERM");
    const report = await runUpgrade(world, { dryRun: false, interrupt: g });
    expect(report.outcome).toBe("failed");
    expect(report.error?.message).toMatch(/interrupted by SIGTERM before the stop/);
    expect(world.events.filter((e) => e.startsWith("service") || e.startsWith("packages.install"))).toEqual([]);
  });

  it("a window that closed before the stop cancels the run (exit 3)", async () => {
    const world = fakeWorld();
    const report = await runUpgrade(world, { dryRun: false, interrupt: gate(), beforeStop: () => "the maintenance window closed before the stop" });
    expect(report.outcome).toBe("refused");
    expect(report.error?.message).toMatch(/window closed/);
    expect(world.events.filter((e) => e.startsWith("service"))).toEqual([]);
  });

  it("releases and re-applies package holds around the run when packages.hold is on", async () => {
    const world = fakeWorld({ packages: { hold: true } });
    world.fakePackages.holds = ["docker.io"];
    const report = await runUpgrade(world, { dryRun: false, interrupt: gate() });
    expect(report.outcome).toBe("upgraded");
    expect(world.events).toContain("packages.unhold docker.io");
    // the engine's packages stay held between runs (packages.hold): those not held before are held now
    expect(world.events.at(-1)).toBe("packages.hold docker.io containerd runc");
  });

  it("journals the holds before it lifts them: killed right there, the journal has what recovery puts back", async () => {
    const host = new SimHost();
    host.holds = ["docker.io"];
    const config = { packages: { hold: true }, docker: { apiProbeInterval: "0s" } };
    // a dry pass finds the call that lifts the hold; the second run dies right there
    const probe = simWorld(new SimHost(), config);
    probe.sim.holds = ["docker.io"];
    await runUpgrade(probe, { dryRun: false, interrupt: gate() });
    const at = probe.process.trace.filter((c) => c.startsWith("W ")).indexOf("W packages.setHold") + 1;
    const world = simWorld(host, config, { fault: { mode: "crash", at, when: "before" } });
    void runUpgrade(world, { dryRun: false, interrupt: gate() });
    await world.process.died;
    expect(host.holds).toEqual(["docker.io"]);
    expect(host.readJournal()?.holds).toEqual({ before: ["docker.io"], after: ["docker.io", "containerd", "runc"] });
    const recovered = await recoverRun(simWorld(host, config), host.readJournal()!);
    expect(recovered.exitCode).toBe(0);
    expect(host.holds.sort()).toEqual(["containerd", "docker.io", "runc"]);
  });

  it("never retries by itself a target that was rolled back here; --to retries it; a newer release goes ahead", async () => {
    const world = fakeWorld({ upgrade: { downtimeBudget: "1s" }, docker: { readyTimeout: "1s" } });
    world.fakeService.brokenBuilds.add("20.10.25+dfsg1");
    const first = await runUpgrade(world, { dryRun: false, interrupt: gate() });
    expect(first.outcome).toBe("rolled-back");
    await world.state.writeReport(first);

    const again = await runUpgrade(world, { dryRun: false, interrupt: gate() });
    expect([again.outcome, again.exitCode]).toEqual(["refused", 3]);
    expect(again.error?.message).toBe(
      `known-bad-target: 20.10.25+dfsg1-1 was rolled back on this host (run ${first.id}: ${first.error?.message}); it is not retried by itself: \`docker-live-upgrade upgrade --to 20.10.25+dfsg1-1\` once the cause is fixed, or wait for a newer release`,
    );
    expect(world.events.filter((e) => e.startsWith("service.")).length).toBe(4); // the first run's only

    world.fakeService.brokenBuilds.clear();
    const named = await runUpgrade(world, { dryRun: false, to: "20.10.25+dfsg1-1", interrupt: gate() });
    expect(named.outcome).toBe("upgraded");
  });

  it("a newer release than a bad target is tried as usual", async () => {
    const world = fakeWorld({ upgrade: { downtimeBudget: "1s" }, docker: { readyTimeout: "1s" } });
    world.fakeService.brokenBuilds.add("20.10.25+dfsg1");
    await world.state.writeReport(await runUpgrade(world, { dryRun: false, interrupt: gate() }));
    world.fakePackages.availableVersions["docker.io"]!.push("20.10.26+dfsg1-1");
    const next = await runUpgrade(world, { dryRun: false, interrupt: gate() });
    expect([next.outcome, next.engine.to]).toEqual(["upgraded", "20.10.26+dfsg1-1"]);
  });

  it("packages.hold: true leaves every package of the run held, also where none was held before", async () => {
    const world = fakeWorld({ packages: { hold: true } });
    world.fakePackages.availableVersions.containerd = ["1.6.20~ds1-1+deb12u3", "1.6.21~ds1-1"];
    const report = await runUpgrade(world, { dryRun: false, interrupt: gate() });
    expect(report.outcome).toBe("upgraded");
    expect(world.fakePackages.holds.sort()).toEqual(["containerd", "docker.io", "runc"]);
    // and an up-to-date run keeps them so
    world.fakePackages.holds = [];
    const again = await runUpgrade(world, { dryRun: false, interrupt: gate() });
    expect(again.outcome).toBe("up-to-date");
    expect(world.fakePackages.holds.sort()).toEqual(["containerd", "docker.io", "runc"]);
  });

  it("refuses a hold it did not make", async () => {
    const world = fakeWorld();
    world.fakePackages.holds = ["docker.io"];
    const report = await runUpgrade(world, { dryRun: false, interrupt: gate() });
    expect(report.outcome).toBe("refused");
    expect(report.checks.find((c) => c.name === "package-holds")?.message).toMatch(/held by someone else/);
  });
});

describe("upgrade command", () => {
  it("exits 4 when another run holds the lock, before anything else", async () => {
    const world = fakeWorld();
    await world.lock.acquire("upgrade");
    await expect(runSession(world, { command: "upgrade" })).rejects.toThrow(/another run holds the lock: pid 4242/);
    expect(world.events).toEqual([]);
  });

  it("recovers an unfinished run first, then upgrades", async () => {
    const world = fakeWorld();
    world.fakePackages.availableVersions["docker.io"]!.push("20.10.26+dfsg1-1");
    // A run killed right after the stop, with 20.10.25 installed.
    world.fakePackages.installedVersions["docker.io"] = "20.10.25+dfsg1-1";
    world.engine.up = false;
    world.memory.journal = journalOf({ state: "stopped", snapshot: world.engine.containers });
    const reports = await runSession(world, { command: "upgrade" });
    expect(reports.map((r) => [r.command, r.outcome])).toEqual([
      ["recover", "upgraded"],
      ["upgrade", "upgraded"],
    ]);
    expect(world.engine.up).toBe(true);
    expect(world.fakePackages.installedVersions["docker.io"]).toBe("20.10.26+dfsg1-1");
  });
});
