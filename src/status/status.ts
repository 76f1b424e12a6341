import { badTargets, type BadTarget } from "../history/bad-targets.js";
import type { World } from "../upgrade/world.js";
import { knownPackages } from "../plan/roles.js";
import { resolveTargets, selectPackages } from "../plan/plan.js";
import { nextWindow } from "../schedule/windows.js";

export interface Status {
  engine: { package: string | null; installed: string | null; target: string | null; verdict: string };
  packages: { name: string; installed: string }[];
  engineVersion: string | null;
  daemonUp: boolean;
  lastRun: { id: string; outcome: string; finishedAt: string } | null;
  nextWindow: { opens: string; closes: string } | null;
  lock: { pid: number; command: string; since: string } | null;
  unfinishedRun: { runId: string; state: string } | null;
  /** Targets that failed or were rolled back here: not retried by themselves. */
  badTargets: BadTarget[];
}

/** What `status` reports (and the daemon's metrics read): read-only, never takes the lock, works while another run holds it. */
export async function statusCommand(world: World): Promise<Status> {
  const { packages, config } = world;
  const installed = await packages.installed(config.packages.names === "auto" ? knownPackages(packages.scheme.name) : config.packages.names);
  const selection = selectPackages(installed, config.packages.names, config.packages.engine, packages.scheme.name);
  let target: string | null = null;
  let verdict = selection.check.message;
  if (selection.engine) {
    const available = await packages.available(selection.packages.map((p) => p.name));
    const res = resolveTargets(packages.scheme, { ...selection, engine: selection.engine }, available, undefined, config.packages.deny);
    target = res.kind === "target" ? res.engineTarget : res.kind === "up-to-date" ? selection.engine.version : null;
    verdict = res.check.message;
  }
  const engineVersion = await world.docker.version().then((v) => v.version, () => null);
  const recent = await world.state.reports(50);
  const last = recent[0];
  const journal = await world.state.readJournal().catch(() => null);
  const win = nextWindow(config.schedule, world.clock.now());
  return {
    engine: { package: selection.engine?.name ?? null, installed: selection.engine?.version ?? null, target, verdict },
    packages: selection.packages.map((p) => ({ name: p.name, installed: p.version })),
    engineVersion,
    daemonUp: engineVersion !== null,
    lastRun: last ? { id: last.id, outcome: last.outcome, finishedAt: last.finishedAt } : null,
    nextWindow: win ? { opens: new Date(win.opens).toISOString(), closes: new Date(win.closes).toISOString() } : null,
    lock: await world.lock.holder(),
    unfinishedRun: journal ? { runId: journal.runId, state: journal.state } : null,
    badTargets: badTargets(recent),
  };
}
