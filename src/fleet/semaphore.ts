/**
 * The fleet's shared state for one group, as stored in one etcd key and changed only by
 * compare-and-swap on its revision. Pure: every decision is a function of this state, the hosts
 * whose lease is alive, and the request; the etcd adapter only reads, decides and swaps.
 */
import type { GroupState, Halt, Holder } from "../ports/fleet.js";

export type { GroupState, Halt, Holder, HostRecord } from "../ports/fleet.js";

export const emptyGroup = (): GroupState => ({ holders: [], halted: null, paused: false, target: null, hosts: {} });

export function parseGroup(text: string | null): GroupState {
  if (!text) return emptyGroup();
  const raw = JSON.parse(text) as Partial<GroupState>;
  return { ...emptyGroup(), ...raw, holders: raw.holders ?? [], hosts: raw.hosts ?? {} };
}

export interface SlotRequest {
  host: string;
  runId: string;
  lease: string;
  slots: number;
  /** The engine version this run goes to (recorded as the rollout's target if there is none). */
  target: string;
  now: string;
}

export type Decision =
  | { kind: "grant"; next: GroupState }
  /** A holder's lease is gone without a success record: a host was lost mid-upgrade. Halt, never free the slot. */
  | { kind: "halt-lost"; next: GroupState; lost: Holder }
  | { kind: "halted"; halt: Halt }
  | { kind: "paused" }
  | { kind: "full"; holders: Holder[] };

/** What a host asking for a slot gets. `alive`: the hosts whose alive key (bound to their lease) exists. */
export function decide(state: GroupState, alive: ReadonlySet<string>, req: SlotRequest, compare: (a: string, b: string) => number): Decision {
  const lost = state.holders.find((h) => !alive.has(h.host) && !(h.host === req.host && h.lease === req.lease));
  if (lost && !state.halted) {
    const halt: Halt = { host: lost.host, runId: lost.runId, reason: "lost mid-upgrade: its lease expired without a success record", at: req.now, kind: "lost" };
    return { kind: "halt-lost", lost, next: { ...state, halted: halt } };
  }
  if (state.halted) return { kind: "halted", halt: state.halted };
  if (state.paused) return { kind: "paused" };
  const mine = state.holders.find((h) => h.host === req.host);
  // an earlier run of this very host that died holding the slot is a lost host too (handled above)
  if (mine && mine.lease === req.lease) return { kind: "grant", next: state };
  if (state.holders.length >= req.slots) return { kind: "full", holders: state.holders };
  const next: GroupState = {
    ...state,
    holders: [...state.holders.filter((h) => h.host !== req.host), { host: req.host, runId: req.runId, lease: req.lease, since: req.now }],
    // a new rollout starts only once every known host has reached the current target
    target:
      !state.target || (mayStartRollout(state, compare) && compare(req.target, state.target.version) > 0)
        ? { version: req.target, setBy: req.host, at: req.now }
        : state.target,
  };
  return { kind: "grant", next };
}

export interface ReleaseRequest {
  host: string;
  lease: string;
  runId: string;
  ok: boolean;
  /** The engine package version the host is on now. */
  version: string;
  outcome: string;
  reason: string | null;
  now: string;
}

/** Gives the slot back; a failed run halts the group with the host, the run and the reason. */
export function release(state: GroupState, req: ReleaseRequest): GroupState {
  const halted = req.ok ? state.halted : (state.halted ?? { host: req.host, runId: req.runId, reason: req.reason ?? req.outcome, at: req.now, kind: "failed" as const });
  return {
    ...state,
    holders: state.holders.filter((h) => !(h.host === req.host && h.lease === req.lease)),
    halted,
    hosts: { ...state.hosts, [req.host]: { version: req.version, runId: req.runId, outcome: req.outcome, at: req.now } },
  };
}

/**
 * The record of a run whose process died holding its slot, finished by that host's recovery: the
 * holder goes, the host's version is recorded. A failure halts the group (a halt that named the run as
 * lost now gives the real reason). A healthy end lifts only the halt another host set when it saw this
 * very run lost; a halt for a failure stays until an operator clears it.
 */
export function settleRun(state: GroupState, req: Omit<ReleaseRequest, "lease">): GroupState {
  const mine = state.halted?.runId === req.runId;
  const failedHalt: Halt = { host: req.host, runId: req.runId, reason: req.reason ?? req.outcome, at: req.now, kind: "failed" };
  const halted = req.ok
    ? mine && state.halted?.kind === "lost"
      ? null
      : state.halted
    : mine || !state.halted
      ? failedHalt
      : state.halted;
  return {
    ...state,
    holders: state.holders.filter((h) => h.runId !== req.runId),
    halted,
    hosts: { ...state.hosts, [req.host]: { version: req.version, runId: req.runId, outcome: req.outcome, at: req.now } },
  };
}

/** An operator's `fleet clear HOST`, or the host's own successful recovery: its halt and any slot it still holds go. */
export function clearHost(state: GroupState, host: string): GroupState {
  return {
    ...state,
    holders: state.holders.filter((h) => h.host !== host),
    halted: state.halted?.host === host ? null : state.halted,
  };
}

/**
 * The version this host should go to: the rollout's recorded target while it is newer than what the
 * host runs; null when there is none, or the host has reached it (it may then start the next rollout).
 */
export function rolloutTarget(state: GroupState, installed: string, compare: (a: string, b: string) => number): string | null {
  const t = state.target?.version;
  if (!t || compare(t, installed) <= 0) return null;
  return t;
}

/**
 * Whether a run may record a new rollout target: only once every host the group knows of has reached
 * the current one (no mixed fleet).
 */
export function mayStartRollout(state: GroupState, compare: (a: string, b: string) => number): boolean {
  const t = state.target?.version;
  if (!t) return true;
  return Object.values(state.hosts).every((h) => compare(h.version, t) >= 0) && state.holders.length === 0;
}
