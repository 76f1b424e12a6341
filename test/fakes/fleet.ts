import { clearHost, decide, release, rolloutTarget, settleRun } from "../../src/fleet/semaphore.js";
import type { Acquired, FleetPort, FleetSlot, FleetStatus, RunResult } from "../../src/ports/fleet.js";
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
  private alive(): Set<string> {
    const hosts = new Set<string>();
    for (const [lease] of this.h.fleet.leases) {
      const holder = this.h.fleet.state.holders.find((x) => x.lease === lease);
      hosts.add(holder?.host ?? this.h.hostName);
    }
    return hosts;
  }
  private compare = (a: string, b: string) => this.h.scheme.compare(a, b);

  rolloutTarget(installed: string): Promise<string | null> {
    return this.p.call("read", "fleet", "rolloutTarget", () => {
      this.requests += 2;
      return rolloutTarget(this.h.fleet.state, installed, this.compare);
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
        const decision = decide(this.h.fleet.state, this.alive(), { host: this.h.hostName, runId: request.runId, lease: this.lease, slots: this.slots, target: request.target, now: this.now() }, this.compare);
        if (decision.kind === "grant" || decision.kind === "halt-lost") this.h.fleet.state = decision.next;
        return decision;
      });
      if (d.kind === "grant") return { kind: "slot", slot: this.slot(request.runId), target: d.next.target?.version ?? request.target };
      if (d.kind === "halt-lost") continue;
      if (d.kind === "halted") {
        this.dropLease();
        return { kind: "halted", reason: `fleet group is halted by ${d.halt.host} (run ${d.halt.runId}): ${d.halt.reason}` };
      }
      if (this.h.now + 1_000 > deadline || signal?.aborted) {
        this.dropLease();
        return { kind: "deferred", reason: d.kind === "paused" ? "paused" : "all slots held" };
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
        }),
      release: (result: RunResult) =>
        this.p.call("write", "fleet", "release", () => {
          this.requests += 3;
          this.h.fleet.state = release(this.h.fleet.state, { host: this.h.hostName, lease: this.lease ?? "", runId, ...result, now: this.now() });
          this.dropLease();
        }),
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
    }));
  }
  clear(host: string): Promise<void> {
    return this.p.call("write", "fleet", "clear", () => {
      this.h.fleet.state = clearHost(this.h.fleet.state, host);
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
