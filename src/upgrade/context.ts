import type { Journal, JournalState } from "../ports/journal.js";
import type { RunResult } from "../ports/fleet.js";
import type { ProbeRunner } from "../probes/probe-runner.js";
import type { RunReport } from "../report/report.js";
import type { Attempts, HostView, Mode } from "./machine.js";
import { StepError, type StepRecorder, errorMessage } from "./steps.js";
import type { World } from "./world.js";

/** The API's down window: from the first stop since it last answered to the first good ping, summed. */
export interface DownWindow {
  /** When the API went down (null while it answers). */
  downSince: number | null;
  /** When the current stop/start cycle began: each start's budget is counted from its own cycle. */
  cycleStart: number | null;
  downtimeMs: number | null;
}

/** A reason not to stop dockerd now (the window closing, the fleet slot lost), with the step to report. */
export type StopVeto = { step: string; message: string } | null;

/** What one pass of the state machine knows while it goes: a run's, or a recovery's. */
export interface MachineContext {
  world: World;
  mode: Mode;
  journal: Journal;
  report: RunReport;
  steps: StepRecorder;
  /** The host as last seen, kept up to date by each step's known effect (re-read after a failure). */
  view: HostView;
  tried: Attempts;
  /** The forward verification passed in this process. */
  verified: boolean;
  window: DownWindow;
  /** Asked before a forward stop of the old daemon (staged): the window still open, the slot still held. */
  beforeStop: () => Promise<StopVeto>;
  probes: ProbeRunner;
  /** The run's facts for hooks. */
  facts: Record<string, string>;
  /** Gives the fleet slot back (run) or settles the dead run's record (recovery); null without a slot. */
  releaseFleet: ((result: RunResult) => Promise<void>) | null;
  /** Writes are best effort from here on (settling the host at the end: nothing waits on them). */
  bestEffortJournal: boolean;
  /** The journal on disk lags behind (a write failed while going back): the reason. */
  journalBehind: string | null;
  /** This process changed the host (a repair, an install, a stop or a start). */
  acted: boolean;
  /** What could not be undone, step by step. */
  undoErrors: string[];
}

/** Notes a state in the journal in memory, without a write (made durable by the next one). */
export function note(ctx: MachineContext, state: JournalState): void {
  const j = ctx.journal;
  j.state = state;
  j.transitions.push({ state, direction: j.direction, at: new Date(ctx.world.clock.now()).toISOString() });
}

/**
 * Records a state durably BEFORE the action it names. Going forward the write must succeed (the run
 * does not change the host without a record recovery can read); going back it is best effort: undoing
 * matters more than recording it, and recovery reads the host as well as the journal.
 */
export async function enter(ctx: MachineContext, state: JournalState, options: { bestEffort?: boolean } = {}): Promise<void> {
  note(ctx, state);
  await persist(ctx, options);
}

/** Writes the journal as it is in memory, with `enter`'s rules: forward it must land, back it is best effort. */
export async function persist(ctx: MachineContext, options: { bestEffort?: boolean } = {}): Promise<void> {
  const state = ctx.journal.state;
  try {
    await ctx.world.state.writeJournal(ctx.journal);
    ctx.journalBehind = null;
    ctx.world.logger.info({ state, direction: ctx.journal.direction }, "journal");
  } catch (err) {
    if (ctx.journal.direction === "forward" && !ctx.bestEffortJournal && !options.bestEffort) throw new StepError("journal", new Error(`could not write the journal: ${errorMessage(err)}`));
    ctx.journalBehind = errorMessage(err);
    ctx.world.logger.error({ err, state }, "could not write the journal; going on with the undo");
  }
}
