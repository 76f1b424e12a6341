import { clearHost, withHalt } from "../../src/fleet/semaphore.js";
import type { Clock } from "../../src/ports/clock.js";
import type { SimHost } from "./host.js";

/** A fault injected into one process: it dies at a side-effect call, or a call fails. */
export type Fault =
  /** The process dies at its k-th host-changing call: before it, after its effect, or (installs) half-way. */
  | { mode: "crash"; at: number; when: "before" | "after" | "during" }
  /** Its k-th call (read or write) fails; `persistent`: every later call of that kind fails too (a full disk, etcd gone). */
  | { mode: "fail"; at: number; persistent?: "state" | "fleet" }
  /** SIGTERM arrives at its k-th call: to the process's handler if it has one, else the process dies (the default action). */
  | { mode: "signal"; at: number }
  /** At its k-th write, something outside changes the host: an operator's `fleet clear` of this host, or the fleet lease expiring. */
  | { mode: "interfere"; at: number; what: "fleet-clear" | "lease-expired" | "other-halted" };

export type CallKind = "read" | "write";

/** The kind of port a call belongs to, for faults that persist (a full disk fails every state write). */
export type PortName = "docker" | "packages" | "service" | "hold" | "state" | "lock" | "fleet" | "notify" | "hooks" | "host";

interface Timer {
  at: number;
  seq: number;
  resolve: () => void;
}

/**
 * A clock that moves only when nothing else can: sleeps queue as timers, and once the microtasks have
 * run dry (a macrotask turn), the earliest timer fires and time jumps to it. Deterministic, instant,
 * and it keeps background loops (probes) from spinning. A dead process's timers never fire.
 */
export class Scheduler implements Clock {
  private readonly timers: Timer[] = [];
  private seq = 0;
  private ticking = false;
  stopped = false;

  constructor(private readonly host: SimHost) {}

  now = (): number => this.host.now;

  sleep = (ms: number, signal?: AbortSignal): Promise<void> => {
    if (this.stopped) return new Promise<void>(() => undefined);
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason as Error);
      const onAbort = () => {
        const i = this.timers.indexOf(timer);
        if (i >= 0) this.timers.splice(i, 1);
        reject(signal!.reason as Error);
      };
      const timer: Timer = {
        at: this.host.now + Math.max(0, ms),
        seq: this.seq++,
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      this.timers.push(timer);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.kick();
    });
  };

  /** Timers still waiting: after a command ends, none may be left (probes, waits, leases). */
  pending(): number {
    return this.timers.length;
  }

  private kick(): void {
    if (this.ticking || this.stopped) return;
    this.ticking = true;
    setImmediate(() => this.tick());
  }

  private tick(): void {
    this.ticking = false;
    if (this.stopped || !this.timers.length) return;
    this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
    const next = this.timers.shift()!;
    this.host.now = Math.max(this.host.now, next.at);
    next.resolve();
    this.kick();
  }
}

const never = <T>(): Promise<T> => new Promise<T>(() => undefined);

/** A realistic error for a call that fails. */
export function failureOf(port: PortName, name: string): Error {
  switch (port) {
    case "state":
      return Object.assign(new Error(`ENOSPC: no space left on device, ${name}`), { code: "ENOSPC" });
    case "packages":
      return new Error(`failed with exit code 100: ${name}\nE: Sub-process /usr/bin/dpkg returned an error code (1)`);
    case "service":
      return new Error(`timed out after 90000ms: systemctl ${name}`);
    case "fleet":
      return new Error(`etcd at http://127.0.0.1:2379 could not be reached (${name}): 14 UNAVAILABLE; no upgrade without the fleet`);
    case "docker":
      return new Error(`connect ECONNREFUSED /var/run/docker.sock (${name})`);
    default:
      return new Error(`${port}.${name} failed`);
  }
}

/**
 * One run of the upgrader's process over a simulated host. Every port call goes through `call`,
 * which counts it and carries out the fault: a crash (the process is gone: nothing after it happens,
 * its promises never settle, its timers never fire) or a failure.
 */
export class SimProcess {
  readonly pid: number;
  readonly clock: Scheduler;
  dead = false;
  calls = 0;
  writes = 0;
  /** Calls made, in order ("W packages.install", "R docker.ping"): what the explorer enumerates. */
  readonly trace: string[] = [];
  private onDeath: (() => void) | null = null;
  /** Settles when the process dies. */
  readonly died: Promise<void>;
  /** The SIGTERM handlers the process installed (a session's). */
  readonly signalHandlers = new Set<(signal: string) => void>();
  /** The fleet lease it holds (set by its fleet port). */
  fleetLease: string | null = null;
  /** What the process was started as: a run's forward stops must hold the fleet slot. */
  role: "upgrade" | "recover" | "daemon" = "upgrade";

  constructor(
    readonly host: SimHost,
    readonly fault: Fault | null = null,
  ) {
    this.pid = host.nextPid++;
    host.alive.add(this.pid);
    this.clock = new Scheduler(host);
    this.died = new Promise<void>((resolve) => (this.onDeath = resolve));
  }

  private die(): void {
    this.dead = true;
    this.clock.stopped = true;
    this.host.processDied(this.pid);
    this.onDeath?.();
  }

  private interfere(what: "fleet-clear" | "lease-expired" | "other-halted"): void {
    const fleet = this.host.fleet;
    if (what === "lease-expired") {
      if (this.fleetLease) fleet.leases.delete(this.fleetLease);
    } else if (what === "other-halted") {
      // another host of the group failed its run meanwhile
      fleet.state = { ...fleet.state, ...withHalt(fleet.state, { host: "other", runId: "run-other", reason: "rolled back", at: new Date(this.host.now).toISOString(), kind: "failed" }) };
    } else {
      fleet.state = clearHost(fleet.state, this.host.hostName);
    }
  }

  /** The process ends normally: its lock file stays if it did not release it, as a real exit would leave it. */
  exit(): void {
    this.clock.stopped = true;
    this.host.processDied(this.pid);
  }

  async call<T>(kind: CallKind, port: PortName, name: string, effect: () => T | Promise<T>, options: { during?: () => void } = {}): Promise<T> {
    if (this.dead) return never();
    const index = ++this.calls;
    if (kind === "write") this.writes++;
    this.trace.push(`${kind === "write" ? "W" : "R"} ${port}.${name}`);
    const f = this.fault;
    if (f?.mode === "signal" && index === f.at) {
      if (!this.signalHandlers.size) {
        this.die();
        return never();
      }
      for (const h of this.signalHandlers) h("SIGTERM");
    }
    if (f?.mode === "interfere" && kind === "write" && this.writes === f.at) this.interfere(f.what);
    if (f?.mode === "crash" && kind === "write" && this.writes === f.at) {
      // after: the call's effect took place (or it failed there), and the process died before it heard back
      if (f.when === "after") await Promise.resolve().then(effect).catch(() => undefined);
      else if (f.when === "during") options.during?.();
      this.die();
      return never();
    }
    // a full disk fails writes (reads go on); etcd gone fails every call
    if (f?.mode === "fail" && (index === f.at || (f.persistent === port && index > f.at && (port !== "state" || kind === "write")))) throw failureOf(port, name);
    return effect();
  }
}
