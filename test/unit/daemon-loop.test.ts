import { describe, expect, it } from "vitest";
import { daemonLoop } from "../../src/daemon/loop.js";
import { daemonArgs } from "../../src/daemon/supervisor.js";
import { journalOf, NEW, OLD } from "../fakes/journal.js";
import { fakeWorld } from "../fakes/world.js";

const once = (world: ReturnType<typeof fakeWorld>) =>
  daemonLoop({ world: () => world, logger: () => world.logger, stopping: () => false, sleep: (ms) => world.clock.sleep(ms), passes: 1 });

describe("the daemon's loop", () => {
  it("recovers an unfinished run at its start, though no window is open", async () => {
    // killed in the middle of a stop-first install: dockerd down, policy-rc.d in force, next window a week away
    const world = fakeWorld({ schedule: { windows: [{ cron: "0 3 * * SUN", duration: "2h", timezone: "UTC" }] } });
    world.fakeClock.t = Date.parse("2026-11-24T12:00:00Z");
    await world.serviceHold.hold();
    world.engine.up = false;
    world.sim.installedVersions["docker.io"] = NEW;
    world.memory.journal = journalOf({ state: "installing", order: "stop-first", snapshot: world.engine.containers });
    await once(world);
    expect(world.fakeHold.held).toBe(false);
    expect(world.engine.up).toBe(true);
    expect(world.memory.journal).toBeNull();
    const [report] = await world.state.reports(1);
    expect([report?.command, report?.outcome]).toEqual(["recover", "upgraded"]);
  });

  it("announces a recovery once: one that keeps failing is not announced at every wake", async () => {
    const world = fakeWorld();
    const events: string[] = [];
    world.notifier = { notify: (e) => (events.push(e), Promise.resolve()) };
    world.engine.up = false;
    world.sim.brokenBuilds.add("20.10.24+dfsg1"); // even the previous build will not start
    world.memory.journal = journalOf({ state: "stopped", order: "stop-first", direction: "undo" });
    world.sim.files.set("/state/cache/r0/rollback", new Set([`docker.io=${OLD}`]));
    await once(world);
    await once(world);
    expect(events).toEqual(["failure"]);
    expect(world.memory.journal?.runId).toBe("r0"); // kept: recovery is tried again later
  });

  it("never spins on a journal that stays open: the next try waits (10 minutes), whatever the exit code", async () => {
    const world = fakeWorld();
    world.memory.journal = journalOf({ state: "stopped", order: "stop-first", direction: "undo" });
    world.engine.up = false;
    world.sim.brokenBuilds.add("20.10.24+dfsg1");
    world.sim.files.set("/state/cache/r0/rollback", new Set([`docker.io=${OLD}`]));
    const started = world.fakeClock.t;
    await daemonLoop({ world: () => world, logger: () => world.logger, stopping: () => false, sleep: (ms) => world.clock.sleep(ms), passes: 5 });
    const recoveries = (await world.state.reports()).filter((r) => r.command === "recover");
    expect(recoveries).toHaveLength(1);
    expect(world.fakeClock.t - started).toBeGreaterThanOrEqual(4 * 60_000); // it slept between its passes
  });
});

describe("the daemon's worker", () => {
  const idleLoop = (world: ReturnType<typeof fakeWorld>) =>
    daemonLoop({ world: () => world, logger: () => world.logger, stopping: () => false, sleep: (ms) => world.clock.sleep(ms), passes: 3, idleAfter: () => 5 * 60_000 });

  it("returns with the time the next window opens when nothing is due for a while, and never while a journal is open", async () => {
    const world = fakeWorld({ schedule: { windows: [{ cron: "0 3 * * SUN", duration: "2h", timezone: "UTC" }] } });
    world.fakeClock.t = Date.parse("2026-11-24T12:00:00Z");
    expect(await idleLoop(world)).toEqual({ wakeAt: Date.parse("2026-11-29T03:00:00Z"), lastRunAt: null });
    // an unfinished run whose recovery cannot finish it: the worker stays (it tries again after the backoff)
    world.engine.up = false;
    world.sim.brokenBuilds.add("20.10.24+dfsg1");
    world.memory.journal = journalOf({ state: "stopped", order: "stop-first", direction: "undo" });
    world.sim.files.set("/state/cache/r0/rollback", new Set([`docker.io=${OLD}`]));
    expect(await idleLoop(world)).toBeNull();
  });

  it("a fresh worker takes when the last upgrade ran from the one before it: never a second run in one window", async () => {
    const world = fakeWorld({ schedule: { windows: [{ cron: "0 3 * * SUN", duration: "2h", timezone: "UTC" }] } });
    world.fakeClock.t = Date.parse("2026-11-29T03:30:00Z");
    const ranAt = Date.parse("2026-11-29T03:01:00Z");
    const r = await daemonLoop({ world: () => world, logger: () => world.logger, stopping: () => false, sleep: (ms) => world.clock.sleep(ms), passes: 1, idleAfter: () => 5 * 60_000, lastRunAt: ranAt });
    expect(r).toEqual({ wakeAt: Date.parse("2026-12-06T03:00:00Z"), lastRunAt: ranAt });
    expect(await world.state.reports(5)).toEqual([]);
  });

  it("stays while a window opens soon (the loop's own sleeps), and without windows says none is ahead", async () => {
    const soon = fakeWorld({ schedule: { windows: [{ cron: "0 3 * * SUN", duration: "2h", timezone: "UTC" }] } });
    soon.fakeClock.t = Date.parse("2026-11-29T02:58:00Z");
    const none = fakeWorld();
    expect(await idleLoop(none)).toEqual({ wakeAt: null, lastRunAt: null });
    const r = await daemonLoop({ world: () => soon, logger: () => soon.logger, stopping: () => false, sleep: (ms) => soon.clock.sleep(ms), passes: 1, idleAfter: () => 5 * 60_000 });
    expect(r).toBeNull();
  });
});

describe("the resident daemon's arguments", () => {
  it("takes `daemon` with at most a config flag; anything else goes to the full command line", () => {
    expect(daemonArgs(["daemon"])).toEqual({ config: undefined });
    expect(daemonArgs(["daemon", "--config", "/x.yaml"])).toEqual({ config: "/x.yaml" });
    expect(daemonArgs(["daemon", "-c", "/x.yaml"])).toEqual({ config: "/x.yaml" });
    expect(daemonArgs(["daemon", "--config=/x.yaml"])).toEqual({ config: "/x.yaml" });
    expect(daemonArgs(["daemon", "--help"])).toBeNull();
    expect(daemonArgs(["daemon", "--bogus"])).toBeNull();
    expect(daemonArgs(["upgrade"])).toBeNull();
  });
});
