import type { Journal, PackageSet } from "../ports/journal.js";
import type { InstalledPackage, PackageTarget } from "../ports/packages.js";
import { roleOf } from "../plan/roles.js";
import { releaseOf, type Release, type VersionScheme } from "../versions/scheme.js";

/**
 * The upgrade as a level-triggered state machine: each step reads where the journal says the run is
 * going (forward to the target versions, or back to the previous ones) and what the host shows, and
 * picks the one action that moves the host toward it. A run starts it from the commit point;
 * `recover` starts it from whatever a crash left: the same transitions, no second copy.
 */

/** What the host shows, as far as the run's decisions need it. */
export interface HostView {
  /** The run's packages as the package database has them (absent: not installed). */
  installed: Record<string, InstalledPackage | undefined>;
  /** The package database reports no problem and every package of the run is fully installed. */
  consistent: boolean;
  daemonUp: boolean;
  /** `/version` Version while dockerd answers. */
  engineVersion: string | null;
  /** The answering dockerd's binary was replaced on disk since it started: not the installed build. null: cannot tell. */
  binaryReplaced: boolean | null;
}

/** How often this process tried each kind of step: bounds every loop, so the machine always ends. */
export interface Attempts {
  repair: number;
  install: Record<PackageSet, number>;
  stop: number;
  /** Starts and restarts, counted per direction (reset when the run turns back). */
  start: number;
  verify: number;
  compare: number;
  /** The planned-restart path: stops and starts of the containers. */
  containersStop: number;
  containersStart: number;
}

export const LIMITS = {
  repair: 1,
  install: { target: 1, previous: 2 } as Record<PackageSet, number>,
  stop: 2,
  start: 2,
  containers: 2,
} as const;

/** The run turns back: the attempts counted per direction start again (starts, the containers' stops and starts). */
export function turnBack(j: Journal, tried: Attempts): void {
  j.direction = "undo";
  tried.start = 0;
  tried.containersStop = 0;
  tried.containersStart = 0;
}

export const noAttempts = (): Attempts => ({ repair: 0, install: { target: 0, previous: 0 }, stop: 0, start: 0, verify: 0, compare: 0, containersStop: 0, containersStart: 0 });

export type Step =
  | { kind: "repair" }
  | { kind: "install"; set: PackageSet }
  /** stop-first: dockerd goes down before the packages change, and stays down for the install. */
  | { kind: "stop" }
  | { kind: "start" }
  | { kind: "restart" }
  /** Forward: the new build answers; check it, the containers, the hooks and the probes. */
  | { kind: "verify" }
  /** Undo: compare the containers with the snapshot (nothing more can be undone). */
  | { kind: "compare" }
  /** The planned-restart path: the containers that run are stopped before dockerd goes down. */
  | { kind: "stop-containers" }
  /** The planned-restart path: once dockerd answers on the set it goes to, the containers that ran start again, in order. */
  | { kind: "start-containers" }
  /** Recovery only: the run cannot be finished forward without a new change to the host; go back instead. */
  | { kind: "turn-back"; why: string }
  | { kind: "done" };

export type Mode = "run" | "recover";

export const packagesOf = (j: Pick<Journal, "previous" | "target">, set: PackageSet): PackageTarget[] => (set === "target" ? j.target : j.previous);

/** Every package of the set installed, at its version, fully. */
export function isAt(j: Pick<Journal, "previous" | "target">, view: HostView, set: PackageSet): boolean {
  return packagesOf(j, set).every((t) => {
    const p = view.installed[t.name];
    return p !== undefined && p.ok && p.version === t.version;
  });
}

const sameRelease = (a: Release | null, b: Release | null): boolean => a !== null && b !== null && a.major === b.major && a.minor === b.minor && a.patch === b.patch;

/**
 * Which set the answering dockerd was started on: read from the API where the two engine releases
 * differ; else from the host (a dockerd whose binary was replaced on disk since it started runs the
 * set that is no longer installed; one whose binary is the file on disk, the installed set); else
 * from the journal. null when dockerd is down, "unknown" when it answers with a release of neither set.
 */
export function runningSet(j: Journal, view: HostView, scheme: VersionScheme): PackageSet | "unknown" | null {
  if (!view.daemonUp) return null;
  const engineOf = (list: readonly PackageTarget[]) => list.find((t) => roleOf(t.name) === "engine");
  const target = engineOf(j.target);
  const previous = engineOf(j.previous);
  const t = target && releaseOf(scheme.upstream(target.version));
  const p = previous && releaseOf(scheme.upstream(previous.version));
  if (!t || !p || sameRelease(t, p)) {
    const installed = isAt(j, view, "target") ? "target" : isAt(j, view, "previous") ? "previous" : null;
    if (installed && view.binaryReplaced !== null) return view.binaryReplaced ? (installed === "target" ? "previous" : "target") : installed;
    return j.startedOn;
  }
  const seen = view.engineVersion === null ? null : releaseOf(view.engineVersion);
  if (sameRelease(seen, t)) return "target";
  if (sameRelease(seen, p)) return "previous";
  return "unknown";
}

/** The planned-restart path: containers of the run may be running under the answering dockerd (none stopped yet, or not all, or some started again). */
const containersMayRun = (j: Journal): boolean => j.restart !== undefined && j.restart.phase !== "stopped";
/** The planned-restart path: containers of the run were stopped (some, or all) and not all started again. */
export const containersDown = (j: Journal): boolean => j.restart !== undefined && j.restart.phase !== "running" && j.restart.phase !== "started";

/** The forward verification passed, on record (the run went on to give its fleet slot back and close). */
export const passedVerification = (j: Journal): boolean => j.direction === "forward" && (j.state === "verified" || j.state === "done");

/**
 * The next step toward the journal's direction, from what the host shows. Pure. On the
 * planned-restart path, no container of the run runs across a stop or restart of dockerd (stopped
 * first, while dockerd can still stop them), and once dockerd answers every one that ran starts again.
 */
export function nextStep(j: Journal, view: HostView, tried: Attempts, scheme: VersionScheme, mode: Mode): Step {
  const step = daemonStep(j, view, tried, scheme, mode);
  const down = step.kind === "stop" || step.kind === "restart";
  if (down && view.daemonUp && containersMayRun(j) && tried.containersStop < LIMITS.containers) return { kind: "stop-containers" };
  const settled = step.kind === "verify" || step.kind === "compare" || step.kind === "done";
  if (settled && view.daemonUp && containersDown(j) && tried.containersStart < LIMITS.containers) return { kind: "start-containers" };
  return step;
}

function daemonStep(j: Journal, view: HostView, tried: Attempts, scheme: VersionScheme, mode: Mode): Step {
  const goal: PackageSet = j.direction === "forward" ? "target" : "previous";
  if (!view.consistent && tried.repair < LIMITS.repair) return { kind: "repair" };
  const atGoal = isAt(j, view, goal);
  const running = runningSet(j, view, scheme);
  if (mode === "recover" && j.direction === "forward") {
    // Recovery finishes forward only what needs no new change: never a new install, never a new stop.
    if (!atGoal) return { kind: "turn-back", why: j.state === "fetched" ? "nothing on the host had changed yet" : "the new versions are not all in place" };
    if (running === "previous") return { kind: "turn-back", why: "the previous dockerd still serves: the install is undone without a stop" };
    // a restart's record without its answer, and neither the API nor the host can tell which build
    // serves: finishing forward would take a new stop, so the run goes back
    if (running === "unknown" && j.startedOn === "unknown") return { kind: "turn-back", why: "a restart was under way and which build answers cannot be told" };
  }
  if (!atGoal && tried.install[goal] < LIMITS.install[goal]) {
    if (j.order === "stop-first" && view.daemonUp && tried.stop < LIMITS.stop) return { kind: "stop" };
    return { kind: "install", set: goal };
  }
  // The packages are as they will be: dockerd must answer, on that build.
  if (!view.daemonUp) {
    if (tried.start >= LIMITS.start) return { kind: "done" };
    // going back: a new build that hangs or crash-loops is stopped before the start (stop is idempotent)
    return { kind: j.direction === "undo" ? "restart" : "start" };
  }
  if (atGoal && running !== goal && tried.start < LIMITS.start) return { kind: "restart" };
  // a run that passed its verification (on record) is not judged again by its recovery: what a crash
  // did since (a power loss restarts every container) is not the release's doing, and its fleet
  // record may already say "upgraded" with its slot given back
  if (j.direction === "forward") return tried.verify === 0 && !passedVerification(j) ? { kind: "verify" } : { kind: "done" };
  return tried.compare === 0 ? { kind: "compare" } : { kind: "done" };
}
