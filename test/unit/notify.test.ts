import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { summaryText } from "../../src/notify/webhook.js";
import { InterruptGate } from "../../src/upgrade/interrupt.js";
import { runUpgrade } from "../../src/upgrade/run.js";
import { fakeWorld } from "../fakes/world.js";
import { runSession } from "../../src/upgrade/session.js";

describe("notifications", () => {
  it("the Slack text says what happened on which host", () => {
    const text = summaryText("success", {
      engine: { package: "docker.io", from: "20.10.24+dfsg1-1+deb12u1+b6", to: "20.10.25+dfsg1-1" },
      outcome: "upgraded",
      daemonDowntimeMs: 120,
      containers: { before: 2, after: 2, unchanged: [{ id: "a", name: "a" }, { id: "b", name: "b" }], restarted: [], missing: [], changed: [], new: [] },
      error: null,
    });
    expect(text).toBe(`[${hostname()}] docker-live-upgrade success: docker.io 20.10.24+dfsg1-1+deb12u1+b6 -> 20.10.25+dfsg1-1 (upgraded), API down 120 ms, containers 2/2 unchanged`);
  });

  it("the start event carries no outcome (the run has none yet)", async () => {
    const world = fakeWorld();
    const sent: { event: string; outcome: unknown }[] = [];
    world.notifier = { notify: (event, r) => (sent.push({ event, outcome: r.outcome }), Promise.resolve()) };
    await runUpgrade(world, { dryRun: false, interrupt: new InterruptGate() });
    expect(sent).toEqual([{ event: "start", outcome: undefined }]);
  });
});

describe("notify once, not every window", () => {
  const sent = (world: ReturnType<typeof fakeWorld>) => {
    const events: string[] = [];
    world.notifier = { notify: (e) => (events.push(e), Promise.resolve()) };
    return events;
  };

  it("a refusal for the same reason as the run before is not announced again", async () => {
    const world = fakeWorld();
    world.engine.info_.liveRestoreEnabled = false;
    const events = sent(world);
    for (let i = 0; i < 3; i++) await runSession(world, { command: "upgrade" });
    expect(events).toEqual(["refusal"]);
    world.engine.info_.swarmState = "active"; // another reason: said
    world.engine.info_.liveRestoreEnabled = true;
    await runSession(world, { command: "upgrade" });
    expect(events).toEqual(["refusal", "refusal"]);
  });

  it("a rolled-back target is announced once, as a failure; later windows refuse it quietly", async () => {
    const world = fakeWorld({ upgrade: { downtimeBudget: "1s" }, docker: { readyTimeout: "1s" } });
    world.fakeService.brokenBuilds.add("20.10.25+dfsg1");
    const events = sent(world);
    for (let i = 0; i < 3; i++) await runSession(world, { command: "upgrade" });
    expect(events.filter((e) => e !== "start")).toEqual(["failure"]);
    expect((await world.state.reports(1))[0]?.checks.find((c) => !c.ok)?.name).toBe("known-bad-target");
  });
});
