import type { ContainerState } from "../ports/docker.js";
import type { ContainerFate } from "../report/report.js";
import type { UpgradePath } from "../plan/target.js";

/** The pipe between a container and dockerd's log copier: when it is full, the container's writes to stdout block. */
export const LOG_PIPE_BYTES = 64 * 1024;

export interface FateFacts {
  path: UpgradePath;
  /** Bytes per second each running container logs (measured from its log file's growth); absent: not measured. */
  logRates: ReadonlyMap<string, number>;
  /** The down window expected (the last run's, else an estimate). */
  expectedDownMs: number;
  /** Without a health check, how long "up and steady" lasts (upgrade.restart.steady). */
  steadyMs: number;
  /** Labelled containers that will be checkpointed (checkpoints proven here); absent: none. */
  checkpointed?: ReadonlySet<string>;
  /** Why labelled containers will not be checkpointed (checkpoints do not work here), when so. */
  noCheckpoints?: string | null;
}

/** The label that asks for a checkpoint instead of a stop on the planned-restart path. */
export const CHECKPOINT_LABEL = "docker-live-upgrade.checkpoint";

const kib = (bytes: number) => `${(bytes / 1024).toFixed(bytes < 10 * 1024 ? 1 : 0)} KiB`;

/**
 * Each container's fate in the planned run and what puts it at risk there: the risks the operator
 * should know before the window, in the words of what will happen.
 */
export function planFates(snapshot: readonly ContainerState[], facts: FateFacts): ContainerFate[] {
  return snapshot.map((c) => {
    const risks: string[] = [];
    const ref = { id: c.id, name: c.name };
    if (!c.running) return { ...ref, fate: "left-stopped", risks, outageMs: null };
    if (c.restartPolicy === "no") risks.push("no restart policy: it stays down if the host crashes mid-run");
    const published = c.ports.includes("->") && /:\d/.test(c.ports);
    if (facts.path === "restart") {
      if (c.autoRemove) return { ...ref, fate: "removed-by-stop", risks: [...risks, "started with --rm: its stop removes it, it cannot be started again"], outageMs: null };
      if (c.paused) risks.push("paused: its processes restart from the beginning, then it is paused again");
      if (facts.checkpointed?.has(c.id)) {
        risks.push("checkpointed instead of stopped, restored instead of started: its processes and memory carry over");
        risks.push("if the new engine cannot restore it, it starts fresh: its state is lost (the report says so)");
        if (c.restartPolicy !== "no") risks.push(`its restart policy (${c.restartPolicy}) is set to no while it waits at its checkpoint (the engine would start it fresh), and put back once it runs`);
        if (published) risks.push("published ports: refused from its checkpoint until it runs again");
        return { ...ref, fate: "checkpointed", risks, outageMs: null };
      }
      if (c.spec?.labels[CHECKPOINT_LABEL] === "true") risks.push(`labelled ${CHECKPOINT_LABEL}=true, but ${c.paused ? "paused: a paused container is not checkpointed" : `checkpoints do not work here (${facts.noCheckpoints ?? "?"})`}: it is stopped and started fresh, its state lost`);
      if (c.status === "restarting") risks.push("crash-looping already: started again, not waited for to be well");
      else if (c.health === "unhealthy") risks.push("unhealthy already: waited for to run, not for its health check");
      risks.push(c.healthcheck ? "waited for until its health check passes" : `no health check: ready means up and steady for ${(facts.steadyMs / 1000).toFixed(0)} s, not that it serves`);
      if (published) risks.push("published ports: refused from its stop until it runs again");
      return { ...ref, fate: "restarted", risks, outageMs: null };
    }
    const rate = facts.logRates.get(c.id);
    if (rate !== undefined && rate > 0) {
      const fillMs = (LOG_PIPE_BYTES / rate) * 1000;
      if (fillMs < facts.expectedDownMs) {
        risks.push(`logs ${kib(rate)}/s: its 64 KiB log pipe fills in ${Math.round(fillMs)} ms, then its writes to stdout block until dockerd is back (expected down ${Math.round(facts.expectedDownMs)} ms)`);
      }
    }
    if (published) risks.push("published ports go through docker-proxy: refused while dockerd is down");
    if (c.healthcheck) risks.push("its health check does not run while dockerd is down");
    return { ...ref, fate: "kept", risks, outageMs: null };
  });
}

/** Bytes per second from two sizes of each log, `ms` apart (a rotated log, smaller the second time, counts from zero). */
export function logRates(ids: readonly string[], first: readonly (number | null)[], second: readonly (number | null)[], ms: number): Map<string, number> {
  const out = new Map<string, number>();
  ids.forEach((id, i) => {
    const a = first[i];
    const b = second[i];
    if (a === null || a === undefined || b === null || b === undefined || ms <= 0) return;
    out.set(id, ((b >= a ? b - a : b) * 1000) / ms);
  });
  return out;
}
