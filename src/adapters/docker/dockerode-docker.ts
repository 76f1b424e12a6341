import type Docker from "dockerode";
import type { ContainerState, DockerPort, EngineInfo, EngineVersion } from "../../ports/docker.js";

interface RawInspect {
  Id: string;
  Name: string;
  Config?: { Image?: string };
  State: { Status: string; Running: boolean; Paused: boolean; Pid: number; StartedAt: string; Health?: { Status: string } };
  HostConfig?: { AutoRemove?: boolean; RestartPolicy?: { Name?: string; MaximumRetryCount?: number }; LogConfig?: { Type?: string } };
  NetworkSettings?: { Ports?: RawPorts; Networks?: Record<string, unknown> | null };
}

/** Stable text for NetworkSettings.Ports so two snapshots compare as strings. */
type RawPorts = Record<string, { HostIp: string; HostPort: string }[] | null> | null | undefined;

export function portsText(ports: RawPorts): string {
  if (!ports) return "";
  return Object.keys(ports)
    .sort()
    .map((key) => `${key}->${(ports[key] ?? []).map((b) => `${b.HostIp}:${b.HostPort}`).sort().join(",")}`)
    .join(" ");
}

export function toContainerState(raw: RawInspect): ContainerState {
  const policy = raw.HostConfig?.RestartPolicy;
  return {
    id: raw.Id,
    name: raw.Name.replace(/^\//, ""),
    image: raw.Config?.Image ?? "",
    status: raw.State.Status,
    running: raw.State.Running,
    paused: raw.State.Paused,
    pid: raw.State.Pid,
    startedAt: raw.State.StartedAt,
    health: raw.State.Health?.Status ?? null,
    restartPolicy: policy?.Name ? (policy.MaximumRetryCount ? `${policy.Name}:${policy.MaximumRetryCount}` : policy.Name) : "no",
    autoRemove: raw.HostConfig?.AutoRemove ?? false,
    ports: portsText(raw.NetworkSettings?.Ports),
    networks: Object.keys(raw.NetworkSettings?.Networks ?? {}).sort(),
    logDriver: raw.HostConfig?.LogConfig?.Type ?? "",
  };
}

/**
 * The Docker API over its unix socket, through dockerode. The client is loaded at the first call:
 * a daemon waiting for its window does not carry it.
 */
export class DockerodeDocker implements DockerPort {
  private client: Promise<Docker> | null = null;

  constructor(
    private readonly socketPath: string,
    private readonly timeoutMs = 30_000,
  ) {}

  private docker(): Promise<Docker> {
    this.client ??= import("dockerode").then(({ default: Dockerode }) => new Dockerode({ socketPath: this.socketPath, timeout: this.timeoutMs }));
    return this.client;
  }

  async ping(timeoutMs = 1_000): Promise<void> {
    const modem = (await this.docker()).modem as unknown as { dial(o: object, cb: (err: unknown, data: unknown) => void): void };
    await new Promise<void>((resolve, reject) => {
      modem.dial({ path: "/_ping?", method: "GET", statusCodes: { 200: true }, timeout: timeoutMs }, (err) =>
        err ? reject(err instanceof Error ? err : new Error(JSON.stringify(err))) : resolve(),
      );
    });
  }

  async version(): Promise<EngineVersion> {
    const v = (await (await this.docker()).version()) as unknown as {
      Version: string;
      ApiVersion: string;
      Components?: { Name: string; Version: string }[];
    };
    return {
      version: v.Version,
      apiVersion: v.ApiVersion,
      components: (v.Components ?? []).map((c) => ({ name: c.Name, version: c.Version })),
    };
  }

  async info(): Promise<EngineInfo> {
    const i = (await (await this.docker()).info()) as Record<string, unknown> & {
      ServerVersion: string;
      LiveRestoreEnabled?: boolean;
      Swarm?: { LocalNodeState?: string };
      Containerd?: { Address?: string };
      Driver: string;
      DockerRootDir: string;
      CgroupDriver?: string;
    };
    return {
      serverVersion: i.ServerVersion,
      liveRestoreEnabled: i.LiveRestoreEnabled === true,
      swarmState: i.Swarm?.LocalNodeState ?? "inactive",
      containerdAddress: i.Containerd?.Address ?? null,
      driver: i.Driver,
      dockerRootDir: i.DockerRootDir,
      cgroupDriver: i.CgroupDriver ?? "",
    };
  }

  async listContainerIds(): Promise<string[]> {
    const list = await (await this.docker()).listContainers({ all: true });
    return list.map((c) => c.Id);
  }

  async inspect(id: string): Promise<ContainerState | null> {
    try {
      const raw = (await (await this.docker()).getContainer(id).inspect()) as unknown as RawInspect;
      return toContainerState(raw);
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return null;
      throw err;
    }
  }
}
