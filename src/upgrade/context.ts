import type { Journal, JournalState } from "./journal.js";
import type { World } from "./ports.js";
import type { StepRecorder } from "./steps.js";

/** What one run knows while it goes: the world it acts on, its steps, its journal, the down window. */
export interface RunContext {
  world: World;
  steps: StepRecorder;
  journal: Journal;
  /** When the API went down (the first stop since it last answered); null while it is up. */
  stopAt: number | null;
  /** API down time summed over every window of the run. */
  downtimeMs: number | null;
  /** The daemon was restarted at least once: the new build may be the one running. */
  everStopped: boolean;
  /** dockerd is down and it was us: it must be started before the run ends. */
  daemonDownByUs: boolean;
}

/** Records the state durably BEFORE the action it names. */
export async function transition(ctx: RunContext, state: JournalState): Promise<void> {
  note(ctx, state);
  await ctx.world.state.writeJournal(ctx.journal);
  ctx.world.logger.info({ state }, "journal");
}

/**
 * Records a state that names no action of its own (e.g. "stopped") without a write of its own: it is
 * made durable by the next transition. Used inside the down window, where every fsync counts, and only
 * where recovery would decide the same from the previous durable state.
 */
export function note(ctx: RunContext, state: JournalState): void {
  ctx.journal.state = state;
  ctx.journal.transitions.push({ state, at: new Date(ctx.world.clock.now()).toISOString() });
}
