import type { ContainerState, EngineInfo } from "../ports/docker.js";
import type { ProcessEntry } from "../ports/host.js";
import type { ServiceFacts } from "../ports/service.js";
import type { CheckResult } from "../report/report.js";
import { releaseOf } from "../versions/scheme.js";

export const pass = (name: string, message: string, level: CheckResult["level"] = "error"): CheckResult => ({ name, ok: true, message, level });
export const fail = (name: string, message: string, level: CheckResult["level"] = "error"): CheckResult => ({ name, ok: false, message, level });

/** docs/failure-modes.md#fm-5: dockerd must talk to a containerd it did not start itself. */
export function containerdVerdict(info: EngineInfo, processes: readonly ProcessEntry[]): CheckResult {
  const dockerds = new Set(processes.filter((p) => p.comm === "dockerd").map((p) => p.pid));
  const children = processes.filter((p) => p.comm === "containerd" && dockerds.has(p.ppid));
  if (children.length) {
    return fail(
      "containerd-external",
      `containerd (pid ${children.map((c) => c.pid).join(", ")}) is a child of dockerd: stopping dockerd stops it and every container; run containerd as its own service and start dockerd with --containerd`,
    );
  }
  if (info.containerdAddress) return pass("containerd-external", `dockerd uses containerd at ${info.containerdAddress}`);
  const running = processes.some((p) => p.comm === "containerd");
  return running
    ? pass("containerd-external", "containerd runs on its own (not a child of dockerd)")
    : fail("containerd-external", "no containerd process found; cannot prove dockerd uses an external containerd", "warning");
}

/** docs/failure-modes.md#fm-4: KillMode/Delegate of the units; #fm-3: BindsTo containerd stops dockerd on a containerd restart. */
export function unitVerdicts(facts: ServiceFacts, containerdChanges: boolean): CheckResult[] {
  const out: CheckResult[] = [];
  for (const [unit, props] of Object.entries(facts.units)) {
    if (unit === "docker.socket") {
      out.push(socketVerdict(props, facts.units["docker.service"]));
      continue;
    }
    if (props.LoadState && props.LoadState !== "loaded") {
      out.push(fail(`unit:${unit}`, `${unit} is ${props.LoadState}`, unit === "docker.service" ? "error" : "warning"));
      continue;
    }
    const problems: string[] = [];
    if (props.KillMode && props.KillMode !== "process") {
      problems.push(`KillMode=${props.KillMode} (stopping the unit would kill the containers; set KillMode=process in a drop-in)`);
    }
    if (unit === "containerd.service" && props.Delegate && props.Delegate !== "yes") {
      problems.push(`Delegate=${props.Delegate} (set Delegate=yes)`);
    }
    if (unit === "docker.service" && containerdChanges && /containerd\.service/.test(props.BindsTo ?? "")) {
      problems.push("BindsTo=containerd.service while containerd is upgraded: its restart would stop dockerd");
    }
    out.push(
      problems.length
        ? fail(`unit:${unit}`, problems.join("; "))
        : pass(`unit:${unit}`, `KillMode=${props.KillMode ?? "?"}${props.Delegate ? ` Delegate=${props.Delegate}` : ""}`),
    );
  }
  return out;
}

/**
 * docker.socket: listening, it queues clients' connections while dockerd restarts (none refused).
 * Masked while docker.service still Requires= it, systemd would refuse to start dockerd after the stop.
 */
function socketVerdict(socket: Record<string, string>, service: Record<string, string> | undefined): CheckResult {
  const required = /(^|\s)docker\.socket(\s|$)/.test(service?.Requires ?? "");
  if (socket.LoadState === "loaded") {
    return pass("unit:docker.socket", socket.ActiveState === "active" ? "listening: clients wait in its queue while dockerd restarts" : `${socket.ActiveState ?? "inactive"}: clients are refused while dockerd restarts`);
  }
  if (required) {
    return fail("unit:docker.socket", `docker.socket is ${socket.LoadState ?? "unknown"} but docker.service has Requires=docker.socket: systemd would refuse to start dockerd again; unmask it, or drop the Requires= in your docker.service`);
  }
  return pass("unit:docker.socket", `${socket.LoadState ?? "unknown"}: left alone; clients are refused while dockerd restarts`);
}

/** docs/failure-modes.md#fm-10 and #fm-12: hazards per container, by the engine version being left. */
export function containerHazards(engineVersion: string, containers: readonly ContainerState[]): CheckResult[] {
  const rel = releaseOf(engineVersion);
  const below = (major: number) => rel !== null && rel.major < major;
  const running = containers.filter((c) => c.running);
  const out: CheckResult[] = [];
  const looping = containers.filter((c) => c.status === "restarting");
  if (looping.length) {
    out.push(fail("restarting-containers", `already crash-looping, their restarts are not counted against the upgrade: ${looping.map((c) => c.name).join(", ")}`, "warning"));
  }
  const published = running.filter((c) => c.ports.includes("->") && /:\d/.test(c.ports));
  if (published.length) {
    out.push(fail("published-ports", `${published.map((c) => c.name).join(", ")} publish ports through docker-proxy, which refuses connections while dockerd is down`, "warning"));
  }
  if (below(25)) {
    const rm = running.filter((c) => c.autoRemove);
    if (rm.length) out.push(fail("autoremove-containers", `engines below 25.0 may kill --rm containers on restart: ${rm.map((c) => c.name).join(", ")}`, "warning"));
    const hc = running.filter((c) => c.health !== null);
    if (hc.length) out.push(fail("healthcheck-containers", `engines below 25.0 may not re-arm health checks after a restore: ${hc.map((c) => c.name).join(", ")}`, "warning"));
  }
  return out;
}
