import { readFileSync } from "node:fs";
import { Etcd3, type Lease } from "etcd3";
import pRetry from "p-retry";
import type { Logger } from "pino";
import type { Config } from "../../config/schema.js";
import { clearHost, decide, parseGroup, release, rolloutTarget, settleRun, type GroupState } from "../../fleet/semaphore.js";
import type { Clock } from "../../ports/clock.js";
import type { Acquired, FleetPort, FleetSlot, FleetStatus, RunResult } from "../../ports/fleet.js";
import type { VersionScheme } from "../../versions/scheme.js";

type FleetConfig = NonNullable<Config["fleet"]>;
type EtcdConfig = NonNullable<FleetConfig["etcd"]>;

/** etcd is unreachable or refused a call: no upgrade (fail closed), naming the endpoint. */
export class FleetUnavailableError extends Error {
  override name = "FleetUnavailableError";
}

/**
 * The fleet on etcd v3. One key per group holds the group's state (holders, halt, pause, rollout
 * target, hosts done) and changes only by a transaction that compares its mod revision; each holder
 * also keeps `alive/<host>` bound to its own lease, kept alive while the run goes. A holder whose alive
 * key is gone lost its lease without releasing: the next reader halts the group (the slot is not freed).
 */
export class EtcdFleet implements FleetPort {
  readonly backend = "etcd" as const;
  requests = 0;
  private readonly client: Etcd3;
  private readonly stateKey: string;
  private readonly alivePrefix: string;
  private lease: Lease | null = null;
  private leaseLost: string | null = null;

  constructor(
    private readonly fleet: FleetConfig,
    private readonly host: string,
    private readonly scheme: VersionScheme,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    const etcd = fleet.etcd!;
    this.client = new Etcd3(etcdOptions(etcd));
    const prefix = etcd.prefix.replace(/\/+$/, "");
    this.stateKey = `${prefix}/groups/${fleet.group}/state`;
    this.alivePrefix = `${prefix}/groups/${fleet.group}/alive/`;
  }

  private endpoint(): string {
    return this.fleet.etcd!.endpoints.join(", ");
  }

  private async guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof FleetUnavailableError) throw err;
      throw new FleetUnavailableError(`etcd at ${this.endpoint()} ${what}: ${err instanceof Error ? err.message : String(err)}; no upgrade without the fleet (fleet.etcd.endpoints)`);
    }
  }

  private async read(): Promise<{ state: GroupState; revision: string; alive: Set<string> }> {
    this.requests += 2;
    const res = await this.client.get(this.stateKey).exec();
    const kv = res.kvs[0];
    const alive = new Set((await this.client.getAll().prefix(this.alivePrefix).keys()).map((k) => k.slice(this.alivePrefix.length)));
    return { state: parseGroup(kv ? kv.value.toString() : null), revision: kv ? kv.mod_revision : "0", alive };
  }

  /** Writes `next` only if nobody changed the state since `revision`. */
  private async swap(revision: string, next: GroupState): Promise<boolean> {
    this.requests++;
    const res = await this.client.if(this.stateKey, "Mod", "==", revision).then(this.client.put(this.stateKey).value(JSON.stringify(next))).commit();
    return res.succeeded;
  }

  /** Read, change, compare-and-swap; again while someone else changed it in between. */
  private async update(what: string, change: (state: GroupState) => GroupState | null): Promise<GroupState> {
    return this.guard(what, async () => {
      for (;;) {
        const { state, revision } = await this.read();
        const next = change(state);
        if (next === null || (await this.swap(revision, next))) return next ?? state;
      }
    });
  }

  async rolloutTarget(installed: string): Promise<string | null> {
    return this.guard("could not be read", async () => rolloutTarget((await this.read()).state, installed, (a, b) => this.scheme.compare(a, b)));
  }

  private async ensureLease(): Promise<string> {
    if (!this.lease) {
      const lease = this.client.lease(Math.max(2, Math.round(this.fleet.etcd!.leaseTtl / 1000)), { autoKeepAlive: true });
      lease.on("lost", (err) => {
        this.leaseLost = err.message;
        this.logger.error({ err: err.message }, "fleet: lease lost");
      });
      this.lease = lease;
      this.requests += 2; // the grant, and the alive key's put
      await lease.put(`${this.alivePrefix}${this.host}`).value(JSON.stringify({ host: this.host, pid: process.pid }));
    }
    return this.lease.grant();
  }

  async acquire(request: { runId: string; target: string }, deadline: number, signal?: AbortSignal): Promise<Acquired> {
    const compare = (a: string, b: string) => this.scheme.compare(a, b);
    let lastWait = "";
    let contacted = false;
    for (;;) {
      const decision = await this.guard("could not be reached for a slot", async () => {
        const lease = await this.ensureLease();
        const { state, revision, alive } = await this.read();
        const d = decide(state, alive, { host: this.host, runId: request.runId, lease, slots: this.fleet.slots, target: request.target, now: new Date(this.clock.now()).toISOString() }, compare);
        if (d.kind === "grant" || d.kind === "halt-lost") return (await this.swap(revision, d.next)) ? d : { kind: "retry" as const };
        return d;
      }).catch(async (err: unknown) => {
        // lost while waiting: defer cleanly (nothing was granted); at the first contact: fail closed
        if (!contacted) throw err;
        await this.dropLease();
        return { kind: "unreachable" as const, reason: err instanceof Error ? err.message : String(err) };
      });
      contacted = true;
      switch (decision.kind) {
        case "retry":
          continue;
        case "unreachable":
          return { kind: "deferred", reason: decision.reason };
        case "halt-lost":
          this.logger.error({ host: decision.lost.host, runId: decision.lost.runId }, "fleet: a host was lost mid-upgrade; group halted");
          continue;
        case "grant":
          return { kind: "slot", slot: this.slot(request.runId), target: decision.next.target?.version ?? request.target };
        case "halted":
          await this.dropLease();
          return { kind: "halted", reason: `fleet group ${this.fleet.group} is halted by ${decision.halt.host} (run ${decision.halt.runId}): ${decision.halt.reason}; after a fix: docker-live-upgrade fleet clear ${decision.halt.host}` };
        case "paused":
          lastWait = `fleet group ${this.fleet.group} is paused (docker-live-upgrade fleet resume)`;
          break;
        case "full":
          lastWait = `all ${this.fleet.slots} slot(s) of fleet group ${this.fleet.group} are held (${decision.holders.map((h) => h.host).join(", ")})`;
          break;
      }
      if (this.clock.now() + 1_000 > deadline || signal?.aborted) {
        await this.dropLease();
        return { kind: "deferred", reason: `${lastWait}; ${signal?.aborted ? "stopped waiting (signal)" : "no slot before the deadline"}` };
      }
      await this.clock.sleep(1_000, signal).catch(() => undefined);
    }
  }

  private slot(runId: string): FleetSlot {
    return {
      assertHeld: async () => {
        if (this.leaseLost) throw new Error(`the fleet slot is lost (${this.leaseLost}): not acting as its holder`);
        const lease = await this.ensureLease();
        const { state, alive } = await this.guard("could not confirm the slot", () => this.read());
        if (!alive.has(this.host) || !state.holders.some((h) => h.host === this.host && h.lease === lease)) {
          throw new Error("this host no longer holds its fleet slot (lease expired or cleared): not acting as its holder");
        }
      },
      release: async (result) => {
        const lease = this.lease ? await this.lease.grant() : "";
        // etcd may be briefly away (restarting): keep trying for a while rather than leave the slot to
        // expire, which would halt the group as if this host had been lost
        await pRetry(
          () =>
            this.update("could not take the slot back", (s) =>
              release(s, { host: this.host, lease, runId, ok: result.ok, version: result.version, outcome: result.outcome, reason: result.reason, now: new Date(this.clock.now()).toISOString() }),
            ),
          { retries: 12, minTimeout: 500, maxTimeout: 5_000, factor: 1.5 },
        );
        await this.dropLease();
      },
    };
  }

  private async dropLease(): Promise<void> {
    const lease = this.lease;
    this.lease = null;
    if (lease) this.requests++;
    await lease?.revoke().catch(() => undefined);
  }

  async settleRun(runId: string, result: RunResult): Promise<void> {
    await pRetry(
      () => this.update("could not settle the run's slot", (s) => settleRun(s, { host: this.host, runId, ...result, now: new Date(this.clock.now()).toISOString() })),
      { retries: 4, minTimeout: 500, maxTimeout: 2_000, factor: 1.5 },
    );
  }

  async status(): Promise<FleetStatus> {
    const { state, alive } = await this.guard("could not be read", () => this.read());
    return {
      backend: "etcd",
      group: this.fleet.group,
      slots: this.fleet.slots,
      state,
      holders: state.holders.map((h) => ({ ...h, leaseAlive: alive.has(h.host) })),
    };
  }

  async clear(host: string): Promise<void> {
    await this.update("could not clear the halt", (s) => clearHost(s, host));
  }

  async setPaused(paused: boolean): Promise<void> {
    await this.update(paused ? "could not pause" : "could not resume", (s) => ({ ...s, paused }));
  }

  async close(): Promise<void> {
    await this.dropLease();
    this.client.close();
  }
}

function etcdOptions(etcd: EtcdConfig): ConstructorParameters<typeof Etcd3>[0] {
  return {
    hosts: etcd.endpoints,
    dialTimeout: 3_000,
    ...(etcd.ca
      ? {
          credentials: {
            rootCertificate: readFileSync(etcd.ca),
            ...(etcd.key ? { privateKey: readFileSync(etcd.key) } : {}),
            ...(etcd.cert ? { certChain: readFileSync(etcd.cert) } : {}),
          },
        }
      : {}),
    ...(etcd.username ? { auth: { username: etcd.username, password: etcd.password ?? "" } } : {}),
    // a run must not hang on an unreachable etcd: every unary call has a deadline
    defaultCallOptions: (context: { isStream: boolean }) => (context.isStream ? {} : { deadline: Date.now() + 5_000 }),
  };
}
