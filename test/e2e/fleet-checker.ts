/**
 * The history checker of the fleet fault test: from every version the group's etcd key had, each
 * host's run reports, its dockerd stops (journald) and its engine installs (dpkg.log), and the
 * operator's clears, the properties a fleet must keep whatever failed. Pure: unit-tested with
 * histories made to break each one.
 */
import type { GroupState } from "../../src/ports/fleet.js";
import type { RunReport } from "../../src/report/report.js";
import { againstTheRelease } from "../../src/report/failures.js";

export interface HostHistory {
  host: string;
  reports: RunReport[];
  /** When dockerd was stopped (journald's "Stopping docker.service"), epoch ms. */
  dockerStops: number[];
  /** When an engine package was installed or upgraded (dpkg.log, whole seconds), with its version. */
  installs: { at: number; version: string }[];
}

export interface FleetHistory {
  slots: number;
  /** Every version of the group's state, oldest first. */
  states: GroupState[];
  hosts: HostHistory[];
  /** The test's `fleet clear HOST`, with when it ran. */
  clears: { host: string; at: number }[];
  /** The engine version every host must end on. */
  target: string;
  /** Each host at the end: its engine version, whether its journal is closed. */
  end: Record<string, { version: string; journalClosed: boolean; dockerUp: boolean }>;
}

interface Interval {
  host: string;
  runId: string;
  from: number;
  to: number;
}

/** Clocks of one machine, second-resolution logs: an event this close to an interval's edge is inside it. */
const SLACK_MS = 1_500;
const iso = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString() : "never");

/** When a record that vanished at state `k` was ended: the host's own record of that run, else the operator's clear after `from`. */
function endOf(state: GroupState, host: string, runId: string, from: number, clears: FleetHistory["clears"]): number | null {
  const rec = state.hosts[host];
  if (rec?.runId === runId) return Date.parse(rec.at);
  const clear = clears.filter((c) => c.host === host && c.at >= from).sort((a, b) => a.at - b.at)[0];
  return clear?.at ?? null;
}

/** The slots held: [since, given back or settled or cleared], from the key's history. */
export function holdingIntervals(h: FleetHistory, findings: string[]): Interval[] {
  const open = new Map<string, Interval>();
  const out: Interval[] = [];
  for (const s of h.states) {
    const now = new Set(s.holders.map((x) => `${x.host}|${x.runId}|${x.lease}`));
    for (const x of s.holders) {
      const key = `${x.host}|${x.runId}|${x.lease}`;
      if (!open.has(key)) open.set(key, { host: x.host, runId: x.runId, from: Date.parse(x.since), to: Infinity });
    }
    for (const [key, iv] of open) {
      if (now.has(key)) continue;
      const end = endOf(s, iv.host, iv.runId, iv.from, h.clears);
      if (end === null) findings.push(`the slot of ${iv.host} (run ${iv.runId}) vanished from the group with no record of the run and no clear`);
      out.push({ ...iv, to: end ?? iv.from });
      open.delete(key);
    }
  }
  out.push(...open.values());
  return out;
}

/** The halts: [at, lifted by the halted run's own record or by a clear]. */
export function haltIntervals(h: FleetHistory): (Interval & { kind: string })[] {
  const out: (Interval & { kind: string })[] = [];
  let cur: (Interval & { kind: string }) | null = null;
  for (const s of h.states) {
    const halt = s.halted;
    if (halt && (!cur || cur.runId !== halt.runId)) {
      if (cur) out.push({ ...cur, to: Date.parse(halt.at) });
      cur = { host: halt.host, runId: halt.runId, from: Date.parse(halt.at), to: Infinity, kind: halt.kind ?? "failed" };
    } else if (!halt && cur) {
      out.push({ ...cur, to: endOf(s, cur.host, cur.runId, cur.from, h.clears) ?? cur.from });
      cur = null;
    }
  }
  if (cur) out.push(cur);
  return out;
}

const within = (t: number, iv: Interval) => t >= iv.from - SLACK_MS && t <= iv.to + SLACK_MS;
const fenceAt = (r: RunReport): number | null => {
  const s = r.steps.find((x) => x.name === "fleet-fence" && x.ok);
  return s ? Date.parse(s.startedAt) + s.durationMs : null;
};

export function checkFleetHistory(h: FleetHistory): string[] {
  const findings: string[] = [];
  const holding = holdingIntervals(h, findings);
  const halts = haltIntervals(h);

  // 1. never more than `slots` hosts between grant and release at any instant
  const edges = holding.flatMap((iv) => [
    { t: iv.from, d: 1, iv },
    { t: iv.to, d: -1, iv },
  ]);
  edges.sort((a, b) => a.t - b.t || a.d - b.d);
  let n = 0;
  for (const e of edges) {
    n += e.d;
    if (n > h.slots) findings.push(`${n} slots held at ${iso(e.t)} (slots: ${h.slots}), ${e.iv.host} (run ${e.iv.runId}) among them`);
  }

  // 2. a host stops its dockerd and installs its engine only while it holds a slot
  for (const host of h.hosts) {
    const mine = holding.filter((iv) => iv.host === host.host);
    for (const t of host.dockerStops) if (!mine.some((iv) => within(t, iv))) findings.push(`${host.host} stopped dockerd at ${iso(t)} holding no slot`);
    for (const i of host.installs) if (!mine.some((iv) => within(i.at, iv))) findings.push(`${host.host} installed ${i.version} at ${iso(i.at)} holding no slot`);
  }

  // 3. a failed or lost host halts the group before any other host passes its fence (the last check before its stop)
  for (const halt of halts) {
    for (const host of h.hosts.filter((x) => x.host !== halt.host)) {
      for (const r of host.reports) {
        const t = fenceAt(r);
        if (t !== null && t > halt.from + SLACK_MS && t < halt.to) findings.push(`${host.host} passed its fence at ${iso(t)} (run ${r.id}) while ${halt.host} (run ${halt.runId}) halted the group since ${iso(halt.from)}`);
      }
    }
  }

  // 4. no host installs a release on which another host of the group failed, while that failure's halt stands
  for (const host of h.hosts) {
    for (const r of host.reports) {
      if (!(r.outcome === "failed" || r.outcome === "rolled-back") || !againstTheRelease(r.error) || !r.engine.to) continue;
      const at = Date.parse(r.finishedAt);
      const halt = halts.find((x) => x.host === host.host && (x.runId === r.id || x.runId === r.recovery?.runId));
      const until = halt?.to ?? at;
      for (const other of h.hosts.filter((x) => x.host !== host.host)) {
        for (const i of other.installs) if (i.version === r.engine.to && i.at > at + SLACK_MS && i.at < until) findings.push(`${other.host} installed ${i.version} at ${iso(i.at)}, on which ${host.host} failed (run ${r.id})`);
      }
    }
  }

  // 5. every halt names its host and one of that host's runs
  for (const halt of halts) {
    const host = h.hosts.find((x) => x.host === halt.host);
    if (!host) findings.push(`a halt names ${halt.host}, no host of the group`);
    else if (!host.reports.some((r) => r.id === halt.runId || r.recovery?.runId === halt.runId)) findings.push(`a halt names run ${halt.runId} of ${halt.host}, which has no report of it`);
  }

  // 6. the faults over and the halts cleared: every host upgraded, settled, in a group that grants again
  const last = h.states.at(-1);
  if (last?.halted) findings.push(`the group ends halted by ${last.halted.host} (run ${last.halted.runId}): ${last.halted.reason}`);
  if (last?.holders.length) findings.push(`the group ends with slots held: ${last.holders.map((x) => `${x.host} (run ${x.runId})`).join(", ")}`);
  for (const [host, e] of Object.entries(h.end)) {
    if (e.version !== h.target) findings.push(`${host} ends on ${e.version}, not ${h.target}`);
    if (!e.journalClosed) findings.push(`${host} ends with its journal open`);
    if (!e.dockerUp) findings.push(`${host} ends with dockerd down`);
  }
  return findings;
}
