import type { RestartOptions, ServiceManagerPort, StartOptions, StopOptions } from "../../src/ports/service.js";
import type { ServiceHoldPort } from "../../src/ports/service-hold.js";
import { startDaemon, View } from "./view.js";

/** The policy-rc.d the upgrader writes while it holds service actions. */
const OUR_POLICY = "#!/bin/sh\n# docker-live-upgrade: service actions held during a staged install\nexit 101\n";


export class SimService extends View implements ServiceManagerPort {
  readonly kind = "command" as const;
  /** Each stop and start takes this long on the clock. */
  stepMs = 100;
  readonly stops: StopOptions[] = [];
  readonly starts: StartOptions[] = [];
  get brokenBuilds(): Set<string> {
    return this.h.brokenBuilds;
  }

  facts() {
    return this.p.call("read", "service", "facts", () => ({ units: {} }));
  }
  stop(options: StopOptions): Promise<void> {
    return this.p.call("write", "service", "stop", () => this.stopping(options));
  }
  start(options: StartOptions): Promise<void> {
    return this.p.call("write", "service", "start", () => this.starting(options));
  }
  readonly restarts: RestartOptions[] = [];
  prepareRestart(): Promise<void> {
    return this.p.call("write", "service", "prepare-restart", () => undefined);
  }
  /**
   * One act, as systemd's restart job is: a crash of the upgrader cannot land between its halves. A
   * build whose dockerd exits at once fails the job (Type=notify: it never reports ready), after the
   * old dockerd was stopped.
   */
  restart(options: RestartOptions): Promise<void> {
    return this.p.call("write", "service", "restart", async () => {
      this.restarts.push(options);
      await this.stopping({ holdActivation: false });
      await this.starting({ ...options, restartContainerd: false });
      if (!this.h.daemonUp) throw new Error("Job for docker.service failed because the control process exited with error code.");
    });
  }
  private async stopping(options: StopOptions): Promise<void> {
    this.stops.push(options);
    this.h.events.push("service.stop");
    this.h.socketListening = !options.holdActivation;
    // the fleet's promise: a run stops dockerd going forward only while it holds its slot
    const h = this.h;
    const j = h.readJournal() as { direction?: string; state: string } | null;
    // (a journal of version 1 has no direction: forward unless it was rolling back)
    if (h.fleetEnabled && this.p.role === "upgrade" && j && (j.direction ?? (j.state === "rolling-back" ? "undo" : "forward")) === "forward") {
      const lease = this.p.fleetLease;
      if (!lease || !h.fleet.leases.has(lease) || !h.fleet.state.holders.some((x) => x.lease === lease)) h.breaches.push("dockerd stopped by a run that no longer held its fleet slot");
      // nor after another host halted the group
      const halt = h.fleet.state.halted;
      if (halt && !h.fleet.state.holders.some((x) => x.lease === lease && x.runId === halt.runId)) h.breaches.push(`dockerd stopped going forward while ${halt.host} halted the group`);
    }
    await this.p.clock.sleep(this.stepMs);
    this.h.daemonUp = false;
  }
  private async starting(options: StartOptions): Promise<void> {
    const h = this.h;
    this.starts.push(options);
    h.events.push(`service.start${options.restartContainerd ? " (containerd restarted)" : ""}`);
    await this.p.clock.sleep(this.stepMs);
    if (options.restartContainerd && h.containerdVersion !== null && !h.containerdPinned) {
      const pkg = Object.keys(h.installedVersions).find((n) => n === "containerd" || n === "containerd.io");
      if (pkg) h.containerdVersion = h.scheme.upstream(h.installedVersions[pkg]!);
    }
    h.socketListening = true;
    if (h.daemonUp) return; // already running: a start changes nothing
    startDaemon(h, null);
  }
  reload(): Promise<void> {
    return this.p.call("write", "service", "reload", () => undefined);
  }
}

/** policy-rc.d's stand-in: a site's own is put aside while ours is in force, and put back. */
export class SimServiceHold extends View implements ServiceHoldPort {
  get held(): boolean {
    return this.h.policyRcd === OUR_POLICY;
  }
  hold(): Promise<{ env: Record<string, string> }> {
    return this.p.call("write", "hold", "hold", () => {
      if (this.h.policyRcd !== OUR_POLICY) this.h.policyStash = this.h.policyRcd;
      this.h.policyRcd = OUR_POLICY;
      return { env: {} };
    });
  }
  release(): Promise<void> {
    return this.p.call("write", "hold", "release", () => {
      if (this.h.policyRcd !== OUR_POLICY) return;
      this.h.policyRcd = this.h.policyStash;
      this.h.policyStash = null;
    });
  }
}
