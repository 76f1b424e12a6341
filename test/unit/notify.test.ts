import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { summaryText } from "../../src/notify/webhook.js";
import { InterruptGate } from "../../src/upgrade/interrupt.js";
import { runUpgrade } from "../../src/upgrade/run.js";
import { fakeWorld } from "../fakes/world.js";

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
