import type { VersionScheme } from "../versions/scheme.js";

export interface InstalledPackage {
  name: string;
  version: string;
  /** dpkg's db:Status-Abbrev ("ii ") or rpm's equivalent; ok is false for half-installed/unpacked states. */
  status: string;
  ok: boolean;
}

export interface PackageTarget {
  name: string;
  version: string;
}

export interface SimulatedChange {
  name: string;
  from: string | null;
  to: string | null;
  action: "install" | "upgrade" | "downgrade" | "remove" | "reinstall";
}

export interface InstallOptions {
  /** Folder holding the already-downloaded packages; nothing else is fetched. */
  from: string;
  allowDowngrades: boolean;
  /** Reinstall even at the same version: repairs a half-installed package (rollback, recovery). */
  reinstall?: boolean;
  /** Environment for the package manager and its scripts (what a service hold asks for). */
  env?: Record<string, string>;
}

export interface PackageManagerPort {
  readonly kind: "apt" | "dnf";
  readonly scheme: VersionScheme;
  /** What an operator runs to settle an inconsistent package database by hand, for messages. */
  readonly repairHint: string;
  /** The operator's command that lists holds, for messages. */
  readonly holdsHint: string;
  refresh(): Promise<void>;
  /** The named packages that are installed (absent ones are left out). */
  installed(names: readonly string[]): Promise<InstalledPackage[]>;
  /** Every version of each package the configured sources offer (may include the installed one); one query for all. */
  available(names: readonly string[]): Promise<Record<string, string[]>>;
  /** What the package manager would do to install exactly these versions, without doing it. */
  simulate(targets: readonly PackageTarget[]): Promise<SimulatedChange[]>;
  /** Whether those exact versions can be fetched (or are already in `dir`). */
  downloadable(targets: readonly PackageTarget[]): Promise<{ ok: boolean; message: string }>;
  /** Downloads those versions (and what they need) into dir; returns the files. */
  fetch(targets: readonly PackageTarget[], dir: string): Promise<string[]>;
  install(targets: readonly PackageTarget[], options: InstallOptions): Promise<void>;
  /** Finishes an interrupted package run (dpkg --configure -a); `env` for the package scripts (what a service hold asks for). */
  repair(env?: Record<string, string>): Promise<void>;
  /** The process holding the package database lock, or null. */
  lockHolder(): Promise<string | null>;
  /** Problems the package database reports (dpkg --audit); empty when consistent. */
  audit(): Promise<string[]>;
  held(names: readonly string[]): Promise<string[]>;
  /** null when this host can hold packages; else why not and what to install (dnf without versionlock). */
  holdSupport(): Promise<string | null>;
  setHold(names: readonly string[], hold: boolean): Promise<void>;
}
