import { describe, expect, it } from "vitest";
import { checkIn, clearHost, decide, emptyGroup, forgetHost, parseGroup, release, rolloutTarget, settleRun, staleHosts, type GroupState, type SlotRequest } from "../../src/fleet/semaphore.js";
import { ALL_AT_ONCE, batchSizes, planBatches, rolloutProgress } from "../../src/fleet/rollout.js";
import { blockingAlerts } from "../../src/fleet/alerts.js";
import { buildOfRelease } from "../../src/plan/plan.js";
import { parseConfig } from "../../src/config/load.js";
import { redactUrl } from "../../src/config/redact.js";
import { debScheme, rpmScheme } from "../../src/versions/scheme.js";
import { runUpgrade } from "../../src/upgrade/run.js";
import { InterruptGate } from "../../src/upgrade/interrupt.js";
import { fakeWorld } from "../fakes/world.js";
import { fakeFleet } from "../fakes/fleet-port.js";

const V24 = "5:24.0.8-1~debian.12~bookworm";
const V25 = "5:24.0.9-1~debian.12~bookworm";
const T = (min: number) => new Date(Date.parse("2026-11-22T03:00:00Z") + min * 60_000).toISOString();
const req = (host: string, over: Partial<SlotRequest> = {}): SlotRequest => ({ host, runId: `run-${host}`, lease: `lease-${host}`, slots: 1, release: "24.0.9", now: T(0), policy: ALL_AT_ONCE, ...over });
/** The leases of these hosts alive (lease-<host>, as req() names them). */
const leases = (...hosts: string[]) => new Set(hosts.map((h) => `lease-${h}`));
const grant = (state: GroupState, host: string, over: Partial<SlotRequest> = {}): GroupState => {
  const d = decide(state, new Set([...state.holders.map((h) => h.lease), over.lease ?? `lease-${host}`]), req(host, over));
  if (d.kind !== "grant") throw new Error(`expected a grant, got ${d.kind}${d.kind === "wait" ? `: ${d.reason}` : ""}`);
  return d.next;
};
const done = (state: GroupState, host: string, version = V25, now = T(0)): GroupState =>
  release(state, { host, lease: `lease-${host}`, runId: `run-${host}`, ok: true, version, outcome: "upgraded", reason: null, now });
const known = (hosts: Record<string, string>): GroupState => ({ ...emptyGroup(), hosts: Object.fromEntries(Object.entries(hosts).map(([h, v]) => [h, { version: v, runId: "", outcome: "seen", at: T(-60), seen: T(-60) }])) });

describe("fleet semaphore", () => {
  it("grants up to `slots` holders, then says who holds them", () => {
    const one = grant(emptyGroup(), "a", { slots: 2 });
    const two = grant(one, "b", { slots: 2 });
    const d = decide(two, leases("a", "b", "c"), req("c", { slots: 2 }));
    expect(d).toMatchObject({ kind: "full", holders: [{ host: "a" }, { host: "b" }] });
  });

  it("a change of `slots` takes effect at the next grant (no count frozen in the key)", () => {
    const one = grant(emptyGroup(), "a");
    expect(decide(one, leases("a", "b"), req("b", { slots: 1 })).kind).toBe("full");
    expect(decide(one, leases("a", "b"), req("b", { slots: 2 })).kind).toBe("grant");
  });

  it("a holder whose lease is gone halts the group: its slot is not handed to anyone", () => {
    const held = grant(emptyGroup(), "a");
    const d = decide(held, leases("b"), req("b"));
    expect(d.kind).toBe("halt-lost");
    if (d.kind !== "halt-lost") return;
    expect(d.next.halted).toMatchObject({ host: "a", runId: "run-a", kind: "lost", reason: expect.stringMatching(/lost mid-upgrade/) });
    expect(d.next.holders.map((h) => h.host)).toEqual(["a"]);
    expect(decide(d.next, leases("b"), req("b"))).toMatchObject({ kind: "halted", halt: { host: "a" } });
  });

  it("liveness is the holder's own lease, not its host name: a restarted host does not vouch for its crashed run", () => {
    // a crashed while holding a slot; its new process has a new lease (and alive key) before it reads the group
    const held = grant(emptyGroup(), "a", { lease: "old", slots: 2 });
    const alive = new Set(["new", "lease-b"]);
    // with slots >= 2 the old record was silently replaced (the group never halted); now: halted on a's lost run
    expect(decide(held, alive, req("a", { lease: "new", runId: "run-a2", slots: 2 }))).toMatchObject({ kind: "halt-lost", lost: { host: "a", lease: "old" } });
    expect(decide(held, alive, req("b", { slots: 2 }))).toMatchObject({ kind: "halt-lost", lost: { host: "a", lease: "old" } });
    // with slots: 1 the host waited on itself forever; now the same halt
    expect(decide(held, alive, req("a", { lease: "new", runId: "run-a2" })).kind).toBe("halt-lost");
    // while the old lease still lives (the crash was seconds ago) the host waits: recovery or the lease's expiry decides
    const both = new Set(["old", "new"]);
    expect(decide(held, both, req("a", { lease: "new", runId: "run-a2", slots: 2 }))).toMatchObject({ kind: "wait", reason: expect.stringMatching(/earlier run of a .*recover/) });
  });

  it("a failed run halts the group with host, run and reason; a success records the host's version and release", () => {
    const held = grant(emptyGroup(), "a");
    const failed = release(held, { host: "a", lease: "lease-a", runId: "run-a", ok: false, version: V24, outcome: "rolled-back", reason: "engine-version: wrong build", now: "t" });
    expect(failed.holders).toEqual([]);
    expect(failed.halted).toEqual({ kind: "failed", host: "a", runId: "run-a", reason: "engine-version: wrong build", at: "t" });
    expect(decide(failed, leases("b"), req("b")).kind).toBe("halted");
    const cleared = clearHost(failed, "a");
    expect(decide(cleared, leases("b"), req("b")).kind).toBe("grant");
    const ok = done(grant(emptyGroup(), "b"), "b");
    expect(ok.halted).toBeNull();
    expect(ok.hosts.b).toMatchObject({ version: V25, release: "24.0.9", outcome: "upgraded" });
  });

  it("a lost run's recovery lifts only the halt that named it lost", () => {
    const held = grant(emptyGroup(), "a");
    const d = decide(held, leases("b"), req("b"));
    if (d.kind !== "halt-lost") throw new Error(d.kind);
    const settled = settleRun(d.next, { host: "a", runId: "run-a", ok: true, version: V25, outcome: "upgraded", reason: null, now: "t" });
    expect([settled.halted, settled.holders]).toEqual([null, []]);
    const failedElsewhere: GroupState = { ...d.next, halted: { host: "c", runId: "run-c", reason: "x", at: "t", kind: "failed" } };
    expect(settleRun(failedElsewhere, { host: "a", runId: "run-a", ok: true, version: V25, outcome: "upgraded", reason: null, now: "t" }).halted?.host).toBe("c");
  });

  it("a second failure while the group is halted is queued: clearing the first brings it into force", () => {
    const two = grant(grant(emptyGroup(), "a", { slots: 2 }), "b", { slots: 2 });
    const fail = (s: GroupState, host: string) => release(s, { host, lease: `lease-${host}`, runId: `run-${host}`, ok: false, version: V24, outcome: "rolled-back", reason: `${host} broke`, now: "t" });
    const both = fail(fail(two, "a"), "b");
    expect([both.halted?.host, both.queuedHalts?.map((h) => h.host)]).toEqual(["a", ["b"]]);
    const cleared = clearHost(both, "a");
    expect([cleared.halted?.host, cleared.queuedHalts]).toEqual(["b", []]);
    expect(decide(cleared, leases("c"), req("c")).kind).toBe("halted");
    expect(forgetHost(cleared, "b")).toMatchObject({ ok: false });
  });

  it("pause grants nothing; clear of another host leaves a halt alone", () => {
    expect(decide({ ...emptyGroup(), paused: true }, leases("a"), req("a")).kind).toBe("paused");
    const halted: GroupState = { ...emptyGroup(), halted: { host: "a", runId: "r", reason: "x", at: "t" } };
    expect(clearHost(halted, "b").halted?.host).toBe("a");
  });
});

describe("fleet rollouts", () => {
  it("one release per rollout and series: the first host records it; others follow it though a newer patch appeared", () => {
    const first = grant(known({ b: V24 }), "a");
    expect(first.rollouts["24.0"]).toMatchObject({ release: "24.0.9", setBy: "a" });
    const withB = done(first, "a");
    expect(rolloutTarget(withB, V24)).toBe("24.0.9");
    expect(rolloutTarget(withB, V25)).toBeNull();
    // b is still behind: a newer patch waits for the rollout (it used to be granted, and that host ran ahead)
    expect(decide(withB, leases("c"), req("c", { release: "24.0.10" }))).toMatchObject({ kind: "wait", reason: expect.stringMatching(/rollout of 24\.0\.9 .* not finished/) });
    // everyone there: the next host's newer release starts the next rollout
    const allDone = done(grant(withB, "b"), "b");
    expect(grant(allDone, "c", { release: "24.0.10" }).rollouts["24.0"]?.release).toBe("24.0.10");
  });

  it("mixed hosts: Debian and Ubuntu builds, deb and rpm, two series, each follow the release with its own package", () => {
    const debian = ["5:24.0.8-1~debian.12~bookworm", "5:24.0.9-1~debian.12~bookworm", "5:24.0.10-1~debian.12~bookworm"];
    const ubuntu = ["5:24.0.8-1~ubuntu.22.04~jammy", "5:24.0.9-1~ubuntu.22.04~jammy", "5:24.0.9-2~ubuntu.22.04~jammy"];
    const rpm = ["3:24.0.8-1.el9", "3:24.0.9-1.el9"];
    // the Debian host starts the rollout of 24.0.9 (a package version the others could never install)
    const state = grant(known({ ubuntu: ubuntu[0]!, rhel: rpm[0]!, old: "20.10.24+dfsg1-1" }), "debian");
    expect(rolloutTarget(state, ubuntu[0]!)).toBe("24.0.9");
    expect(buildOfRelease(debScheme, ubuntu[0]!, ubuntu, "24.0.9", [])).toBe("5:24.0.9-2~ubuntu.22.04~jammy");
    expect(buildOfRelease(rpmScheme, rpm[0]!, rpm, "24.0.9", [])).toBe("3:24.0.9-1.el9");
    expect(buildOfRelease(debScheme, debian[0]!, debian.slice(0, 1), "24.0.9", [])).toBeNull();
    // the 20.10 host is not in the 24.0 rollout: it starts its own series' rollout alongside
    expect(rolloutTarget(state, "20.10.24+dfsg1-1")).toBeNull();
    const both = grant(done(state, "debian"), "old", { release: "20.10.25" });
    expect(Object.keys(both.rollouts).sort()).toEqual(["20.10", "24.0"]);
    // and hosts of other series do not hold up a series' next rollout
    const d = done(grant(done(grant(both, "ubuntu", { slots: 2 }), "ubuntu", ubuntu[2]), "rhel", { slots: 2 }), "rhel", rpm[1]);
    expect(decide(d, leases("debian", "old"), req("debian", { release: "24.0.10", slots: 2 })).kind).toBe("grant");
  });

  it("batches count like Ansible's serial: percentages of all hosts, truncated, at least 1; the last repeats", () => {
    expect(batchSizes([1, "10%", "100%"], 1)).toEqual([1]);
    expect(batchSizes([1, "10%", "100%"], 5)).toEqual([1, 1, 3]);
    expect(batchSizes([1, "10%", "100%"], 20)).toEqual([1, 2, 17]);
    expect(batchSizes([1, "10%", "100%"], 101)).toEqual([1, 10, 90]);
    expect(batchSizes(["30%"], 20)).toEqual([6, 6, 6, 2]);
    expect(batchSizes([2], 5)).toEqual([2, 2, 1]);
    expect(planBatches(["e", "d", "c", "b", "a"], { batches: [1, "40%"], canaries: ["d", "zz"], soakMs: 0 })).toEqual([["d"], ["a", "b"], ["c", "e"]]);
  });

  it("a batch starts when the batches before it reached the release and soaked; late hosts go after them all", () => {
    const policy = { batches: [1, "100%"], canaries: ["c"], soakMs: 60 * 60_000 };
    const group = known({ a: V24, b: V24, c: V24 });
    // a asks first: the rollout starts (on record) but a is not in the canary batch
    const d = decide(group, leases("a"), req("a", { policy }));
    expect(d).toMatchObject({ kind: "wait", reason: expect.stringMatching(/batch 1 of 2; a goes in batch 2 of 2, after c reach 24\.0\.9/) });
    if (d.kind !== "wait" || !d.next) throw new Error("no rollout on record");
    expect(d.next.rollouts["24.0"]?.batches).toEqual([["c"], ["a", "b"]]);
    const canary = done(grant(d.next, "c", { policy }), "c", V25, T(10));
    const soaking = decide(canary, leases("a"), req("a", { policy, now: T(30) }));
    expect(soaking).toMatchObject({ kind: "wait", reason: expect.stringMatching(/soaks until 2026-11-22T04:10:00.000Z/) });
    expect(rolloutProgress(canary, canary.rollouts["24.0"]!, T(30))).toMatchObject({ batch: 2, soakUntil: T(70), behind: ["a", "b"] });
    expect(decide(canary, leases("a"), req("a", { policy, now: T(71) })).kind).toBe("grant");
    // a host the rollout did not know of goes after every planned batch (never past the canary)
    expect(decide(canary, leases("new"), req("new", { policy, now: T(71) }))).toMatchObject({ kind: "wait", reason: expect.stringMatching(/joined after the rollout started/) });
    const both = grant(grant(canary, "a", { policy, now: T(71), slots: 2 }), "b", { policy, now: T(71), slots: 2 });
    const all = done(done(both, "a", V25, T(80)), "b", V25, T(80));
    expect(decide(all, leases("new"), req("new", { policy, now: T(139) })).kind).toBe("wait");
    expect(decide(all, leases("new"), req("new", { policy, now: T(141) })).kind).toBe("grant");
  });

  it("fleet forget: a retired host stops holding rollouts back; refused while it holds a slot or halts the group", () => {
    const policy = { batches: [1, "100%"], canaries: ["gone"], soakMs: 0 };
    const group = known({ gone: V24, a: V24 });
    const d = decide(group, leases("a"), req("a", { policy }));
    if (d.kind !== "wait" || !d.next) throw new Error(d.kind);
    const forgot = forgetHost(d.next, "gone");
    if (!forgot.ok) throw new Error(forgot.reason);
    expect(forgot.next.hosts.gone).toBeUndefined();
    expect(decide(forgot.next, leases("a"), req("a", { policy })).kind).toBe("grant");
    expect(forgetHost(grant(group, "gone"), "gone")).toMatchObject({ ok: false, reason: expect.stringMatching(/holds a slot.*fleet clear gone/) });
    expect(forgetHost({ ...group, halted: { host: "gone", runId: "r", reason: "x", at: "t" } }, "gone")).toMatchObject({ ok: false });
    expect(forgetHost(group, "nobody")).toMatchObject({ ok: false, reason: expect.stringMatching(/no host named nobody/) });
  });

  it("check-ins keep hosts' records current (at most hourly) and show the stale ones", () => {
    const a = checkIn(emptyGroup(), "a", V24, T(0))!;
    expect(a.hosts.a).toMatchObject({ version: V24, release: "24.0.8", seen: T(0), outcome: "seen" });
    expect(checkIn(a, "a", V24, T(30))).toBeNull();
    expect(checkIn(a, "a", V25, T(30))?.hosts.a?.release).toBe("24.0.9");
    expect(checkIn(a, "a", V24, T(61))?.hosts.a?.seen).toBe(T(61));
    const later = checkIn(a, "b", V24, T(60 * 24 * 20))!;
    expect(staleHosts(later, T(60 * 24 * 20), 14 * 86_400_000)).toEqual(["a"]);
  });

  it("a group written by an older version keeps its rollout (a package version becomes its release)", () => {
    const old = JSON.stringify({ holders: [], halted: null, paused: false, target: { version: V25, setBy: "a", at: "t" }, hosts: { a: { version: V25, runId: "r", outcome: "upgraded", at: "t" } } });
    const state = parseGroup(old);
    expect(state.rollouts["24.0"]).toMatchObject({ release: "24.0.9", setBy: "a" });
    expect(rolloutTarget(state, V24)).toBe("24.0.9");
  });
});

describe("fleet config", () => {
  const fleet = (f: object) => () => parseConfig({ fleet: f });
  it("refuses slots and rollouts with fleetlock (the server decides), a password over http://, credentials in etcd URLs", () => {
    expect(fleet({ backend: "fleetlock", fleetlock: { url: "https://fl.example/" }, slots: 2 })).toThrow(/fleet\.slots: with backend: fleetlock the server keeps the count/);
    expect(fleet({ backend: "fleetlock", fleetlock: { url: "https://fl.example/" }, rollout: [1, "100%"] })).toThrow(/need backend: etcd/);
    expect(fleet({ etcd: { endpoints: ["http://127.0.0.1:2379"], username: "u", password: "p" } })).toThrow(/password would cross the network in clear/);
    expect(fleet({ etcd: { endpoints: ["https://u:secret@127.0.0.1:2379"] } })).toThrow(/no credentials in the URL/);
    expect(fleet({ etcd: { endpoints: ["https://u:secret@127.0.0.1:2379"] } })).not.toThrow(/secret/);
    expect(fleet({ etcd: { endpoints: ["https://127.0.0.1:2379", "http://127.0.0.1:2479"] } })).toThrow(/not a mix/);
    expect(fleet({ etcd: { endpoints: ["https://127.0.0.1:2379"], username: "u", password: "p" }, rollout: [1, "10%", "100%"], canaries: ["a"] })).not.toThrow();
    expect(parseConfig({ fleet: { etcd: { endpoints: ["http://127.0.0.1:2379"] } } }).fleet?.slots).toBe(1);
  });
  it("redacts credentials in URLs shown", () => {
    expect(redactUrl("https://user:pw@fl.example/x")).toBe("https://***@fl.example/x");
    expect(redactUrl("https://fl.example/x")).toBe("https://fl.example/x");
  });
});

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

describe("the alert gate before a slot", () => {
  const firing = (name: string, state: "firing" | "pending" = "firing") => ({ name, state, labels: { alertname: name, alertstate: state } });
  it("filters as kured does: ignore by name, only by name, pending alerts unless firingOnly", () => {
    const all = [firing("Watchdog"), firing("DiskFull"), firing("HighLoad", "pending")];
    expect(blockingAlerts(all, { firingOnly: false }).map((a) => a.name)).toEqual(["Watchdog", "DiskFull", "HighLoad"]);
    expect(blockingAlerts(all, { ignore: "Watchdog|Info.*", firingOnly: true }).map((a) => a.name)).toEqual(["DiskFull"]);
    expect(blockingAlerts(all, { only: "Disk.*|High.*", firingOnly: false }).map((a) => a.name)).toEqual(["DiskFull", "HighLoad"]);
    // whole names: "Disk" does not ignore "DiskFull"
    expect(blockingAlerts(all, { ignore: "Disk", firingOnly: false })).toHaveLength(3);
  });

  const gated = (active: () => Promise<ReturnType<typeof firing>[]>) => {
    const world = fakeWorld({ fleet: { etcd: { endpoints: ["http://127.0.0.1:2379"] }, alerts: { prometheus: "http://127.0.0.1:9090", ignore: "Watchdog" } } });
    const f = fakeFleet("slot");
    world.fleet = f.fleet;
    world.alerts = { source: "Prometheus at http://127.0.0.1:9090", active };
    return { world, calls: f.calls };
  };

  it("an active alert defers the run before it asks for a slot; none lets it go on", async () => {
    const blocked = gated(() => Promise.resolve([firing("Watchdog"), firing("NodeDown")]));
    const r = await runUpgrade(blocked.world, { dryRun: false, interrupt: new InterruptGate() });
    expect([r.outcome, r.exitCode, r.error?.step]).toEqual(["deferred", 0, "fleet-alerts"]);
    expect(r.error?.message).toMatch(/1 alert\(s\) active in Prometheus at http:\/\/127\.0\.0\.1:9090: NodeDown \(firing\)/);
    expect(blocked.calls).toEqual([]);
    const quiet = gated(() => Promise.resolve([firing("Watchdog")]));
    expect((await runUpgrade(quiet.world, { dryRun: false, interrupt: new InterruptGate() })).outcome).toBe("upgraded");
    expect(quiet.calls[0]).toMatch(/^acquire/);
  });

  it("monitoring that does not answer defers too", async () => {
    const down = gated(() => Promise.reject(new Error("Prometheus at http://127.0.0.1:9090 unreachable: ECONNREFUSED")));
    const r = await runUpgrade(down.world, { dryRun: false, interrupt: new InterruptGate() });
    expect([r.outcome, r.error?.message]).toEqual(["deferred", expect.stringMatching(/unreachable: ECONNREFUSED; no slot is taken without an answer/)]);
  });
});
