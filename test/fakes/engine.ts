import type { ContainerState, DockerPort, EngineInfo, EngineVersion } from "../../src/ports/docker.js";
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
      h.containers = h.containers.map((x) => (x.id === id ? { ...x, running: true, status: "running", pid: h.nextPid++, startedAt: new Date(h.now).toISOString() } : x));
    });
  }
}
