import type { Config } from "../config/schema.js";
import type { ContainerState } from "../ports/docker.js";
import { autoTime, newestFirst } from "./names.js";
import { createCheckpoint, pruneCheckpoints, type CheckpointDeps } from "./ops.js";

export type CheckpointJob = Config["checkpoints"][number];

/** Whether a job names this container: by name (or ID), or by a label (`key` or `key=value`). */
export function jobMatches(job: CheckpointJob, c: ContainerState): boolean {
  if (job.container !== undefined) return job.container === c.name || (job.container.length >= 12 && c.id.startsWith(job.container));
  const label = job.label ?? "";
  const eq = label.indexOf("=");
  const labels = c.spec?.labels ?? {};
  return eq < 0 ? label in labels : labels[label.slice(0, eq)] === label.slice(eq + 1);
}

/** A running container a job names, due for its checkpoint. */
export interface Due {
  c: ContainerState;
  job: CheckpointJob;
}

export interface PeriodicResult {
  container: string;
  ok: boolean;
  checkpoint: string | null;
  ms: number;
  removed: string[];
  error: string | null;
  at: number;
}

/**
 * Periodic checkpoints (`checkpoints:` in the config): each running container a job names gets an
 * automatic checkpoint once its newest one is `every` old, then keeps the newest `keep`. The times
 * come from the checkpoints' own names, so a restarted daemon goes on where the last one was. A
 * failed container is tried again one `every` later, not at every look.
 */
export class PeriodicCheckpoints {
  /** When each container was last tried and failed (this process's memory). */
  private readonly failedAt = new Map<string, number>();
  /** The last result per container, for metrics and status. */
  readonly last = new Map<string, PeriodicResult>();
  failures = 0;

  constructor(private readonly jobs: () => readonly CheckpointJob[]) {}

  /** Containers due now, and when the next one falls due (null: no job, or no container). */
  async due(deps: CheckpointDeps): Promise<{ due: Due[]; nextAt: number | null }> {
    const jobs = this.jobs();
    if (!jobs.length) return { due: [], nextAt: null };
    const now = deps.clock.now();
    const due: Due[] = [];
    let nextAt: number | null = null;
    for (const id of await deps.docker.listContainerIds()) {
      const c = await deps.docker.inspect(id);
      if (!c?.running || c.paused) continue;
      const job = jobs.find((j) => jobMatches(j, c));
      if (!job) continue;
      const newest = newestFirst(await deps.checkpoints.list(c.id)).map((e) => autoTime(e.name)).find((t) => t !== null) ?? null;
      const at = Math.max(newest === null ? now : newest + job.every, (this.failedAt.get(c.id) ?? -Infinity) + job.every);
      if (at <= now) due.push({ c, job });
      else nextAt = Math.min(nextAt ?? at, at);
    }
    // nextAt: the next of those not due now
    return { due, nextAt };
  }

  /**
   * One round over the containers `due` found due, one after the other (never two dumps at once),
   * each pruned after; returns when the next of them falls due (each made or failed one `every` on).
   */
  async run(deps: CheckpointDeps, due: readonly Due[], onResult: (r: PeriodicResult) => Promise<void>): Promise<number | null> {
    let nextAt: number | null = null;
    for (const { c, job } of due) {
      const at = deps.clock.now();
      let r: PeriodicResult;
      try {
        const made = await createCheckpoint(deps, c.id, { leaveRunning: job.leaveRunning });
        const pruned = await pruneCheckpoints(deps, c.id, job.keep);
        r = { container: c.name, ok: true, checkpoint: made.checkpoint, ms: made.ms, removed: pruned.flatMap((p) => p.removed), error: null, at };
        this.failedAt.delete(c.id);
      } catch (err) {
        r = { container: c.name, ok: false, checkpoint: null, ms: deps.clock.now() - at, removed: [], error: (err as Error).message, at };
        this.failedAt.set(c.id, at);
        this.failures++;
      }
      this.last.set(c.name, r);
      nextAt = Math.min(nextAt ?? Infinity, at + job.every);
      await onResult(r);
    }
    return nextAt;
  }
}
