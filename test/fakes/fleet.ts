import { ALL_AT_ONCE, releaseOfPackage } from "../../src/fleet/rollout.js";
import { checkIn, clearHost, clearRefusal, decide, forgetHost, haltLost, lostHolder, release, rolloutTarget, settleRun, staleHosts } from "../../src/fleet/semaphore.js";
import { FleetRefusedError, type Acquired, type FleetPort, type FleetSlot, type FleetStatus, type RunResult } from "../../src/ports/fleet.js";
import type { SimProcess } from "./process.js";

/**
 * The fleet as etcd keeps it, for one host of the group: the group's state and the leases alive
 * (a lease dies with its process). The same pure decisions as the etcd adapter.
 */
export class SimFleet implements FleetPort {
  readonly backend = "etcd" as const;
  requests = 0;
  private lease: string | null = null;

  constructor(
    private readonly p: SimProcess,
    private readonly slots = 1,
  ) {}

  private get h() {
    return this.p.host;
  }
  private now(): string {
    return new Date(this.h.now).toISOString();
  }
  /** The leases alive: a holder is alive exactly while its own lease is. */
  private alive(): Set<string> {
    return new Set(this.h.fleet.leases.keys());
  }

  rolloutTarget(installed: string): Promise<string | null> {
    return this.p.call("write", "fleet", "rolloutTarget", () => {
      this.requests += 3;
      this.h.fleet.state = checkIn(this.h.fleet.state, this.h.hostName, installed, this.now()) ?? this.h.fleet.state;
      return rolloutTarget(this.h.fleet.state, installed);
    });
  }

  async acquire(request: { runId: string; target: string }, deadline: number, signal?: AbortSignal): Promise<Acquired> {
    for (;;) {
      const d = await this.p.call("write", "fleet", "acquire", () => {
        this.requests += 4;
        if (!this.lease) {
          this.lease = `lease-${this.p.pid}`;
          this.h.fleet.leases.set(this.lease, this.p.pid);
          this.p.fleetLease = this.lease;
        }
        const decision = decide(this.h.fleet.state, this.alive(), { host: this.h.hostName, runId: request.runId, lease: this.lease, slots: this.slots, release: releaseOfPackage(request.target) ?? "?", now: this.now(), policy: ALL_AT_ONCE });
        if (decision.kind === "grant" || decision.kind === "halt-lost") this.h.fleet.state = decision.next;
        else if ((decision.kind === "wait" || decision.kind === "full") && decision.next) this.h.fleet.state = decision.next;
        return decision;
      });
      if (d.kind === "grant") return { kind: "slot", slot: this.slot(request.runId), release: d.rollout.release };
      if (d.kind === "halt-lost") continue;
      if (d.kind === "retarget") {
        this.dropLease();
        return { kind: "retarget", reason: d.reason, release: d.release };
      }
      if (d.kind === "halted") {
        this.dropLease();
        return { kind: "halted", reason: `fleet group is halted by ${d.halt.host} (run ${d.halt.runId}): ${d.halt.reason}` };
      }
      if (this.h.now + 1_000 > deadline || signal?.aborted) {
        this.dropLease();
        return { kind: "deferred", reason: d.kind === "paused" ? "paused" : d.kind === "wait" ? d.reason : "all slots held" };
      }
      await this.p.clock.sleep(1_000, signal).catch(() => undefined);
    }
  }

  private dropLease(): void {
    if (this.lease) this.h.fleet.leases.delete(this.lease);
    this.lease = null;
    this.p.fleetLease = null;
  }

  private slot(runId: string): FleetSlot {
    return {
      assertHeld: () =>
        this.p.call("read", "fleet", "assertHeld", () => {
          this.requests += 2;
          const lease = this.lease;
          if (!lease || !this.h.fleet.leases.has(lease) || !this.h.fleet.state.holders.some((x) => x.lease === lease)) {
            throw new Error("this host no longer holds its fleet slot (lease expired or cleared): not acting as its holder");
          }
          const lost = lostHolder(this.h.fleet.state, this.alive(), lease);
          if (lost) {
            this.h.fleet.state = haltLost(this.h.fleet.state, lost, this.now());
            throw new Error(`${lost.host} (run ${lost.runId}) was lost mid-upgrade: not stopping dockerd here`);
          }
          const halt = this.h.fleet.state.halted;
          if (halt && halt.runId !== runId) throw new Error(`fleet group was halted by ${halt.host} (run ${halt.runId}) since this slot was granted`);
        }),
      release: async (result: RunResult) => {
        const lease = this.lease ?? "";
        try {
          await this.p.call("write", "fleet", "release", () => {
            this.requests += 3;
            this.h.fleet.state = release(this.h.fleet.state, { host: this.h.hostName, lease, runId, ...result, now: this.now() });
          });
        } finally {
          // given back or not, the lease goes (as the etcd adapter does)
          this.dropLease();
        }
      },
    };
  }

  settleRun(runId: string, result: RunResult): Promise<void> {
    return this.p.call("write", "fleet", "settleRun", () => {
      this.requests += 2;
      this.h.fleet.state = settleRun(this.h.fleet.state, { host: this.h.hostName, runId, ...result, now: this.now() });
    });
  }

  status(): Promise<FleetStatus> {
    return this.p.call("read", "fleet", "status", () => ({
      backend: "etcd" as const,
      group: "default",
      slots: this.slots,
      state: this.h.fleet.state,
      holders: this.h.fleet.state.holders.map((x) => ({ ...x, leaseAlive: this.h.fleet.leases.has(x.lease) })),
      stale: staleHosts(this.h.fleet.state, this.now(), 14 * 86_400_000),
      now: this.now(),
    }));
  }
  clear(host: string, force = false): Promise<void> {
    return this.p.call("write", "fleet", "clear", () => {
      const why = force ? null : clearRefusal(this.h.fleet.state, this.alive(), host);
      if (why) throw new FleetRefusedError(why);
      this.h.fleet.state = clearHost(this.h.fleet.state, host);
    });
  }
  forget(host: string): Promise<void> {
    return this.p.call("write", "fleet", "forget", () => {
      const r = forgetHost(this.h.fleet.state, host);
      if (!r.ok) throw new FleetRefusedError(r.reason);
      this.h.fleet.state = r.next;
    });
  }
  setPaused(paused: boolean): Promise<void> {
    return this.p.call("write", "fleet", "pause", () => {
      this.h.fleet.state = { ...this.h.fleet.state, paused };
    });
  }
  close(): Promise<void> {
    this.dropLease();
    return Promise.resolve();
  }
}
