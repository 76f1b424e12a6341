/** One checkpoint of a container, as the engine keeps it (`<DockerRootDir>/containers/ID/checkpoints/NAME`). */
export interface CheckpointEntry {
  name: string;
  /** When its folder was written (ISO), null when it cannot be read (a host root elsewhere). */
  createdAt: string | null;
  /** Its size on disk, null when unknown. */
  bytes: number | null;
}

/** CRIU on this host, as the commands themselves say. */
export interface CriuFacts {
  /** `criu --version` ("4.1.1"), null when criu is not installed. */
  version: string | null;
  /** `criu check`: null when criu is not installed. */
  check: { ok: boolean; message: string } | null;
  /** The running kernel's release (uname -r). */
  kernel: string;
}

/** What a container is made of, as an export carries it: enough to create it again elsewhere. */
export interface ContainerDefinition {
  id: string;
  name: string;
  /** The reference it was created from (Config.Image), and the image's ID. */
  image: string;
  imageId: string;
  /** The engine's Config and HostConfig, as inspect gave them (sent back as they are to create). */
  config: Record<string, unknown>;
  hostConfig: Record<string, unknown>;
  /** Mounts, as inspect lists them: volumes and binds an export does not carry. */
  mounts: { type: string; source: string; destination: string }[];
  running: boolean;
}

/**
 * Checkpoints through the engine (experimental mode, CRIU underneath) and the files the engine keeps
 * them in: export and import move those files, since the engine has no import of its own.
 */
export interface CheckpointPort {
  criu(): Promise<CriuFacts>;
  /** `docker info` ExperimentalBuild: checkpoints need it. */
  experimental(): Promise<boolean>;
  list(containerId: string): Promise<CheckpointEntry[]>;
  /** `POST /containers/ID/checkpoints`; exit: the container stops at the checkpoint (else it keeps running). */
  create(containerId: string, name: string, exit: boolean): Promise<void>;
  remove(containerId: string, name: string): Promise<void>;
  /**
   * `POST /containers/ID/update` RestartPolicy ("no", "always", "unless-stopped", "on-failure:N"): a
   * container stopped at a checkpoint keeps its policy, so a starting dockerd would start it fresh.
   */
  setRestartPolicy(containerId: string, policy: string): Promise<void>;
  /** `POST /containers/ID/start?checkpoint=NAME`: the stopped container resumes from the checkpoint. */
  restore(containerId: string, name: string): Promise<void>;
  /** null when there is no such container. */
  definition(containerId: string): Promise<ContainerDefinition | null>;
  /** The ID of the image a reference names here, null when the engine has no such image. */
  imageId(reference: string): Promise<string | null>;
  /** Creates a container (stopped) from a definition under this name; its ID. */
  createContainer(name: string, def: ContainerDefinition): Promise<string>;
  /** Removes a container, running or not, with its checkpoints (never its volumes). */
  removeContainer(containerId: string): Promise<void>;
  /** Starts a throwaway container (network none or host: nothing published) running `sh -c SCRIPT` from an image; its ID. */
  runScratch(image: string, script: string, labels: Record<string, string>, network: "none" | "host"): Promise<string>;
  /** Whether a file exists (an export never overwrites one). */
  exists(file: string): Promise<boolean>;
  /** Writes the checkpoint and a description of it into one archive file (gzip'd tar); its size. */
  pack(containerId: string, name: string, manifest: object, out: string): Promise<number>;
  /** Reads an archive's description without unpacking the rest. */
  readManifest(file: string): Promise<unknown>;
  /** Unpacks an archive's checkpoint where the engine keeps the checkpoints of this container. */
  unpack(file: string, containerId: string, name: string): Promise<void>;
}
