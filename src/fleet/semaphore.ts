/**
 * The fleet's shared state for one group, as stored in one etcd key and changed only by
 * compare-and-swap on its revision. Pure: every decision is a function of this state, the leases
 * alive, and the request; the etcd adapter only reads, decides and swaps.
 */
import type { GroupState, Halt, Holder, HostRecord, Rollout } from "../ports/fleet.js";
import { batchGate, compareReleases, newRollout, recordRelease, releaseOfPackage, rolloutFinished, seriesOfRelease, type RolloutPolicy } from "./rollout.js";

export type { GroupState, Halt, Holder, HostRecord } from "../ports/fleet.js";

export const emptyGroup = (): GroupState => ({ holders: [], halted: null, queuedHalts: [], paused: false, rollouts: {}, hosts: {} });

/** The stored state; a record written by an older version (one `target`: a package version) becomes that series' rollout. */
export function parseGroup(text: string | null): GroupState {
  if (!text) return emptyGroup();
  const raw = JSON.parse(text) as Partial<GroupState> & { target?: { version: string; setBy: string; at: string } | null };
  const rollouts: Record<string, Rollout> = { ...(raw.rollouts ?? {}) };
  const legacy = raw.target ? releaseOfPackage(raw.target.version) : null;
  const legacySeries = legacy ? seriesOfRelease(legacy) : null;
  if (raw.target && legacy && legacySeries && !rollouts[legacySeries]) {
    rollouts[legacySeries] = { series: legacySeries, release: legacy, setBy: raw.target.setBy, at: raw.target.at, batches: [], soakMs: 0 };
  }
  // a queued halt never goes dormant (a `fleet clear` by an older version nulls `halted` and keeps the queue)
  const queued = raw.queuedHalts ?? [];
  const halted = raw.halted ?? queued[0] ?? null;
  return { holders: raw.holders ?? [], halted, queuedHalts: raw.halted ? queued : queued.slice(1), paused: raw.paused ?? false, rollouts, hosts: raw.hosts ?? {} };
}

/** Adds a halt: in force if none is, else queued behind it; a run's newer halt replaces its older one (lost, then failed). */
export function withHalt(state: GroupState, halt: Halt): Pick<GroupState, "halted" | "queuedHalts"> {
  const all = [...(state.halted ? [state.halted] : []), ...(state.queuedHalts ?? [])];
  const i = all.findIndex((h) => h.runId === halt.runId);
  if (i >= 0) all[i] = halt;
  else all.push(halt);
  return { halted: all[0] ?? null, queuedHalts: all.slice(1) };
}

/** Removes the halts `gone` matches; the next one queued comes into force. */
export function withoutHalts(state: GroupState, gone: (h: Halt) => boolean): Pick<GroupState, "halted" | "queuedHalts"> {
  const all = [...(state.halted ? [state.halted] : []), ...(state.queuedHalts ?? [])].filter((h) => !gone(h));
  return { halted: all[0] ?? null, queuedHalts: all.slice(1) };
}

/** A holder other than `mine` whose lease is gone while no halt is in force: a host lost mid-upgrade. */
export function lostHolder(state: GroupState, alive: ReadonlySet<string>, mine: string): Holder | null {
  if (state.halted) return null;
  return state.holders.find((h) => !alive.has(h.lease) && h.lease !== mine) ?? null;
}

/** The group halted on a lost holder (its slot is never freed: only its host's recovery or an operator settles it). */
export function haltLost(state: GroupState, lost: Holder, now: string): GroupState {
  return { ...state, halted: { host: lost.host, runId: lost.runId, reason: "lost mid-upgrade: its lease expired without a success record", at: now, kind: "lost" } };
}

export interface SlotRequest {
  host: string;
  runId: string;
  lease: string;
  slots: number;
  /** The upstream release (MAJOR.MINOR.PATCH) this run goes to; it starts a rollout of its series when none runs. */
  release: string;
  now: string;
  /** How a rollout this request starts is cut into batches. */
  policy: RolloutPolicy;
}

export type Decision =
  | { kind: "grant"; next: GroupState; rollout: Rollout }
  /** A holder's lease is gone without a success record: a host was lost mid-upgrade. Halt, never free the slot. */
  | { kind: "halt-lost"; next: GroupState; lost: Holder }
  | { kind: "halted"; halt: Halt }
  | { kind: "paused" }
  | { kind: "full"; holders: Holder[]; next: GroupState | null }
  /** Not this host's turn in the rollout (its batch, a soak, or a newer release waiting for the current rollout). */
  | { kind: "wait"; reason: string; next: GroupState | null }
  /** The run planned an older release than its series' rollout: it ends without acting, and its next plan takes the rollout's. */
  | { kind: "retarget"; reason: string; release: string };

/**
 * What a host asking for a slot gets. `alive`: the leases that exist (their alive keys); a holder is
 * alive exactly while its own lease is, whatever its host name (a restarted host's new lease does
 * not vouch for the record its crashed run left).
 */
export function decide(state: GroupState, alive: ReadonlySet<string>, req: SlotRequest): Decision {
  const lost = lostHolder(state, alive, req.lease);
  if (lost) return { kind: "halt-lost", lost, next: haltLost(state, lost, req.now) };
  if (state.halted) return { kind: "halted", halt: state.halted };
  if (state.paused) return { kind: "paused" };
  const series = seriesOfRelease(req.release);
  if (!series) return { kind: "wait", reason: `cannot read a MAJOR.MINOR.PATCH release from ${req.release}`, next: null };

  let rollout = state.rollouts[series];
  let started: GroupState | null = null;
  const failed = rollout?.failedOn;
  const on = state.hosts[req.host];
  const from = on ? recordRelease(on) : null;
  // only a jump is stopped (a host already on the series takes its patch rollout as ever)
  const jumping = from === null || seriesOfRelease(from) !== series;
  if (rollout && failed && jumping && compareReleases(req.release, rollout.release) === 0) {
    return { kind: "halted", halt: { host: failed.host, runId: failed.runId, at: failed.at, kind: "failed", reason: `the MAJOR.MINOR jump to ${rollout.release} failed on ${failed.host} (${failed.reason}): no host of the group jumps to it; a newer release starts a new rollout` } };
  }
  if (!rollout || (compareReleases(req.release, rollout.release) > 0 && (rolloutFinished(state, rollout) || failed !== undefined))) {
    rollout = newRollout(state, { host: req.host, series, release: req.release, now: req.now }, req.policy);
    started = { ...state, rollouts: { ...state.rollouts, [series]: rollout } };
  } else if (compareReleases(req.release, rollout.release) > 0) {
    return { kind: "wait", reason: `the rollout of ${rollout.release} (series ${series}) is not finished; ${req.release} starts after it`, next: null };
  } else if (compareReleases(req.release, rollout.release) < 0) {
    // never a release the group did not roll out (and its canaries never ran)
    return { kind: "retarget", release: rollout.release, reason: `the group's rollout of series ${series} is to ${rollout.release}, this run planned ${req.release}: the next run plans ${rollout.release}` };
  }
  const base = started ?? state;
  const mine = base.holders.find((h) => h.lease === req.lease);
  if (mine) return { kind: "grant", next: base, rollout };
  const earlier = base.holders.find((h) => h.host === req.host);
  if (earlier) {
    // its crashed run's record: settled by this host's recovery, or halts the group once its lease expires
    return { kind: "wait", reason: `an earlier run of ${req.host} (${earlier.runId}) still holds a slot and its lease is alive: \`docker-live-upgrade recover\` settles it, or the group halts on it when the lease expires`, next: started };
  }
  const gate = batchGate(base, rollout, req.host, req.now);
  if (!gate.open) return { kind: "wait", reason: gate.reason, next: started };
  if (base.holders.length >= req.slots) return { kind: "full", holders: base.holders, next: started };
  const next: GroupState = {
    ...base,
    holders: [...base.holders, { host: req.host, runId: req.runId, lease: req.lease, since: req.now, series }],
  };
  return { kind: "grant", next, rollout };
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

const hostRecord = (req: Omit<ReleaseRequest, "lease">, before: HostRecord | undefined): HostRecord => {
  const release = releaseOfPackage(req.version);
  return { ...before, version: req.version, ...(release ? { release } : {}), runId: req.runId, outcome: req.outcome, at: req.now, seen: req.now };
};

/**
 * A failed run of a MAJOR.MINOR jump (the host is still, or again, on another series than the
 * rollout's): the rollout records it, and no other host of the group jumps to that release.
 */
function jumpFailed(state: GroupState, req: Omit<ReleaseRequest, "lease">, series: string | undefined): GroupState["rollouts"] {
  const rollout = series !== undefined ? state.rollouts[series] : undefined;
  // a jump: the host was on another series when it checked in before the run (whether it ended back there or not)
  const before = state.hosts[req.host];
  const from = before ? recordRelease(before) : null;
  if (req.ok || !rollout || series === undefined || from === null || seriesOfRelease(from) === series || rollout.failedOn) return state.rollouts;
  return { ...state.rollouts, [series]: { ...rollout, failedOn: { host: req.host, runId: req.runId, reason: req.reason ?? req.outcome, at: req.now } } };
}

/** Gives the slot back; a healthy run lifts a halt that took it for lost; a failed run halts the group with the host, the run and the reason (queued behind a halt already in force). */
export function release(state: GroupState, req: ReleaseRequest): GroupState {
  // a healthy end lifts the halt another host set when it took this run for lost (its lease lapsed mid-run)
  const halts = req.ok ? withoutHalts(state, (h) => h.runId === req.runId && h.kind === "lost") : withHalt(state, { host: req.host, runId: req.runId, reason: req.reason ?? req.outcome, at: req.now, kind: "failed" });
  return {
    ...state,
    ...halts,
    rollouts: jumpFailed(state, req, state.holders.find((h) => h.lease === req.lease)?.series),
    holders: state.holders.filter((h) => h.lease !== req.lease),
    hosts: { ...state.hosts, [req.host]: hostRecord(req, state.hosts[req.host]) },
  };
}

/**
 * The record of a run whose process died holding its slot (or could not give it back), finished by
 * that host's recovery: the holder goes, the host's version is recorded. A failure halts the group (a
 * halt that named the run as lost now gives the real reason). A healthy end lifts only the halt another
 * host set when it saw this very run lost; a halt for a failure stays until an operator clears it.
 */
export function settleRun(state: GroupState, req: Omit<ReleaseRequest, "lease">): GroupState {
  const halts = req.ok
    ? withoutHalts(state, (h) => h.runId === req.runId && h.kind === "lost")
    : withHalt(state, { host: req.host, runId: req.runId, reason: req.reason ?? req.outcome, at: req.now, kind: "failed" });
  return {
    ...state,
    ...halts,
    rollouts: jumpFailed(state, req, state.holders.find((h) => h.runId === req.runId)?.series),
    holders: state.holders.filter((h) => h.runId !== req.runId),
    hosts: { ...state.hosts, [req.host]: hostRecord(req, state.hosts[req.host]) },
  };
}

/** Why `fleet clear HOST` is refused without --force: the host holds a slot and its lease is alive (its run may be past its fence). */
export function clearRefusal(state: GroupState, alive: ReadonlySet<string>, host: string): string | null {
  const live = state.holders.find((h) => h.host === host && alive.has(h.lease));
  return live
    ? `${host} holds a slot and its lease is alive (run ${live.runId}, since ${live.since}): its run may be stopping dockerd right now, and freeing its slot would let one host more in. Let it finish, or when you are sure it is gone: fleet clear ${host} --force`
    : null;
}

/** An operator's `fleet clear HOST`: its halts and any slot it still holds go (a halt of another host queued behind comes into force). */
export function clearHost(state: GroupState, host: string): GroupState {
  return {
    ...state,
    ...withoutHalts(state, (h) => h.host === host),
    holders: state.holders.filter((h) => h.host !== host),
  };
}

/** An operator's `fleet forget HOST`: a retired host leaves the records and every rollout's batches. */
export function forgetHost(state: GroupState, host: string): { ok: true; next: GroupState } | { ok: false; reason: string } {
  if (state.holders.some((h) => h.host === host)) return { ok: false, reason: `${host} holds a slot of the group; if it is gone for good, \`fleet clear ${host}\` first` };
  if (state.halted?.host === host || state.queuedHalts?.some((h) => h.host === host)) return { ok: false, reason: `the group is halted by ${host}; \`fleet clear ${host}\` first` };
  if (!(host in state.hosts) && !Object.values(state.rollouts).some((r) => r.batches.some((b) => b.includes(host)))) return { ok: false, reason: `the group has no host named ${host}` };
  const hosts = { ...state.hosts };
  delete hosts[host];
  const rollouts = Object.fromEntries(Object.entries(state.rollouts).map(([s, r]) => [s, { ...r, batches: r.batches.map((b) => b.filter((h) => h !== host)) }]));
  return { ok: true, next: { ...state, hosts, rollouts } };
}

/** How often a host's check-in is written when nothing else changed (one write an hour at most). */
const CHECK_IN_EVERY_MS = 3_600_000;

/** A host's check-in: its version now and when it was seen; null when the record is fresh enough already. */
export function checkIn(state: GroupState, host: string, version: string, now: string): GroupState | null {
  const before = state.hosts[host];
  if (before && before.version === version && before.seen && Date.parse(now) - Date.parse(before.seen) < CHECK_IN_EVERY_MS) return null;
  const rel = releaseOfPackage(version);
  const record: HostRecord = before ? { ...before, version, seen: now } : { version, runId: "", outcome: "seen", at: now, seen: now };
  if (rel) record.release = rel;
  return { ...state, hosts: { ...state.hosts, [host]: record } };
}

/**
 * The release a host on `installed` should go to: its series' rollout release while that is newer than
 * what the host runs; null when there is none, or the host has reached it (it may then start the next).
 */
export function rolloutTarget(state: GroupState, installed: string): string | null {
  const rel = releaseOfPackage(installed);
  const series = rel ? seriesOfRelease(rel) : null;
  const r = series ? state.rollouts[series] : undefined;
  if (!rel || !r || compareReleases(r.release, rel) <= 0) return null;
  return r.release;
}

/** Hosts whose last check-in or run is older than `staleMs` before `now`. */
export function staleHosts(state: GroupState, now: string, staleMs: number): string[] {
  return Object.entries(state.hosts)
    .filter(([, r]) => Date.parse(now) - Date.parse(r.seen ?? r.at) > staleMs)
    .map(([h]) => h)
    .sort();
}
