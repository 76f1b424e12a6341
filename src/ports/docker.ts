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
}

export interface DockerPort {
  /** Resolves when `GET /_ping` answers OK; rejects otherwise (never retries itself). */
  ping(timeoutMs?: number): Promise<void>;
  version(): Promise<EngineVersion>;
  info(): Promise<EngineInfo>;
  listContainerIds(): Promise<string[]>;
  /** null when the container no longer exists. */
  inspect(id: string): Promise<ContainerState | null>;
}
