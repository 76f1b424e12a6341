import type { Clock } from "../ports/clock.js";
import type { ProbeResult } from "../report/report.js";
import type { ProbeCheck, ProbeTarget } from "./transport.js";

/** A probe as the runner sees it: a configured one, or the built-in probe of the Docker API. */
export interface RunnerProbe extends ProbeTarget {
  name: string;
  interval: number;
  /** Its failures count against `upgrade.rollbackOn.probeFailures` (the built-in API probe's do not). */
  counted: boolean;
}

interface Tally {
  attempts: number;
  failures: number;
  longestOutageMs: number;
  outageSince: number | null;
  longestWaitMs: number;
}

/** The built-in probe: the Docker API as a client sees it, through the same socket. */
export const dockerApiProbe = (socket: string, interval = 20): RunnerProbe => ({ name: "docker-api", unix: socket, interval, timeout: 30_000, counted: false });

/**
 * Probes every configured service on its interval, from before the stop until verification ends,
 * counting attempts, failures and the longest continuous outage.
 */
export class ProbeRunner {
  private readonly controller = new AbortController();
  private readonly tallies = new Map<string, Tally>();
  private loops: Promise<void>[] = [];

  constructor(
    private readonly probes: readonly RunnerProbe[],
    private readonly check: ProbeCheck,
    private readonly clock: Clock,
  ) {}

  start(): void {
    for (const probe of this.probes) {
      const tally: Tally = { attempts: 0, failures: 0, longestOutageMs: 0, outageSince: null, longestWaitMs: 0 };
      this.tallies.set(probe.name, tally);
      this.loops.push(this.loop(probe, tally));
    }
  }

  private async loop(probe: RunnerProbe, tally: Tally): Promise<void> {
    const signal = this.controller.signal;
    while (!signal.aborted) {
      const at = this.clock.now();
      let ok = true;
      try {
        await this.check(probe, signal);
      } catch {
        ok = false;
      }
      if (signal.aborted) break;
      tally.attempts++;
      tally.longestWaitMs = Math.max(tally.longestWaitMs, this.clock.now() - at);
      if (ok) {
        if (tally.outageSince !== null) {
          tally.longestOutageMs = Math.max(tally.longestOutageMs, at - tally.outageSince);
          tally.outageSince = null;
        }
      } else {
        tally.failures++;
        tally.outageSince ??= at;
      }
      const wait = probe.interval - (this.clock.now() - at);
      if (wait > 0) await this.clock.sleep(wait, signal).catch(() => undefined);
    }
  }

  /** Failures so far, across the counted probes. */
  failures(): number {
    let n = 0;
    for (const p of this.probes) if (p.counted) n += this.tallies.get(p.name)?.failures ?? 0;
    return n;
  }

  async stop(): Promise<ProbeResult[]> {
    this.controller.abort("probes stopped");
    await Promise.all(this.loops);
    const end = this.clock.now();
    return this.probes.map((p) => {
      const t = this.tallies.get(p.name)!;
      const open = t.outageSince !== null ? end - t.outageSince : 0;
      return {
        name: p.name,
        target: p.http ?? p.tcp ?? (p.unix ? `unix://${p.unix}` : ""),
        attempts: t.attempts,
        failures: t.failures,
        longestOutageMs: Math.max(t.longestOutageMs, open),
        longestWaitMs: t.longestWaitMs,
      };
    });
  }
}
