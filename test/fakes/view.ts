import type { SimHost } from "./host.js";
import { releaseOf } from "../../src/versions/scheme.js";
import type { SimProcess } from "./process.js";

/** A port of one simulated process: a thin view of the host it runs on, so a crash loses only the process's memory. */
export abstract class View {
  constructor(protected readonly p: SimProcess) {}
  protected get h(): SimHost {
    return this.p.host;
  }
}

/** dockerd starts from the files installed now (by us, or by a client's connection to its socket). */
export function startDaemon(h: SimHost, by: string | null): void {
  if (by) h.events.push(`dockerd started by ${by}`);
  h.starts++;
  const build = h.engineBuild();
  if (h.brokenBuilds.has(build)) return; // the new dockerd exits at once: the API never answers
  // a dockerd of another MAJOR.MINOR than the one that ran the containers does not restore them: orphaned (Exited 255, their processes left running)
  // a starting dockerd starts the stopped containers whose restart policy says so: always, and
  // unless-stopped unless stopped by a stop (a checkpoint's exit is not one); none orphaned just now
  const stopped = new Set(h.containers.filter((c) => !c.running).map((c) => c.id));
  const was = h.containersRunBy !== null ? releaseOf(h.containersRunBy) : null;
  const now = releaseOf(build);
  if (was && now && (was.major !== now.major || was.minor !== now.minor) && h.containers.some((c) => c.running)) {
    h.events.push(`dockerd ${build} orphaned the containers of ${h.containersRunBy}`);
    h.containers = h.containers.map((c) => (c.running ? { ...c, running: false, paused: false, status: "exited", pid: 0 } : c));
  }
  h.containersRunBy = build;
  h.containers = h.containers.map((c) => {
    if (!stopped.has(c.id) || !(c.restartPolicy === "always" || (c.restartPolicy === "unless-stopped" && !h.manuallyStopped.has(c.id)))) return c;
    h.events.push(`container ${c.name} started by dockerd (restart policy ${c.restartPolicy})`);
    if (h.stateTokens.has(c.id)) h.stateTokens.set(c.id, -h.nextPid);
    return { ...c, running: true, paused: false, status: "running", pid: h.nextPid++, startedAt: new Date(h.now).toISOString() };
  });
  h.daemonUp = true;
  h.binaryReplaced = false;
  h.runningBuild = h.binaryOf(h.installedVersions[h.engineName()]);
  h.readyAt = h.now + h.readyDelayMs;
  h.engineVersion = h.reportsAs.get(build) ?? h.reportsAfterStart ?? build;
  if (h.infoAfterStart) h.engineInfo = { ...h.engineInfo, ...h.infoAfterStart };
  if (h.restartOnStart || h.restartsContainers.has(build)) h.containers = h.containers.map((c) => ({ ...c, pid: c.pid + 1, startedAt: new Date(h.now).toISOString() }));
}
