import { describe, expect, it } from "vitest";
import { checkpointCheck, formatCheck } from "../../src/checkpoint/check.js";
import { autoName, autoTime, isAuto, pruneSet } from "../../src/checkpoint/names.js";
import { CheckpointFailed, CheckpointRefused, createCheckpoint, exportContainer, importContainer, restoreCheckpoint, type CheckpointDeps } from "../../src/checkpoint/ops.js";
import { PeriodicCheckpoints, type PeriodicResult } from "../../src/checkpoint/periodic.js";
import { parseConfig } from "../../src/config/load.js";
import type { CheckpointEntry, CheckpointPort, ContainerDefinition, CriuFacts } from "../../src/ports/checkpoints.js";
import { container } from "../fakes/world.js";
import { fakeWorld, simWorld, type FakeWorld } from "../fakes/world.js";
import { prepare } from "../sim/scenarios.js";
import { runSession } from "../../src/upgrade/session.js";

/** The engine's checkpoints over the simulated host's containers; failures on demand. */
class FakeCheckpoints implements CheckpointPort {
  readonly saved = new Map<string, CheckpointEntry[]>();
  readonly files = new Map<string, { manifest: unknown }>();
  facts: CriuFacts = { version: "4.2.1", check: { ok: true, message: "Looks good." }, kernel: "6.18.0" };
  experimentalOn = true;
  failDump: string | null = null;
  /** Restores that fail before one works, with this message. */
  restoreFailures: string[] = [];
  failPack = false;
  images = new Map<string, string>([["app:1", "sha256:app1"]]);
  removed: string[] = [];
  constructor(private readonly w: FakeWorld) {}
  private set(id: string, patch: object) {
    this.w.engine.containers = this.w.engine.containers.map((c) => (c.id === id ? { ...c, ...patch } : c));
  }
  criu = () => Promise.resolve(this.facts);
  experimental = () => Promise.resolve(this.experimentalOn);
  list = (id: string) => Promise.resolve([...(this.saved.get(id) ?? [])]);
  create(id: string, name: string, exit: boolean) {
    if (this.failDump) {
      // a failed dump: the process stopped anyway (the worst case)
      this.set(id, { running: false, status: "exited", pid: 0 });
      return Promise.reject(new Error(this.failDump));
    }
    this.saved.set(id, [...(this.saved.get(id) ?? []), { name, createdAt: new Date(this.w.fakeClock.t).toISOString(), bytes: 1 }]);
    if (exit) this.set(id, { running: false, status: "exited", pid: 0 });
    return Promise.resolve();
  }
  setRestartPolicy(id: string, policy: string) {
    this.set(id, { restartPolicy: policy });
    return Promise.resolve();
  }
  remove(id: string, name: string) {
    this.saved.set(id, (this.saved.get(id) ?? []).filter((e) => e.name !== name));
    return Promise.resolve();
  }
  restore(id: string) {
    const f = this.restoreFailures.shift();
    if (f) return Promise.reject(new Error(f));
    this.set(id, { running: true, status: "running", pid: 4242 });
    return Promise.resolve();
  }
  definition(ref: string): Promise<ContainerDefinition | null> {
    const c = this.w.engine.containers.find((x) => x.id === ref || x.name === ref);
    if (!c) return Promise.resolve(null);
    return Promise.resolve({ id: c.id, name: c.name, image: c.image, imageId: "sha256:app1", config: { Image: c.image }, hostConfig: {}, mounts: [{ type: "volume", source: "data", destination: "/data" }], running: c.running });
  }
  imageId = (ref: string) => Promise.resolve(this.images.get(ref) ?? null);
  createContainer(name: string, def: ContainerDefinition) {
    const id = `new-${name}`;
    this.w.engine.containers = [...this.w.engine.containers, container(name, { id, image: def.image, running: false, status: "created", pid: 0 })];
    return Promise.resolve(id);
  }
  removeContainer(id: string) {
    this.removed.push(id);
    this.w.engine.containers = this.w.engine.containers.filter((c) => c.id !== id);
    return Promise.resolve();
  }
  runScratch() {
    this.w.engine.containers = [...this.w.engine.containers, container("scratch", { id: "scratch" })];
    return Promise.resolve("scratch");
  }
  pack(_id: string, _name: string, manifest: object, out: string) {
    if (this.failPack) return Promise.reject(new Error("ENOSPC: no space left on device"));
    this.files.set(out, { manifest: JSON.parse(JSON.stringify(manifest)) as unknown });
    return Promise.resolve(100);
  }
  exists = (file: string) => Promise.resolve(this.files.has(file));
  readManifest = (file: string) => Promise.resolve(this.files.get(file)?.manifest ?? null);
  unpack = () => Promise.resolve();
}

function setup(): { w: FakeWorld; cp: FakeCheckpoints; deps: CheckpointDeps } {
  const w = fakeWorld();
  w.engine.containers = [container("app", { id: "app-id", image: "app:1" })];
  const cp = new FakeCheckpoints(w);
  return { w, cp, deps: { docker: w.docker, checkpoints: cp, clock: w.clock, retryDelayMs: 0 } };
}
const app = (w: FakeWorld) => w.engine.containers.find((c) => c.name === "app")!;

describe("checkpoint names", () => {
  it("names its own by the time, and prunes only those: names an operator gave stay", () => {
    const t = Date.parse("2026-11-30T03:15:00.123Z");
    expect(autoName(t)).toBe("dlu-20261130T031500.123Z");
    expect(autoTime(autoName(t))).toBe(t);
    expect(isAuto("before-migration")).toBe(false);
    const e = (name: string): CheckpointEntry => ({ name, createdAt: null, bytes: null });
    const all = [e(autoName(t)), e("before-migration"), e(autoName(t + 1000)), e(autoName(t - 1000))];
    expect(pruneSet(all, 1).map((x) => x.name)).toEqual([autoName(t), autoName(t - 1000)]);
  });
});

describe("checkpoint create and restore", () => {
  it("a dump that fails and stopped the container anyway: it is started again, and the message says its state is lost", async () => {
    const { w, cp, deps } = setup();
    cp.failDump = "criu failed: Can't get 1:16 opt";
    const err = await createCheckpoint(deps, "app", { leaveRunning: false }).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(CheckpointFailed);
    expect((err as Error).message).toMatch(/Can't get 1:16 opt.*started again \(its state before is lost\)/);
    expect(app(w).running).toBe(true);
  });

  it("a restore the engine refuses with 'content already exists' is tried again; another failure is not, and leaves it stopped", async () => {
    const { w, cp, deps } = setup();
    await createCheckpoint(deps, "app", { leaveRunning: false });
    cp.restoreFailures = ["failed to upload checkpoint to containerd: commit failed: content sha256:ab: already exists"];
    expect((await restoreCheckpoint(deps, "app", {})).attempts).toBe(2);
    expect(app(w).running).toBe(true);
    await createCheckpoint(deps, "app", { name: "manual", leaveRunning: false });
    cp.restoreFailures = ["bind-mount /proc/0/ns/net: no such file or directory"];
    await expect(restoreCheckpoint(deps, "app", { name: "manual" })).rejects.toThrow(/stays stopped \(docker start app starts it fresh\)/);
    expect(app(w).running).toBe(false);
  });

  it("refuses what it cannot do, touching nothing: a running container's restore, a stopped one's checkpoint, a bad name", async () => {
    const { w, deps } = setup();
    await expect(restoreCheckpoint(deps, "app", {})).rejects.toBeInstanceOf(CheckpointRefused);
    await expect(createCheckpoint(deps, "app", { name: "x", leaveRunning: true })).rejects.toThrow(/not a checkpoint name/);
    w.engine.containers = [container("app", { id: "app-id", running: false, status: "exited" })];
    await expect(createCheckpoint(deps, "app", { leaveRunning: true })).rejects.toThrow(/not running/);
  });
});

describe("export and import", () => {
  const ctx = { engine: "26.1.5", criu: "4.2.1" };

  it("a container whose restart policy would start it again fresh: create refuses to stop it; export (a move) turns the policy off, and back when it fails", async () => {
    const { w, cp, deps } = setup();
    w.engine.containers = [container("app", { id: "app-id", image: "app:1", restartPolicy: "unless-stopped" })];
    await expect(createCheckpoint(deps, "app", { leaveRunning: false })).rejects.toThrow(/restart policy unless-stopped: the engine would start it again, fresh.*--leave-running.*docker update --restart no app/);
    expect((await createCheckpoint(deps, "app", { leaveRunning: true })).policyWas).toBeNull();
    w.fakeClock.t += 1000;
    const moved = await exportContainer(deps, "app", { out: "/m.tgz", leaveRunning: false, ...ctx });
    expect(moved.source).toMatch(/^stopped at checkpoint dlu-\S+ \(its restart policy unless-stopped set to no: it moved\)$/);
    expect([app(w).running, app(w).restartPolicy]).toEqual([false, "no"]);
    // the definition in the file keeps the policy the import will create it with
    expect(((cp.files.get("/m.tgz")?.manifest as { container: { config: unknown } }).container)).toBeDefined();
    await expect(exportContainer(deps, "app", { out: "/m.tgz", leaveRunning: false, ...ctx })).rejects.toThrow(/\/m\.tgz exists/);
    w.engine.containers = [container("app", { id: "app-id", image: "app:1", restartPolicy: "always" })];
    cp.failPack = true;
    w.fakeClock.t += 1000;
    await expect(exportContainer(deps, "app", { out: "/n.tgz", leaveRunning: false, ...ctx })).rejects.toThrow(/restored here from dlu-/);
    expect([app(w).running, app(w).restartPolicy]).toEqual([true, "always"]);
  });

  it("an import of a container that reaches into the host needs --allow-host-access", async () => {
    const { cp, deps } = setup();
    cp.files.set("/p.tgz", {
      manifest: {
        format: "docker-live-upgrade-export/1", exportedAt: "", from: { engine: "26.1.5", criu: null }, checkpoint: "dlu-x1",
        container: { id: "x", name: "pp", image: "app:1", imageId: "sha256:app1", config: {}, hostConfig: { Privileged: true, Binds: ["/:/host"] }, mounts: [], running: true },
        notCarried: [],
      },
    });
    await expect(importContainer(deps, "/p.tgz", { start: false })).rejects.toThrow(/reaches into the host \(privileged, bind \/:\/host\).*--allow-host-access/);
    const ok = await importContainer(deps, "/p.tgz", { start: false, allowHostAccess: true });
    expect(ok.notCarried).toEqual(["bind / -> /host"]);
  });

  it("an export whose file cannot be written restores the container where it stopped", async () => {
    const { w, cp, deps } = setup();
    cp.failPack = true;
    await expect(exportContainer(deps, "app", { out: "/x.tgz", leaveRunning: false, ...ctx })).rejects.toThrow(/ENOSPC.*restored here from dlu-/);
    expect(app(w).running).toBe(true);
  });

  it("names what it did not carry, and an import refuses another image or a taken name before creating anything", async () => {
    const { w, cp, deps } = setup();
    const r = await exportContainer(deps, "app", { out: "/x.tgz", leaveRunning: false, ...ctx });
    expect(r.notCarried).toEqual(["volume data -> /data"]);
    expect(r.source).toMatch(/^stopped at checkpoint dlu-/);
    await expect(importContainer(deps, "/x.tgz", { start: true })).rejects.toThrow(/a container named app exists on this host/);
    cp.images.set("app:1", "sha256:other");
    await expect(importContainer(deps, "/x.tgz", { start: true, rename: "app2" })).rejects.toThrow(/another image \(sha256:other\)/);
    cp.images.delete("app:1");
    await expect(importContainer(deps, "/x.tgz", { start: true, rename: "app2" })).rejects.toThrow(/is not on this host: load or pull/);
    expect(w.engine.containers.map((c) => c.name)).toEqual(["app"]);
  });

  it("an import whose restore fails removes the container it created", async () => {
    const { w, cp, deps } = setup();
    await exportContainer(deps, "app", { out: "/x.tgz", leaveRunning: true, ...ctx });
    cp.restoreFailures = ["criu restore failed"];
    await expect(importContainer(deps, "/x.tgz", { start: true, rename: "moved" })).rejects.toThrow(/the container it created was removed/);
    expect(cp.removed).toEqual(["new-moved"]);
    expect(app(w).running).toBe(true);
    const ok = await importContainer(deps, "/x.tgz", { start: true, rename: "moved" });
    expect([ok.container, ok.started]).toEqual(["moved", true]);
  });
});

describe("checkpoint check", () => {
  it("names each failing part and its fix: CRIU too old, the engine not experimental", async () => {
    const { cp, deps } = setup();
    cp.facts = { version: "3.17.1", check: { ok: false, message: "Unexpected rt vDSO area bounds" }, kernel: "6.18.0" };
    cp.experimentalOn = false;
    const r = await checkpointCheck(deps, { image: "app:1" });
    expect(r.ok).toBe(false);
    expect(r.parts.filter((p) => !p.ok).map((p) => p.name)).toEqual(["criu", "criu-check", "experimental"]);
    expect(r.parts.find((p) => p.name === "experimental")?.fix).toMatch(/"experimental": true/);
  });

  it("passes with a throwaway container checkpointed and restored (removed after), and warns of CRIU 4.1 and TCP sockets on kernels since 6.16", async () => {
    const { w, cp, deps } = setup();
    cp.facts = { version: "4.1.1", check: { ok: true, message: "Looks good." }, kernel: "6.18.0" };
    const r = await checkpointCheck(deps, { image: "app:1" });
    expect(r.ok).toBe(true);
    expect(r.parts.find((p) => p.name === "sockets")?.detail).toMatch(/cannot dump TCP sockets/);
    expect(cp.removed).toEqual(["scratch", "scratch"]);
    expect(w.engine.containers.map((c) => c.name)).toEqual(["app"]);
  });

  it("tries --network none and host: an engine that restores only one of them is said so, and the check fails", async () => {
    const { cp, deps } = setup();
    cp.restoreFailures = ["bind-mount /proc/0/ns/net -> /var/run/docker/netns/x: no such file or directory"];
    const r = await checkpointCheck(deps, { image: "app:1" });
    expect(r.ok).toBe(false);
    expect(r.parts.filter((p) => !p.ok).map((p) => p.detail)).toEqual([expect.stringMatching(/^--network none: restore of the throwaway container failed: bind-mount/)]);
    expect(formatCheck(r)).toMatch(/checkpoints work on this host only for containers on --network host$/);
  });
});

describe("periodic checkpoints", () => {
  it("checkpoints each named container once `every` has passed, keeps the newest N, and retries a failure one `every` later", async () => {
    const { w, cp, deps } = setup();
    w.engine.containers = [...w.engine.containers, container("other", { id: "other-id" })];
    const config = parseConfig({ checkpoints: [{ container: "app", every: "1h", keep: 2 }] });
    const p = new PeriodicCheckpoints(() => config.checkpoints);
    // one round as the daemon makes it: what is due, then those, one after the other
    const round = async () => {
      const results: PeriodicResult[] = [];
      const nextAt = await p.run(deps, (await p.due(deps)).due, (r) => (results.push(r), Promise.resolve()));
      return Object.assign(results, { nextAt });
    };
    for (let i = 0; i < 3; i++) {
      const r = await round();
      expect(r.map((x) => x.ok)).toEqual([true]);
      expect(r.nextAt).toBe(w.fakeClock.t + 3_600_000);
      expect((await p.due(deps)).nextAt).toBe(w.fakeClock.t + 3_600_000);
      w.fakeClock.t += 3_600_000;
    }
    expect(cp.saved.get("app-id")).toHaveLength(2);
    expect(cp.saved.get("other-id")).toBeUndefined();
    cp.failDump = "dump failed";
    expect((await round())[0]?.ok).toBe(false);
    expect([...(await round())]).toEqual([]);
    expect((await p.due(deps)).nextAt).toBe(w.fakeClock.t + 3_600_000);
    expect(p.failures).toBe(1);
  });

  it("refuses a job that names both a container and a label, or every under 10 seconds", () => {
    expect(() => parseConfig({ checkpoints: [{ container: "a", label: "b", every: "1h" }] })).toThrow(/exactly one of container or label/);
    expect(() => parseConfig({ checkpoints: [{ label: "b", every: "5s" }] })).toThrow(/at least 10s/);
  });
});

describe("checkpoints in a planned restart (the simulated host: a starting dockerd starts what its restart policy says)", () => {
  for (const order of ["staged", "stop-first"] as const) {
    it(`${order}: db, labelled, is checkpointed with its restart policy off, restored on the new engine, its policy back; a refused restore starts it fresh, said so`, async () => {
      for (const restoreFails of [false, true]) {
        const prepared = prepare({ order, pm: "apt", containerd: true, fleet: false, release: "good", jump: true, restoreFails });
        const world = simWorld(prepared.host, prepared.config);
        const [report] = await runSession(world, { command: "upgrade" });
        expect([report?.outcome, report?.exitCode]).toEqual(["upgraded", 0]);
        const db = prepared.host.containers.find((c) => c.name === "db")!;
        expect([db.running, db.restartPolicy]).toEqual([true, "unless-stopped"]);
        const fate = report!.fates.find((f) => f.name === "db")!;
        expect(fate.fate).toBe("checkpointed");
        if (restoreFails) {
          expect(fate.state).toMatch(/^lost: the engine could not restore it \(.*bind-mount.*\): started fresh; the checkpoint upgrade-\S+ is kept$/);
          expect(prepared.host.stateTokens.get(db.id)).not.toBe(2000);
        } else {
          expect(fate.state).toMatch(/^restored from upgrade-/);
          expect(prepared.host.stateTokens.get(db.id)).toBe(2000);
          expect(prepared.host.checkpointStore.size).toBe(0);
        }
        expect(prepared.host.events).not.toContain("container db started by dockerd (restart policy unless-stopped)");
      }
    });
  }
});

