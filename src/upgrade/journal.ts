import type { ContainerState, EngineInfo } from "../ports/docker.js";
import type { PackageTarget } from "../ports/packages.js";

/**
 * Where a run stands, written (and fsynced) BEFORE the action it names, so that after a crash
 * recovery knows what may have been under way.
 */
export type JournalState =
  | "fetched" //        packages downloaded; nothing on the host changed yet
  | "installing" //     package manager running (staged: daemon still up; stop-first: daemon down)
  | "installed" //      new packages in place
  | "stopping" //       asked the service manager to stop dockerd
  | "stopped" //        dockerd is down, by our hand
  | "starting" //       asked the service manager to start dockerd
  | "started" //        the API answered again
  | "rolling-back" //   installing the previous versions
  | "done";

export interface Journal {
  version: 1;
  runId: string;
  pid: number;
  startedAt: string;
  order: "staged" | "stop-first";
  state: JournalState;
  /** Versions installed before the run (what a rollback restores). */
  previous: PackageTarget[];
  target: PackageTarget[];
  targetDir: string;
  rollbackDir: string;
  restartContainerd: boolean;
  /** Holds the run released and must put back. */
  releasedHolds: string[];
  snapshot: ContainerState[];
  engineOptions: Pick<EngineInfo, "driver" | "dockerRootDir" | "cgroupDriver"> | null;
  transitions: { state: JournalState; at: string }[];
}

export type RecoveryAction =
  | "release-service-hold"
  | "repair-packages"
  | "install-previous"
  | "start-daemon"
  | "restart-daemon"
  | "verify"
  | "reapply-holds";

export interface RecoveryFacts {
  /** Installed version per package name, as the package database says now (after any repair). */
  installed: Record<string, string | undefined>;
  daemonUp: boolean;
}

export interface RecoveryPlan {
  actions: RecoveryAction[];
  /** Whether the run is finished forward (new versions kept) or undone. */
  direction: "forward" | "undo" | "none";
  reason: string;
}

const matches = (targets: readonly PackageTarget[], installed: RecoveryFacts["installed"]): boolean =>
  targets.every((t) => installed[t.name] === t.version);

/**
 * What to do with an unfinished journal. A pure function of the journal and what the host says now:
 * - a package operation that was cut short is repaired; if the new versions are then all in place the
 *   run is finished forward, otherwise the previous versions are put back;
 * - a daemon we stopped is always started;
 * - the containers are always compared with the journal's snapshot.
 */
export function decideRecovery(journal: Journal, facts: RecoveryFacts): RecoveryPlan {
  const actions: RecoveryAction[] = ["release-service-hold"];
  let direction: RecoveryPlan["direction"] = "none";
  let reason: string;
  switch (journal.state) {
    case "fetched":
    case "done":
      reason = `interrupted at "${journal.state}": nothing on the host was changed`;
      break;
    case "installing":
      actions.push("repair-packages");
      if (matches(journal.target, facts.installed)) {
        direction = "forward";
        reason = "interrupted during the install, which had completed: finishing the run";
      } else {
        direction = "undo";
        actions.push("install-previous");
        reason = "interrupted during the install: putting the previous versions back";
      }
      break;
    case "rolling-back":
      direction = "undo";
      actions.push("repair-packages", "install-previous");
      reason = "interrupted during a rollback: finishing it";
      break;
    default:
      // installed, stopping, stopped, starting, started: the packages are the new ones.
      direction = matches(journal.target, facts.installed) ? "forward" : "undo";
      if (direction === "undo") actions.push("repair-packages", "install-previous");
      reason =
        direction === "forward"
          ? `interrupted at "${journal.state}" with the new versions installed: finishing the run`
          : `interrupted at "${journal.state}" with packages not at their targets: putting the previous versions back`;
  }
  // A daemon must be running when recovery ends, whoever stopped it, and on the build that is installed.
  const oldBuildRunning = journal.order === "staged" && (journal.state === "installing" || journal.state === "installed");
  if (!facts.daemonUp) actions.push("start-daemon");
  else if (direction === "forward" && oldBuildRunning) actions.push("restart-daemon");
  else if (direction === "undo" && !oldBuildRunning) actions.push("restart-daemon");
  if (journal.snapshot.length || direction !== "none") actions.push("verify");
  if (journal.releasedHolds.length) actions.push("reapply-holds");
  return { actions, direction, reason };
}
