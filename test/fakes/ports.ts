import type { ContainerState, DockerPort, EngineInfo, EngineVersion } from "../../src/ports/docker.js";
import type { HostPort } from "../../src/ports/host.js";
import type { LockPort, LockResult } from "../../src/ports/lock.js";
import type { InstallOptions, InstalledPackage, PackageManagerPort, PackageTarget, SimulatedChange } from "../../src/ports/packages.js";
import type { ServiceManagerPort, StartOptions, StopOptions } from "../../src/ports/service.js";
import type { ServiceHoldPort } from "../../src/ports/service-hold.js";
import type { StateStore } from "../../src/ports/state-store.js";
import { migrateJournal, type Journal } from "../../src/ports/journal.js";
import type { RunReport } from "../../src/report/report.js";
import type { VersionScheme } from "../../src/versions/scheme.js";
import { againstTheRelease } from "../../src/report/failures.js";
import { copyJournal, type SimHost } from "./host.js";
import type { SimProcess } from "./process.js";

/** The policy-rc.d the upgrader writes while it holds service actions. */
export const OUR_POLICY = "#!/bin/sh\n# docker-live-upgrade: service actions held during a staged install\nexit 101\n";

// Errors are made once: a simulation pings a stopped dockerd thousands of times, and each new Error captures a stack.
const DOWN = new Error("connect ENOENT /var/run/docker.sock");
const API_DOWN = new Error("API call while dockerd is down");

abstract class View {
  constructor(protected readonly p: SimProcess) {}
  protected get h(): SimHost {
    return this.p.host;
  }
}

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
      return this.h.containers.find((c) => c.id === id) ?? null;
    });
  }
}

const spec = (targets: readonly PackageTarget[]): string => targets.map((t) => `${t.name}=${t.version}`).join(" ");

export class SimPackages extends View implements PackageManagerPort {
  get kind(): "apt" | "dnf" {
    return this.h.format === "rpm" ? "dnf" : "apt";
  }
  get scheme(): VersionScheme {
    return this.h.scheme;
  }
  get repairHint(): string {
    return this.h.format === "rpm" ? "run docker-live-upgrade recover" : "run dpkg --configure -a, then docker-live-upgrade recover";
  }
  get holdsHint(): string {
    return this.h.format === "rpm" ? "dnf versionlock list" : "apt-mark showhold";
  }
  get installedVersions(): Record<string, string> {
    return this.h.installedVersions;
  }
  set installedVersions(v: Record<string, string>) {
    this.h.installedVersions = v;
  }
  get availableVersions(): Record<string, string[]> {
    return this.h.availableVersions;
  }
  set availableVersions(v: Record<string, string[]>) {
    this.h.availableVersions = v;
  }
  get failInstallOf(): string | null {
    return this.h.failInstallOf;
  }
  set failInstallOf(v: string | null) {
    this.h.failInstallOf = v;
  }
  get auditProblems(): string[] {
    return this.h.auditProblems;
  }
  set auditProblems(v: string[]) {
    this.h.auditProblems = v;
  }
  get holds(): string[] {
    return this.h.holds;
  }
  set holds(v: string[]) {
    this.h.holds = v;
  }
  get lockedBy(): string | null {
    return this.h.lockedBy;
  }
  set lockedBy(v: string | null) {
    this.h.lockedBy = v;
  }
  get notDownloadable(): Set<string> {
    return this.h.notDownloadable;
  }
  get simulationExtras(): SimulatedChange[] {
    return this.h.simulationExtras;
  }
  set simulationExtras(v: SimulatedChange[]) {
    this.h.simulationExtras = v;
  }
  /** Runs during the download (a test's chance to change the host meanwhile). */
  onFetch: (() => void) | null = null;
  /** Runs at each hold change, before it takes effect. */
  onSetHold: ((hold: boolean) => void) | null = null;

  refresh(): Promise<void> {
    return this.p.call("read", "packages", "refresh", () => {
      this.h.events.push("packages.refresh");
    });
  }
  installed(names: readonly string[]): Promise<InstalledPackage[]> {
    return this.p.call("read", "packages", "installed", () =>
      names
        .filter((n) => this.h.installedVersions[n] !== undefined)
        .map((n) => {
          const half = this.h.halfInstalled.has(n);
          return { name: n, version: this.h.installedVersions[n]!, status: half ? "iU " : "ii ", ok: !half };
        }),
    );
  }
  available(names: readonly string[]): Promise<Record<string, string[]>> {
    return this.p.call("read", "packages", "available", () => Object.fromEntries(names.map((n) => [n, [...(this.h.availableVersions[n] ?? [])]])));
  }
  simulate(targets: readonly PackageTarget[]): Promise<SimulatedChange[]> {
    return this.p.call("read", "packages", "simulate", () => [
      ...targets.map((t) => ({ name: t.name, from: this.h.installedVersions[t.name] ?? null, to: t.version, action: "upgrade" as const })),
      ...this.h.simulationExtras,
    ]);
  }
  downloadable(targets: readonly PackageTarget[]): Promise<{ ok: boolean; message: string }> {
    return this.p.call("read", "packages", "downloadable", () => {
      const missing = targets.map((t) => `${t.name}=${t.version}`).filter((s) => this.h.notDownloadable.has(s));
      return missing.length ? { ok: false, message: `not downloadable: ${missing.map((m) => `${m} (no source)`).join("; ")}` } : { ok: true, message: "ok" };
    });
  }
  fetch(targets: readonly PackageTarget[], dir: string): Promise<string[]> {
    return this.p.call("write", "packages", "fetch", () => {
      this.onFetch?.();
      if (this.h.diskFull) throw Object.assign(new Error(`ENOSPC: no space left on device, write ${dir}`), { code: "ENOSPC" });
      this.h.events.push(`packages.fetch ${spec(targets)} -> ${dir.split("/").pop()}`);
      const have = this.h.files.get(dir) ?? new Set<string>();
      for (const t of targets) have.add(`${t.name}=${t.version}`);
      this.h.files.set(dir, have);
      return targets.map((t) => `${dir}/${t.name}_${t.version}.deb`);
    });
  }
  install(targets: readonly PackageTarget[], options: InstallOptions): Promise<void> {
    const h = this.h;
    const held = () => h.policyRcd !== null && h.policyRcd.includes("docker-live-upgrade");
    return this.p.call(
      "write",
      "packages",
      "install",
      () => {
        h.events.push(`packages.install ${spec(targets)}${options.allowDowngrades ? " (downgrades)" : ""}${held() ? " (services held)" : ""}`);
        const files = h.files.get(options.from);
        const missing = targets.filter((t) => !files?.has(`${t.name}=${t.version}`));
        if (missing.length) throw new Error(`E: not downloaded into ${options.from}: ${spec(missing)} (apt-get install --no-download)`);
        const lower = targets.filter((t) => h.installedVersions[t.name] !== undefined && h.scheme.compare(t.version, h.installedVersions[t.name]!) < 0);
        if (lower.length && !options.allowDowngrades) throw new Error(`E: Packages were downgraded and -y was used without --allow-downgrades: ${spec(lower)}`);
        for (const t of targets) {
          if (h.failInstallOf === t.version) {
            throw new Error(`failed with exit code 100: apt-get install\ndpkg: error processing archive (--unpack): new ${t.name} package pre-installation script subprocess returned error exit status 1`);
          }
          h.installedVersions[t.name] = t.version;
          h.halfInstalled.delete(t.name);
          if (t.name === h.engineName() && h.daemonUp) h.binaryReplaced = true;
        }
        // the package scripts restart dockerd themselves unless the service actions are held
        if (!held() && h.daemonUp && targets.some((t) => t.name === h.engineName())) {
          h.daemonUp = false;
          startDaemon(h, "a package script (restart docker)");
        }
      },
      {
        // killed half-way: the first package unpacked, not configured
        during: () => {
          const t = targets[0];
          if (!t) return;
          h.installedVersions[t.name] = t.version;
          h.halfInstalled.add(t.name);
          if (t.name === h.engineName() && h.daemonUp) h.binaryReplaced = true;
        },
      },
    );
  }
  repair(): Promise<void> {
    return this.p.call("write", "packages", "repair", () => {
      this.h.events.push("packages.repair");
      this.h.halfInstalled.clear();
    });
  }
  lockHolder(): Promise<string | null> {
    return this.p.call("read", "packages", "lockHolder", () => this.h.lockedBy);
  }
  audit(): Promise<string[]> {
    return this.p.call("read", "packages", "audit", () => [...this.h.auditProblems, ...[...this.h.halfInstalled].map((n) => `${n}: unpacked but not configured`)]);
  }
  held(names: readonly string[]): Promise<string[]> {
    return this.p.call("read", "packages", "held", () => names.filter((n) => this.h.holds.includes(n)));
  }
  holdSupport(): Promise<string | null> {
    return this.p.call("read", "packages", "holdSupport", () => null);
  }
  setHold(names: readonly string[], hold: boolean): Promise<void> {
    return this.p.call("write", "packages", "setHold", () => {
      this.onSetHold?.(hold);
      if (names.length) this.h.events.push(`packages.${hold ? "hold" : "unhold"} ${names.join(" ")}`);
      this.h.holds = hold ? [...new Set([...this.h.holds, ...names])] : this.h.holds.filter((n) => !names.includes(n));
    });
  }
  engineBuild(): string {
    return this.h.engineBuild();
  }
}

/** dockerd starts from the files installed now (by us, or by a client's connection to its socket). */
function startDaemon(h: SimHost, by: string | null): void {
  if (by) h.events.push(`dockerd started by ${by}`);
  h.starts++;
  const build = h.engineBuild();
  if (h.brokenBuilds.has(build)) return; // the new dockerd exits at once: the API never answers
  h.daemonUp = true;
  h.binaryReplaced = false;
  h.runningBuild = h.binaryOf(h.installedVersions[h.engineName()]);
  h.readyAt = h.now + h.readyDelayMs;
  h.engineVersion = h.reportsAs.get(build) ?? h.reportsAfterStart ?? build;
  if (h.infoAfterStart) h.engineInfo = { ...h.engineInfo, ...h.infoAfterStart };
  if (h.restartOnStart || h.restartsContainers.has(build)) h.containers = h.containers.map((c) => ({ ...c, pid: c.pid + 1, startedAt: new Date(h.now).toISOString() }));
}

export class SimService extends View implements ServiceManagerPort {
  readonly kind = "command" as const;
  /** Each stop and start takes this long on the clock. */
  stepMs = 100;
  readonly stops: StopOptions[] = [];
  readonly starts: StartOptions[] = [];
  get brokenBuilds(): Set<string> {
    return this.h.brokenBuilds;
  }

  facts() {
    return this.p.call("read", "service", "facts", () => ({ units: {} }));
  }
  stop(options: StopOptions): Promise<void> {
    return this.p.call("write", "service", "stop", async () => {
      this.stops.push(options);
      this.h.events.push("service.stop");
      this.h.socketListening = !options.holdActivation;
      // the fleet's promise: a run stops dockerd going forward only while it holds its slot
      const h = this.h;
      const j = h.readJournal() as { direction?: string; state: string } | null;
      // (a journal of version 1 has no direction: forward unless it was rolling back)
      if (h.fleetEnabled && this.p.role === "upgrade" && j && (j.direction ?? (j.state === "rolling-back" ? "undo" : "forward")) === "forward") {
        const lease = this.p.fleetLease;
        if (!lease || !h.fleet.leases.has(lease) || !h.fleet.state.holders.some((x) => x.lease === lease)) h.breaches.push("dockerd stopped by a run that no longer held its fleet slot");
      }
      await this.p.clock.sleep(this.stepMs);
      this.h.daemonUp = false;
    });
  }
  start(options: StartOptions): Promise<void> {
    return this.p.call("write", "service", "start", async () => {
      const h = this.h;
      this.starts.push(options);
      h.events.push(`service.start${options.restartContainerd ? " (containerd restarted)" : ""}`);
      await this.p.clock.sleep(this.stepMs);
      if (options.restartContainerd && h.containerdVersion !== null && !h.containerdPinned) {
        const pkg = Object.keys(h.installedVersions).find((n) => n === "containerd" || n === "containerd.io");
        if (pkg) h.containerdVersion = h.scheme.upstream(h.installedVersions[pkg]!);
      }
      h.socketListening = true;
      if (h.daemonUp) return; // already running: a start changes nothing
      startDaemon(h, null);
    });
  }
  reload(): Promise<void> {
    return this.p.call("write", "service", "reload", () => undefined);
  }
}

/** policy-rc.d's stand-in: a site's own is put aside while ours is in force, and put back. */
export class SimServiceHold extends View implements ServiceHoldPort {
  get held(): boolean {
    return this.h.policyRcd === OUR_POLICY;
  }
  hold(): Promise<{ env: Record<string, string> }> {
    return this.p.call("write", "hold", "hold", () => {
      if (this.h.policyRcd !== OUR_POLICY) this.h.policyStash = this.h.policyRcd;
      this.h.policyRcd = OUR_POLICY;
      return { env: {} };
    });
  }
  release(): Promise<void> {
    return this.p.call("write", "hold", "release", () => {
      if (this.h.policyRcd !== OUR_POLICY) return;
      this.h.policyRcd = this.h.policyStash;
      this.h.policyStash = null;
    });
  }
}

const enospc = (what: string) => Object.assign(new Error(`ENOSPC: no space left on device, ${what}`), { code: "ENOSPC" });

export class SimState extends View implements StateStore {
  readonly dir = "/state";
  /** Every journal write, in order (its state). */
  readonly journalStates: string[] = [];
  get journal(): Journal | null {
    return this.h.readJournal();
  }
  set journal(j: Journal | null) {
    this.h.journalFile = j === null ? null : copyJournal(j);
  }
  get saved(): RunReport[] {
    return this.h.reportFiles.map((f) => JSON.parse(f.json) as RunReport);
  }

  writeJournal(j: Journal): Promise<void> {
    return this.p.call("write", "state", "writeJournal", () => {
      if (this.h.diskFull) throw enospc("write /state/journal.json");
      this.h.journalFile = copyJournal(j);
      this.journalStates.push(j.state);
      if (againstTheRelease(j.failure)) this.h.recordedFailures.add(j.runId);
    });
  }
  readJournal(): Promise<Journal | null> {
    return this.p.call("read", "state", "readJournal", () => (this.h.journalFile === null ? null : migrateJournal(copyJournal(this.h.journalFile))));
  }
  closeJournal(runId: string): Promise<void> {
    // a rename: it needs no room on the disk
    return this.p.call("write", "state", "closeJournal", () => {
      if (this.h.journalFile !== null) this.h.closedJournals.push(runId);
      this.h.journalFile = null;
    });
  }
  writeReport(r: RunReport): Promise<string> {
    return this.p.call("write", "state", "writeReport", () => {
      if (this.h.diskFull) throw enospc(`write /state/reports/${r.id}.json`);
      const file = { id: r.id, json: JSON.stringify(r) };
      const i = this.h.reportFiles.findIndex((x) => x.id === r.id);
      if (i >= 0) this.h.reportFiles[i] = file;
      else this.h.reportFiles.push(file);
      return `/state/reports/${r.id}.json`;
    });
  }
  reports(limit = Infinity): Promise<RunReport[]> {
    return this.p.call("read", "state", "reports", () => this.h.reportFiles.slice(Math.max(0, this.h.reportFiles.length - limit)).reverse().map(parsedReport));
  }
  cacheDir(runId: string, kind: "target" | "rollback"): Promise<string> {
    return this.p.call("write", "state", "cacheDir", () => {
      if (this.h.diskFull) throw enospc(`mkdir /state/cache/${runId}/${kind}`);
      return `/state/cache/${runId}/${kind}`;
    });
  }
  pruneCache(keepRunId: string | null): Promise<void> {
    return this.p.call("write", "state", "pruneCache", () => {
      for (const dir of [...this.h.files.keys()]) {
        if (dir.startsWith("/state/cache/") && !dir.startsWith(`/state/cache/${keepRunId}/`)) this.h.files.delete(dir);
      }
    });
  }
}

/** A saved report as read back: parsed once per file and frozen (readers never change a report they read). */
const parsed = new WeakMap<object, RunReport>();
function parsedReport(file: { id: string; json: string }): RunReport {
  let r = parsed.get(file);
  if (!r) {
    r = deepFreeze(JSON.parse(file.json) as RunReport);
    parsed.set(file, r);
  }
  return r;
}
function deepFreeze<T>(x: T): T {
  if (x && typeof x === "object") {
    for (const v of Object.values(x)) deepFreeze(v);
    Object.freeze(x);
  }
  return x;
}

export class SimLock extends View implements LockPort {
  acquire(command: string): Promise<LockResult> {
    return this.p.call("write", "lock", "acquire", () => {
      const h = this.h;
      const cur = h.lockFile;
      if (cur && h.alive.has(cur.pid)) return { acquired: false as const, holder: cur };
      h.lockFile = { pid: this.p.pid, command, since: new Date(h.now).toISOString() };
      return { acquired: true as const, tookOverFrom: cur };
    });
  }
  release(): Promise<void> {
    return this.p.call("write", "lock", "release", () => {
      if (this.h.lockFile?.pid === this.p.pid) this.h.lockFile = null;
    });
  }
  holder() {
    return this.p.call("read", "lock", "holder", () => (this.h.lockFile && this.h.alive.has(this.h.lockFile.pid) ? this.h.lockFile : null));
  }
}

export function simHost(p: SimProcess): HostPort & { daemonConfigVerdict: { ok: boolean; message: string } | null } {
  const port = {
    daemonConfigVerdict: null as { ok: boolean; message: string } | null,
    processes: () => p.call("read", "host", "processes", () => [{ pid: 10, ppid: 1, comm: "containerd" }, { pid: 11, ppid: 1, comm: "dockerd" }]),
    validateDaemonConfig: () => p.call("read", "host", "validateDaemonConfig", () => port.daemonConfigVerdict),
    dockerdReplaced: () => p.call("read", "host", "dockerdReplaced", () => (p.host.daemonUp ? p.host.binaryReplaced : null)),
  };
  return port;
}
