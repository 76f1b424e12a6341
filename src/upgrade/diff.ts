import type { ContainerSpec, ContainerState } from "../ports/docker.js";
import type { ContainerDiff, ContainerRef } from "../report/report.js";

export type { ContainerDiff, ContainerRef } from "../report/report.js";

const ref = (c: ContainerState): ContainerRef => ({ id: c.id, name: c.name });

/**
 * Classifies every container. "Not restarted" means same Id AND same State.Pid AND same State.StartedAt:
 * after a restore dockerd resets RestartCount, so it proves nothing (docs/failure-modes.md#fm-13).
 */
export function diffContainers(before: readonly ContainerState[], after: readonly ContainerState[]): ContainerDiff {
  const afterById = new Map(after.map((c) => [c.id, c]));
  const beforeIds = new Set(before.map((c) => c.id));
  const diff: ContainerDiff = {
    before: before.length,
    after: after.length,
    unchanged: [],
    restarted: [],
    missing: [],
    changed: [],
    new: after.filter((c) => !beforeIds.has(c.id)).map(ref),
  };
  for (const b of before) {
    const a = afterById.get(b.id);
    if (!a) {
      diff.missing.push(ref(b));
      continue;
    }
    // A container already crash-looping under its restart policy restarts on its own: not the upgrade's doing.
    const looping = b.status === "restarting";
    if (!looping && (a.startedAt !== b.startedAt || (b.running && a.running && a.pid !== b.pid))) {
      diff.restarted.push(ref(b));
      continue;
    }
    const what: string[] = [];
    if (b.running !== a.running) what.push(`status ${b.status} -> ${a.status}`);
    if (b.paused !== a.paused) what.push(`paused ${b.paused} -> ${a.paused}`);
    if (b.ports !== a.ports) what.push(`ports "${b.ports}" -> "${a.ports}"`);
    if (b.networks.join(",") !== a.networks.join(",")) what.push(`networks ${b.networks.join(",")} -> ${a.networks.join(",")}`);
    if (b.health === "healthy" && a.health === "unhealthy") what.push("health healthy -> unhealthy");
    if (what.length) diff.changed.push({ ...ref(b), what: what.join("; ") });
    else diff.unchanged.push(ref(b));
  }
  return diff;
}

/** A verdict the operator would call a loss: restarted, gone, stopped, or unpaused behind their back. */
export function harmed(diff: ContainerDiff): number {
  return diff.restarted.length + diff.missing.length + diff.changed.length;
}

const FIELDS: (keyof ContainerSpec)[] = ["imageId", "command", "env", "mounts", "networkMode", "restartPolicy", "labels"];

const text = (v: ContainerSpec[keyof ContainerSpec]): string => (typeof v === "string" ? v : JSON.stringify(v));

/** What differs between two recorded configurations, one "field before -> after" each (long values shortened). */
export function specChanges(before: ContainerSpec | undefined, after: ContainerSpec | undefined): string[] {
  if (!before || !after) return [];
  const short = (s: string) => (s.length > 80 ? `${s.slice(0, 77)}...` : s);
  return FIELDS.filter((f) => text(before[f]) !== text(after[f])).map((f) => `${f} ${short(text(before[f]))} -> ${short(text(after[f]))}`);
}

/** Published ports without their host ports: a port the engine picked (-P, -p 80) is a new one at each start. */
const bindings = (ports: string): string => ports.replace(/:\d+(?=,| |$)/g, ":*");

/**
 * The planned-restart path's verdict: each container the run stopped must run again with the same
 * Id and configuration (a new Pid and StartedAt are the plan: `planned`, not `restarted`); each that
 * did not run must still not run, as it was; none may be gone.
 */
export function diffPlanned(before: readonly ContainerState[], after: readonly ContainerState[], planned: ReadonlySet<string>): ContainerDiff {
  const others = diffContainers(
    before.filter((c) => !planned.has(c.id)),
    after.filter((c) => !planned.has(c.id)),
  );
  const afterById = new Map(after.map((c) => [c.id, c]));
  const beforeIds = new Set(before.map((c) => c.id));
  const diff: ContainerDiff = { ...others, before: before.length, after: after.length, new: after.filter((c) => !beforeIds.has(c.id)).map((c) => ({ id: c.id, name: c.name })), planned: [] };
  for (const b of before) {
    if (!planned.has(b.id)) continue;
    const ref = { id: b.id, name: b.name };
    const a = afterById.get(b.id);
    if (!a) {
      diff.missing.push(ref);
      continue;
    }
    const what: string[] = [];
    if (!a.running) what.push(`not running again (status ${a.status})`);
    else if (b.paused !== a.paused) what.push(`paused ${b.paused} -> ${a.paused}`);
    what.push(...specChanges(b.spec, a.spec));
    if (bindings(b.ports) !== bindings(a.ports)) what.push(`ports "${b.ports}" -> "${a.ports}"`);
    if (what.length) diff.changed.push({ ...ref, what: what.join("; ") });
    else diff.planned!.push(ref);
  }
  return diff;
}
