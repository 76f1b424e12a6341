import { describe, expect, it } from "vitest";
import { clearHost, decide, emptyGroup, mayStartRollout, release, rolloutTarget, type GroupState, type SlotRequest } from "../../src/fleet/semaphore.js";
import { debScheme } from "../../src/versions/scheme.js";
import { runUpgrade } from "../../src/upgrade/run.js";
import { InterruptGate } from "../../src/upgrade/interrupt.js";
import type { Acquired, FleetPort } from "../../src/ports/fleet.js";
import { fakeWorld } from "../fakes/world.js";

const cmp = (a: string, b: string) => debScheme.compare(a, b);
const V24 = "5:24.0.8-1~debian.12~bookworm";
const V25 = "5:24.0.9-1~debian.12~bookworm";
const V26 = "5:24.0.10-1~debian.12~bookworm";
const req = (host: string, over: Partial<SlotRequest> = {}): SlotRequest => ({ host, runId: `run-${host}`, lease: `lease-${host}`, slots: 1, target: V25, now: "2026-11-22T03:00:00Z", ...over });
const grant = (state: GroupState, host: string, over: Partial<SlotRequest> = {}): GroupState => {
  const d = decide(state, new Set([...state.holders.map((h) => h.host), host]), req(host, over), cmp);
  if (d.kind !== "grant") throw new Error(`expected a grant, got ${d.kind}`);
  return d.next;
};

describe("fleet semaphore", () => {
  it("grants up to `slots` holders, then says who holds them", () => {
    const one = grant(emptyGroup(), "a", { slots: 2 });
    const two = grant(one, "b", { slots: 2 });
    const d = decide(two, new Set(["a", "b", "c"]), req("c", { slots: 2 }), cmp);
    expect(d).toMatchObject({ kind: "full", holders: [{ host: "a" }, { host: "b" }] });
  });

  it("a change of `slots` takes effect at the next grant (no count frozen in the key)", () => {
    const one = grant(emptyGroup(), "a");
    expect(decide(one, new Set(["a", "b"]), req("b", { slots: 1 }), cmp).kind).toBe("full");
    expect(decide(one, new Set(["a", "b"]), req("b", { slots: 2 }), cmp).kind).toBe("grant");
  });

  it("a holder whose lease is gone halts the group: its slot is not handed to anyone", () => {
    const held = grant(emptyGroup(), "a");
    const d = decide(held, new Set(["b"]), req("b"), cmp);
    expect(d.kind).toBe("halt-lost");
    if (d.kind !== "halt-lost") return;
    expect(d.next.halted).toMatchObject({ host: "a", runId: "run-a", reason: expect.stringMatching(/lost mid-upgrade/) });
    expect(d.next.holders.map((h) => h.host)).toEqual(["a"]);
    expect(decide(d.next, new Set(["b"]), req("b"), cmp)).toMatchObject({ kind: "halted", halt: { host: "a" } });
  });

  it("fencing: a host whose earlier lease died is not its own holder again", () => {
    const held = grant(emptyGroup(), "a", { lease: "old" });
    expect(decide(held, new Set(["a"]), req("a", { lease: "new" }), cmp).kind).toBe("full");
    expect(decide(held, new Set([]), req("a", { lease: "new" }), cmp).kind).toBe("halt-lost");
  });

  it("a failed run halts the group with host, run and reason; a success records the host's version", () => {
    const held = grant(emptyGroup(), "a");
    const failed = release(held, { host: "a", lease: "lease-a", runId: "run-a", ok: false, version: V24, outcome: "rolled-back", reason: "engine-version: wrong build", now: "t" });
    expect(failed.holders).toEqual([]);
    expect(failed.halted).toEqual({ kind: "failed", host: "a", runId: "run-a", reason: "engine-version: wrong build", at: "t" });
    expect(decide(failed, new Set(["b"]), req("b"), cmp).kind).toBe("halted");
    const cleared = clearHost(failed, "a");
    expect(decide(cleared, new Set(["b"]), req("b"), cmp).kind).toBe("grant");
    const ok = release(grant(emptyGroup(), "b"), { host: "b", lease: "lease-b", runId: "run-b", ok: true, version: V25, outcome: "upgraded", reason: null, now: "t" });
    expect(ok.halted).toBeNull();
    expect(ok.hosts.b).toMatchObject({ version: V25, outcome: "upgraded" });
  });

  it("pause grants nothing; clear of another host leaves a halt alone", () => {
    expect(decide({ ...emptyGroup(), paused: true }, new Set(["a"]), req("a"), cmp).kind).toBe("paused");
    const halted: GroupState = { ...emptyGroup(), halted: { host: "a", runId: "r", reason: "x", at: "t" } };
    expect(clearHost(halted, "b").halted?.host).toBe("a");
  });

  it("one target per rollout: the first host records it; others follow it though a newer patch appeared", () => {
    const first = grant(emptyGroup(), "a", { target: V25 });
    expect(first.target?.version).toBe(V25);
    const done = release(first, { host: "a", lease: "lease-a", runId: "run-a", ok: true, version: V25, outcome: "upgraded", reason: null, now: "t" });
    const withB = { ...done, hosts: { ...done.hosts, b: { version: V24, runId: "x", outcome: "upgraded", at: "t" } } };
    expect(rolloutTarget(withB, V24, cmp)).toBe(V25);
    expect(rolloutTarget(withB, V25, cmp)).toBeNull();
    // b is still behind: a newer patch does not start a new rollout
    expect(mayStartRollout(withB, cmp)).toBe(false);
    expect(grant(withB, "c", { target: V26 }).target?.version).toBe(V25);
    // everyone there: the next host's newer target starts the next rollout
    const allDone = { ...withB, hosts: { ...withB.hosts, b: { ...withB.hosts.b, version: V25 } } };
    expect(grant(allDone, "c", { target: V26 }).target?.version).toBe(V26);
  });
});

/** A fleet that answers as told and records what the run did with its slot. */
function fakeFleet(answer: "slot" | "deferred" | "halted", fence = true) {
  const calls: string[] = [];
  const fleet: FleetPort = {
    backend: "etcd",
    requests: 0,
    rolloutTarget: () => Promise.resolve(null),
    acquire: (r): Promise<Acquired> => {
      calls.push(`acquire ${r.target}`);
      if (answer === "deferred") return Promise.resolve({ kind: "deferred", reason: "all 1 slot(s) are held (b)" });
      if (answer === "halted") return Promise.resolve({ kind: "halted", reason: "halted by b: lost" });
      return Promise.resolve({
        kind: "slot",
        target: r.target,
        slot: {
          assertHeld: () => (fence ? Promise.resolve() : Promise.reject(new Error("this host no longer holds its fleet slot"))),
          release: (x) => {
            calls.push(`release ${x.ok ? "ok" : "halt"} ${x.outcome}`);
            return Promise.resolve();
          },
        },
      });
    },
    settleRun: (runId, x) => {
      calls.push(`settle ${runId} ${x.ok ? "ok" : "halt"} ${x.outcome}`);
      return Promise.resolve();
    },
    status: () => Promise.reject(new Error("n/a")),
    clear: () => Promise.resolve(),
    setPaused: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
  return { fleet, calls };
}

describe("a run in a fleet", () => {
  const gate = () => new InterruptGate();

  it("takes a slot after the preflight, before any download, and gives it back after success", async () => {
    const world = fakeWorld();
    const f = fakeFleet("slot");
    world.fleet = f.fleet;
    const report = await runUpgrade(world, { dryRun: false, interrupt: gate() });
    expect(report.outcome).toBe("upgraded");
    expect(f.calls).toEqual(["acquire 20.10.25+dfsg1-1", "release ok upgraded"]);
    expect(report.steps.map((s) => s.name).slice(0, 4)).toEqual(["preflight", "hooks-pre", "fleet-slot", "download"]);
    expect(report.fleet).toMatchObject({ backend: "etcd", waitedMs: expect.any(Number) as number, requests: 0 });
  });

  it("no slot in time: deferred, exit 0, nothing touched", async () => {
    const world = fakeWorld();
    world.fleet = fakeFleet("deferred").fleet;
    const report = await runUpgrade(world, { dryRun: false, interrupt: gate() });
    expect([report.outcome, report.exitCode]).toEqual(["deferred", 0]);
    expect(report.error?.message).toMatch(/all 1 slot\(s\) are held/);
    // the package lists were refreshed (read-only for the host); nothing fetched, installed or restarted
    expect(world.events.filter((e) => /^packages\.(fetch|install|hold|unhold)|^service\./.test(e))).toEqual([]);
  });

  it("a halted group refuses (exit 3), naming who halted it", async () => {
    const world = fakeWorld();
    world.fleet = fakeFleet("halted").fleet;
    const report = await runUpgrade(world, { dryRun: false, interrupt: gate() });
    expect([report.outcome, report.exitCode]).toEqual(["refused", 3]);
    expect(report.error?.message).toMatch(/halted by b/);
  });

  it("a rolled-back run gives the slot back with a halt", async () => {
    const world = fakeWorld({ upgrade: { downtimeBudget: "1s" }, docker: { readyTimeout: "1s" } });
    world.fakeService.brokenBuilds.add("20.10.25+dfsg1");
    const f = fakeFleet("slot");
    world.fleet = f.fleet;
    const report = await runUpgrade(world, { dryRun: false, interrupt: gate() });
    expect(report.outcome).toBe("rolled-back");
    expect(f.calls.at(-1)).toBe("release halt rolled-back");
  });

  it("the fence: a slot lost before the stop ends the run with nothing stopped", async () => {
    const world = fakeWorld();
    const f = fakeFleet("slot", false);
    world.fleet = f.fleet;
    const report = await runUpgrade(world, { dryRun: false, interrupt: gate() });
    expect([report.outcome, report.exitCode]).toEqual(["refused", 3]);
    expect(report.error?.message).toMatch(/no longer holds its fleet slot/);
    expect(world.events.filter((e) => e.startsWith("service."))).toEqual([]);
  });
});
