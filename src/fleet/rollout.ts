/**
 * Rollouts by upstream release, one per MAJOR.MINOR series, in batches. Pure: the etcd adapter reads
 * the group's state, asks these functions, and swaps the result in.
 */
import type { GroupState, HostRecord, Rollout } from "../ports/fleet.js";
import { formatSeries, releaseOf } from "../versions/scheme.js";

/** A batch size as operators write it: a host count, or a share of all the rollout's hosts ("10%"). */
export type BatchSize = number | string;

export interface RolloutPolicy {
  /** Batch sizes in order; the last one repeats until every host is in a batch. */
  batches: readonly BatchSize[];
  /** Hosts that go first, in this order (those the group knows of). */
  canaries: readonly string[];
  /** How long the hosts of a batch run the release before the next batch starts. */
  soakMs: number;
}

export const ALL_AT_ONCE: RolloutPolicy = { batches: ["100%"], canaries: [], soakMs: 0 };

/** MAJOR.MINOR.PATCH of a package version (`5:24.0.9-1~debian.12~bookworm`, `20.10.24+dfsg1-1`, `24.0.9-1.el9`). */
export function releaseOfPackage(version: string): string | null {
  const r = releaseOf(version.replace(/^\d+:/, ""));
  return r ? `${r.major}.${r.minor}.${r.patch}` : null;
}

/** The series ("24.0", "20.10") of a release or package version. */
export function seriesOfRelease(release: string): string | null {
  const r = releaseOf(release.replace(/^\d+:/, ""));
  return r ? formatSeries(r) : null;
}

/** Orders two MAJOR.MINOR.PATCH releases by number. */
export function compareReleases(a: string, b: string): number {
  const x = releaseOf(a);
  const y = releaseOf(b);
  if (!x || !y) return x ? 1 : y ? -1 : 0;
  return x.major - y.major || x.minor - y.minor || x.patch - y.patch;
}

/** The release a host record is on (records of older versions hold only the package version). */
export const recordRelease = (r: HostRecord): string | null => r.release ?? releaseOfPackage(r.version);

/**
 * How many hosts each batch takes, the way Ansible's `serial` counts: a percentage is of all the
 * rollout's hosts, truncated, at least 1; the last size repeats; 0 or less takes every host left.
 */
export function batchSizes(sizes: readonly BatchSize[], total: number): number[] {
  const out: number[] = [];
  let left = total;
  for (let i = 0; left > 0; i = Math.min(i + 1, sizes.length - 1)) {
    const s = sizes[i] ?? "100%";
    const n = typeof s === "string" ? Math.trunc((Number(s.slice(0, -1)) / 100) * total) || 1 : s;
    const take = n <= 0 ? left : Math.min(n, left);
    out.push(take);
    left -= take;
  }
  return out;
}

/** The batches of a rollout over `hosts`: the canaries first (in the policy's order), then the rest by name. */
export function planBatches(hosts: readonly string[], policy: RolloutPolicy): string[][] {
  const known = new Set(hosts);
  const canaries = policy.canaries.filter((c) => known.has(c));
  const rest = [...known].filter((h) => !canaries.includes(h)).sort();
  const order = [...canaries, ...rest];
  const sizes = policy.batches.length ? policy.batches : ALL_AT_ONCE.batches;
  const out: string[][] = [];
  let at = 0;
  for (const n of batchSizes(sizes, order.length)) {
    out.push(order.slice(at, at + n));
    at += n;
  }
  return out;
}

/** The hosts of the group on a series (by their records). */
export function hostsOnSeries(state: GroupState, series: string): string[] {
  return Object.entries(state.hosts)
    .filter(([, r]) => {
      const rel = recordRelease(r);
      return rel !== null && seriesOfRelease(rel) === series;
    })
    .map(([h]) => h);
}

/** Whether a policy stages its rollouts (canaries, several batches or a soak) rather than letting every host go at once. */
const staged = (policy: RolloutPolicy): boolean => policy.canaries.length > 0 || policy.batches.length > 1 || policy.soakMs > 0;

/** A MAJOR.MINOR jump's rollout soaks at least this long after its first host, whatever the policy. */
export const JUMP_SOAK_MS = 30 * 60_000;

/**
 * A rollout's plan over the hosts on its series, the host starting it, and the configured canaries the
 * group has no record of yet (a fresh group: they still go first; `fleet forget` takes a misnamed one out).
 * A rollout that jumps MAJOR.MINOR (its starting host is on another series: planned container restarts)
 * takes the cautious road whatever the policy: that host alone first, every other host after it reached
 * the release and soaked (at least JUMP_SOAK_MS).
 */
export function newRollout(state: GroupState, req: { host: string; series: string; release: string; now: string }, policy: RolloutPolicy): Rollout {
  const on = state.hosts[req.host];
  const from = on ? recordRelease(on) : null;
  if (from !== null && seriesOfRelease(from) !== req.series) {
    return { series: req.series, release: req.release, setBy: req.host, at: req.now, batches: [[req.host]], soakMs: Math.max(policy.soakMs, JUMP_SOAK_MS), late: "after" };
  }
  return liveRollout(state, req, policy);
}

function liveRollout(state: GroupState, req: { host: string; series: string; release: string; now: string }, policy: RolloutPolicy): Rollout {
  const unseenCanaries = policy.canaries.filter((c) => !(c in state.hosts));
  const hosts = [...new Set([...hostsOnSeries(state, req.series), req.host, ...unseenCanaries])];
  return { series: req.series, release: req.release, setBy: req.host, at: req.now, batches: planBatches(hosts, policy), soakMs: policy.soakMs, ...(staged(policy) ? { late: "after" as const } : {}) };
}

/** Whether a host reached the rollout's release (by its record). */
export function reached(state: GroupState, host: string, rollout: Rollout): boolean {
  const rec = state.hosts[host];
  const rel = rec ? recordRelease(rec) : null;
  return rel !== null && compareReleases(rel, rollout.release) >= 0;
}

/**
 * A host's batch: where the plan put it; a host that joined after the rollout started goes after
 * every planned batch (a staged rollout) or with the last one (all at once).
 */
export function batchOf(rollout: Rollout, host: string): number {
  const i = rollout.batches.findIndex((b) => b.includes(host));
  if (i >= 0) return i;
  return rollout.late === "after" ? rollout.batches.length : Math.max(0, rollout.batches.length - 1);
}

export type BatchGate = { open: true } | { open: false; reason: string; until?: string };

/**
 * Whether `host`'s batch may run now: every earlier batch reached the release, and the last of them
 * finished `soakMs` before `now`.
 */
export function batchGate(state: GroupState, rollout: Rollout, host: string, now: string): BatchGate {
  const mine = batchOf(rollout, host);
  const n = rollout.batches.length;
  const place = mine < n ? `in batch ${mine + 1} of ${n}` : `after the ${n} planned batch(es) (it joined after the rollout started)`;
  let lastDone = "";
  for (let i = 0; i < mine; i++) {
    const behind = (rollout.batches[i] ?? []).filter((h) => !reached(state, h, rollout));
    if (behind.length) {
      return { open: false, reason: `the rollout of ${rollout.release} (series ${rollout.series}) is at batch ${i + 1} of ${n}; ${host} goes ${place}, after ${behind.join(", ")} reach ${rollout.release}` };
    }
    for (const h of rollout.batches[i] ?? []) {
      const at = state.hosts[h]?.at ?? "";
      if (at > lastDone) lastDone = at;
    }
  }
  if (mine > 0 && rollout.soakMs > 0 && lastDone) {
    const until = new Date(Date.parse(lastDone) + rollout.soakMs).toISOString();
    if (until > now) return { open: false, reason: `batch ${mine} of the rollout of ${rollout.release} soaks until ${until}; ${host} goes ${place}`, until };
  }
  return { open: true };
}

/** Whether every host of the rollout's series reached its release and none of them holds a slot: a new rollout may start. */
export function rolloutFinished(state: GroupState, rollout: Rollout): boolean {
  const hosts = new Set([...hostsOnSeries(state, rollout.series), ...rollout.batches.flat().filter((h) => h in state.hosts)]);
  return [...hosts].every((h) => reached(state, h, rollout)) && !state.holders.some((h) => h.series === undefined || h.series === rollout.series);
}

/** Where a rollout stands, for `fleet status`: the batch running, who is behind, who soaks until when. */
export function rolloutProgress(state: GroupState, rollout: Rollout, now: string): { batch: number; of: number; behind: string[]; soakUntil: string | null; finished: boolean } {
  const n = rollout.batches.length;
  for (let i = 0; i < n; i++) {
    const behind = (rollout.batches[i] ?? []).filter((h) => !reached(state, h, rollout));
    if (behind.length) {
      const gate = batchGate(state, rollout, behind[0]!, now);
      return { batch: i + 1, of: n, behind, soakUntil: !gate.open && gate.until ? gate.until : null, finished: false };
    }
  }
  return { batch: n, of: n, behind: [], soakUntil: null, finished: rolloutFinished(state, rollout) };
}
