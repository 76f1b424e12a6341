import { describe, expect, it } from "vitest";
import { clearRefusal, decide, emptyGroup, lostHolder, parseGroup, release, withHalt, type GroupState, type SlotRequest } from "../../src/fleet/semaphore.js";
import { ALL_AT_ONCE, batchGate, newRollout, type RolloutPolicy } from "../../src/fleet/rollout.js";
import { parseConfig } from "../../src/config/load.js";
import { redactUrl } from "../../src/config/redact.js";
import { runUpgrade } from "../../src/upgrade/run.js";
import { recoverRun } from "../../src/upgrade/recover.js";
import { InterruptGate } from "../../src/upgrade/interrupt.js";
import { fakeWorld } from "../fakes/world.js";
import { fakeFleet } from "../fakes/fleet-port.js";

// The edges an adversarial read of the fleet code found: each failed before its fix.
const T = (min: number) => new Date(Date.parse("2026-11-22T03:00:00Z") + min * 60_000).toISOString();
const req = (host: string, over: Partial<SlotRequest> = {}): SlotRequest => ({ host, runId: `run-${host}`, lease: `lease-${host}`, slots: 2, release: "24.0.9", now: T(0), policy: ALL_AT_ONCE, ...over });
const leases = (...hosts: string[]) => new Set(hosts.map((h) => `lease-${h}`));
const held = (...hosts: string[]): GroupState => ({ ...emptyGroup(), holders: hosts.map((h) => ({ host: h, runId: `run-${h}`, lease: `lease-${h}`, since: T(0), series: "24.0" })) });
const STAGED: RolloutPolicy = { batches: [1, "100%"], canaries: [], soakMs: 10 * 60_000 };

describe("fleet edges", () => {
  it("the fence sees a holder lost while nobody asked for a slot (slots 2: b must not stop dockerd)", () => {
    // a's process died with dockerd stopped, its lease expired; b is at its fence
    expect(lostHolder(held("a", "b"), leases("b"), "lease-b")).toMatchObject({ host: "a" });
    expect(lostHolder(held("a", "b"), leases("a", "b"), "lease-b")).toBeNull();
    // a halt already in force speaks for itself
    expect(lostHolder({ ...held("a", "b"), ...withHalt(emptyGroup(), { host: "c", runId: "r", reason: "x", at: T(0) }) }, leases("b"), "lease-b")).toBeNull();
  });

  it("a run that planned an older release than its series' rollout is sent back to plan again, never granted", () => {
    const state: GroupState = { ...emptyGroup(), rollouts: { "24.0": { series: "24.0", release: "24.0.9", setBy: "a", at: T(0), batches: [["a", "b"]], soakMs: 0 } } };
    expect(decide(state, leases("b"), req("b", { release: "24.0.8" }))).toMatchObject({ kind: "retarget", release: "24.0.9" });
    expect(decide(state, leases("b"), req("b")).kind).toBe("grant");
  });

  it("a staged rollout started by the only host the group knows keeps later hosts behind it and its soak", () => {
    const r = newRollout(emptyGroup(), { host: "web-7", series: "24.0", release: "24.0.9", now: T(0) }, STAGED);
    expect(r.batches).toEqual([["web-7"]]);
    const state: GroupState = { ...emptyGroup(), rollouts: { "24.0": r } };
    expect(batchGate(state, r, "web-8", T(1))).toMatchObject({ open: false, reason: expect.stringMatching(/after web-7 reach 24.0.9/) });
    // all at once (no policy): a host that joined late goes with the others
    const flat = newRollout(emptyGroup(), { host: "web-7", series: "24.0", release: "24.0.9", now: T(0) }, ALL_AT_ONCE);
    expect(batchGate({ ...emptyGroup(), rollouts: { "24.0": flat } }, flat, "web-8", T(1))).toEqual({ open: true });
  });

  it("configured canaries the group has not seen yet still go first", () => {
    const r = newRollout(emptyGroup(), { host: "web-7", series: "24.0", release: "24.0.9", now: T(0) }, { ...STAGED, canaries: ["web-1"] });
    expect(r.batches).toEqual([["web-1"], ["web-7"]]);
    expect(decide({ ...emptyGroup(), rollouts: { "24.0": r } }, leases("web-7"), req("web-7", { policy: STAGED }))).toMatchObject({ kind: "wait", reason: expect.stringMatching(/after web-1 reach/) });
  });

  it("a healthy release lifts the halt another host set when it took this run for lost", () => {
    const state = { ...held("a"), ...withHalt(emptyGroup(), { host: "a", runId: "run-a", reason: "lost mid-upgrade", at: T(1), kind: "lost" }) };
    const after = release(state, { host: "a", lease: "lease-a", runId: "run-a", ok: true, version: "5:24.0.9-1~debian.12~bookworm", outcome: "upgraded", reason: null, now: T(2) });
    expect([after.halted, after.holders]).toEqual([null, []]);
  });

  it("a queued halt with no halt in force (cleared by an older version) comes into force when read", () => {
    const text = JSON.stringify({ ...emptyGroup(), halted: null, queuedHalts: [{ host: "c", runId: "run-c", reason: "failed", at: T(0), kind: "failed" }] });
    const g = parseGroup(text);
    expect([g.halted?.host, g.queuedHalts]).toEqual(["c", []]);
    expect(decide(g, leases("b"), req("b")).kind).toBe("halted");
  });

  it("fleet clear refuses to free the slot of a holder whose lease is alive", () => {
    expect(clearRefusal(held("a"), leases("a"), "a")).toMatch(/lease is alive .*--force/);
    expect(clearRefusal(held("a"), leases(), "a")).toBeNull();
  });

  it("credentials are redacted whole (an @ in the password too) and refused in clear over http:// past loopback", () => {
    expect(redactUrl("http://user:p@ss@prom:9090/api?x=1")).toBe("http://***@prom:9090/api?x=1");
    expect(redactUrl("https://prom:9090/a@b")).toBe("https://prom:9090/a@b");
    const fleet = (url: string) => ({ fleet: { backend: "fleetlock", fleetlock: { url } } });
    expect(() => parseConfig(fleet("http://u:p@lock.example.com:3333"), "t")).toThrow(/in clear: use https/);
    expect(() => parseConfig(fleet("https://u:p@lock.example.com:3333"), "t")).not.toThrow();
    expect(() => parseConfig(fleet("http://u:p@127.0.0.1:3333"), "t")).not.toThrow();
  });
});

describe("a run whose slot cannot be given back before the stop", () => {
  it("keeps its journal open, says so, and its recovery settles the group's record", async () => {
    const world = fakeWorld();
    const f = fakeFleet("slot", false, true);
    world.fleet = f.fleet;
    const report = await runUpgrade(world, { dryRun: false, interrupt: new InterruptGate() });
    expect([report.outcome, report.exitCode]).toEqual(["refused", 3]);
    expect(report.checks.find((c) => c.name === "fleet-release")).toMatchObject({ ok: false, message: expect.stringMatching(/journal stays open/) });
    const journal = await world.state.readJournal();
    expect(journal?.runId).toBe(report.id);
    const rec = await recoverRun(world, journal!);
    expect(rec.outcome).not.toBe("failed");
    expect(f.calls.at(-1)).toBe(`settle ${report.id} ok ${rec.outcome}`);
    expect(world.events.filter((e) => e.startsWith("service."))).toEqual([]);
  });

  it("a retargeted run ends untouched, deferred, for the daemon to plan again", async () => {
    const world = fakeWorld();
    world.fleet = fakeFleet("retarget").fleet;
    const report = await runUpgrade(world, { dryRun: false, interrupt: new InterruptGate() });
    expect([report.outcome, report.exitCode, report.error?.step]).toEqual(["deferred", 0, "fleet-retarget"]);
  });
});
