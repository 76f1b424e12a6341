import type Docker from "dockerode";
import type { ContainerState, DockerPort, EngineInfo, EngineVersion, SocketWatch } from "../../ports/docker.js";
import { deadlineClient, modemCall } from "./modem.js";
import { pingSocket } from "../../probes/transport.js";
import { watchSocketFile } from "./socket-watch.js";

interface RawInspect {
  Id: string;
  Name: string;
  Image?: string;
  LogPath?: string;
  Config?: {
    Image?: string;
    Entrypoint?: string[] | string | null;
    Cmd?: string[] | string | null;
    Env?: string[] | null;
    Labels?: Record<string, string> | null;
    StopTimeout?: number | null;
    Healthcheck?: { Test?: string[] | null } | null;
  };
  State: { Status: string; Running: boolean; Paused: boolean; Pid: number; StartedAt: string; Health?: { Status: string } };
  HostConfig?: { AutoRemove?: boolean; NetworkMode?: string; RestartPolicy?: { Name?: string; MaximumRetryCount?: number }; LogConfig?: { Type?: string } };
  Mounts?: { Type?: string; Source?: string; Name?: string; Destination?: string; RW?: boolean }[] | null;
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
  const restartPolicy = policy?.Name ? (policy.MaximumRetryCount ? `${policy.Name}:${policy.MaximumRetryCount}` : policy.Name) : "no";
  const cfg = raw.Config ?? {};
  const test = cfg.Healthcheck?.Test ?? [];
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
    restartPolicy,
    autoRemove: raw.HostConfig?.AutoRemove ?? false,
    ports: portsText(raw.NetworkSettings?.Ports),
    networks: Object.keys(raw.NetworkSettings?.Networks ?? {}).sort(),
    logDriver: raw.HostConfig?.LogConfig?.Type ?? "",
    logPath: raw.LogPath ?? "",
    stopTimeout: cfg.StopTimeout ?? null,
    healthcheck: test.length > 0 && test[0] !== "NONE",
    spec: {
      imageId: raw.Image ?? "",
      command: JSON.stringify([cfg.Entrypoint ?? null, cfg.Cmd ?? null]),
      env: [...(cfg.Env ?? [])].sort(),
      mounts: (raw.Mounts ?? []).map((m) => `${m.Type ?? "?"}:${m.Type === "volume" ? (m.Name ?? "") : (m.Source ?? "")}->${m.Destination ?? ""}:${m.RW === false ? "ro" : "rw"}`).sort(),
      networkMode: raw.HostConfig?.NetworkMode ?? "",
      restartPolicy,
      labels: { ...(cfg.Labels ?? {}) },
    },
  };
}

/**
 * The Docker API over its unix socket, through dockerode. The client is loaded at the first call:
 * a daemon waiting for its window does not carry it.
 */
export class DockerodeDocker implements DockerPort {
  private client: Promise<Docker> | null = null;
  /** For the calls with their own deadline (`dial`): a client without an idle timeout. */
  private raw: Promise<Docker> | null = null;

  constructor(
    private readonly socketPath: string,
    private readonly timeoutMs = 30_000,
  ) {}

  private docker(): Promise<Docker> {
    this.client ??= import("dockerode").then(({ default: Dockerode }) => new Dockerode({ socketPath: this.socketPath, timeout: this.timeoutMs }));
    return this.client;
  }

  /** One request with its own deadline and the status codes that mean success (see ../docker/modem.ts). */
  private async dial(path: string, method: "GET" | "POST", ok: number[], timeoutMs: number): Promise<void> {
    this.raw ??= deadlineClient(this.socketPath);
    await modemCall(this.raw, { path, method, ok, timeoutMs });
  }

  ping(timeoutMs = 1_000): Promise<void> {
    return pingSocket(this.socketPath, timeoutMs);
  }

  watchSocket(): SocketWatch | null {
    return watchSocketFile(this.socketPath);
  }

  async stopContainer(id: string, stopTimeoutS: number): Promise<void> {
    // 304: already stopped. The engine waits the container's own stop timeout before SIGKILL: the
    // request may take that long, and some more for the kill and the exit
    await this.dial(`/containers/${encodeURIComponent(id)}/stop`, "POST", [204, 304], Math.max(0, stopTimeoutS) * 1000 + 30_000);
  }

  async startContainer(id: string): Promise<void> {
    await this.dial(`/containers/${encodeURIComponent(id)}/start`, "POST", [204, 304], this.timeoutMs);
  }

  async pauseContainer(id: string): Promise<void> {
    await this.dial(`/containers/${encodeURIComponent(id)}/pause`, "POST", [204], this.timeoutMs);
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
