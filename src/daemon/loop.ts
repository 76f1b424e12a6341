import type { Logger } from "pino";
import { currentWindow, decideRun } from "../schedule/windows.js";
import { LockedError, withLock } from "../upgrade/lock.js";
import { runSession, type SignalSource } from "../upgrade/session.js";
import type { World } from "../upgrade/world.js";
import type { PeriodicCheckpoints } from "../checkpoint/periodic.js";

/** The longest the daemon sleeps between two looks at its windows and its journal. */
export const MAX_SLEEP = 60_000;
/** After a recovery that could not bring the host back, the next try waits this long. */
export const RECOVERY_BACKOFF = 10 * 60_000;

/**
 * Asked just before the stop: the window must still be open and hold the worst case from here on,
 * the downtime budget plus the verification. Never stop dockerd into a closing window.
 */
export function stopVerdict(world: World, stopping: boolean, installMs = 0): string | null {
  if (stopping) return "the daemon is stopping";
  const now = world.clock.now();
  const w = currentWindow(world.config.schedule, now);
  if (!w) return "the maintenance window closed before the stop";
  const need = installMs + world.config.upgrade.downtimeBudget + world.config.upgrade.settle;
  if (w.closes - now < need) return `the window closes in ${Math.round((w.closes - now) / 1000)}s, less than the ${Math.round(need / 1000)}s the rest of the run may take`;
  return null;
}

/** Expected install time (staged: it comes before the stop): the slowest recent install x1.5, else a tenth of the expected run. */
export async function expectedInstall(world: World): Promise<number> {
  const installs = (await world.state.reports(10)).flatMap((r) => r.steps.filter((s) => s.name === "install" && s.ok).map((s) => s.durationMs));
  return installs.length ? Math.max(...installs) * 1.5 : world.config.schedule.expectedDuration / 10;
}

/** Expected run time: the slowest of the last few runs, else the configured default. */
async function expectedDuration(world: World): Promise<number> {
  const recent = (await world.state.reports(10)).filter((r) => !r.dryRun && r.outcome !== "refused" && r.finishedAt);
  const spans = recent.map((r) => Date.parse(r.finishedAt) - Date.parse(r.startedAt)).filter((n) => n > 0);
  return spans.length ? Math.max(...spans) * 1.5 : world.config.schedule.expectedDuration;
}

export interface DaemonLoop {
  /** The world now (a reload replaces it). */
  world: () => World;
  logger: () => Logger;
  stopping: () => boolean;
  /** Waits up to ms; a signal or a reload wakes it early. */
  sleep: (ms: number) => Promise<void>;
  signals?: SignalSource | undefined;
  /** After each look (the metrics' refresh). */
  afterLook?: () => Promise<void>;
  /** At the top of each pass, with no session running (a replaced world is closed there, never under a run). */
  idle?: () => Promise<void>;
  /** Return after this many passes (tests and the fault simulator); unbounded when absent. */
  passes?: number;
  /**
   * Return instead of waiting when nothing is due for longer than this (no journal open): the
   * daemon's worker then exits and the resident scheduler wakes it at `Idle.wakeAt`. Asked at every
   * pass (a reload may turn metrics on); undefined: never.
   */
  idleAfter?: () => number | undefined;
  /** When the last upgrade ran, as an earlier worker knew it; absent: read from the reports. */
  lastRunAt?: number | null;
  /** Periodic checkpoints (`checkpoints:`), between runs, never during one. */
  checkpoints?: PeriodicCheckpoints;
}

/**
 * The periodic checkpoints due now, under the host lock (a run holding it, by hand or from the timer,
 * may have dockerd down: the checkpoints wait for the next look). When the next falls due; null: none.
 */
async function checkpointPass(world: World, logger: Logger, periodic: PeriodicCheckpoints | undefined): Promise<number | null> {
  if (!periodic || !world.checkpoints || !world.config.checkpoints.length) return null;
  const deps = { docker: world.docker, checkpoints: world.checkpoints, clock: world.clock };
  try {
    const { due, nextAt } = await periodic.due(deps);
    // no container of a job runs now: one started later is looked for within the shortest `every`
    const within = world.clock.now() + Math.min(...world.config.checkpoints.map((j) => j.every));
    if (!due.length) return nextAt === null ? within : Math.min(nextAt, within);
    const ran = await withLock(world, "checkpoint", () =>
      periodic.run(deps, due, async (r) => {
        if (r.ok) logger.info({ container: r.container, checkpoint: r.checkpoint, ms: r.ms, removed: r.removed }, "checkpoint made");
        else {
          logger.error({ container: r.container, err: r.error }, "checkpoint failed");
          await world.notifier.notify("checkpoint-failure", { id: `checkpoint-${r.container}-${r.at}`, error: { step: "checkpoint", message: `${r.container}: ${r.error ?? "?"}` } });
        }
      }),
    );
    // the next due: of those not due this time, or of those just done (one `every` on), whichever first
    return Math.min(nextAt ?? Infinity, ran ?? Infinity, within);
  } catch (err) {
    if (err instanceof LockedError) logger.info({ err: err.message }, "periodic checkpoints wait: a run holds the lock");
    else logger.warn({ err: (err as Error).message }, "periodic checkpoints could not run; next look in a minute");
    return world.clock.now() + MAX_SLEEP;
  }
}

/** Why the loop returned with nothing to do: when it is next due (null: no window ahead), and what the next worker needs to know. */
export interface Idle {
  wakeAt: number | null;
  lastRunAt: number | null;
}

/**
 * The daemon's loop: at its start and at every wake, an unfinished run in the journal is recovered at
 * once (this daemon killed mid-run: its policy-rc.d holds every package's service actions, dockerd may
 * be down); then an upgrade when a window is open and leaves room for it.
 */
export async function daemonLoop(loop: DaemonLoop): Promise<Idle | null> {
  const previous = loop.lastRunAt === undefined ? (await loop.world().state.reports(20)).find((r) => !r.dryRun && r.command === "upgrade") : undefined;
  let lastRunAt: number | null = loop.lastRunAt !== undefined ? loop.lastRunAt : previous ? Date.parse(previous.startedAt) : null;
  let recoverAfter = 0;
  let pass = 0;
  while (!loop.stopping() && pass++ < (loop.passes ?? Infinity)) {
    await loop.idle?.();
    const world = loop.world();
    const logger = loop.logger();
    const journalOpen = await world.state.readJournal().then((j) => j !== null, () => true);
    if (world.clock.now() >= recoverAfter && journalOpen) {
      logger.warn("an unfinished run is in the journal: recovering now");
      const reports = await runSession(world, { command: "recover" }, loop.signals).catch((err: unknown) => {
        // a run started by hand holds the lock: it is its own to finish
        if (err instanceof LockedError) logger.info({ err: err.message }, "a run in progress holds the lock");
        else logger.error({ err }, "recovery could not run");
        return [];
      });
      const last = reports.at(-1);
      if (last) logger.info({ id: last.id, outcome: last.outcome, host: last.hostState }, "recovery finished");
      // a journal left open (whatever the exit code) is tried again later, not at once: never a spin
      const open = await world.state.readJournal().then((j) => j !== null, () => true);
      if (open) recoverAfter = world.clock.now() + (last ? RECOVERY_BACKOFF : MAX_SLEEP);
      continue;
    }
    // not while a run's journal is open (its recovery backs off): dockerd or the containers may be mid-change
    const checkpointAt = journalOpen ? null : await checkpointPass(world, logger, loop.checkpoints);
    const now = world.clock.now();
    const expected = await expectedDuration(world);
    const decision = decideRun(world.config.schedule, now, lastRunAt, expected);
    await loop.afterLook?.();
    if (decision.run) {
      logger.info({ closes: new Date(decision.window.closes).toISOString() }, "maintenance window open: upgrading");
      const before = lastRunAt;
      lastRunAt = now;
      const installMs = await expectedInstall(world);
      const reports = await runSession(
        world,
        {
          command: "upgrade",
          // before a staged install, the window must hold the install too; right before the stop, the rest
          beforeStop: (phase, extraMs = 0) => stopVerdict(world, loop.stopping(), (phase === "install" ? installMs : 0) + extraMs),
          // a fleet slot is worth waiting for only while the window can still hold the whole run
          fleetDeadline: decision.window.closes - expected,
        },
        loop.signals,
      ).catch((err: unknown) => {
        logger.error({ err }, "run failed");
        return [];
      });
      for (const r of reports) logger.info({ id: r.id, outcome: r.outcome, downtimeMs: r.daemonDowntimeMs }, "run finished");
      await loop.afterLook?.();
      const last = reports.at(-1);
      if (last?.outcome === "deferred" && (last.error?.step === "fleet-alerts" || last.error?.step === "fleet-retarget")) {
        // alerts come and go, and a run that planned another release than the group's rollout plans
        // again: this window is not spent, the run is tried again in a minute
        lastRunAt = before;
        await loop.sleep(MAX_SLEEP);
      }
      continue;
    }
    const idleAfter = loop.idleAfter?.();
    // the next thing due: the window's retry or a periodic checkpoint, whichever comes first
    const dueAt = decision.retryAt === null ? checkpointAt : checkpointAt === null ? decision.retryAt : Math.min(decision.retryAt, checkpointAt);
    if (idleAfter !== undefined && !journalOpen && (dueAt === null || dueAt - now > idleAfter)) {
      logger.debug({ reason: decision.reason, wakeAt: dueAt }, "idle");
      return { wakeAt: dueAt, lastRunAt };
    }
    const wait = Math.max(1_000, Math.min(MAX_SLEEP, (dueAt ?? now + MAX_SLEEP) - now));
    logger.debug({ reason: decision.reason, waitMs: wait }, "waiting");
    await loop.sleep(wait);
  }
  return null;
}
