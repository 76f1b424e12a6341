import type { Journal } from "../ports/journal.js";
import type { PackageTarget } from "../ports/packages.js";

/** The journal record itself is a port type (the state store keeps it); recovery is decided here. */
export type { Journal, JournalState } from "../ports/journal.js";

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
