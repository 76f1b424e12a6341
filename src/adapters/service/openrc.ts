import type { Exec } from "../../exec/index.js";
import type { ServiceFacts, ServiceManagerPort, StartOptions } from "../../ports/service.js";
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

  reload(): Promise<void> {
    return Promise.resolve();
  }
}
