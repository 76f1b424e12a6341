import type { ContainerState, EngineInfo } from "./docker.js";
import type { PackageTarget } from "./packages.js";

/**
 * The step a run is in, written (and fsynced) BEFORE the action it names, so that after a crash
 * recovery knows what may have been under way. Recovery does not trust it alone: it reads the host
 * too (installed versions, dockerd up or not, the build that answers).
 */
export type JournalState =
  | "fetched" //        packages downloaded; nothing on the host changed yet (the commit point)
  | "repairing" //      finishing an interrupted package run (dpkg --configure -a, rpm duplicates)
  | "installing" //     package manager running (staged: daemon still up; stop-first: daemon down)
  | "installed" //      the set the run goes to is in place
  | "stopping" //       asked the service manager to stop dockerd
  | "stopped" //        dockerd is down, by our hand
  | "starting" //       asked the service manager to start dockerd
  | "started" //        the API answered again
  | "verified" //       the forward run passed its verification
  | "done";

/**
 * The planned-restart path. Its phase is written before each act, so that recovery starts again every
 * container that ran, whatever a crash interrupted: a stop half done, a start half done.
 */
export interface PlannedRestart {
  /** The containers that ran, level by level in start order (compose dependencies first); stopped in reverse. */
  levels: string[][];
  /** running: none stopped yet; stopping, stopped, starting; started: every one running again and ready. */
  phase: "running" | "stopping" | "stopped" | "starting" | "started";
  /** When each was stopped, and when it was ready again (epoch ms): its outage. */
  stoppedAt: Record<string, number>;
  readyAt: Record<string, number>;
  /** Labelled docker-live-upgrade.checkpoint=true, with checkpoints proven before the run: checkpointed instead of stopped. */
  checkpoint?: string[];
  /** The checkpoint each was stopped at (named before the act), until it runs again. */
  checkpoints?: Record<string, string>;
  /** The restart policy each had, set to "no" while it is stopped at its checkpoint (a starting dockerd would start it fresh); put back once it runs. */
  policies?: Record<string, string>;
  /** How each checkpointed container's state went: restored from its checkpoint, or lost and why. */
  state?: Record<string, { restored: boolean; checkpoint: string | null; why: string | null }>;
}

/** Which way the run goes: to the target versions, or back to the previous ones. */
export type Direction = "forward" | "undo";

/** The two package sets a run knows: what was installed before it, and what it installs. */
export type PackageSet = "previous" | "target";

export interface Journal {
  version: 2;
  runId: string;
  pid: number;
  startedAt: string;
  order: "staged" | "stop-first";
  state: JournalState;
  direction: Direction;
  /** Why the run turned back: the step that failed. null while it goes forward (or was undone for no fault of the release). */
  failure: { message: string; step: string } | null;
  /**
   * The set installed when dockerd was last started (at first: the one it ran on): which build answers,
   * where the API cannot tell. "unknown" while a restart is under way (from its journal entry to its
   * first good ping).
   */
  startedOn: PackageSet | "unknown";
  /** The engine package and its versions before and after (the same when only its companions change). */
  engine: { name: string; from: string; to: string };
  /** Versions installed before the run (what an undo restores). */
  previous: PackageTarget[];
  target: PackageTarget[];
  targetDir: string;
  rollbackDir: string;
  restartContainerd: boolean;
  /** Package holds: those in force before the run (lifted for its installs), and those it leaves in force. */
  holds: { before: string[]; after: string[] };
  snapshot: ContainerState[];
  engineOptions: Pick<EngineInfo, "driver" | "dockerRootDir" | "cgroupDriver"> | null;
  /** The run took a fleet slot: whoever finishes the run gives it back, or halts the group. */
  fleetSlot: boolean;
  /** A MAJOR.MINOR jump: the containers it stops and starts again (absent: live restore carries them). */
  restart?: PlannedRestart;
  transitions: { state: JournalState; direction: Direction; at: string }[];
}

/** A journal as an earlier version of the tool wrote it (version 1): read, so that an upgrade of the tool mid-run is recovered too. */
interface JournalV1 extends Omit<Journal, "version" | "state" | "direction" | "failure" | "startedOn" | "holds" | "fleetSlot" | "transitions" | "engine"> {
  version: 1;
  state: Exclude<JournalState, "repairing" | "verified"> | "rolling-back";
  releasedHolds: string[];
  transitions: { state: string; at: string }[];
}

/** The journal as this version reads it, from whichever version wrote it. */
export function migrateJournal(raw: Journal | JournalV1): Journal {
  if (raw.version === 2) return raw;
  const { releasedHolds, state, transitions, ...rest } = raw;
  const undo = state === "rolling-back";
  const engine = rest.target[0] ?? rest.previous[0];
  return {
    ...rest,
    version: 2,
    engine: { name: engine?.name ?? "", from: rest.previous.find((p) => p.name === engine?.name)?.version ?? "", to: engine?.version ?? "" },
    // version 1 wrote "done" for any healthy end (a failed verification too): not a verification on record
    state: undo ? "installing" : state === "done" ? "started" : state,
    direction: undo ? "undo" : "forward",
    failure: undo ? { message: "interrupted while rolling back", step: "rollback" } : null,
    // version 1 did not record it; the API's answer decides where the releases differ
    startedOn: state === "starting" || state === "started" ? "target" : "previous",
    holds: { before: releasedHolds, after: releasedHolds },
    fleetSlot: false,
    transitions: transitions.map((t) => ({ state: t.state === "rolling-back" ? "installing" : (t.state as JournalState), direction: t.state === "rolling-back" ? "undo" : "forward", at: t.at })),
  };
}
