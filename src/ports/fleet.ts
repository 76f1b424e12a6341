/**
 * A fleet group's shared state, as the coordination service stores it (etcd: one key, changed only by
 * compare-and-swap on its revision). The decisions on it are src/fleet/semaphore.ts's.
 */
export interface Holder {
  host: string;
  runId: string;
  /** The etcd lease (its id) the holder keeps alive: the holder is alive exactly while this lease is. */
  lease: string;
  since: string;
  /** The MAJOR.MINOR series of the rollout the holder takes part in (absent in records of older versions). */
  series?: string;
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
  /** The engine package version the host is on (as of its last run or check-in). */
  version: string;
  /** Its upstream release, MAJOR.MINOR.PATCH (absent in records of older versions: read from version). */
  release?: string;
  /** The last run that held a slot, and how it ended ("" and "seen" before the host's first run). */
  runId: string;
  outcome: string;
  /** When that run ended. */
  at: string;
  /** When the host last checked in (looked for its rollout). */
  seen?: string;
}

/**
 * One rollout: every host of the group on one MAJOR.MINOR series goes to one upstream release, each
 * host to its own package of it (a Debian host to its ~debian build, an rpm host to its .el9 build).
 * The batches are fixed when the rollout starts; a batch starts when every host of the ones before
 * it reached the release and the last of them finished `soakMs` ago.
 */
export interface Rollout {
  series: string;
  release: string;
  setBy: string;
  at: string;
  /** Host names, batch by batch. */
  batches: string[][];
  soakMs: number;
  /**
   * Where a host the rollout did not know of when it started goes: "after" (a staged rollout: after
   * every planned batch reached the release and soaked, never past the canaries) or, absent, with the
   * last batch (all at once).
   */
  late?: "after";
  /** A MAJOR.MINOR jump's rollout failed on a host: no other host jumps to this release (a newer one starts a new rollout). */
  failedOn?: { host: string; runId: string; reason: string; at: string };
}

export interface GroupState {
  holders: Holder[];
  /** The halt in force: the first failure or loss. */
  halted: Halt | null;
  /** Further halts behind it (another host failed meanwhile): clearing one brings the next into force. */
  queuedHalts?: Halt[];
  paused: boolean;
  /** The rollout of each MAJOR.MINOR series ("24.0", "20.10"). */
  rollouts: Record<string, Rollout>;
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

/** A slot (and the rollout's release it is for), or why not now (deferred) or not at all (halted). */
export type Acquired =
  | { kind: "slot"; slot: FleetSlot; release: string }
  | { kind: "deferred"; reason: string }
  | { kind: "halted"; reason: string }
  /** The run planned an older release than the group's rollout: it ends untouched and the next plan takes `release`. */
  | { kind: "retarget"; reason: string; release: string };

export interface FleetStatus {
  backend: "etcd" | "fleetlock";
  group: string;
  slots: number;
  state: GroupState | null;
  /** Holders with whether their lease is alive (etcd only): a holder whose lease is gone was lost. */
  holders: (Holder & { leaseAlive: boolean })[];
  /** Hosts not seen for longer than fleet.staleAfter: candidates for `fleet forget`. */
  stale: string[];
  now: string;
}

/** Coordination of the hosts of one group: at most `slots` upgrading at once, halting on the first failure. */
export interface FleetPort {
  readonly backend: "etcd" | "fleetlock";
  /** Requests made to the coordination service so far (etcd: ranges, transactions, lease calls; keepalive pings not counted). */
  readonly requests: number;
  /**
   * Checks this host in (its engine version, for the group's records) and gives the upstream release
   * (MAJOR.MINOR.PATCH) its series' rollout goes to, or null (no rollout, or this host reached it).
   */
  rolloutTarget(installed: string): Promise<string | null>;
  /** Waits for a slot to go to `target` (a package version) until `deadline` (epoch ms) or `signal`; halted groups grant nothing. */
  acquire(request: { runId: string; target: string }, deadline: number, signal?: AbortSignal): Promise<Acquired>;
  /**
   * Finishes the fleet record of a run whose process died holding a slot (recovery): its holder
   * record goes, the host's version is recorded; ok false halts the group, ok true lifts a halt that
   * names this very run (the host was seen lost mid-upgrade, and is healthy again).
   */
  settleRun(runId: string, result: RunResult): Promise<void>;
  status(): Promise<FleetStatus>;
  /** Refused (FleetRefusedError) while the host holds a slot whose lease is alive, unless forced. */
  clear(host: string, force?: boolean): Promise<void>;
  /** Drops a retired host from the group's records and rollouts (refused while it holds a slot or halts the group). */
  forget(host: string): Promise<void>;
  setPaused(paused: boolean): Promise<void>;
  close(): Promise<void>;
}

/** An operator's fleet command the group's state refuses (e.g. forgetting a host that holds a slot): nothing changed. */
export class FleetRefusedError extends Error {
  override name = "FleetRefusedError";
}
