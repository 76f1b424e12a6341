import { describe, expect, it } from "vitest";
import { dependsOn, restartAllowanceMs, startLevels } from "../../src/restart/order.js";
import { logRates, planFates } from "../../src/restart/fates.js";
import { diffPlanned } from "../../src/upgrade/diff.js";
import { nextStep, noAttempts, type HostView } from "../../src/upgrade/machine.js";
import type { Journal } from "../../src/ports/journal.js";
import type { ContainerSpec } from "../../src/ports/docker.js";
import { checkIn, decide, emptyGroup, release, type GroupState, type SlotRequest } from "../../src/fleet/semaphore.js";
import { ALL_AT_ONCE, JUMP_SOAK_MS } from "../../src/fleet/rollout.js";
import { judgeSimulation } from "../../src/plan/plan.js";
import { debScheme } from "../../src/versions/scheme.js";
import { container } from "../fakes/host.js";

const spec = (labels: Record<string, string> = {}, over: Partial<ContainerSpec> = {}): ContainerSpec => ({ imageId: "sha256:1", command: "[null,null]", env: [], mounts: [], networkMode: "host", restartPolicy: "no", labels, ...over });
const compose = (service: string, on?: string) => spec({ "com.docker.compose.project": "shop", "com.docker.compose.service": service, ...(on ? { "com.docker.compose.depends_on": on } : {}) });

describe("the planned-restart path: start order", () => {
  it("reads compose's depends_on label, old and new forms", () => {
    expect(dependsOn("db:service_healthy:true,cache:service_started:false")).toEqual(["db", "cache"]);
    expect(dependsOn("db:service_started")).toEqual(["db"]);
    expect(dependsOn(undefined)).toEqual([]);
  });

  it("dependencies first, level by level; containers without labels together in the first level; a cycle does not stall", () => {
    const db = container("db", { spec: compose("db") });
    const cache = container("cache", { spec: compose("cache") });
    const api = container("api", { spec: compose("api", "db:service_healthy:true,cache:service_started:false") });
    const web = container("web", { spec: compose("web", "api:service_started:false") });
    const lone = container("lone", { spec: spec() });
    const name = (levels: string[][]) => levels.map((l) => l.map((id) => id.split("-")[0]).sort());
    expect(name(startLevels([web, api, lone, cache, db]))).toEqual([["cache", "db", "lone"], ["api"], ["web"]]);
    // another project's "db" is not this one's
    const other = container("x", { spec: { ...compose("x", "db:service_started:false"), labels: { "com.docker.compose.project": "other", "com.docker.compose.service": "x", "com.docker.compose.depends_on": "db:service_started:false" } } });
    expect(name(startLevels([db, other]))).toEqual([["db", "x"]]);
    const a = container("a", { spec: compose("a", "b:service_started:false") });
    const b = container("b", { spec: compose("b", "a:service_started:false") });
    expect(name(startLevels([a, b, db]))).toEqual([["db"], ["a", "b"]]);
    // the window's allowance: each level's longest stop timeout, and its start (steady + 10 s)
    expect(restartAllowanceMs([db, container("slow", { spec: compose("slow", "db:service_started:false"), stopTimeout: 30 })], 3_000)).toBe(10_000 + 13_000 + 30_000 + 13_000);
    // --network container:X joins X's namespace: X first
    const joined = container("side", { spec: spec({}, { networkMode: `container:${db.id}` }) });
    expect(name(startLevels([joined, db]))).toEqual([["db"], ["side"]]);
  });
});

describe("the planned-restart path: fates and risks", () => {
  const facts = { logRates: new Map<string, number>(), expectedDownMs: 3_000, steadyMs: 3_000 };
  it("restart path: restarted or left stopped; --rm lost to its stop; no restart policy, paused, health check named", () => {
    const fates = planFates(
      [
        container("web", { restartPolicy: "always", healthcheck: true }),
        container("tmp", { autoRemove: true }),
        container("paused", { paused: true }),
        container("old", { running: false, status: "exited" }),
      ],
      { ...facts, path: "restart" },
    );
    expect(fates.map((f) => [f.name, f.fate])).toEqual([["web", "restarted"], ["tmp", "removed-by-stop"], ["paused", "restarted"], ["old", "left-stopped"]]);
    expect(fates[0]!.risks).toEqual(["waited for until its health check passes"]);
    expect(fates[2]!.risks.join("; ")).toMatch(/no restart policy.*paused: its processes restart from the beginning, then it is paused again.*no health check/);
  });

  it("live path: a log rate that fills the 64 KiB pipe within the expected down window, docker-proxy ports, a health check", () => {
    const loud = container("loud", { restartPolicy: "always", ports: "80/tcp->127.0.0.1:8080" });
    const quiet = container("quiet", { restartPolicy: "always", healthcheck: true });
    const rates = logRates([loud.id, quiet.id], [1_000, 50], [101_000, 60], 1_000);
    expect(rates.get(loud.id)).toBe(100_000);
    const [l, q] = planFates([loud, quiet], { ...facts, logRates: rates, path: "live" });
    expect(l!.fate).toBe("kept");
    expect(l!.risks.join("; ")).toMatch(/logs 98 KiB\/s: its 64 KiB log pipe fills in 655 ms.*docker-proxy/);
    expect(q!.risks).toEqual(["its health check does not run while dockerd is down"]);
    // a rotated log (smaller the second time) counts from zero
    expect(logRates(["a"], [5_000], [100], 1_000).get("a")).toBe(100);
  });
});

describe("the planned-restart path: verdict on the containers", () => {
  const before = [container("web", { spec: spec({ a: "1" }) }), container("db", { spec: spec() }), container("old", { running: false, status: "exited", spec: spec() })];
  const planned = new Set([before[0]!.id, before[1]!.id]);
  it("running again with the same Id and config: planned, not restarted; the stopped one stays stopped", () => {
    const after = before.map((c) => (c.running ? { ...c, pid: c.pid + 100, startedAt: "2026-11-29T00:00:00Z" } : c));
    const d = diffPlanned(before, after, planned);
    expect(d.planned!.map((c) => c.name)).toEqual(["web", "db"]);
    // a host port the engine picked (-P) is a new one at each start
    const published = [{ ...before[0]!, ports: "80/tcp->0.0.0.0:32768" }];
    expect(diffPlanned(published, [{ ...published[0]!, ports: "80/tcp->0.0.0.0:32771" }], planned).planned).toHaveLength(1);
    expect([d.restarted, d.missing, d.changed]).toEqual([[], [], []]);
    expect(d.unchanged.map((c) => c.name)).toEqual(["old"]);
  });
  it("not running again, another config, gone, or a stopped one started: each named", () => {
    const after = [
      { ...before[0]!, spec: spec({ a: "2" }, { env: ["X=1"] }) },
      { ...before[2]!, running: true, status: "running" },
    ];
    const d = diffPlanned(before, after, planned);
    expect(d.missing.map((c) => c.name)).toEqual(["db"]);
    expect(d.changed.map((c) => `${c.name}: ${c.what}`)).toEqual(['old: status exited -> running', 'web: env [] -> ["X=1"]; labels {"a":"1"} -> {"a":"2"}']);
  });
});

describe("the planned-restart path: the state machine", () => {
  const journal = (over: Partial<Journal> = {}): Journal => ({
    version: 2, runId: "r", pid: 1, startedAt: "", order: "stop-first", state: "fetched", direction: "forward", failure: null, startedOn: "previous",
    engine: { name: "docker.io", from: "26.1.5+dfsg1-9+deb13u1+b1", to: "28.5.2+dfsg4-5" },
    previous: [{ name: "docker.io", version: "26.1.5+dfsg1-9+deb13u1+b1" }], target: [{ name: "docker.io", version: "28.5.2+dfsg4-5" }],
    targetDir: "", rollbackDir: "", restartContainerd: false, holds: { before: [], after: [] }, snapshot: [], engineOptions: null, fleetSlot: false, transitions: [],
    restart: { levels: [["a"]], phase: "running", stoppedAt: {}, readyAt: {} }, ...over,
  });
  const view = (version: string, engine: string): HostView => ({ installed: { "docker.io": { name: "docker.io", version, status: "ii", ok: true } }, consistent: true, daemonUp: true, engineVersion: engine, binaryReplaced: false });
  it("the containers stop before dockerd does, and start again once it answers on the new build, before the verification", () => {
    const j = journal();
    expect(nextStep(j, view("26.1.5+dfsg1-9+deb13u1+b1", "26.1.5"), noAttempts(), debScheme, "run").kind).toBe("stop-containers");
    j.restart!.phase = "stopped";
    expect(nextStep(j, view("26.1.5+dfsg1-9+deb13u1+b1", "26.1.5"), noAttempts(), debScheme, "run").kind).toBe("stop");
    expect(nextStep(j, view("28.5.2+dfsg4-5", "28.5.2"), noAttempts(), debScheme, "run").kind).toBe("start-containers");
    j.restart!.phase = "started";
    expect(nextStep(j, view("28.5.2+dfsg4-5", "28.5.2"), noAttempts(), debScheme, "run").kind).toBe("verify");
  });
  it("recovery after a crash with the containers stopped and nothing installed: back, and the containers start again", () => {
    const j = journal({ restart: { levels: [["a"]], phase: "stopping", stoppedAt: {}, readyAt: {} } });
    const v = view("26.1.5+dfsg1-9+deb13u1+b1", "26.1.5");
    expect(nextStep(j, v, noAttempts(), debScheme, "recover").kind).toBe("turn-back");
    j.direction = "undo";
    expect(nextStep(j, v, noAttempts(), debScheme, "recover").kind).toBe("start-containers");
  });
  it("a run that passed its verification is not judged again by its recovery (a power loss since restarted every container)", () => {
    const j = journal({ restart: undefined, state: "verified", startedOn: "target" });
    expect(nextStep(j, view("28.5.2+dfsg4-5", "28.5.2"), noAttempts(), debScheme, "recover").kind).toBe("done");
    j.state = "started";
    expect(nextStep(j, view("28.5.2+dfsg4-5", "28.5.2"), noAttempts(), debScheme, "recover").kind).toBe("verify");
  });
  it("going back from a new build that runs the containers again: they stop before the restart", () => {
    const j = journal({ order: "staged", direction: "undo", restart: { levels: [["a"]], phase: "started", stoppedAt: {}, readyAt: {} } });
    expect(nextStep(j, view("26.1.5+dfsg1-9+deb13u1+b1", "28.5.2"), noAttempts(), debScheme, "run").kind).toBe("stop-containers");
  });
});

describe("the planned-restart path: plan and fleet", () => {
  it("the simulation allows a jump's upgrades, never a downgrade", () => {
    const changes = [
      { name: "docker.io", from: "26.1.5+dfsg1-9+deb13u1+b1", to: "28.5.2+dfsg4-5", action: "upgrade" as const },
      { name: "containerd", from: "1.7.24~ds1-6+deb13u1", to: "2.1.9~ds1-5", action: "upgrade" as const },
    ];
    const targets = changes.map((c) => ({ name: c.name, version: c.to }));
    expect(judgeSimulation(debScheme, changes, targets, "live").filter((c) => !c.ok).map((c) => c.name)).toEqual(["patch-only", "patch-only:containerd"]);
    expect(judgeSimulation(debScheme, changes, targets, "restart").every((c) => c.ok)).toBe(true);
    const down = [{ name: "containerd", from: "2.1.9~ds1-5", to: "1.7.24~ds1-6+deb13u1", action: "upgrade" as const }];
    expect(judgeSimulation(debScheme, down, [{ name: "containerd", version: "1.7.24~ds1-6+deb13u1" }], "restart").some((c) => !c.ok)).toBe(true);
  });

  const T = (min: number) => new Date(Date.parse("2026-11-22T03:00:00Z") + min * 60_000).toISOString();
  const req = (host: string, over: Partial<SlotRequest> = {}): SlotRequest => ({ host, runId: `run-${host}`, lease: `lease-${host}`, slots: 2, release: "28.5.2", now: T(0), policy: ALL_AT_ONCE, ...over });
  const group = (): GroupState => ["a", "b"].reduce((s, h) => checkIn(s, h, "26.1.5+dfsg1-9+deb13u1+b1", T(-1)) ?? s, emptyGroup());
  it("a jump's rollout is cautious whatever the policy: one host, then a soak; a failure on it stops every other host's jump", () => {
    const first = decide(group(), new Set(["lease-a"]), req("a"));
    expect(first.kind).toBe("grant");
    if (first.kind !== "grant") return;
    expect(first.rollout).toMatchObject({ batches: [["a"]], soakMs: JUMP_SOAK_MS, late: "after" });
    expect(decide(first.next, new Set(["lease-a", "lease-b"]), req("b")).kind).toBe("wait");
    const failed = release(first.next, { host: "a", lease: "lease-a", runId: "run-a", ok: false, version: "26.1.5+dfsg1-9+deb13u1+b1", outcome: "rolled-back", reason: "start-containers: web not ready", now: T(5) });
    const cleared = { ...failed, halted: null, queuedHalts: [] };
    const b = decide(cleared, new Set(["lease-b"]), req("b", { now: T(90) }));
    expect(b.kind === "halted" && b.halt.reason).toMatch(/jump to 28\.5\.2 failed on a .*no host of the group jumps to it/);
    // a newer release starts a new rollout
    expect(decide(cleared, new Set(["lease-b"]), req("b", { release: "28.5.3", now: T(90) })).kind).toBe("grant");
    // a host already on the series is not jumping: its rollout is not stopped
    const onSeries = checkIn(cleared, "c", "28.5.1+dfsg1-1", T(80)) ?? cleared;
    expect(decide(onSeries, new Set(["lease-c"]), req("c", { now: T(90) })).kind).not.toBe("halted");
    // a jump that failed and could not even go back (the host left on the new series) still counts
    const stuck = release(first.next, { host: "a", lease: "lease-a", runId: "run-a", ok: false, version: "28.5.2+dfsg4-5", outcome: "failed", reason: "rollback failed", now: T(5) });
    expect(stuck.rollouts["28.5"]?.failedOn?.host).toBe("a");
  });
});
