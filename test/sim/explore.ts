import type { RunReport } from "../../src/report/report.js";
import { daemonLoop } from "../../src/daemon/loop.js";
import { againstTheRelease } from "../../src/report/failures.js";
import { runSession, type SignalSource } from "../../src/upgrade/session.js";
import { cloneHost, type SimHost } from "../fakes/host.js";
import type { Fault } from "../fakes/process.js";
import { simWorld, type FakeWorld } from "../fakes/world.js";
import { before, violations, type Before } from "./invariants.js";
import { nameOf, prepare, type Prepared, type Scenario } from "./scenarios.js";

/**
 * The fault explorer. For one configuration:
 * - the run is killed at every host-changing call (before it, after its effect, half-way through an
 *   install); for each distinct state that leaves, a recovery runs, and besides it: a recovery killed at
 *   each of its own host-changing calls then recovered again; a recovery whose every call fails in
 *   turn then recovered again; a recovery after the rollback packages were deleted; a recovery that
 *   gets SIGTERM at each of its calls; the daemon starting with no window open; (fleets) a recovery
 *   with etcd unreachable;
 * - every call of the run fails instead (once; and a full disk, or etcd gone, from there on), the run
 *   finishes, and a recovery follows with the fault gone;
 * - SIGTERM reaches the run at each of its calls;
 * - (fleets) at each of the run's host-changing calls an operator clears the host, or its lease expires.
 * After each process the invariants are checked (invariants.ts).
 */

export interface Finding {
  scenario: string;
  fault: string;
  problems: string[];
}

export interface Exploration {
  /** Processes run and checked. */
  explored: number;
  /** Distinct host states the run's crashes left (each recovered every way). */
  crashStates: number;
  findings: Finding[];
}

type Command = "upgrade" | "recover" | "daemon";

interface Ran {
  /** The process changed the host (its fingerprint differs after it). */
  changed: boolean;
  crashed: boolean;
  report: RunReport | null;
  timersLeft: number;
  trace: string[];
  committed: boolean;
  threw: string | null;
}

const REAL_TIMEOUT_MS = 10_000;

const signalsOf =
  (world: FakeWorld): SignalSource =>
  (handler) => {
    world.process.signalHandlers.add(handler);
    return () => world.process.signalHandlers.delete(handler);
  };

/** One process of the upgrader on `host`: it ends, dies at its fault, or (a bug) hangs. */
async function runProcess(host: SimHost, prepared: Prepared, scenario: Scenario, command: Command, fault: Fault | null): Promise<Ran> {
  const world = simWorld(host, prepared.config, { fault, fleetSlots: scenario.fleet ? 1 : null });
  world.process.role = command;
  const reportsBefore = host.reportFiles.length;
  // whether the process changed the host matters where it failed to take the lock (the first write)
  const was = fault?.mode === "fail" ? fingerprint(host) : null;
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<"hang">((resolve) => (timer = setTimeout(() => resolve("hang"), REAL_TIMEOUT_MS)));
  const work =
    command === "daemon"
      ? daemonLoop({ world: () => world, logger: () => world.logger, stopping: () => false, sleep: (ms) => world.clock.sleep(ms), signals: signalsOf(world), passes: 3 }).then(() => {
          const reports = host.reportFiles.slice(reportsBefore).map((f) => JSON.parse(f.json) as RunReport);
          // three passes, one recovery: never a recovery at every pass
          if (reports.filter((r) => r.command === "recover").length > 1) host.breaches.push(`the daemon recovered ${reports.length} times in 3 passes`);
          return reports;
        })
      : runSession(world, { command }, signalsOf(world));
  const session = work.then(
    (reports) => ({ reports, threw: null as string | null }),
    (err: unknown) => ({ reports: [] as RunReport[], threw: err instanceof Error ? err.message : String(err) }),
  );
  const ended = await Promise.race([session, world.process.died.then(() => "died" as const), hang]);
  clearTimeout(timer);
  const committed = world.memory.journalStates.length > 0 || command !== "upgrade";
  const changed = was !== null && fingerprint(host) !== was;
  if (ended === "died") return { changed, crashed: true, report: null, timersLeft: 0, trace: world.process.trace, committed, threw: null };
  if (ended === "hang") {
    world.process.exit();
    return { changed, crashed: false, report: null, timersLeft: 0, trace: world.process.trace, committed, threw: "the process never ended (a promise that never settles, with no timer to wait for)" };
  }
  const timersLeft = world.process.clock.pending();
  world.process.exit();
  return { changed, crashed: false, report: ended.reports.at(-1) ?? null, timersLeft, trace: world.process.trace, committed, threw: ended.threw };
}

/**
 * The calls worth failing: every one, except inside a run of the same read repeated back to back (a
 * wait polling /_ping), where the first and the last stand for the rest. `thorough` false: every
 * write, and the first of each kind of read (a recovery's reads each fail the same way wherever).
 */
function sample(trace: readonly string[], thorough = true): number[] {
  const out: number[] = [];
  const readSeen = new Set<string>();
  trace.forEach((call, i) => {
    if (call.startsWith("W ")) return out.push(i + 1);
    if (!thorough) {
      if (!readSeen.has(call)) out.push(i + 1);
      readSeen.add(call);
      return;
    }
    const repeated = trace[i - 1] === call && trace[i + 1] === call;
    if (!repeated) out.push(i + 1);
  });
  return out;
}

/** A process reported a failure against the release (the run, or the recovery that finished it): its group must halt, its target is bad. */
const failedAfterCommit = (ran: Ran): boolean => {
  const r = ran.report;
  return r !== null && againstTheRelease(r.error) && (r.outcome === "failed" || r.outcome === "rolled-back");
};

/** The host's state without what differs from run to run (ids, times): crashes that leave the same state are recovered once. */
function fingerprint(h: SimHost): string {
  const j = h.readJournal();
  const journal = j && { ...j, runId: "", pid: 0, startedAt: "", transitions: [], targetDir: "", rollbackDir: "", snapshot: j.snapshot.length };
  const strip = (x: object) => JSON.stringify(x, (k, v: unknown) => (["runId", "at", "since", "lease"].includes(k) ? "" : v));
  return strip({
    journal,
    installed: h.installedVersions,
    half: [...h.halfInstalled],
    up: h.daemonUp,
    running: h.containers.map((c) => `${c.name}:${c.running}`),
    engine: h.engineVersion,
    ctd: h.containerdVersion,
    policy: h.policyRcd,
    stash: h.policyStash,
    holds: h.holds,
    files: [...h.files.entries()].map(([d, f]) => [d.replace(/\/state\/cache\/[^/]+\//, ""), [...f]]),
    fleet: h.fleet.state,
    leases: h.fleet.leases.size,
    lock: h.lockFile !== null,
  });
}

class Explorer {
  explored = 0;
  crashStates = 0;
  private readonly afterFailures = new Set<string>();
  readonly findings: Finding[] = [];

  constructor(private readonly scenario: Scenario) {}

  private note(fault: string, problems: string[]): void {
    this.explored++;
    if (problems.length) this.findings.push({ scenario: nameOf(this.scenario), fault, problems });
  }

  private check(fault: string, host: SimHost, p: Prepared, was: Before, ran: Ran, runId: string | null, failed: boolean, mustBeHealthy: boolean, filesGone = false, operatorCleared = false): void {
    // a clear or a lease expiry that lands as the stop is issued: no fence can close that instant
    const breaches = host.breaches.splice(0).filter(() => !/W service\.(stop|restart), (fleet-clear|lease-expired|other-halted)/.test(fault));
    if (ran.crashed) return this.note(fault, [...breaches, "the process died (a signal it did not handle?)"]);
    // the lock could not be taken: nothing may have been touched
    if (ran.threw?.startsWith("could not take the lock") && !mustBeHealthy) {
      return this.note(fault, ran.changed ? [...breaches, `the lock failed (${ran.threw}) and the process changed the host`] : breaches);
    }
    if (ran.threw || !ran.report) return this.note(fault, [...breaches, `the command threw: ${ran.threw ?? "no report"}${ran.timersLeft ? ` (${ran.timersLeft} timers left)` : ""}`]);
    this.note(fault, [...breaches, ...violations(host, p, was, { report: ran.report, timersLeft: ran.timersLeft, runId, failed }, { mustBeHealthy, fleet: this.scenario.fleet, filesGone, operatorCleared })]);
  }

  private failed(host: SimHost, runId: string | null, ...ran: Ran[]): boolean {
    return (runId !== null && host.recordedFailures.has(runId)) || ran.some(failedAfterCommit);
  }

  async explore(): Promise<Exploration> {
    const dry = prepare(this.scenario);
    const clean = await runProcess(dry.host, dry, this.scenario, "upgrade", null);
    this.check("none", dry.host, dry, before(prepare(this.scenario).host), clean, clean.report?.id ?? null, failedAfterCommit(clean), true);
    const writes = clean.trace.filter((c) => c.startsWith("W "));
    const states = new Map<string, { host: SimHost; p: Prepared; was: Before; label: string }>();
    for (let k = 1; k <= writes.length; k++) {
      const whens: ("before" | "after" | "during")[] = writes[k - 1] === "W packages.install" ? ["before", "during", "after"] : ["before", "after"];
      for (const when of whens) {
        const p = prepare(this.scenario);
        const was = before(p.host);
        const label = `run killed ${when} write ${k} (${writes[k - 1]})`;
        const run = await runProcess(p.host, p, this.scenario, "upgrade", { mode: "crash", at: k, when });
        if (!run.crashed) {
          this.note(label, [`expected the run to be killed at write ${k}, it ${run.report ? `ended ${run.report.outcome}` : "did not end"}`]);
          continue;
        }
        const key = fingerprint(p.host);
        if (!states.has(key)) states.set(key, { host: p.host, p, was, label });
        else this.explored++; // the same state as an earlier crash: recovered there
      }
    }
    this.crashStates = states.size;
    // every state is recovered, and its recovery killed at each write; a recovery whose calls fail, or
    // that gets SIGTERM, once per coarser kind of state (journal step and direction, packages, dockerd)
    const kinds = new Set<string>();
    for (const s of states.values()) {
      const j = s.host.readJournal();
      const kind = `${j?.state}/${j?.direction}/${JSON.stringify(s.host.installedVersions)}/${[...s.host.halfInstalled].join()}/${s.host.daemonUp}`;
      await this.recoverEveryWay(s.host, s.p, s.was, s.label, !kinds.has(kind));
      kinds.add(kind);
    }
    for (const k of sample(clean.trace)) {
      const call = clean.trace[k - 1]!;
      await this.failRun({ mode: "fail", at: k }, call);
      if (call === "W state.writeJournal" || call === "W state.writeReport" || call === "W state.cacheDir") await this.failRun({ mode: "fail", at: k, persistent: "state" }, `${call} (disk full from there on)`);
      if (call.includes(" fleet.")) await this.failRun({ mode: "fail", at: k, persistent: "fleet" }, `${call} (etcd gone from there on)`);
      if (call.startsWith("W ")) await this.failRun({ mode: "signal", at: k }, call);
    }
    if (this.scenario.fleet) {
      for (let k = 1; k <= writes.length; k++) {
        for (const what of ["fleet-clear", "lease-expired", "other-halted"] as const) await this.failRun({ mode: "interfere", at: k, what }, `${writes[k - 1]}, ${what}`);
      }
    }
    return { explored: this.explored, crashStates: this.crashStates, findings: this.findings };
  }

  /** Every way of recovering one state a crash left. */
  private async recoverEveryWay(crashed: SimHost, p: Prepared, was: Before, label: string, failing: boolean): Promise<void> {
    const runId = crashed.readJournal()?.runId ?? crashed.fleet.state.holders[0]?.runId ?? null;
    const first = cloneHost(crashed);
    const rec = await runProcess(first, p, this.scenario, "recover", null);
    this.check(`${label}; recover`, first, p, was, rec, runId, this.failed(first, runId, rec), true);
    const daemon = cloneHost(crashed);
    const d = await runProcess(daemon, p, this.scenario, "daemon", null);
    if (crashed.readJournal()) this.check(`${label}; the daemon starts (no window open)`, daemon, p, was, d, runId, this.failed(daemon, runId, d), true);
    if (crashed.readJournal()) {
      const gone = cloneHost(crashed);
      const j = gone.readJournal()!;
      for (const dir of [...gone.files.keys()]) if (dir === j.rollbackDir) gone.files.delete(dir);
      const r = await runProcess(gone, p, this.scenario, "recover", null);
      this.check(`${label}; rollback packages deleted; recover`, gone, p, was, r, runId, this.failed(gone, runId, r), false, true);
    }
    if (this.scenario.fleet) {
      const down = cloneHost(crashed);
      const r = await runProcess(down, p, this.scenario, "recover", { mode: "fail", at: 0, persistent: "fleet" });
      this.check(`${label}; recover with etcd unreachable`, down, p, was, r, null, false, true);
    }
    const writes = rec.trace.filter((c) => c.startsWith("W "));
    for (let j = 1; j <= writes.length; j++) {
      const whens: ("before" | "during")[] = writes[j - 1] === "W packages.install" ? ["before", "during"] : ["before"];
      for (const when of whens) {
        const host = cloneHost(crashed);
        const second = await runProcess(host, p, this.scenario, "recover", { mode: "crash", at: j, when });
        if (!second.crashed) {
          this.note(`${label}; recover killed ${when} write ${j}`, [`expected the recovery to be killed at write ${j}`]);
          continue;
        }
        const third = await runProcess(host, p, this.scenario, "recover", null);
        this.check(`${label}; recover killed ${when} write ${j} (${writes[j - 1]}); recover`, host, p, was, third, runId, this.failed(host, runId, third), true);
      }
    }
    if (!failing) return;
    const after = new Set<string>();
    let w = 0;
    for (const j of sample(rec.trace, false)) {
      const host = cloneHost(crashed);
      const l = `${label}; recover with call ${j} failing (${rec.trace[j - 1]})`;
      const second = await runProcess(host, p, this.scenario, "recover", { mode: "fail", at: j });
      this.check(l, host, p, was, second, runId, this.failed(host, runId, second), false);
      // the recovery after it: once per state it leaves (deterministic from there)
      const key = fingerprint(host);
      if (after.has(key)) this.explored++;
      else {
        after.add(key);
        const third = await runProcess(host, p, this.scenario, "recover", null);
        this.check(`${l}; recover`, host, p, was, third, runId, this.failed(host, runId, second, third), true);
      }
      // SIGTERM at every other write of the recovery (the handler is the same from its first call)
      if (rec.trace[j - 1]!.startsWith("W ") && w++ % 2 === 0) {
        const sig = cloneHost(crashed);
        const s = await runProcess(sig, p, this.scenario, "recover", { mode: "signal", at: j });
        this.check(`${label}; SIGTERM to the recovery at call ${j} (${rec.trace[j - 1]})`, sig, p, was, s, runId, this.failed(sig, runId, s), true);
      }
    }
  }

  private async failRun(fault: Fault, call: string): Promise<void> {
    const p = prepare(this.scenario);
    const was = before(p.host);
    const label = `${fault.mode === "signal" ? "SIGTERM at" : fault.mode === "interfere" ? "at" : "fails:"} call ${fault.at} (${call})`;
    const run = await runProcess(p.host, p, this.scenario, "upgrade", fault);
    const runId = p.host.readJournal()?.runId ?? run.report?.id ?? null;
    const failed = this.failed(p.host, runId, run);
    const slotOrJournal = run.committed || p.host.fleet.state.holders.length > 0 || p.host.fleet.state.halted !== null;
    // a signal or an interference leaves nothing for a recovery to do
    // an operator's `fleet clear` may lift the run's halt: theirs to do
    const cleared = fault.mode === "interfere" && fault.what === "fleet-clear";
    this.check(label, p.host, p, was, run, slotOrJournal ? runId : null, failed, fault.mode === "signal", false, cleared);
    if (fault.mode === "signal") return;
    // the recovery after it: once per state the failed runs leave (deterministic from there)
    const key = `${fingerprint(p.host)} ${failed}`;
    if (this.afterFailures.has(key)) return void this.explored++;
    this.afterFailures.add(key);
    const rec = await runProcess(p.host, p, this.scenario, "recover", null);
    this.check(`${label}; recover`, p.host, p, was, rec, run.committed ? runId : null, failed || failedAfterCommit(rec), true, false, cleared);
  }
}

export function explore(scenario: Scenario): Promise<Exploration> {
  return new Explorer(scenario).explore();
}
