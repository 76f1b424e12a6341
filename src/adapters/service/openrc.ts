import type { Exec } from "../../exec/index.js";
import type { RestartOptions, ServiceFacts, ServiceManagerPort, StartOptions } from "../../ports/service.js";
import { startTimeout } from "./timeout.js";

/** OpenRC (Alpine, Gentoo): rc-service docker stop/start. */
export class OpenrcServiceManager implements ServiceManagerPort {
  readonly kind = "openrc" as const;

  constructor(
    private readonly exec: Exec,
    private readonly timeoutMs: number,
  ) {}

  facts(): Promise<ServiceFacts> {
    return Promise.resolve({ units: {} });
  }

  async stop(): Promise<void> {
    await this.exec("rc-service", ["docker", "stop"], { timeoutMs: this.timeoutMs });
  }

  async start(options: StartOptions): Promise<void> {
    const timeoutMs = startTimeout(this.timeoutMs, options);
    if (options.restartContainerd) await this.exec("rc-service", ["containerd", "restart"], { timeoutMs });
    await this.exec("rc-service", ["docker", "start"], { timeoutMs });
  }

  prepareRestart(): Promise<void> {
    return Promise.resolve();
  }

  /** `rc-service docker restart` (a stopped service is started): the stop's timeout plus what a start may take. */
  async restart(options: RestartOptions): Promise<void> {
    await this.exec("rc-service", ["docker", "restart"], { timeoutMs: this.timeoutMs + startTimeout(this.timeoutMs, options) });
  }

  reload(): Promise<void> {
    return Promise.resolve();
  }
}
