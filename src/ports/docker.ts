/** The Docker Engine API, as far as an upgrade needs it. Fields absent on old engines are null. */
export interface EngineVersion {
  version: string;
  apiVersion: string;
  components: { name: string; version: string }[];
}

export interface EngineInfo {
  serverVersion: string;
  liveRestoreEnabled: boolean;
  swarmState: string;
  /** `/info` Containerd.Address; absent before API 1.46 (e.g. 20.10). */
  containerdAddress: string | null;
  driver: string;
  dockerRootDir: string;
  cgroupDriver: string;
}

export interface ContainerState {
  id: string;
  name: string;
  image: string;
  status: string;
  running: boolean;
  paused: boolean;
  pid: number;
  startedAt: string;
  health: string | null;
  restartPolicy: string;
  autoRemove: boolean;
  /** NetworkSettings.Ports, as a stable string ("8080/tcp->127.0.0.1:8080"), for comparison. */
  ports: string;
  networks: string[];
  logDriver: string;
  /** What a planned restart must bring back as it was (absent in journals of earlier versions). */
  spec?: ContainerSpec;
  /** The json-file/local log's path on the host (its growth is the container's log rate); "" when none. */
  logPath?: string;
  /** Config.StopTimeout (seconds); null: the engine's default (10 s). */
  stopTimeout?: number | null;
  /** The container has a health check (its image's or its own). */
  healthcheck?: boolean;
}

/** A container's configuration as a planned restart must keep it: compared before and after, field by field. */
export interface ContainerSpec {
  /** The image's ID (sha256:...), not its name: a retagged image is another image. */
  imageId: string;
  /** Entrypoint and Cmd, as JSON. */
  command: string;
  env: string[];
  /** "TYPE:SOURCE->DESTINATION:rw|ro", sorted. */
  mounts: string[];
  networkMode: string;
  restartPolicy: string;
  labels: Record<string, string>;
}

/** Changes to the API's socket file, from when the watch was made. */
export interface SocketWatch {
  /**
   * Resolves at the next change, or at once if one came since the last call; rejects once the watch
   * broke. `signal` gives the call up: a change after that is kept for the next call.
   */
  changed(signal?: AbortSignal): Promise<void>;
  close(): void;
}

/**
 * Why a `GET /_ping` failed: nothing listened (no socket file, a refused connect); the connection
 * was held without an answer until the ask's timeout (a socket unit's, a dockerd still restoring);
 * or it was answered badly, reset or closed.
 */
export type PingFailure = "unreachable" | "held" | "failed";

export class PingError extends Error {
  constructor(
    message: string,
    readonly failure: PingFailure,
  ) {
    super(message);
    this.name = "PingError";
  }
}

export interface DockerPort {
  /** Resolves when `GET /_ping` answers OK; rejects otherwise (never retries itself), with a PingError where it can tell why. */
  ping(timeoutMs?: number): Promise<void>;
  /**
   * Tells a readiness wait when the API's socket file appears or changes (dockerd makes it as it
   * starts to listen), so the wait need not ask every few milliseconds. null where it cannot watch.
   */
  watchSocket?(): SocketWatch | null;
  version(): Promise<EngineVersion>;
  info(): Promise<EngineInfo>;
  listContainerIds(): Promise<string[]>;
  /** null when the container no longer exists. */
  inspect(id: string): Promise<ContainerState | null>;
  /** `POST /containers/ID/stop` with the container's own stop timeout; already stopped is fine. */
  stopContainer(id: string, stopTimeoutS: number): Promise<void>;
  /** `POST /containers/ID/start`; already running is fine. */
  startContainer(id: string): Promise<void>;
  /** `POST /containers/ID/pause`. */
  pauseContainer(id: string): Promise<void>;
}
