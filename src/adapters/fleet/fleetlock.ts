import type { Logger } from "pino";
import { redactUrl } from "../../config/redact.js";
import { releaseOfPackage } from "../../fleet/rollout.js";
import type { Config } from "../../config/schema.js";
import type { Clock } from "../../ports/clock.js";
import type { Acquired, FleetPort, FleetStatus, RunResult } from "../../ports/fleet.js";

type FleetConfig = NonNullable<Config["fleet"]>;

/** A FleetLock server's answer other than 200: its `{kind, value}` error body, or the status. */
export class FleetLockError extends Error {
  override name = "FleetLockError";
  constructor(
    readonly status: number,
    readonly kind: string | null,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The FleetLock protocol (Zincati's; served by airlock, poseidon/fleetlock, ...): `POST /v1/pre-reboot`
 * takes a slot, `POST /v1/steady-state` gives it back, body `{"client_params":{"id","group"}}`, header
 * `fleet-lock-protocol: true`, 200 on success. The server keeps the slots and their count; halting is
 * its business: a failed run simply keeps its slot (steady-state is sent only after a success), so a
 * server with one slot stops the group until an operator frees it there.
 */
export class FleetLockFleet implements FleetPort {
  readonly backend = "fleetlock" as const;
  requests = 0;
  private readonly base: string;
  /** The URL's user:password, sent as HTTP basic auth (fetch refuses URLs that carry them). */
  private readonly authorization: string | null;
  /** The base URL as it may be shown: credentials redacted. */
  private readonly shown: string;

  constructor(
    private readonly fleet: FleetConfig,
    private readonly host: string,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    const url = new URL(fleet.fleetlock!.url);
    this.authorization = url.username || url.password ? `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString("base64")}` : null;
    url.username = "";
    url.password = "";
    this.base = url.toString().replace(/\/+$/, "");
    this.shown = redactUrl(fleet.fleetlock!.url).replace(/\/+$/, "");
  }

  private async post(path: "/v1/pre-reboot" | "/v1/steady-state"): Promise<void> {
    let res: Response;
    this.requests++;
    try {
      res = await fetch(`${this.base}${path}`, {
        method: "POST",
        headers: { "fleet-lock-protocol": "true", "content-type": "application/json", ...(this.authorization ? { authorization: this.authorization } : {}) },
        body: JSON.stringify({ client_params: { id: this.host, group: this.fleet.group } }),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err) {
      throw new FleetLockError(0, null, `FleetLock server ${this.shown} unreachable (${err instanceof Error ? err.message : String(err)}); no upgrade without the fleet`);
    }
    if (res.status === 200) return;
    const text = await res.text().catch(() => "");
    let kind: string | null = null;
    let value = text.slice(0, 300);
    try {
      const body = JSON.parse(text) as { kind?: string; value?: string };
      kind = body.kind ?? null;
      value = body.value ?? value;
    } catch {
      // not the protocol's error body: the status and text say it
    }
    throw new FleetLockError(res.status, kind, `FleetLock ${path} answered ${res.status}${kind ? ` ${kind}` : ""}: ${value}`);
  }

  rolloutTarget(): Promise<string | null> {
    return Promise.resolve(null);
  }

  async acquire(request: { runId: string; target: string }, deadline: number, signal?: AbortSignal): Promise<Acquired> {
    for (;;) {
      try {
        await this.post("/v1/pre-reboot");
        return {
          kind: "slot",
          release: releaseOfPackage(request.target) ?? request.target,
          slot: {
            assertHeld: () => Promise.resolve(),
            release: async (result) => {
              if (!result.ok) {
                this.logger.error({ reason: result.reason }, "fleetlock: the run failed; keeping the slot (the group stays stopped until it is freed on the server)");
                return;
              }
              await this.post("/v1/steady-state");
            },
          },
        };
      } catch (err) {
        // unreachable, or a request the server judged malformed: fail closed at once
        if (!(err instanceof FleetLockError) || err.status === 0 || err.status === 400) throw err;
        if (this.clock.now() + 5_000 > deadline || signal?.aborted) return { kind: "deferred", reason: `${err.message}; ${signal?.aborted ? "stopped waiting (signal)" : "no slot before the deadline"}` };
        this.logger.info({ status: err.status, kind: err.kind }, "fleetlock: no slot yet");
        await this.clock.sleep(5_000, signal).catch(() => undefined);
      }
    }
  }

  /** A recovered run: its slot on the server is freed only after a healthy end (FleetLock knows the host, not the run). */
  async settleRun(_runId: string, result: RunResult): Promise<void> {
    if (!result.ok) {
      this.logger.error({ reason: result.reason }, "fleetlock: the recovered run failed; keeping the slot");
      return;
    }
    await this.post("/v1/steady-state");
  }

  status(): Promise<FleetStatus> {
    return Promise.reject(new Error(`fleet status: the FleetLock protocol has no status call; ask the server at ${this.shown}`));
  }

  clear(): Promise<void> {
    return Promise.reject(new Error(`fleet clear: with backend fleetlock, free the slot on the server at ${this.shown}`));
  }

  forget(): Promise<void> {
    return Promise.reject(new Error(`fleet forget: the FleetLock protocol keeps no host records; use the server at ${this.shown}`));
  }

  setPaused(): Promise<void> {
    return Promise.reject(new Error(`fleet pause/resume: not part of the FleetLock protocol; use the server at ${this.shown}`));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
