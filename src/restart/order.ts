import type { ContainerState } from "../ports/docker.js";

const PROJECT = "com.docker.compose.project";
const SERVICE = "com.docker.compose.service";
const DEPENDS_ON = "com.docker.compose.depends_on";

/**
 * What the planned restart adds to a run's time, for the window's check before anything stops: each
 * level's longest stop timeout (a container that ignores SIGTERM is killed only then), and for each
 * level "up and steady" plus ten seconds to start and settle.
 */
export function restartAllowanceMs(running: readonly ContainerState[], steadyMs: number, stopsDone = false): number {
  const byId = new Map(running.map((c) => [c.id, c]));
  const stop = (level: string[]) => (stopsDone ? 0 : Math.max(...level.map((id) => byId.get(id)?.stopTimeout ?? 10)) * 1000);
  return startLevels(running).reduce((sum, level) => sum + stop(level) + steadyMs + 10_000, 0);
}

/** compose's `com.docker.compose.depends_on`: "db:service_healthy:true,cache:service_started:false" (older compose: "db:service_started"). */
export function dependsOn(label: string | undefined): string[] {
  if (!label) return [];
  return label
    .split(",")
    .map((part) => part.split(":")[0]!.trim())
    .filter((s) => s.length > 0);
}

/**
 * The start order of the containers a planned restart stops: level by level, each container after the
 * containers of the services it depends on (compose's labels, within its own project); containers
 * without such labels start together in the first level. A dependency cycle does not stall the
 * restart: what is left of it starts in one last level. Stopped in the reverse order.
 */
export function startLevels(containers: readonly ContainerState[]): string[][] {
  const labels = (c: ContainerState) => c.spec?.labels ?? {};
  const byService = new Map<string, string[]>();
  for (const c of containers) {
    const l = labels(c);
    const project = l[PROJECT];
    const service = l[SERVICE];
    if (project === undefined || service === undefined) continue;
    const key = `${project}/${service}`;
    byService.set(key, [...(byService.get(key) ?? []), c.id]);
  }
  const deps = new Map<string, string[]>(
    containers.map((c) => {
      const l = labels(c);
      const project = l[PROJECT];
      const on = project === undefined ? [] : dependsOn(l[DEPENDS_ON]).flatMap((s) => byService.get(`${project}/${s}`) ?? []);
      // --network container:X joins X's network namespace: X must run first
      const mode = c.spec?.networkMode ?? "";
      const host = mode.startsWith("container:") ? mode.slice("container:".length) : null;
      const joined = host === null ? [] : containers.filter((x) => x.id === host || x.id.startsWith(host) || x.name === host).map((x) => x.id);
      return [c.id, [...on, ...joined].filter((id) => id !== c.id)];
    }),
  );
  const levels: string[][] = [];
  const placed = new Set<string>();
  let left = containers.map((c) => c.id);
  while (left.length) {
    const ready = left.filter((id) => deps.get(id)!.every((d) => placed.has(d)));
    const level = ready.length ? ready : left; // a cycle: the rest together
    levels.push(level);
    for (const id of level) placed.add(id);
    left = left.filter((id) => !placed.has(id));
  }
  return levels;
}
