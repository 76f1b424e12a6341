import { readFileSync } from "node:fs";
import { noop, timeout, TimeoutStrategy } from "cockatiel";
import { Etcd3, EtcdAuthenticationFailedError, EtcdPermissionDeniedError, EtcdRoleNotGrantedError, EtcdUserNotFoundError, type Lease } from "etcd3";
import pRetry from "p-retry";
import type { Logger } from "pino";
import { redactUrl } from "../../config/redact.js";
import type { Config } from "../../config/schema.js";
import { releaseOfPackage, type RolloutPolicy } from "../../fleet/rollout.js";
import { checkIn, clearHost, clearRefusal, decide, forgetHost, haltLost, lostHolder, parseGroup, release, rolloutTarget, settleRun, staleHosts, type GroupState } from "../../fleet/semaphore.js";
import type { Clock } from "../../ports/clock.js";
import { FleetRefusedError, type Acquired, type FleetPort, type FleetSlot, type FleetStatus, type RunResult } from "../../ports/fleet.js";

type FleetConfig = NonNullable<Config["fleet"]>;
type EtcdConfig = NonNullable<FleetConfig["etcd"]>;

/** etcd is unreachable or refused a call: no upgrade (fail closed), naming the endpoint. */
export class FleetUnavailableError extends Error {
  override name = "FleetUnavailableError";
}

/** One lease of this process: its id once granted, and why it was lost (etcd3 says so once, or more). */
interface HeldLease {
  lease: Lease;
  id: string;
  lost: string | null;
}

/**
 * The fleet on etcd v3. One key per group holds the group's state (holders, halt, pause, rollouts,
 * hosts) and changes only by a transaction that compares its mod revision; each holder also keeps
 * `alive/<host>/<lease>` bound to its own lease, kept alive while the run goes. A holder whose lease
 * has no alive key left lost it without releasing: the next reader halts the group (the slot is not
 * freed). A lease is used once: after a loss, a failed grant or a release, the next slot gets a new one.
 */
export class EtcdFleet implements FleetPort {
  readonly backend = "etcd" as const;
  requests = 0;
  private readonly client: Etcd3;
  private readonly stateKey: string;
  private readonly alivePrefix: string;
  private current: HeldLease | null = null;

  constructor(
    private readonly fleet: FleetConfig,
    private readonly host: string,
    private readonly clock: Clock,
    private readonly logger: Logger,
    /** How long a release keeps trying while etcd is away: about 40 s by default. */
    private readonly releaseRetries = 12,
  ) {
    const etcd = fleet.etcd!;
    this.client = new Etcd3(etcdOptions(etcd));
    const prefix = etcd.prefix.replace(/\/+$/, "");
    this.stateKey = `${prefix}/groups/${fleet.group}/state`;
    this.alivePrefix = `${prefix}/groups/${fleet.group}/alive/`;
  }

  private endpoint(): string {
    return this.fleet.etcd!.endpoints.map(redactUrl).join(", ");
  }

  private now(): string {
    return new Date(this.clock.now()).toISOString();
  }

  private policy(): RolloutPolicy {
    const f = this.fleet;
    return { batches: f.rollout ?? (f.canaries.length ? [f.canaries.length, "100%"] : ["100%"]), canaries: f.canaries, soakMs: f.batchSoak };
  }

  /**
   * One call to etcd, tried again for a few seconds while etcd is away (a member restarting, a leader
   * being elected); a refusal (auth, permission) is not retried. Each attempt is bounded in time.
   * Then FleetUnavailableError naming the endpoints.
   */
  private async guard<T>(what: string, fn: () => Promise<T>, retry = true): Promise<T> {
    try {
      return await pRetry(() => attempt.execute(fn), { retries: retry ? 4 : 0, minTimeout: 500, factor: 2, maxTimeout: 4_000, shouldRetry: ({ error }) => !refusal(error) });
    } catch (err) {
      if (err instanceof FleetUnavailableError) throw err;
      throw new FleetUnavailableError(`etcd at ${this.endpoint()} ${what}: ${err instanceof Error ? err.message : String(err)}; no upgrade without the fleet (fleet.etcd.endpoints)`);
    }
  }

  /** The group's state, its revision, and the leases that still have an alive key (whoever's they are). */
  private async read(): Promise<{ state: GroupState; revision: string; alive: Set<string> }> {
    this.requests += 2;
    const res = await this.client.get(this.stateKey).exec();
    const kv = res.kvs[0];
    const keys = await this.client.getAll().prefix(this.alivePrefix).exec();
    const alive = new Set(keys.kvs.map((k) => k.lease).filter((l) => l !== "0"));
    return { state: parseGroup(kv ? kv.value.toString() : null), revision: kv ? kv.mod_revision : "0", alive };
  }

  /** Writes `next` only if nobody changed the state since `revision`. */
  private async swap(revision: string, next: GroupState): Promise<boolean> {
    this.requests++;
    const res = await this.client.if(this.stateKey, "Mod", "==", revision).then(this.client.put(this.stateKey).value(JSON.stringify(next))).commit();
    return res.succeeded;
  }

  /** Read, change, compare-and-swap; again while someone else changed it in between. */
  private async update(what: string, change: (state: GroupState, alive: ReadonlySet<string>) => GroupState | null, retry = true): Promise<GroupState> {
    return this.guard(
      what,
      async () => {
        for (;;) {
          const { state, revision, alive } = await this.read();
          const next = change(state, alive);
          if (next === null || (await this.swap(revision, next))) return next ?? state;
        }
      },
      retry,
    );
  }

  async rolloutTarget(installed: string): Promise<string | null> {
    const state = await this.update("could not be read", (s) => checkIn(s, this.host, installed, this.now()));
    return rolloutTarget(state, installed);
  }

  /** The lease this process holds slots with: a new one when there is none, or the last was lost or revoked. */
  private async ensureLease(): Promise<HeldLease> {
    const cur = this.current;
    if (cur && !cur.lost && !cur.lease.revoked()) return cur;
    if (cur) await this.dropLease();
    const lease = this.client.lease(Math.max(2, Math.round(this.fleet.etcd!.leaseTtl / 1000)), { autoKeepAlive: true });
    const held: HeldLease = { lease, id: "", lost: null };
    lease.on("lost", (err) => {
      if (held.lost) return;
      held.lost = err.message;
      this.logger.error({ err: err.message, lease: held.id }, "fleet: lease lost");
    });
    this.current = held;
    try {
      this.requests += 2; // the grant, and the alive key's put
      held.id = await lease.grant();
      await lease.put(`${this.alivePrefix}${this.host}/${held.id}`).value(JSON.stringify({ host: this.host, pid: process.pid }));
    } catch (err) {
      // a lease whose grant failed rejects forever: never keep it
      await this.dropLease();
      throw err;
    }
    return held;
  }

  async acquire(request: { runId: string; target: string }, deadline: number, signal?: AbortSignal): Promise<Acquired> {
    const target = releaseOfPackage(request.target);
    if (!target) throw new FleetUnavailableError(`cannot read a MAJOR.MINOR.PATCH release from ${request.target}`);
    let lastWait = "";
    let contacted = false;
    for (;;) {
      // a grant's swap was sent: it may have committed though its answer never came
      let granting = false;
      const decision = await this.guard("could not be reached for a slot", async () => {
        const held = await this.ensureLease();
        const { state, revision, alive } = await this.read();
        const d = decide(state, alive, { host: this.host, runId: request.runId, lease: held.id, slots: this.fleet.slots, release: target, now: this.now(), policy: this.policy() });
        if (d.kind === "grant") granting = true;
        if (d.kind === "grant" || d.kind === "halt-lost") return (await this.swap(revision, d.next)) ? { ...d, held } : { kind: "retry" as const };
        // a rollout this request started is on record even when this host waits its batch
        if ((d.kind === "wait" || d.kind === "full") && d.next && !(await this.swap(revision, d.next))) return { kind: "retry" as const };
        return d;
      }).catch(async (err: unknown) => {
        // a grant may have committed with its answer lost: its record goes before the lease does, or
        // the group would halt on a host that never acted
        if (granting) await this.update("could not withdraw the request", (s) => (s.holders.some((h) => h.runId === request.runId) ? { ...s, holders: s.holders.filter((h) => h.runId !== request.runId) } : null), false).catch(() => undefined);
        await this.dropLease();
        // at the first contact: fail closed; lost while waiting: defer cleanly (nothing was granted)
        if (!contacted) throw err;
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
          return { kind: "slot", slot: this.slot(request.runId, decision.held), release: decision.rollout.release };
        case "retarget":
          await this.dropLease();
          return { kind: "retarget", reason: decision.reason, release: decision.release };
        case "halted":
          await this.dropLease();
          return { kind: "halted", reason: `fleet group ${this.fleet.group} is halted by ${decision.halt.host} (run ${decision.halt.runId}): ${decision.halt.reason}; after a fix: docker-live-upgrade fleet clear ${decision.halt.host}` };
        case "paused":
          lastWait = `fleet group ${this.fleet.group} is paused (docker-live-upgrade fleet resume)`;
          break;
        case "wait":
          lastWait = decision.reason;
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

  private slot(runId: string, held: HeldLease): FleetSlot {
    return {
      assertHeld: async () => {
        if (held.lost) throw new Error(`the fleet slot is lost (${held.lost}): not acting as its holder`);
        if (this.current !== held || held.lease.revoked()) throw new Error("the fleet slot's lease was given up: not acting as its holder");
        const { state, alive, revision } = await this.guard("could not confirm the slot", () => this.read());
        if (!alive.has(held.id) || !state.holders.some((h) => h.lease === held.id)) {
          throw new Error("this host no longer holds its fleet slot (lease expired or cleared): not acting as its holder");
        }
        // another holder lost mid-upgrade (nobody asked for a slot since, so nobody halted on it): halt here
        const lost = lostHolder(state, alive, held.id);
        if (lost) {
          await this.guard("could not halt the group", () => this.swap(revision, haltLost(state, lost, this.now()))).catch(() => undefined);
          this.logger.error({ host: lost.host, runId: lost.runId }, "fleet: a host was lost mid-upgrade; group halted");
          throw new Error(`fleet group ${this.fleet.group}: ${lost.host} (run ${lost.runId}) was lost mid-upgrade, its lease expired: not stopping dockerd here`);
        }
        // another host failed or was lost since this slot was granted: nothing more is stopped in the group
        if (state.halted && state.halted.runId !== runId) throw new Error(`fleet group ${this.fleet.group} was halted by ${state.halted.host} (run ${state.halted.runId}) since this slot was granted: ${state.halted.reason}`);
      },
      release: async (result) => {
        try {
          // etcd may be briefly away (restarting): keep trying for a while rather than leave the slot to
          // expire, which would halt the group as if this host had been lost
          await pRetry(
            () => this.update("could not take the slot back", (s) => release(s, { host: this.host, lease: held.id, runId, ...result, now: this.now() }), false),
            { retries: this.releaseRetries, minTimeout: 500, maxTimeout: 5_000, factor: 1.5 },
          );
        } finally {
          // given back or not, the lease goes: a record left behind then halts the group as lost
          // (never a slot held on by a live lease with nobody behind it), until this run is settled
          if (this.current === held) await this.dropLease();
        }
      },
    };
  }

  private async dropLease(): Promise<void> {
    const held = this.current;
    this.current = null;
    if (!held) return;
    this.requests++;
    await attempt.execute(() => held.lease.revoke()).catch(() => undefined);
  }

  async settleRun(runId: string, result: RunResult): Promise<void> {
    await pRetry(() => this.update("could not settle the run's slot", (s) => settleRun(s, { host: this.host, runId, ...result, now: this.now() }), false), {
      retries: 4,
      minTimeout: 500,
      maxTimeout: 2_000,
      factor: 1.5,
    });
  }

  async status(): Promise<FleetStatus> {
    const { state, alive } = await this.guard("could not be read", () => this.read());
    const now = this.now();
    return {
      backend: "etcd",
      group: this.fleet.group,
      slots: this.fleet.slots,
      state,
      holders: state.holders.map((h) => ({ ...h, leaseAlive: alive.has(h.lease) })),
      stale: staleHosts(state, now, this.fleet.staleAfter),
      now,
    };
  }

  async clear(host: string, force = false): Promise<void> {
    let refused: string | null = null;
    await this.update("could not clear the halt", (s, alive) => {
      refused = force ? null : clearRefusal(s, alive, host);
      return refused === null ? clearHost(s, host) : null;
    });
    if (refused) throw new FleetRefusedError(`fleet clear: ${refused as string}`);
  }

  async forget(host: string): Promise<void> {
    let refused: string | null = null;
    await this.update("could not forget the host", (s) => {
      const r = forgetHost(s, host);
      refused = r.ok ? null : r.reason;
      return r.ok ? r.next : null;
    });
    if (refused) throw new FleetRefusedError(`fleet forget: ${refused as string}`);
  }

  async setPaused(paused: boolean): Promise<void> {
    await this.update(paused ? "could not pause" : "could not resume", (s) => ({ ...s, paused }));
  }

  async close(): Promise<void> {
    await this.dropLease();
    this.client.close();
  }
}

/**
 * Every attempt at etcd answers within this time or fails: a run never hangs on the client, whatever
 * it does inside (each call has a 5 s deadline, the client tries three times, a read is two calls).
 */
const attempt = timeout(30_000, TimeoutStrategy.Aggressive);

/** etcd refused the call (credentials, permissions): trying again will not help. */
function refusal(err: unknown): boolean {
  return err instanceof EtcdAuthenticationFailedError || err instanceof EtcdPermissionDeniedError || err instanceof EtcdUserNotFoundError || err instanceof EtcdRoleNotGrantedError || err instanceof FleetUnavailableError;
}

function etcdOptions(etcd: EtcdConfig): ConstructorParameters<typeof Etcd3>[0] {
  return {
    hosts: etcd.endpoints,
    // etcd restarting or electing a leader: reconnect within seconds, not grpc's two minutes at most
    grpcOptions: { "grpc.initial_reconnect_backoff_ms": 250, "grpc.max_reconnect_backoff_ms": 3_000 },
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
    // no circuit breaker per member: etcd3's re-authentication after an etcd restart calls through the
    // member's half-open breaker from inside that breaker's own trial call and waits for itself forever
    // (microsoft/etcd3#177); a member that is down fails its call, the client's retry takes another
    // member, and guard() tries again
    faultHandling: { host: () => noop },
    // a run must not hang on an unreachable etcd: every unary call has a deadline
    defaultCallOptions: (context: { isStream: boolean }) => (context.isStream ? {} : { deadline: Date.now() + 5_000 }),
  };
}
