/**
 * A fleet group's shared state, as the coordination service stores it (etcd: one key, changed only by
 * compare-and-swap on its revision). The decisions on it are src/fleet/semaphore.ts's.
 */
export interface Holder {
  host: string;
  runId: string;
  /** The etcd lease (hex id) the holder keeps alive; its alive key is bound to it. */
  lease: string;
  since: string;
}

export interface Halt {
  host: string;
  runId: string;
  reason: string;
  at: string;
  /** failed: the run failed or was rolled back; lost: its lease expired mid-upgrade (seen by another host). Absent in records of older versions: failed. */
  kind?: "failed" | "lost";
}

export interface HostRecord {
  /** The engine package version the host was left on by its last run. */
  version: string;
  runId: string;
  outcome: string;
  at: string;
}

export interface GroupState {
  holders: Holder[];
  halted: Halt | null;
  paused: boolean;
  /** The rollout's target: the engine package version every host of the group upgrades to. */
  target: { version: string; setBy: string; at: string } | null;
  hosts: Record<string, HostRecord>;
}

/** How a run that held a slot ended. ok false halts the group with the reason. */
export interface RunResult {
  ok: boolean;
  /** The engine package version the host is on now. */
  version: string;
  outcome: string;
  reason: string | null;
}

/** A fleet slot held by this run. */
export interface FleetSlot {
  /** Throws unless this run still holds its slot (its lease alive, its name among the holders): the fence. */
  assertHeld(): Promise<void>;
  /** Gives the slot back; a failed run (ok false) halts the group with the reason. */
  release(result: RunResult): Promise<void>;
}

export type Acquired = { kind: "slot"; slot: FleetSlot; target: string } | { kind: "deferred"; reason: string } | { kind: "halted"; reason: string };

export interface FleetStatus {
  backend: "etcd" | "fleetlock";
  group: string;
  slots: number;
  state: GroupState | null;
  /** Holders with whether their lease is alive (etcd only). */
  holders: (Holder & { leaseAlive: boolean })[];
}

/** Coordination of the hosts of one group: at most `slots` upgrading at once, halting on the first failure. */
export interface FleetPort {
  readonly backend: "etcd" | "fleetlock";
  /** Requests made to the coordination service so far (etcd: ranges, transactions, lease calls; keepalive pings not counted). */
  readonly requests: number;
  /** The rollout's target for a host on `installed`, or null (no rollout, or this host reached it). */
  rolloutTarget(installed: string): Promise<string | null>;
  /** Waits for a slot until `deadline` (epoch ms) or `signal`; halted groups grant nothing. */
  acquire(request: { runId: string; target: string }, deadline: number, signal?: AbortSignal): Promise<Acquired>;
  /**
   * Finishes the fleet record of a run whose process died holding a slot (recovery): its holder
   * record goes, the host's version is recorded; ok false halts the group, ok true lifts a halt that
   * names this very run (the host was seen lost mid-upgrade, and is healthy again).
   */
  settleRun(runId: string, result: RunResult): Promise<void>;
  status(): Promise<FleetStatus>;
  clear(host: string): Promise<void>;
  setPaused(paused: boolean): Promise<void>;
  close(): Promise<void>;
}
