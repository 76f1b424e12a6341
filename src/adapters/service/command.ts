import type { Exec } from "../../exec/index.js";
import type { ServiceFacts, ServiceManagerPort, StartOptions } from "../../ports/service.js";
import { startTimeout } from "./timeout.js";

/**
 * The operator's own stop/start argv (hosts without systemd or OpenRC, or a custom supervisor).
 * The start command learns in DOCKER_LIVE_UPGRADE_RESTART_CONTAINERD=1 that containerd's package changed.
 */
export class CommandServiceManager implements ServiceManagerPort {
  readonly kind = "command" as const;

  constructor(
    private readonly exec: Exec,
    private readonly argv: { stop: readonly string[]; start: readonly string[] },
    private readonly timeoutMs: number,
  ) {}

  facts(): Promise<ServiceFacts> {
    return Promise.resolve({ units: {} });
  }

  async stop(): Promise<void> {
    const [file, ...args] = this.argv.stop;
    await this.exec(file!, args, { timeoutMs: this.timeoutMs });
  }

  async start(options: StartOptions): Promise<void> {
    const [file, ...args] = this.argv.start;
    await this.exec(file!, args, {
      timeoutMs: startTimeout(this.timeoutMs, options),
      env: { DOCKER_LIVE_UPGRADE_RESTART_CONTAINERD: options.restartContainerd ? "1" : "0" },
    });
  }

  reload(): Promise<void> {
    return Promise.resolve();
  }
}
