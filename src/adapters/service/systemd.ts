import type { Exec } from "../../exec/index.js";
import type { ServiceFacts, ServiceManagerPort, StartOptions } from "../../ports/service.js";

export const UNIT_PROPERTIES = ["KillMode", "Delegate", "Requires", "BindsTo", "ActiveState", "LoadState"];

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

/**
 * systemd: stops docker.socket together with docker.service (the socket would re-activate the daemon
 * the moment any client touched it), restarts containerd only when its package changed.
 */
export class SystemdServiceManager implements ServiceManagerPort {
  readonly kind = "systemd" as const;

  constructor(
    private readonly exec: Exec,
    private readonly timeoutMs: number,
  ) {}

  async facts(): Promise<ServiceFacts> {
    const units = ["docker.service", "containerd.service"];
    const { stdout } = await this.exec("systemctl", ["show", ...UNIT_PROPERTIES.flatMap((p) => ["-p", p]), ...units]);
    return { units: parseSystemctlShow(stdout, units) };
  }

  async stop(): Promise<void> {
    await this.exec("systemctl", ["stop", "docker.socket", "docker.service"], { timeoutMs: this.timeoutMs });
  }

  async start(options: StartOptions): Promise<void> {
    if (options.restartContainerd) await this.exec("systemctl", ["restart", "containerd.service"], { timeoutMs: this.timeoutMs });
    await this.exec("systemctl", ["start", "docker.service", "docker.socket"], { timeoutMs: this.timeoutMs });
  }

  async reload(): Promise<void> {
    await this.exec("systemctl", ["daemon-reload"], { timeoutMs: this.timeoutMs });
  }
}
