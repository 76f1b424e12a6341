import type { RunReport } from "../../src/report/report.js";
import { badTargets } from "../../src/history/bad-targets.js";
import { releaseOf } from "../../src/versions/scheme.js";
import { SITE_POLICY, type SimHost } from "../fakes/host.js";
import type { Prepared } from "./scenarios.js";

/** What the host looked like before the run: a refused or cancelled run must leave it so. */
export interface Before {
  installed: Record<string, string>;
  engineVersion: string;
  starts: number;
}

export const before = (host: SimHost): Before => ({ installed: { ...host.installedVersions }, engineVersion: host.engineVersion, starts: host.starts });

type SetName = "previous" | "target" | "mixed";

function setOf(host: SimHost, planned: Prepared["planned"]): SetName {
  const at = (i: 1 | 2) => planned.every((p) => host.installedVersions[p[0]] === p[i] && !host.halfInstalled.has(p[0]));
  return at(2) ? "target" : at(1) ? "previous" : "mixed";
}

const sameRelease = (a: string, b: string): boolean => {
  const x = releaseOf(a);
  const y = releaseOf(b);
  return x !== null && y !== null && x.major === y.major && x.minor === y.minor && x.patch === y.patch;
};

export interface Ended {
  /** The report of the process that ended last (a run or a recovery). */
  report: RunReport;
  /** Timers its clock still had when it returned. */
  timersLeft: number;
  /** The run's id, when it got as far as a journal or a fleet slot. */
  runId: string | null;
  /** A step of the run failed against the release (not a window or fence cancellation): its group must halt. */
  failed: boolean;
}

/**
 * What must hold after any process ends, whatever faults came before: dockerd up (or the report says
 * why not, exit non-zero); every planned package at one set's version, and the answering dockerd that
 * set's build; holds and policy-rc.d as they must be; the journal closed exactly when the host is
 * healthy; nothing left ticking; the outcome and exit code true to the host; the fleet slot given
 * back or the group halted, never silently freed.
 */
export function violations(host: SimHost, prepared: Prepared, was: Before, end: Ended, options: { mustBeHealthy: boolean; fleet: boolean; filesGone?: boolean; operatorCleared?: boolean }): string[] {
  const out: string[] = [];
  const r = end.report;
  const set = setOf(host, prepared.planned);
  const engine = prepared.planned[0]!;
  const engineRelease = host.scheme.upstream(set === "target" ? engine[2] : engine[1]);
  const up = host.daemonUp;
  // down at the end: the report must say so, exit non-zero, and show the start that failed (why it is down)
  const startFailed = r.steps.some((s) => /start|wait-ready/.test(s.name) && !s.ok) || /start|wait-ready/.test(r.error?.step ?? "");
  if (!up && (r.exitCode === 0 || !/dockerd NOT answering/.test(r.hostState) || !startFailed)) out.push(`dockerd is down${startFailed ? "" : " and no start was tried"}; the report says "${r.hostState}" (exit ${r.exitCode})`);
  if (!r.hostState.startsWith("unchanged") && up !== r.hostState.startsWith("dockerd up")) out.push(`the report says "${r.hostState.split(";")[0]}" but dockerd is ${up ? "up" : "down"}`);
  // without the rollback packages a mixed set cannot be undone: the run must say so, exit non-zero, keep its journal
  const excused = options.filesGone === true && r.outcome === "failed" && r.exitCode !== 0 && host.readJournal() !== null;
  if (set === "mixed" && !excused) out.push(`packages left mixed: ${prepared.planned.map(([n]) => `${n}=${host.installedVersions[n]}${host.halfInstalled.has(n) ? "(half)" : ""}`).join(" ")}`);
  if (up && set !== "mixed" && !excused && !sameRelease(host.engineVersion, engineRelease)) out.push(`dockerd ${host.engineVersion} answers on the ${set} set (release ${engineRelease})`);
  const installedBuild = host.binaryOf(set === "target" ? engine[2] : engine[1]);
  if (up && set !== "mixed" && !excused && host.runningBuild !== installedBuild) out.push(`the running dockerd was started from ${host.runningBuild} while ${installedBuild} is installed`);
  if (host.policyRcd !== SITE_POLICY || host.policyStash !== null) out.push(`policy-rc.d not as before: ${JSON.stringify(host.policyRcd)} (stash ${JSON.stringify(host.policyStash)})`);
  // the planned-restart path: no container orphaned by a dockerd of another MAJOR.MINOR; none that ran left stopped while dockerd answers
  const orphaned = host.events.filter((e) => e.includes("orphaned"));
  if (orphaned.length) out.push(orphaned[0]!);
  if (up && prepared.ran.length) {
    const stopped = prepared.ran.filter((n) => !host.containers.some((c) => c.name === n && c.running));
    if (stopped.length) out.push(`containers that ran are not running (dockerd up): ${stopped.join(", ")}`);
  }
  // a checkpointed container's state: kept, or the report says it was lost (never the other way round)
  const st = prepared.stateful;
  const db = st ? host.containers.find((c) => c.name === st.name) : undefined;
  if (st && db?.running && host.stateTokens.get(db.id) !== st.token) {
    // this process's report, or one an earlier process of the run saved (a recovery killed after its report)
    const said = [r, ...host.reportFiles.map((f) => JSON.parse(f.json) as RunReport).reverse()].map((x) => x.fates.find((f) => f.name === st.name)?.state).find((x) => x !== undefined);
    if (!said?.startsWith("lost")) out.push(`${st.name}'s state was lost (started fresh) but the report says ${said === undefined ? "nothing of it" : `"${said}"`}`);
  }
  const healthy = up && set !== "mixed" && sameRelease(host.engineVersion, engineRelease) && host.runningBuild === installedBuild && host.halfInstalled.size === 0;
  // holds: never lost; after a finished run or recovery, every planned package held (packages.hold)
  const finished = r.command === "recover" ? r.outcome !== "failed" && r.recovery?.runId !== null : r.outcome === "upgraded" || r.outcome === "rolled-back";
  const wanted = finished ? prepared.holdsAfter : [prepared.planned[0]![0]];
  const missing = wanted.filter((n) => !host.holds.includes(n));
  const holdsReported = r.checks.some((c) => c.name === "package-holds" && !c.ok);
  if (missing.length && !holdsReported) out.push(`holds missing: ${missing.join(", ")} (held: ${host.holds.join(", ") || "none"})`);
  const extra = host.holds.filter((n) => !prepared.holdsAfter.includes(n));
  if (extra.length) out.push(`holds made on packages that are not the engine's: ${extra.join(", ")}`);
  if (end.timersLeft) out.push(`${end.timersLeft} timer(s) left running after the command returned`);
  // the journal: closed exactly when the host is healthy and the run finished or undone
  const journal = host.readJournal();
  // an open journal is what `recover` finishes: only with a failure said, or a journal that could not be written
  // (or a healthy host whose only debt is the fleet group's record of the run, said in a failing check: recovery writes it)
  const owesFleet = journal !== null && journal.state === "done" && healthy && r.checks.some((c) => c.name === "fleet-release" && !c.ok);
  if (journal !== null && r.exitCode === 0 && !/journal could not be/.test(r.hostState) && !owesFleet) out.push(`exit 0 (${r.outcome}) but the journal is still open (state ${journal.state})`);
  if (!healthy && journal === null) out.push(`the host is not healthy (${set}, dockerd ${up ? "up" : "down"}) and no journal is left for recovery`);
  // the outcome, true to the host
  switch (r.outcome) {
    case "upgraded":
      if (!(healthy && set === "target")) out.push(`outcome upgraded, host on ${set}, dockerd ${up ? host.engineVersion : "down"}`);
      break;
    case "rolled-back":
      if (!(healthy && set === "previous")) out.push(`outcome rolled-back, host on ${set}, dockerd ${up ? host.engineVersion : "down"}`);
      break;
    case "refused":
    case "deferred":
    case "would-upgrade":
      if (JSON.stringify(host.installedVersions) !== JSON.stringify(was.installed) || host.starts !== was.starts) out.push(`outcome ${r.outcome} but the host changed`);
      break;
    case "up-to-date":
      // a recovery that found no unfinished run says so with up-to-date, on whichever set
      if (!(healthy && (set === "previous" || (r.command === "recover" && r.recovery?.runId === null)))) out.push(`outcome up-to-date, host on ${set}`);
      break;
    case "failed":
      if (r.exitCode === 0) out.push("outcome failed with exit 0");
      break;
  }
  if (r.command === "upgrade" && (r.exitCode === 0) !== ["upgraded", "up-to-date", "would-upgrade", "deferred"].includes(r.outcome)) out.push(`exit ${r.exitCode} for outcome ${r.outcome}`);
  if (r.command === "recover" && (r.exitCode === 0) !== (r.outcome !== "failed")) out.push(`recover exit ${r.exitCode} for outcome ${r.outcome}`);
  const untouched = JSON.stringify(host.installedVersions) === JSON.stringify(was.installed) && host.starts === was.starts && /nothing .*(was|were) (changed|touched)|^unchanged/.test(`${r.hostState} ${r.error?.message ?? ""}`);
  if (options.mustBeHealthy && !(healthy && (r.outcome !== "failed" || untouched) && (journal === null || owesFleet))) out.push(`recovery with no fault left the host unhealthy (${set}, dockerd ${up ? host.engineVersion : "down"}, exit ${r.exitCode}, journal ${journal?.state ?? "closed"}): ${r.hostState}`);
  // the fleet: the run's slot given back, or the group halted; never freed with a failure unsaid
  if (end.runId && options.fleet) {
    const state = host.fleet.state;
    const holder = state.holders.find((x) => x.runId === end.runId);
    const haltedByIt = state.halted?.runId === end.runId || (state.queuedHalts ?? []).some((x) => x.runId === end.runId);
    if (holder && host.fleet.leases.has(holder.lease)) out.push(`run ${end.runId} still holds a slot with a live lease after its process ended`);
    if (end.failed && !holder && !haltedByIt && !options.operatorCleared) out.push(`run ${end.runId} failed and its slot was freed without a halt`);
    if (!end.failed && healthy && haltedByIt && options.mustBeHealthy) out.push(`run ${end.runId} ended healthy with no failure, and the group is still halted on it: ${state.halted?.reason}`);
    const record = state.hosts[host.hostName];
    const engineNow = host.installedVersions[engine[0]];
    if (record?.runId === end.runId && record.version !== engineNow && set !== "mixed") out.push(`the fleet records ${record.version} for this host, whose engine is ${engineNow}`);
  }
  // later runs: a failure against the release marks its target (not retried by itself); nothing else does
  if (options.mustBeHealthy && healthy && end.runId) {
    const reports = host.reportFiles.map((f) => JSON.parse(f.json) as RunReport).reverse();
    const bad = badTargets(reports).map((b) => b.version);
    // (a failure neither the journal nor a saved report could record, the disk being full, is known to no one)
    const recorded = host.recordedFailures.has(end.runId) || reports.some((x) => x.id === end.runId && x.error !== null);
    if (end.failed && set === "previous" && !bad.includes(engine[2]) && recorded) out.push(`the run failed against ${engine[2]}, yet the target is not marked bad: the next run would try it again`);
    if (!end.failed && bad.includes(engine[2])) out.push(`${engine[2]} is marked bad with no failure against it`);
  }
  return out;
}
