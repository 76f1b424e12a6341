import { describe, expect, it } from "vitest";
import type { JournalState } from "../../src/ports/journal.js";
import { nextStep, noAttempts, type HostView } from "../../src/upgrade/machine.js";
import { judge } from "../../src/upgrade/outcome.js";
import { recoverRun } from "../../src/upgrade/recover.js";
import { debScheme } from "../../src/versions/scheme.js";
import { fakeWorld } from "../fakes/world.js";
import { journalOf, NEW, OLD } from "../fakes/journal.js";

const view = (version: string | undefined, up: boolean, engine: string | null = version === NEW ? "20.10.25+dfsg1" : "20.10.24+dfsg1", ok = true): HostView => ({
  installed: version ? { "docker.io": { name: "docker.io", version, status: ok ? "ii " : "iU ", ok } } : {},
  consistent: ok,
  daemonUp: up,
  engineVersion: up ? engine : null,
  binaryReplaced: null,
});

describe("the state machine's next step, from the journal and the host", () => {
  const V24 = "20.10.24+dfsg1";
  const V25 = "20.10.25+dfsg1";
  it.each([
    // mode, journal state, direction, order, installed, answering build (null: down), next step
    ["run", "fetched", "forward", "staged", OLD, V24, "install target"],
    ["run", "fetched", "forward", "stop-first", OLD, V24, "stop"],
    ["run", "stopped", "forward", "stop-first", OLD, null, "install target"],
    ["run", "installed", "forward", "staged", NEW, V24, "restart"],
    ["run", "installed", "forward", "stop-first", NEW, null, "start"],
    ["run", "started", "forward", "staged", NEW, V25, "verify"],
    ["run", "started", "undo", "staged", NEW, V25, "install previous"],
    ["run", "installed", "undo", "staged", OLD, V25, "restart"], // the new build still answers: restart onto the old one
    ["run", "installed", "undo", "staged", OLD, null, "restart"], // a hung or crash-looping build: stopped, then started
    ["run", "installed", "undo", "staged", OLD, V24, "compare"], // the old daemon never stopped: nothing to restart
    // recovery finishes forward only what needs no new change
    ["recover", "fetched", "forward", "staged", OLD, V24, "turn-back"],
    ["recover", "installing", "forward", "staged", NEW, V24, "turn-back"], // the old daemon still serves
    ["recover", "installing", "forward", "stop-first", NEW, null, "start"],
    ["recover", "installing", "forward", "stop-first", OLD, null, "turn-back"],
    ["recover", "stopping", "forward", "staged", NEW, null, "start"],
    ["recover", "started", "forward", "staged", NEW, V25, "verify"],
    ["recover", "installing", "undo", "staged", NEW, V25, "install previous"],
    ["recover", "started", "undo", "staged", OLD, V25, "restart"], // rolled back on disk, the failed build still running
    ["recover", "started", "undo", "staged", OLD, null, "restart"],
  ] as const)("%s at %s going %s (%s), %s installed, %s answering: %s", (mode, state, direction, order, installed, engine, expected) => {
    const j = journalOf({ state, direction, order });
    const step = nextStep(j, view(installed, engine !== null, engine), noAttempts(), debScheme, mode);
    expect(step.kind === "install" ? `install ${step.set}` : step.kind).toBe(expected);
  });

  it("an interrupted package run is repaired first, whatever the direction", () => {
    expect(nextStep(journalOf({ state: "installing" }), view(NEW, true, undefined, false), noAttempts(), debScheme, "recover").kind).toBe("repair");
  });

  it("never ends with dockerd down while a start is left to try, in any state", () => {
    const states: JournalState[] = ["fetched", "repairing", "installing", "installed", "stopping", "stopped", "starting", "started", "verified", "done"];
    for (const state of states) {
      for (const direction of ["forward", "undo"] as const) {
        for (const installed of [OLD, NEW, undefined]) {
          const tried = noAttempts();
          tried.install = { target: 1, previous: 2 }; // every install already tried
          const step = nextStep(journalOf({ state, direction }), view(installed, false), tried, debScheme, "recover");
          expect(["start", "restart", "turn-back"], `${state} ${direction} ${installed}`).toContain(step.kind);
        }
      }
    }
  });

  it("tells the running build from the API where the releases differ, and from the journal where they do not", () => {
    // a revision-only change: the same release answers; the journal says which set it was started on
    const j = journalOf({ target: [{ name: "docker.io", version: "20.10.24+dfsg1-1+deb12u2" }], state: "installed", startedOn: "previous" });
    const v: HostView = { installed: { "docker.io": { name: "docker.io", version: "20.10.24+dfsg1-1+deb12u2", status: "ii ", ok: true } }, consistent: true, daemonUp: true, engineVersion: "20.10.24+dfsg1", binaryReplaced: null };
    expect(nextStep(j, v, noAttempts(), debScheme, "run").kind).toBe("restart");
    expect(nextStep({ ...j, startedOn: "target" }, v, noAttempts(), debScheme, "run").kind).toBe("verify");
  });

  it("a restart's record without its answer, where neither the API nor the host can tell: going forward, turned back (no new stop); going back, restarted; never verified as it stands", () => {
    const j = journalOf({ target: [{ name: "docker.io", version: "20.10.24+dfsg1-1+deb12u2" }], state: "stopping", startedOn: "unknown" });
    const v: HostView = { installed: { "docker.io": { name: "docker.io", version: "20.10.24+dfsg1-1+deb12u2", status: "ii ", ok: true } }, consistent: true, daemonUp: true, engineVersion: "20.10.24+dfsg1", binaryReplaced: null };
    expect(nextStep(j, v, noAttempts(), debScheme, "recover")).toMatchObject({ kind: "turn-back", why: expect.stringMatching(/restart was under way/) });
    expect(nextStep({ ...j, direction: "undo" }, { ...v, installed: { "docker.io": { name: "docker.io", version: OLD, status: "ii ", ok: true } } }, noAttempts(), debScheme, "recover").kind).toBe("restart");
    // the host tells: a dockerd started from the file on disk runs the installed set
    expect(nextStep(j, { ...v, binaryReplaced: false }, noAttempts(), debScheme, "recover").kind).toBe("verify");
  });
});

describe("the outcome is what the host shows", () => {
  const input = (over: Partial<Parameters<typeof judge>[0]> = {}) => ({ journal: journalOf({ state: "started", startedOn: "target" }), view: view(NEW, true), verified: true, mode: "run" as const, untouched: false, repairHint: "dpkg --configure -a", ...over });

  it.each([
    ["upgraded: target installed, its build answers, verified", input(), "upgraded", 0],
    ["not upgraded when verification did not pass", input({ verified: false }), "failed", 1],
    ["not upgraded when the old build answers", input({ view: view(NEW, true, "20.10.24+dfsg1") }), "failed", 1],
    ["rolled back: previous installed, its build answers", input({ journal: journalOf({ direction: "undo", startedOn: "previous" }), view: view(OLD, true) }), "rolled-back", 1],
    ["a rollback that reinstalled but left the failed build running is no rollback", input({ journal: journalOf({ direction: "undo", startedOn: "target" }), view: view(OLD, true, "20.10.25+dfsg1") }), "failed", 1],
    ["dockerd down: failed", input({ view: view(NEW, false) }), "failed", 1],
    ["recovered and healthy: exit 0", input({ mode: "recover", journal: journalOf({ direction: "undo" }), view: view(OLD, true) }), "rolled-back", 0],
  ])("%s", (_what, i, outcome, exitCode) => {
    const j = judge(i, debScheme);
    expect([j.outcome, j.exitCode]).toEqual([outcome, exitCode]);
  });

  it("says what to do when dockerd is down or the packages are mixed", () => {
    expect(judge(input({ view: view(NEW, false) }), debScheme).text).toMatch(/dockerd NOT answering: start it .* and run `docker-live-upgrade recover`/);
    const mixed = input({ journal: journalOf({ target: [{ name: "docker.io", version: NEW }, { name: "containerd", version: "1.6.21" }], previous: [{ name: "docker.io", version: OLD }, { name: "containerd", version: "1.6.20" }] }) });
    expect(judge(mixed, debScheme).text).toMatch(/packages neither all previous nor all target \(docker\.io 20\.10\.25\+dfsg1-1, containerd \(none\)\)/);
  });
});

describe("recovery, carried out on the simulated host", () => {
  it("a run killed in the middle of a staged install: the service hold released, the install undone, the old daemon never stopped", async () => {
    const world = fakeWorld();
    await world.serviceHold.hold(); // what the dead run left in force
    world.sim.installedVersions["docker.io"] = NEW;
    world.sim.files.set("/state/cache/r0/rollback", new Set([`docker.io=${OLD}`]));
    const report = await recoverRun(world, journalOf({ state: "installing", snapshot: world.engine.containers }));
    expect(world.fakeHold.held).toBe(false);
    expect(report.steps[0]?.name).toBe("release-service-hold");
    expect([report.outcome, report.exitCode]).toEqual(["rolled-back", 0]);
    expect(world.sim.installedVersions["docker.io"]).toBe(OLD);
    expect(world.events.filter((e) => e.startsWith("service."))).toEqual([]);
  });
});
