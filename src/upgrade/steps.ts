import type { Clock } from "../ports/clock.js";
import type { StepRecord } from "../report/report.js";

/** The message of anything thrown. */
export const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** An error that remembers which step it happened in. */
export class StepError extends Error {
  constructor(
    readonly step: string,
    override readonly cause: unknown,
  ) {
    super(errorMessage(cause));
    this.name = "StepError";
  }
}

/** Times each step and records it in the report, failed or not. */
export class StepRecorder {
  readonly steps: StepRecord[] = [];

  constructor(private readonly clock: Clock) {}

  async run<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const start = this.clock.now();
    const record: StepRecord = { name, startedAt: new Date(start).toISOString(), durationMs: 0, ok: false };
    this.steps.push(record);
    try {
      const value = await fn();
      record.ok = true;
      return value;
    } catch (err) {
      throw err instanceof StepError ? err : new StepError(name, err);
    } finally {
      record.durationMs = this.clock.now() - start;
    }
  }
}
