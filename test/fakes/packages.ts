import type { InstallOptions, InstalledPackage, PackageManagerPort, PackageTarget, SimulatedChange } from "../../src/ports/packages.js";
import type { VersionScheme } from "../../src/versions/scheme.js";
import { startDaemon, View } from "./view.js";

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
