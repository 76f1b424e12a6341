import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import { EtcdFleet, FleetUnavailableError } from "../../src/adapters/fleet/etcd-fleet.js";
import { systemClock } from "../../src/adapters/clock/system-clock.js";
import { parseConfigText } from "../../src/config/load.js";
import type { FleetSlot } from "../../src/ports/fleet.js";
import { EtcdCluster } from "./etcd-cluster.js";

// The etcd adapter against a real three-member etcd with TLS, client certificates and a password:
// lease identity, a client that heals after etcd went away, and the group's record when a release
// cannot reach etcd.
const V1 = "5:20.10.24-1~debian.12~bookworm";
const V2 = "5:20.10.25-1~debian.12~bookworm";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("the etcd fleet adapter on a TLS etcd cluster with auth", () => {
  const cluster = new EtcdCluster();
  let group = 0;
  const open: EtcdFleet[] = [];

  beforeAll(async () => {
    await cluster.create();
    await cluster.loadPem();
  }, 120_000);
  afterAll(async () => {
    await Promise.all(open.map((f) => f.close().catch(() => undefined)));
    await cluster.destroy();
  });

  const config = (slots: number, extra = "") =>
    parseConfigText(`fleet:\n  group: g${group}\n  slots: ${slots}\n  wait: 10s\n${extra}  etcd:\n${cluster.configYaml()}\n    leaseTtl: 2s\n`).fleet!;
  const member = (host: string, slots = 1, releaseRetries = 12, extra = "") => {
    const f = new EtcdFleet(config(slots, extra), host, systemClock, pino({ level: "silent" }), releaseRetries);
    open.push(f);
    return f;
  };
  const slotOf = async (f: EtcdFleet, runId: string, target = V2, waitMs = 10_000): Promise<FleetSlot> => {
    const got = await f.acquire({ runId, target }, Date.now() + waitMs);
    if (got.kind !== "slot") throw new Error(`no slot: ${got.kind}: ${got.reason}`);
    return got.slot;
  };
  const restartAll = async () => {
    for (const m of cluster.members) await cluster.start(m);
    await cluster.healthy();
  };

  it("grants and takes back slots over TLS as the fleet's user; a wrong password says so", async () => {
    group++;
    const a = member("a");
    const slot = await slotOf(a, "run-a");
    await slot.assertHeld();
    await slot.release({ ok: true, version: V2, outcome: "upgraded", reason: null });
    const s = await a.status();
    expect(s.state?.hosts.a).toMatchObject({ version: V2, release: "20.10.25" });
    expect(s.state?.rollouts["20.10"]).toMatchObject({ release: "20.10.25", setBy: "a" });
    const wrong = new EtcdFleet({ ...config(1), etcd: { ...config(1).etcd!, password: "not-it" } }, "b", systemClock, pino({ level: "silent" }));
    open.push(wrong);
    await expect(wrong.status()).rejects.toThrow(/etcd at https:\/\/127\.0\.0\.1:22379.* could not be read: .*(authentication failed|invalid)/);
  });

  it("a crashed holder is judged by its own lease: the host's next process does not take its place; the group halts on the lost run", async () => {
    group++;
    const first = member("a", 2);
    await slotOf(first, "run-a1");
    // the process dies: its keepalives stop and nothing revokes its lease, which expires on its own
    (first as unknown as { current: { lease: { release(): void } } }).current.lease.release();
    const next = member("a", 2);
    // while the old lease lives (2 s) the host waits on its crashed run; then the group halts on it
    const got = await next.acquire({ runId: "run-a2", target: V2 }, Date.now() + 15_000);
    expect(got).toMatchObject({ kind: "halted", reason: expect.stringMatching(/halted by a \(run run-a1\): lost mid-upgrade/) });
    expect((await next.status()).holders).toMatchObject([{ host: "a", runId: "run-a1", leaseAlive: false }]);
    // the host's recovery finishes the record of its lost run: healthy, so the halt goes
    await next.settleRun("run-a1", { ok: true, version: V1, outcome: "rolled-back", reason: null });
    const s = await next.status();
    expect([s.state?.halted, s.holders]).toEqual([null, []]);
    const slot = await slotOf(next, "run-a3");
    await slot.release({ ok: true, version: V2, outcome: "upgraded", reason: null });
  });

  it("the fence halts on a holder lost while nobody asked for a slot: the other holder stops nothing", async () => {
    group++;
    const a = member("a", 2);
    const b = member("b", 2);
    await slotOf(a, "run-a");
    const slot = await slotOf(b, "run-b");
    // a dies mid-upgrade: its lease expires (2 s); b reaches its fence
    (a as unknown as { current: { lease: { release(): void } } }).current.lease.release();
    for (let i = 0; i < 30 && (await b.status()).holders.some((h) => h.host === "a" && h.leaseAlive); i++) await sleep(500);
    await expect(slot.assertHeld()).rejects.toThrow(/a \(run run-a\) was lost mid-upgrade.*not stopping dockerd/);
    expect((await b.status()).state?.halted).toMatchObject({ host: "a", runId: "run-a", kind: "lost" });
    await slot.release({ ok: true, version: V1, outcome: "unchanged", reason: null });
  });

  it("heals: a first grant that failed is not kept; a lease lost while etcd was away is replaced at the next slot", async () => {
    group++;
    const a = member("a");
    await cluster.stopAll();
    await expect(a.acquire({ runId: "run-1", target: V2 }, Date.now() + 5_000)).rejects.toThrow(FleetUnavailableError);
    await restartAll();
    const slot = await slotOf(a, "run-2", V2, 20_000);
    await slot.assertHeld();
    // etcd away for more than twice the lease's TTL: the lease is lost, and the fence says so
    await cluster.stopAll();
    await sleep(6_000);
    await restartAll();
    await expect(slot.assertHeld()).rejects.toThrow(/fleet slot is lost|no longer holds/);
    await slot.release({ ok: true, version: V1, outcome: "refused", reason: null });
    // the same client, a new lease: the next run's slot and fence work
    const again = await slotOf(a, "run-3", V2, 20_000);
    await again.assertHeld();
    await again.release({ ok: true, version: V2, outcome: "upgraded", reason: null });
    expect((await a.status()).holders).toEqual([]);
  }, 120_000);

  it("a release that cannot reach etcd lets the lease go: the group halts on the host as lost, until its recovery writes the record", async () => {
    group++;
    const a = member("a", 1, 1);
    const b = member("b");
    const slot = await slotOf(a, "run-a");
    await cluster.stopAll();
    await expect(slot.release({ ok: true, version: V2, outcome: "upgraded", reason: null })).rejects.toThrow();
    await restartAll();
    await sleep(5_000); // the lease (2 s, kept by the server a little longer after its restart) runs out
    const got = await b.acquire({ runId: "run-b", target: V2 }, Date.now() + 5_000);
    expect(got).toMatchObject({ kind: "halted", reason: expect.stringMatching(/halted by a \(run run-a\): lost/) });
    await a.settleRun("run-a", { ok: true, version: V2, outcome: "upgraded", reason: null });
    const slotB = await slotOf(b, "run-b2");
    await slotB.release({ ok: true, version: V2, outcome: "upgraded", reason: null });
    expect((await b.status()).state?.hosts).toMatchObject({ a: { version: V2, runId: "run-a" }, b: { version: V2 } });
  }, 120_000);

  it("fleet forget: a retired host in a canary batch no longer holds the rollout back", async () => {
    group++;
    const extra = "  canaries: [old]\n";
    const old = member("old", 1, 12, extra);
    const a = member("a", 1, 12, extra);
    // both known to the group at the 20.10.24 build (their check-ins)
    expect(await old.rolloutTarget(V1)).toBeNull();
    expect(await a.rolloutTarget(V1)).toBeNull();
    const waited = await a.acquire({ runId: "run-a", target: V2 }, Date.now() + 2_000);
    expect(waited).toMatchObject({ kind: "deferred", reason: expect.stringMatching(/batch 1 of 2; a goes in batch 2 of 2, after old reach 20\.10\.25/) });
    await a.forget("old");
    const slot = await slotOf(a, "run-a2");
    await slot.release({ ok: true, version: V2, outcome: "upgraded", reason: null });
    await expect(a.forget("nobody")).rejects.toThrow(/no host named nobody/);
  });
});
