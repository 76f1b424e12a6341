import type { ContainerState, EngineInfo } from "./docker.js";
import type { PackageTarget } from "./packages.js";

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
