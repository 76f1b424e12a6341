import { pino } from "pino";
import { parseConfig } from "../../src/config/load.js";
import type { ConfigInput } from "../../src/config/schema.js";
import type { Clock } from "../../src/ports/clock.js";
import type { ContainerState, DockerPort, EngineInfo, EngineVersion } from "../../src/ports/docker.js";
import type { HostPort } from "../../src/ports/host.js";
import type { LockPort, LockResult } from "../../src/ports/lock.js";
import type { InstallOptions, InstalledPackage, PackageManagerPort, PackageTarget, SimulatedChange } from "../../src/ports/packages.js";
import type { ServiceManagerPort, StartOptions, StopOptions } from "../../src/ports/service.js";
import type { ServiceHoldPort } from "../../src/ports/service-hold.js";
import type { StateStore } from "../../src/ports/state-store.js";
import type { RunReport } from "../../src/report/report.js";
import type { Journal } from "../../src/upgrade/journal.js";
import type { World } from "../../src/upgrade/ports.js";
import { debScheme } from "../../src/versions/scheme.js";

/** A clock that only moves when told to (sleep advances it at once). */
export class FakeClock implements Clock {
  t = Date.parse("2026-11-22T03:00:00Z");
  now = () => this.t;
  sleep = (ms: number) => {
    this.t += ms;
    return Promise.resolve();
  };
}

export const container = (name: string, over: Partial<ContainerState> = {}): ContainerState => ({
  id: `${name}-id`.padEnd(64, "0"),
  name,
  image: "local/busybox:1",
  status: "running",
  running: true,
  paused: false,
  pid: 1000 + name.length,
  startedAt: "2026-11-21T10:00:00.000000000Z",
  health: null,
  restartPolicy: "no",
  autoRemove: false,
  ports: "",
  networks: ["host"],
  logDriver: "json-file",
  ...over,
});

/** Everything that happens at the ports, in order: what a user would see the tool do to the host. */
export type Event = string;

export class FakeEngine implements DockerPort {
  up = true;
  version_ = "20.10.24+dfsg1";
  info_: EngineInfo = {
    serverVersion: "20.10.24+dfsg1",
    liveRestoreEnabled: true,
    swarmState: "inactive",
    containerdAddress: null,
    driver: "overlay2",
    dockerRootDir: "/var/lib/docker",
    cgroupDriver: "cgroupfs",
  };
  containers: ContainerState[] = [container("web"), container("db", { pid: 2000 })];
  /** When set, a start restarts the containers (as a failed restore would). */
  restartOnStart = false;
  /** What a restarted daemon reports instead of the installed build (the old binary still running). */
  reportsAfterStart: string | null = null;
  /** containerd's version in /version (absent when null). */
  containerdVersion: string | null = null;
  /** Applied to the engine's info at the next start (a changed data root, live restore off...). */
  infoAfterStart: Partial<EngineInfo> | null = null;
  constructor(readonly events: Event[]) {}

  ping(): Promise<void> {
    return this.up ? Promise.resolve() : Promise.reject(new Error("connect ENOENT"));
  }
  private need(): void {
    if (!this.up) throw new Error("API call while dockerd is down");
  }
  version(): Promise<EngineVersion> {
    this.need();
    return Promise.resolve({ version: this.version_, apiVersion: "1.41", components: this.containerdVersion ? [{ name: "containerd", version: this.containerdVersion }] : [] });
  }
  info(): Promise<EngineInfo> {
    this.need();
    return Promise.resolve({ ...this.info_, serverVersion: this.version_ });
  }
  listContainerIds(): Promise<string[]> {
    this.need();
    return Promise.resolve(this.containers.map((c) => c.id));
  }
  inspect(id: string): Promise<ContainerState | null> {
    this.need();
    return Promise.resolve(this.containers.find((c) => c.id === id) ?? null);
  }
}

export class FakePackages implements PackageManagerPort {
  readonly kind = "apt" as const;
  readonly scheme = debScheme;
  installedVersions: Record<string, string> = { "docker.io": "20.10.24+dfsg1-1+deb12u1+b6", containerd: "1.6.20~ds1-1+deb12u3", runc: "1.1.5+ds1-1+deb12u1" };
  availableVersions: Record<string, string[]> = {
    "docker.io": ["20.10.24+dfsg1-1+deb12u1+b6", "20.10.25+dfsg1-1", "20.11.0+dfsg1-1"],
    containerd: ["1.6.20~ds1-1+deb12u3"],
    runc: ["1.1.5+ds1-1+deb12u1"],
  };
  failInstallOf: string | null = null;
  /** The hold in force during installs (set by fakeWorld). */
  serviceHold: FakeServiceHold | null = null;
  auditProblems: string[] = [];
  holds: string[] = [];
  constructor(readonly events: Event[]) {}

  refresh(): Promise<void> {
    this.events.push("packages.refresh");
    return Promise.resolve();
  }
  installed(names: readonly string[]): Promise<InstalledPackage[]> {
    return Promise.resolve(
      names.filter((n) => this.installedVersions[n]).map((n) => ({ name: n, version: this.installedVersions[n]!, status: "ii", ok: true })),
    );
  }
  available(names: readonly string[]): Promise<Record<string, string[]>> {
    return Promise.resolve(Object.fromEntries(names.map((n) => [n, this.availableVersions[n] ?? []])));
  }
  /** Extra changes the package manager would make (e.g. a removal). */
  simulationExtras: SimulatedChange[] = [];
  simulate(targets: readonly PackageTarget[]): Promise<SimulatedChange[]> {
    return Promise.resolve([
      ...targets.map((t) => ({ name: t.name, from: this.installedVersions[t.name] ?? null, to: t.version, action: "upgrade" as const })),
      ...this.simulationExtras,
    ]);
  }
  /** Versions (name=version) that no source offers. */
  notDownloadable = new Set<string>();
  downloadable(targets: readonly PackageTarget[]): Promise<{ ok: boolean; message: string }> {
    const missing = targets.map((t) => `${t.name}=${t.version}`).filter((s) => this.notDownloadable.has(s));
    return Promise.resolve(missing.length ? { ok: false, message: `not downloadable: ${missing.map((m) => `${m} (no source)`).join("; ")}` } : { ok: true, message: "ok" });
  }
  /** Runs during the download (a test's chance to change the host meanwhile). */
  onFetch: (() => void) | null = null;
  fetch(targets: readonly PackageTarget[], dir: string): Promise<string[]> {
    this.onFetch?.();
    this.events.push(`packages.fetch ${targets.map((t) => `${t.name}=${t.version}`).join(" ")} -> ${dir.split("/").pop()}`);
    return Promise.resolve([]);
  }
  install(targets: readonly PackageTarget[], options: InstallOptions): Promise<void> {
    this.events.push(`packages.install ${targets.map((t) => `${t.name}=${t.version}`).join(" ")}${options.allowDowngrades ? " (downgrades)" : ""}${this.serviceHold?.held ? " (services held)" : ""}`);
    if (this.failInstallOf && targets.some((t) => t.version === this.failInstallOf)) {
      return Promise.reject(new Error("dpkg: error processing archive (--unpack): new docker.io package pre-installation script subprocess returned error exit status 1"));
    }
    for (const t of targets) this.installedVersions[t.name] = t.version;
    return Promise.resolve();
  }
  repair(): Promise<void> {
    this.events.push("packages.repair");
    return Promise.resolve();
  }
  /** The process holding the package database lock, or null. */
  lockedBy: string | null = null;
  lockHolder(): Promise<string | null> {
    return Promise.resolve(this.lockedBy);
  }
  audit(): Promise<string[]> {
    return Promise.resolve(this.auditProblems);
  }
  held(names: readonly string[]): Promise<string[]> {
    return Promise.resolve(names.filter((n) => this.holds.includes(n)));
  }
  /** Runs at each hold change, before it takes effect (a test's chance to crash the run there). */
  onSetHold: ((hold: boolean) => void) | null = null;
  setHold(names: readonly string[], hold: boolean): Promise<void> {
    this.onSetHold?.(hold);
    if (names.length) this.events.push(`packages.${hold ? "hold" : "unhold"} ${names.join(" ")}`);
    this.holds = hold ? [...new Set([...this.holds, ...names])] : this.holds.filter((h) => !names.includes(h));
    return Promise.resolve();
  }
  /** The upstream release of the installed engine package: what a restarted dockerd reports. */
  engineBuild(): string {
    return debScheme.upstream((this.installedVersions["docker.io"] ?? this.installedVersions["docker-ce"])!);
  }
}

export class FakeService implements ServiceManagerPort {
  readonly kind = "command" as const;
  /** The started build exits at once (a broken release): the API never answers. */
  brokenBuilds = new Set<string>();
  constructor(
    readonly events: Event[],
    private readonly engine: FakeEngine,
    private readonly packages: FakePackages,
    private readonly clock: FakeClock,
  ) {}
  facts() {
    return Promise.resolve({ units: {} });
  }
  /** Each stop and start takes this long on the fake clock. */
  stepMs = 100;
  /** The options of every stop, in order. */
  readonly stops: StopOptions[] = [];
  stop(options: StopOptions): Promise<void> {
    this.stops.push(options);
    this.events.push("service.stop");
    this.clock.t += this.stepMs;
    this.engine.up = false;
    return Promise.resolve();
  }
  /** The options of every start, in order. */
  readonly starts: StartOptions[] = [];
  start(options: StartOptions): Promise<void> {
    this.starts.push(options);
    this.events.push(`service.start${options.restartContainerd ? " (containerd restarted)" : ""}`);
    this.clock.t += this.stepMs;
    const build = this.packages.engineBuild();
    if (this.brokenBuilds.has(build)) return Promise.resolve();
    this.engine.up = true;
    this.engine.version_ = this.engine.reportsAfterStart ?? build;
    if (this.engine.infoAfterStart) this.engine.info_ = { ...this.engine.info_, ...this.engine.infoAfterStart };
    if (this.engine.restartOnStart) this.engine.containers = this.engine.containers.map((c) => ({ ...c, pid: c.pid + 1, startedAt: "2026-11-22T03:00:05Z" }));
    return Promise.resolve();
  }
  reload(): Promise<void> {
    return Promise.resolve();
  }
}

/** policy-rc.d's stand-in: whether service actions are held right now. */
export class FakeServiceHold implements ServiceHoldPort {
  held = false;
  constructor(readonly events: Event[]) {}
  hold(): Promise<{ env: Record<string, string> }> {
    this.held = true;
    return Promise.resolve({ env: {} });
  }
  release(): Promise<void> {
    this.held = false;
    return Promise.resolve();
  }
}

export class MemoryState implements StateStore {
  readonly dir = "/state";
  journal: Journal | null = null;
  journalStates: string[] = [];
  saved: RunReport[] = [];
  writeJournal(j: Journal): Promise<void> {
    this.journal = structuredClone(j);
    this.journalStates.push(j.state);
    return Promise.resolve();
  }
  readJournal(): Promise<Journal | null> {
    return Promise.resolve(this.journal ? structuredClone(this.journal) : null);
  }
  closeJournal(): Promise<void> {
    this.journal = null;
    return Promise.resolve();
  }
  writeReport(r: RunReport): Promise<string> {
    this.saved.push(r);
    return Promise.resolve(`/state/reports/${r.id}.json`);
  }
  reports(limit = Infinity): Promise<RunReport[]> {
    return Promise.resolve([...this.saved].reverse().slice(0, limit));
  }
  cacheDir(runId: string, kind: "target" | "rollback"): Promise<string> {
    return Promise.resolve(`/state/cache/${runId}/${kind}`);
  }
  pruneCache(): Promise<void> {
    return Promise.resolve();
  }
}

export class FakeLock implements LockPort {
  heldBy: { pid: number; command: string; since: string } | null = null;
  acquire(command: string): Promise<LockResult> {
    if (this.heldBy) return Promise.resolve({ acquired: false, holder: this.heldBy });
    this.heldBy = { pid: 4242, command, since: "now" };
    return Promise.resolve({ acquired: true, tookOverFrom: null });
  }
  release(): Promise<void> {
    this.heldBy = null;
    return Promise.resolve();
  }
  holder() {
    return Promise.resolve(this.heldBy);
  }
}

const host = (): HostPort & { daemonConfigVerdict: { ok: boolean; message: string } | null } => {
  const h = {
    daemonConfigVerdict: null as { ok: boolean; message: string } | null,
    processes: () => Promise.resolve([{ pid: 10, ppid: 1, comm: "containerd" }, { pid: 11, ppid: 1, comm: "dockerd" }]),
    validateDaemonConfig: () => Promise.resolve(h.daemonConfigVerdict),
  };
  return h;
};

export interface FakeWorld extends World {
  events: Event[];
  engine: FakeEngine;
  fakePackages: FakePackages;
  fakeService: FakeService;
  memory: MemoryState;
  fakeClock: FakeClock;
}

export function fakeWorld(config: ConfigInput = {}): FakeWorld {
  const events: Event[] = [];
  const engine = new FakeEngine(events);
  const fakePackages = new FakePackages(events);
  const fakeClock = new FakeClock();
  const fakeService = new FakeService(events, engine, fakePackages, fakeClock);
  const fakeHold = new FakeServiceHold(events);
  fakePackages.serviceHold = fakeHold;
  const memory = new MemoryState();
  return {
    // no built-in API probe: on the fake clock its loop would never yield
    config: parseConfig({ service: { manager: "command", stop: ["stop"], start: ["start"] }, ...config, docker: { apiProbeInterval: "0s", ...config.docker } }),
    docker: engine,
    packages: fakePackages,
    service: fakeService,
    serviceHold: fakeHold,
    clock: fakeClock,
    state: memory,
    lock: new FakeLock(),
    host: host(),
    probeCheck: () => Promise.resolve(),
    hooks: { run: () => Promise.resolve([]) },
    notifier: { notify: () => Promise.resolve() },
    fleet: null,
    logger: pino({ level: "silent" }),
    events,
    engine,
    fakePackages,
    fakeService,
    memory,
    fakeClock,
  };
}
