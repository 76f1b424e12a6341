import { describe, expect, it } from "vitest";
import { daemonLoop } from "../../src/daemon/loop.js";
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
