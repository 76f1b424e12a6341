import type { ContainerState, DockerPort, EngineInfo, EngineVersion } from "../../src/ports/docker.js";
import type { CheckpointEntry, CheckpointPort, ContainerDefinition, CriuFacts } from "../../src/ports/checkpoints.js";
import { startDaemon, View } from "./view.js";

// Errors are made once: a simulation pings a stopped dockerd thousands of times, and each new Error captures a stack.
const DOWN = new Error("connect ENOENT /var/run/docker.sock");
const API_DOWN = new Error("API call while dockerd is down");

export class SimEngine extends View implements DockerPort {
  get up(): boolean {
    return this.h.daemonUp;
  }
  set up(v: boolean) {
    this.h.daemonUp = v;
  }
  get version_(): string {
    return this.h.engineVersion;
  }
  set version_(v: string) {
    this.h.engineVersion = v;
  }
  get info_(): EngineInfo {
    return this.h.engineInfo;
  }
  set info_(v: EngineInfo) {
    this.h.engineInfo = v;
  }
  get containers(): ContainerState[] {
    return this.h.containers;
  }
  set containers(v: ContainerState[]) {
    this.h.containers = v;
  }
  set restartOnStart(v: boolean) {
    this.h.restartOnStart = v;
  }
  set reportsAfterStart(v: string | null) {
    this.h.reportsAfterStart = v;
  }
  set containerdVersion(v: string | null) {
    this.h.containerdVersion = v;
  }
  set infoAfterStart(v: Partial<EngineInfo> | null) {
    this.h.infoAfterStart = v;
  }

  private need(): void {
    this.activate();
    if (!this.h.daemonUp || this.h.now < this.h.readyAt) throw API_DOWN;
  }
  /** A client's connection to the listening docker.socket of a stopped daemon starts it (systemd). */
  private activate(): void {
    const h = this.h;
    if (h.daemonUp || !h.socketActivation || !h.socketListening) return;
    startDaemon(h, "socket activation");
  }
  ping(): Promise<void> {
    return this.p.call("read", "docker", "ping", () => {
      this.activate();
      if (!this.h.daemonUp || this.h.now < this.h.readyAt) throw DOWN;
    });
  }
  version(): Promise<EngineVersion> {
    return this.p.call("read", "docker", "version", () => {
      this.need();
      const h = this.h;
      return { version: h.engineVersion, apiVersion: "1.41", components: h.containerdVersion ? [{ name: "containerd", version: h.containerdVersion }] : [] };
    });
  }
  info(): Promise<EngineInfo> {
    return this.p.call("read", "docker", "info", () => {
      this.need();
      return { ...this.h.engineInfo, serverVersion: this.h.engineVersion };
    });
  }
  listContainerIds(): Promise<string[]> {
    return this.p.call("read", "docker", "list", () => {
      this.need();
      return this.h.containers.map((c) => c.id);
    });
  }
  inspect(id: string): Promise<ContainerState | null> {
    return this.p.call("read", "docker", "inspect", () => {
      this.need();
      // as the engine: an ID or a name
      return this.h.containers.find((c) => c.id === id) ?? this.h.containers.find((c) => c.name === id) ?? null;
    });
  }
  stopContainer(id: string): Promise<void> {
    return this.p.call("write", "docker", "stop-container", () => {
      this.need();
      const h = this.h;
      const c = h.containers.find((x) => x.id === id);
      if (!c) throw new Error(`No such container: ${id}`);
      h.events.push(`container ${c.name} stopped`);
      h.manuallyStopped.add(id);
      if (c.autoRemove) h.containers = h.containers.filter((x) => x.id !== id);
      else h.containers = h.containers.map((x) => (x.id === id ? { ...x, running: false, paused: false, status: "exited", pid: 0 } : x));
    });
  }
  pauseContainer(id: string): Promise<void> {
    return this.p.call("write", "docker", "pause-container", () => {
      this.need();
      const c = this.h.containers.find((x) => x.id === id);
      if (!c?.running || c.paused) throw new Error(`Container ${id} is not running or is paused already`);
      this.h.containers = this.h.containers.map((x) => (x.id === id ? { ...x, paused: true, status: "paused" } : x));
    });
  }
  startContainer(id: string): Promise<void> {
    return this.p.call("write", "docker", "start-container", () => {
      this.need();
      const h = this.h;
      const c = h.containers.find((x) => x.id === id);
      if (!c) throw new Error(`No such container: ${id}`);
      // as the engine: a paused container cannot be started (409), a running one is left as it is (304)
      if (c.paused) throw new Error("cannot start a paused container, try unpause instead");
      if (c.running) return;
      h.events.push(`container ${c.name} started`);
      if (h.stateTokens.has(id)) h.stateTokens.set(id, -h.nextPid); // a fresh start: its state before is gone
      h.manuallyStopped.delete(id);
      h.containers = h.containers.map((x) => (x.id === id ? { ...x, running: true, status: "running", pid: h.nextPid++, startedAt: new Date(h.now).toISOString() } : x));
    });
  }
}

/** The engine's checkpoints (CRIU) on the simulated host: a checkpoint keeps a container's state token, a restore brings it back. */
export class SimCheckpoints extends View implements CheckpointPort {
  private need(): void {
    if (!this.h.daemonUp || this.h.now < this.h.readyAt) throw API_DOWN;
  }
  criu(): Promise<CriuFacts> {
    return this.p.call("read", "host", "criu", () => ({ version: "4.2.1", check: { ok: true, message: "Looks good." }, kernel: "6.18.0" }));
  }
  experimental(): Promise<boolean> {
    return this.p.call("read", "docker", "info-experimental", () => {
      this.need();
      return true;
    });
  }
  list(id: string): Promise<CheckpointEntry[]> {
    return this.p.call("read", "docker", "checkpoint-list", () => {
      this.need();
      return [...this.h.checkpointStore.keys()].filter((k) => k.startsWith(`${id}/`)).map((k) => ({ name: k.slice(id.length + 1), createdAt: null, bytes: null }));
    });
  }
  create(id: string, name: string, exit: boolean): Promise<void> {
    return this.p.call("write", "docker", "checkpoint-create", () => {
      this.need();
      const h = this.h;
      const c = h.containers.find((x) => x.id === id);
      if (!c?.running || c.paused) throw new Error(`container ${id} is not running`);
      if (h.checkpointStore.has(`${id}/${name}`)) throw new Error(`checkpoint ${name} already exists`);
      h.checkpointStore.set(`${id}/${name}`, h.stateTokens.get(id) ?? 0);
      if (!exit) return;
      h.events.push(`container ${c.name} checkpointed`);
      h.containers = h.containers.map((x) => (x.id === id ? { ...x, running: false, status: "exited", pid: 0 } : x));
    });
  }
  setRestartPolicy(id: string, policy: string): Promise<void> {
    return this.p.call("write", "docker", "update-restart-policy", () => {
      this.need();
      this.h.containers = this.h.containers.map((x) => (x.id === id ? { ...x, restartPolicy: policy, ...(x.spec ? { spec: { ...x.spec, restartPolicy: policy } } : {}) } : x));
    });
  }
  remove(id: string, name: string): Promise<void> {
    return this.p.call("write", "docker", "checkpoint-remove", () => {
      this.need();
      this.h.checkpointStore.delete(`${id}/${name}`);
    });
  }
  restore(id: string, name: string): Promise<void> {
    return this.p.call("write", "docker", "checkpoint-restore", () => {
      this.need();
      const h = this.h;
      const c = h.containers.find((x) => x.id === id);
      if (!c) throw new Error(`No such container: ${id}`);
      if (c.running) throw new Error("container is already running");
      const token = h.checkpointStore.get(`${id}/${name}`);
      if (token === undefined) throw new Error(`no checkpoint ${name}`);
      if (h.restoreFails) throw new Error("failed to upload checkpoint to containerd: bind-mount /proc/0/ns/net: no such file or directory");
      h.events.push(`container ${c.name} restored`);
      h.manuallyStopped.delete(id);
      h.stateTokens.set(id, token);
      h.containers = h.containers.map((x) => (x.id === id ? { ...x, running: true, status: "running", pid: h.nextPid++, startedAt: new Date(h.now).toISOString() } : x));
    });
  }
  definition(): Promise<ContainerDefinition | null> {
    return Promise.reject(new Error("not simulated"));
  }
  imageId(): Promise<string | null> {
    return Promise.reject(new Error("not simulated"));
  }
  createContainer(): Promise<string> {
    return Promise.reject(new Error("not simulated"));
  }
  removeContainer(): Promise<void> {
    return Promise.reject(new Error("not simulated"));
  }
  runScratch(): Promise<string> {
    return Promise.reject(new Error("not simulated"));
  }
  exists(): Promise<boolean> {
    return Promise.reject(new Error("not simulated"));
  }
  pack(): Promise<number> {
    return Promise.reject(new Error("not simulated"));
  }
  readManifest(): Promise<unknown> {
    return Promise.reject(new Error("not simulated"));
  }
  unpack(): Promise<void> {
    return Promise.reject(new Error("not simulated"));
  }
}
