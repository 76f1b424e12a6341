import { StepError } from "./steps.js";

/**
 * SIGINT/SIGTERM during a run. Before the stop they abort it; after the stop they are remembered
 * and honoured only once the host is safe again (daemon up, packages consistent).
 */
export class InterruptGate {
  private signal: string | null = null;
  private committed = false;
  private readonly controller = new AbortController();
  /** Aborted by a signal before the commit point: waits (for a fleet slot) end at once. */
  readonly abortSignal: AbortSignal = this.controller.signal;

  request(signal: string): "abort-now" | "deferred" {
    this.signal ??= signal;
    if (!this.committed) this.controller.abort(new Error(`interrupted by ${signal}`));
    return this.committed ? "deferred" : "abort-now";
  }

  /** From here on the run must finish to a safe state whatever is asked. */
  commit(): void {
    this.committed = true;
  }

  get requested(): string | null {
    return this.signal;
  }

  throwIfRequested(): void {
    if (this.signal && !this.committed) throw new StepError("interrupted", new Error(`interrupted by ${this.signal} before the stop; nothing on the host was changed`));
  }
}
