import { ExecError, type Exec } from "../../exec/index.js";
import type { RestartOptions, ServiceFacts, ServiceManagerPort, StartOptions, StopOptions } from "../../ports/service.js";
import { startTimeout } from "./timeout.js";

export const UNIT_PROPERTIES = ["KillMode", "Delegate", "Requires", "BindsTo", "ActiveState", "LoadState", "UnitFileState"];
export const DOCKER_SERVICE = "docker.service";
export const DOCKER_SOCKET = "docker.socket";
export const CONTAINERD_SERVICE = "containerd.service";
const UNITS = [DOCKER_SERVICE, DOCKER_SOCKET, CONTAINERD_SERVICE];

/** `systemctl show -p A -p B unit1 unit2`: one block of KEY=VALUE lines per unit, blank line between. */
export function parseSystemctlShow(stdout: string, units: readonly string[]): ServiceFacts["units"] {
  const blocks = stdout.trim().split(/\n\s*\n/);
  const out: ServiceFacts["units"] = {};
  units.forEach((unit, i) => {
    const props: Record<string, string> = {};
    for (const line of (blocks[i] ?? "").split("\n")) {
      const eq = line.indexOf("=");
      if (eq > 0) props[line.slice(0, eq)] = line.slice(eq + 1);
    }
    out[unit] = props;
  });
  return out;
}

/** `systemctl list-jobs --no-legend`: "JOB UNIT TYPE STATE" lines. */
export function parseJobs(stdout: string): { id: number; unit: string; type: string }[] {
  return stdout
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 3 && /^\d+$/.test(f[0]!))
    .map((f) => ({ id: Number(f[0]), unit: f[1]!, type: f[2]! }));
}

/** A unit systemd can act on: its file is there and it is not masked. */
export const usable = (props: Record<string, string> | undefined): boolean => props?.LoadState === "loaded";

/** What the systemd adapter does with each unit, decided from their states: pure, so it is unit-tested. */
export function stopPlan(units: ServiceFacts["units"], options: StopOptions): string[] {
  const socket = units[DOCKER_SOCKET];
  return [...(options.holdActivation && usable(socket) && socket?.ActiveState !== "inactive" ? [DOCKER_SOCKET] : []), DOCKER_SERVICE];
}

/**
 * docker.socket is started explicitly only where this run stopped it; otherwise docker.service's own
 * Requires=docker.socket pulls it in (a failed one too, once reset), and a socket that docker.service
 * does not use stays as the site left it.
 */
export function startPlan(units: ServiceFacts["units"], socketStoppedByUs: boolean): { resetFailed: string[]; start: string[]; containerd: boolean } {
  const startSocket = usable(units[DOCKER_SOCKET]) && socketStoppedByUs;
  return {
    resetFailed: UNITS.filter((u) => usable(units[u])),
    start: [...(startSocket ? [DOCKER_SOCKET] : []), DOCKER_SERVICE],
    containerd: usable(units[CONTAINERD_SERVICE]),
  };
}

/**
 * systemd. A restart stops docker.service alone: docker.socket keeps listening, so clients' connections
 * wait in its queue for the new dockerd instead of being refused. Where dockerd stays down for an
 * install (stop-first) the socket is stopped too, or the first client would start the half-installed
 * daemon. Before every start the units' failed state is reset (Restart= and StartLimitBurst= may have
 * put a crash-looping build there), and a masked or absent docker.socket or containerd.service is
 * left alone.
 */
export class SystemdServiceManager implements ServiceManagerPort {
  readonly kind = "systemd" as const;
  private socketStoppedByUs = false;
  /** The units as the last stop saw them: the start right after it (inside the down window) needs no query of its own. */
  private seenAtStop: ServiceFacts["units"] | null = null;

  constructor(
    private readonly exec: Exec,
    private readonly timeoutMs: number,
  ) {}

  private async units(): Promise<ServiceFacts["units"]> {
    const { stdout } = await this.exec("systemctl", ["show", ...UNIT_PROPERTIES.flatMap((p) => ["-p", p]), ...UNITS]);
    return parseSystemctlShow(stdout, UNITS);
  }

  /** The units, where systemd runs dockerd: else an error naming the fix. */
  private async dockerUnits(): Promise<ServiceFacts["units"]> {
    const units = await this.units();
    if (!usable(units[DOCKER_SERVICE])) {
      throw new Error(`${DOCKER_SERVICE} is ${units[DOCKER_SERVICE]?.LoadState ?? "unknown"} here: set service.manager to command (with service.stop/start) for a dockerd that systemd does not run`);
    }
    return units;
  }

  async facts(): Promise<ServiceFacts> {
    return { units: await this.units() };
  }

  async stop(options: StopOptions): Promise<void> {
    const units = await this.dockerUnits();
    const plan = stopPlan(units, options);
    if (plan.includes(DOCKER_SOCKET)) this.socketStoppedByUs = true;
    this.seenAtStop = units;
    await this.settlingJobs(UNITS, () => this.exec("systemctl", ["stop", ...plan], { timeoutMs: this.timeoutMs }));
  }

  /**
   * A systemctl that timed out leaves its job queued: the stop (or start) would still happen later,
   * after the run has judged the host. Its jobs on our units are cancelled before the error goes on.
   */
  private async settlingJobs(units: readonly string[], fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if (err instanceof ExecError && err.timedOut) {
        const { stdout } = await this.exec("systemctl", ["list-jobs", "--no-legend"]).catch(() => ({ stdout: "" }));
        const ids = parseJobs(stdout).filter((j) => units.includes(j.unit)).map((j) => String(j.id));
        if (ids.length) await this.exec("systemctl", ["cancel", ...ids]).catch(() => undefined);
      }
      throw err;
    }
  }

  async start(options: StartOptions): Promise<void> {
    const timeoutMs = startTimeout(this.timeoutMs, options);
    const plan = startPlan(this.seenAtStop ?? (await this.units()), this.socketStoppedByUs);
    this.seenAtStop = null;
    await this.exec("systemctl", ["reset-failed", ...plan.resetFailed], { okExitCodes: [0, 1, 5] });
    if (options.restartContainerd && plan.containerd) await this.settlingJobs(UNITS, () => this.exec("systemctl", ["restart", CONTAINERD_SERVICE], { timeoutMs }));
    await this.settlingJobs(UNITS, () => this.exec("systemctl", ["start", ...plan.start], { timeoutMs }));
    this.socketStoppedByUs = false;
  }

  /** The units read and their failed states reset while dockerd still serves: nothing of it in the window. */
  async prepareRestart(): Promise<void> {
    const units = await this.dockerUnits();
    this.seenAtStop = units;
    await this.exec("systemctl", ["reset-failed", ...startPlan(units, this.socketStoppedByUs).resetFailed], { okExitCodes: [0, 1, 5] });
  }

  /**
   * `systemctl restart docker.service`: one job, as a bare restart is; docker.socket keeps listening.
   * A docker.socket this run stopped (stop-first) is restarted in the same transaction, ordered before
   * dockerd. Its time: the stop's own timeout plus what a start may take.
   */
  async restart(options: RestartOptions): Promise<void> {
    const units = this.seenAtStop ?? (await this.units());
    this.seenAtStop = null;
    const plan = startPlan(units, this.socketStoppedByUs);
    await this.settlingJobs(UNITS, () => this.exec("systemctl", ["restart", ...plan.start], { timeoutMs: this.timeoutMs + startTimeout(this.timeoutMs, options) }));
    this.socketStoppedByUs = false;
  }

  async reload(): Promise<void> {
    this.seenAtStop = null; // unit files changed: what was seen may be stale
    await this.exec("systemctl", ["daemon-reload"], { timeoutMs: this.timeoutMs });
  }
}
