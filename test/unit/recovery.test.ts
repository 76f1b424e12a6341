import { describe, expect, it } from "vitest";
import { decideRecovery, type Journal, type JournalState } from "../../src/upgrade/journal.js";

const OLD = "20.10.24+dfsg1-1+deb12u1+b6";
const NEW = "20.10.25+dfsg1-1";

const journal = (state: JournalState, order: Journal["order"] = "staged", over: Partial<Journal> = {}): Journal => ({
  version: 1,
  runId: "r1",
  pid: 1,
  startedAt: "",
  order,
  state,
  previous: [{ name: "docker.io", version: OLD }],
  target: [{ name: "docker.io", version: NEW }],
  targetDir: "/t",
  rollbackDir: "/r",
  restartContainerd: false,
  releasedHolds: [],
  snapshot: [],
  engineOptions: null,
  transitions: [],
  ...over,
});

describe("recovery decisions for every journal state", () => {
  it.each([
    // state, order, installed, daemon up, expected actions, direction
    ["fetched", "staged", OLD, true, ["release-service-hold"], "none"],
    ["fetched", "stop-first", OLD, false, ["release-service-hold", "start-daemon"], "none"],
    ["installing", "staged", NEW, true, ["release-service-hold", "repair-packages", "restart-daemon", "verify"], "forward"],
    ["installing", "staged", OLD, true, ["release-service-hold", "repair-packages", "install-previous", "verify"], "undo"],
    ["installing", "stop-first", NEW, false, ["release-service-hold", "repair-packages", "start-daemon", "verify"], "forward"],
    ["installing", "stop-first", undefined, false, ["release-service-hold", "repair-packages", "install-previous", "start-daemon", "verify"], "undo"],
    ["installed", "staged", NEW, true, ["release-service-hold", "restart-daemon", "verify"], "forward"],
    ["stopping", "staged", NEW, true, ["release-service-hold", "verify"], "forward"],
    ["stopped", "staged", NEW, false, ["release-service-hold", "start-daemon", "verify"], "forward"],
    ["stopped", "stop-first", OLD, false, ["release-service-hold", "repair-packages", "install-previous", "start-daemon", "verify"], "undo"],
    ["starting", "staged", NEW, false, ["release-service-hold", "start-daemon", "verify"], "forward"],
    ["started", "staged", NEW, true, ["release-service-hold", "verify"], "forward"],
    ["rolling-back", "staged", NEW, true, ["release-service-hold", "repair-packages", "install-previous", "restart-daemon", "verify"], "undo"],
    ["rolling-back", "staged", OLD, false, ["release-service-hold", "repair-packages", "install-previous", "start-daemon", "verify"], "undo"],
  ] as const)("%s (%s), installed %s, daemon up %s", (state, order, installed, up, actions, direction) => {
    const plan = decideRecovery(journal(state, order), { installed: { "docker.io": installed }, daemonUp: up });
    expect(plan.actions).toEqual(actions);
    expect(plan.direction).toBe(direction);
  });

  it("never ends without a start when the daemon is down, whatever the state", () => {
    const states: JournalState[] = ["fetched", "installing", "installed", "stopping", "stopped", "starting", "started", "rolling-back", "done"];
    for (const s of states) {
      for (const installed of [OLD, NEW, undefined]) {
        const plan = decideRecovery(journal(s), { installed: { "docker.io": installed }, daemonUp: false });
        expect(plan.actions, `${s} ${installed}`).toContain("start-daemon");
      }
    }
  });

  it("puts back holds the run had released", () => {
    const plan = decideRecovery(journal("stopped", "staged", { releasedHolds: ["docker.io"] }), { installed: { "docker.io": NEW }, daemonUp: false });
    expect(plan.actions.at(-1)).toBe("reapply-holds");
  });
});

describe("recovery, carried out with fakes", () => {
  it("a run killed in the middle of a staged install: the service hold is released and the install finished forward", async () => {
    const { fakeWorld } = await import("../fakes/world.js");
    const { recoverRun } = await import("../../src/upgrade/recover.js");
    const world = fakeWorld();
    await world.serviceHold.hold(); // what the dead run left in force
    world.fakePackages.installedVersions["docker.io"] = NEW;
    world.engine.version_ = "20.10.24+dfsg1";
    const report = await recoverRun(world, { ...journal("installing"), snapshot: world.engine.containers });
    expect(world.fakePackages.serviceHold?.held).toBe(false);
    expect(report.recovery?.actions[0]).toBe("release-service-hold");
    expect(report.exitCode).toBe(0);
  });
});
