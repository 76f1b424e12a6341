import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { currentWindow, decideRun, nextWindow } from "../../src/schedule/windows.js";
import { emptyReport } from "../../src/report/skeleton.js";

const schedule = (windows: { cron: string; duration: string; timezone?: string }[], extra: Record<string, unknown> = {}) =>
  parseConfig({ schedule: { windows, ...extra } }).schedule;
const at = (iso: string) => Date.parse(iso);
const iso = (t: number | undefined) => (t === undefined ? undefined : new Date(t).toISOString());

describe("maintenance windows", () => {
  const sunday3 = schedule([{ cron: "0 3 * * SUN", duration: "2h", timezone: "Europe/Berlin" }]);

  it("is open inside the window, in the window's time zone (CET = UTC+1 in November)", () => {
    const w = currentWindow(sunday3, at("2026-11-22T02:30:00Z")); // 03:30 in Berlin, a Sunday
    expect(iso(w?.opens)).toBe("2026-11-22T02:00:00.000Z");
    expect(iso(w?.closes)).toBe("2026-11-22T04:00:00.000Z");
  });

  it("is closed after the duration, and names the next opening", () => {
    expect(currentWindow(sunday3, at("2026-11-22T04:00:00Z"))).toBeNull();
    expect(iso(nextWindow(sunday3, at("2026-11-22T04:00:00Z"))?.opens)).toBe("2026-11-29T02:00:00.000Z");
  });

  it("a window that crosses midnight is open after midnight", () => {
    const late = schedule([{ cron: "30 23 * * *", duration: "2h", timezone: "UTC" }]);
    expect(iso(currentWindow(late, at("2026-11-23T00:45:00Z"))?.opens)).toBe("2026-11-22T23:30:00.000Z");
    expect(currentWindow(late, at("2026-11-23T01:31:00Z"))).toBeNull();
  });

  it("DST, spring forward: 02:30 does not exist in Berlin on 2026-03-29, so that day has no window", () => {
    const w = schedule([{ cron: "30 2 * * *", duration: "1h", timezone: "Europe/Berlin" }]);
    expect(iso(nextWindow(w, at("2026-03-28T12:00:00Z"))?.opens)).toBe("2026-03-30T00:30:00.000Z"); // 02:30 CEST
  });

  it("DST, fall back: the window keeps its wall-clock hour on both sides of the change", () => {
    expect(iso(nextWindow(sunday3, at("2026-10-18T12:00:00Z"))?.opens)).toBe("2026-10-25T02:00:00.000Z"); // 03:00 CET, after the change
    expect(iso(nextWindow(sunday3, at("2026-10-10T12:00:00Z"))?.opens)).toBe("2026-10-11T01:00:00.000Z"); // 03:00 CEST
  });

  it("DST, fall back: a wall-clock time that happens twice opens the window at both", () => {
    const w = schedule([{ cron: "30 2 * * *", duration: "30m", timezone: "Europe/Berlin" }]);
    expect(iso(currentWindow(w, at("2026-10-25T00:45:00Z"))?.opens)).toBe("2026-10-25T00:30:00.000Z");
    expect(iso(currentWindow(w, at("2026-10-25T01:45:00Z"))?.opens)).toBe("2026-10-25T01:30:00.000Z");
  });

  it("a blacked-out date has no window; the next one is a week later", () => {
    const s = schedule([{ cron: "0 3 * * SUN", duration: "2h", timezone: "Europe/Berlin" }], { blackout: ["2026-11-22"] });
    expect(currentWindow(s, at("2026-11-22T02:30:00Z"))).toBeNull();
    expect(iso(nextWindow(s, at("2026-11-21T00:00:00Z"))?.opens)).toBe("2026-11-29T02:00:00.000Z");
  });

  describe("whether a run may start", () => {
    it("runs inside an open window with room left", () => {
      expect(decideRun(sunday3, at("2026-11-22T02:00:00Z"), null, 600_000).run).toBe(true);
    });

    it("does not run when the window closes before the expected duration", () => {
      const d = decideRun(sunday3, at("2026-11-22T03:55:00Z"), null, 600_000);
      expect(d).toMatchObject({ run: false, reason: expect.stringMatching(/closes in 300s, less than the 600s/) });
    });

    it("runs once per window", () => {
      const d = decideRun(sunday3, at("2026-11-22T02:30:00Z"), at("2026-11-22T02:01:00Z"), 60_000);
      expect(d).toEqual({ run: false, reason: "already ran in this window", retryAt: at("2026-11-29T02:00:00Z") });
    });

    it("waits out the minimum interval since the last run", () => {
      const s = schedule([{ cron: "0 3 * * SUN", duration: "2h", timezone: "Europe/Berlin" }], { minInterval: "6h" });
      const d = decideRun(s, at("2026-11-22T02:30:00Z"), at("2026-11-21T23:00:00Z"), 60_000);
      expect(d).toMatchObject({ run: false, reason: expect.stringMatching(/minimum interval/) });
    });

    it("outside every window, says when to look again", () => {
      const d = decideRun(sunday3, at("2026-11-21T12:00:00Z"), null, 60_000);
      expect(d).toEqual({ run: false, reason: "no maintenance window is open", retryAt: at("2026-11-22T02:00:00Z") });
    });

    it("with no windows configured, never runs", () => {
      expect(decideRun(schedule([]), at("2026-11-21T12:00:00Z"), null, 60_000)).toEqual({ run: false, reason: "no maintenance window is open", retryAt: null });
    });
  });
});

describe("just before the stop (daemon)", () => {
  it("refuses to stop dockerd when the window no longer holds the downtime budget and the verification", async () => {
    const { stopVerdict } = await import("../../src/daemon/loop.js");
    const { fakeWorld } = await import("../fakes/world.js");
    const world = fakeWorld({ schedule: { windows: [{ cron: "0 3 * * SUN", duration: "2h", timezone: "Europe/Berlin" }] } });
    world.fakeClock.t = at("2026-11-22T02:30:00Z");
    expect(stopVerdict(world, false)).toBeNull();
    world.fakeClock.t = at("2026-11-22T03:59:00Z"); // 60 s left; budget 90 s + settle 15 s
    expect(stopVerdict(world, false)).toBe("the window closes in 60s, less than the 105s the rest of the run may take");
    world.fakeClock.t = at("2026-11-22T04:00:00Z");
    expect(stopVerdict(world, false)).toBe("the maintenance window closed before the stop");
    expect(stopVerdict(world, true)).toBe("the daemon is stopping");
  });

  it("before a staged install, the window must also hold the expected install time (from history)", async () => {
    const { expectedInstall, stopVerdict } = await import("../../src/daemon/loop.js");
    const { fakeWorld } = await import("../fakes/world.js");
    const world = fakeWorld({ schedule: { windows: [{ cron: "0 3 * * SUN", duration: "2h", timezone: "Europe/Berlin" }] } });
    await world.state.writeReport({ ...emptyReport("r1", "upgrade", 0, false), steps: [{ name: "install", startedAt: "", durationMs: 200_000, ok: true }] });
    const install = await expectedInstall(world);
    expect(install).toBe(300_000); // the slowest recent install x1.5
    world.fakeClock.t = at("2026-11-22T03:57:00Z"); // 180 s left: room for the stop, not for install + stop
    expect(stopVerdict(world, false)).toBeNull();
    expect(stopVerdict(world, false, install)).toBe("the window closes in 180s, less than the 405s the rest of the run may take");
  });
});

describe("a staged install that ran past the window", () => {
  it("is undone without ever stopping dockerd, and its target is not marked bad", async () => {
    const { fakeWorld } = await import("../fakes/world.js");
    const { runUpgrade } = await import("../../src/upgrade/run.js");
    const { InterruptGate } = await import("../../src/upgrade/interrupt.js");
    const { badTargets } = await import("../../src/history/bad-targets.js");
    const world = fakeWorld();
    const report = await runUpgrade(world, {
      dryRun: false,
      interrupt: new InterruptGate(),
      beforeStop: (phase) => (phase === "stop" ? "the window closes in 30s, less than the 105s the rest of the run may take" : null),
    });
    expect(report.outcome).toBe("rolled-back");
    expect(report.error).toMatchObject({ step: "before-stop", message: expect.stringMatching(/^not stopping dockerd: the window closes in 30s/) as string });
    expect(world.events.filter((e) => e.startsWith("service."))).toEqual([]);
    expect(world.events.filter((e) => e.startsWith("packages.install"))).toEqual([
      "packages.install docker.io=20.10.25+dfsg1-1 (services held)",
      "packages.install docker.io=20.10.24+dfsg1-1+deb12u1+b6 (downgrades) (services held)",
    ]);
    expect(badTargets([report])).toEqual([]);
  });
});
