import type { Journal } from "../../src/ports/journal.js";
import type { ContainerState, EngineInfo } from "../../src/ports/docker.js";
import type { SimulatedChange } from "../../src/ports/packages.js";
import { emptyGroup, type GroupState } from "../../src/fleet/semaphore.js";
import { debScheme, rpmScheme, type VersionScheme } from "../../src/versions/scheme.js";

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

/** What the site's own /usr/sbin/policy-rc.d says (null: there is none). */
export const SITE_POLICY = "#!/bin/sh\n# the site's own\nexit 0\n";

/**
 * A simulated host: everything that outlives the upgrader's process. The ports of each process
 * (test/fakes/engine.ts, packages.ts, services.ts, ports.ts) are thin views of it, so a crash loses only that process's memory.
 */
export class SimHost {
  /** Milliseconds since the epoch: moved by the processes' schedulers. */
  now = Date.parse("2026-11-22T03:00:00Z");
  format: "deb" | "rpm" = "deb";
  // --- the package database ---------------------------------------------------------------
  installedVersions: Record<string, string> = { "docker.io": "20.10.24+dfsg1-1+deb12u1+b6", containerd: "1.6.20~ds1-1+deb12u3", runc: "1.1.5+ds1-1+deb12u1" };
  /** Packages unpacked but not configured (dpkg "iU"; rpm: recorded twice): `dpkg --configure -a` finishes them. */
  halfInstalled = new Set<string>();
  availableVersions: Record<string, string[]> = {
    "docker.io": ["20.10.24+dfsg1-1+deb12u1+b6", "20.10.25+dfsg1-1", "20.11.0+dfsg1-1"],
    containerd: ["1.6.20~ds1-1+deb12u3"],
    runc: ["1.1.5+ds1-1+deb12u1"],
  };
  /** A version whose package script fails (the install stops there; what came before it stays). */
  failInstallOf: string | null = null;
  auditProblems: string[] = [];
  holds: string[] = [];
  /** The process holding the package database lock (another apt run), or null. */
  lockedBy: string | null = null;
  notDownloadable = new Set<string>();
  simulationExtras: SimulatedChange[] = [];
  /** Downloaded packages, by folder ("name=version"). */
  files = new Map<string, Set<string>>();
  // --- the service hold (policy-rc.d) ---------------------------------------------------------
  policyRcd: string | null = null;
  policyStash: string | null = null;
  // --- dockerd and containerd -------------------------------------------------------------------
  daemonUp = true;
  /** What `/version` reports: the release the running dockerd was built from. */
  engineVersion = "20.10.24+dfsg1";
  /** containerd's version in /version (absent when null); restarted containerd reports its package's release. */
  containerdVersion: string | null = null;
  /** containerd's restart leaves the old one running (a unit that does not restart it). */
  containerdPinned = false;
  /** Releases whose dockerd exits at once: a start leaves the API down. */
  brokenBuilds = new Set<string>();
  /** A start restarts the containers (as a failed restore would). */
  restartOnStart = false;
  /** Builds whose start restarts the containers (a release whose restore is broken). */
  restartsContainers = new Set<string>();
  /** Builds that report another version (the old binary left in place): build -> what /version says. */
  reportsAs = new Map<string, string>();
  /** What a restarted daemon reports instead of the installed build (the old binary still running). */
  reportsAfterStart: string | null = null;
  infoAfterStart: Partial<EngineInfo> | null = null;
  engineInfo: EngineInfo = {
    serverVersion: "20.10.24+dfsg1",
    liveRestoreEnabled: true,
    swarmState: "inactive",
    containerdAddress: null,
    driver: "overlay2",
    dockerRootDir: "/var/lib/docker",
    cgroupDriver: "cgroupfs",
  };
  containers: ContainerState[] = [container("web"), container("db", { pid: 2000 })];
  /** Containers whose in-memory state is tracked (id -> a token: a fresh start makes a new one, a restore brings its checkpoint's back). */
  stateTokens = new Map<string, number>();
  /** Checkpoints on disk: "ID/NAME" -> the state token it holds. */
  checkpointStore = new Map<string, number>();
  /** Containers stopped by a stop (not by a checkpoint or an exit): a starting dockerd leaves them stopped unless their policy is always. */
  manuallyStopped = new Set<string>();
  /** The engine refuses every restore (docker 28.5 with containerd 2.1, some cases). */
  restoreFails = false;
  /** The release whose dockerd last ran the containers (null: not tracked): another MAJOR.MINOR's start orphans them. */
  containersRunBy: string | null = null;
  /** Container log files' sizes (their growth is a log rate). */
  logSizes = new Map<string, number>();
  /** A started dockerd answers this long after its start (restoring containers). */
  readyDelayMs = 0;
  /** When the running dockerd starts answering. */
  readyAt = 0;
  /** The running dockerd's binary was replaced on disk since it started (an install under it, even of the same version). */
  binaryReplaced = false;
  /** The dockerd binary that runs: the package version it was started from, or the one whose binary that package ships (the truth the invariants judge by). */
  runningBuild: string | null = "20.10.24+dfsg1-1+deb12u1+b6";
  /** Package versions whose dockerd binary is another version's (a repack that kept the old binary): version -> that version. */
  shipsBinaryOf = new Map<string, string>();

  /** Which binary a package version's dockerd is. */
  binaryOf(version: string | undefined): string | null {
    return version === undefined ? null : (this.shipsBinaryOf.get(version) ?? version);
  }
  /** systemd's docker.socket: a client's connection to the stopped daemon starts it (socket activation). */
  socketActivation = false;
  /** docker.socket listens (a restart leaves it; stop-first's stop takes it down for the install). */
  socketListening = true;
  /** How many times dockerd was started (any way: ours, a package script's). */
  starts = 0;
  // --- the state folder --------------------------------------------------------------------------
  /** journal.json as on disk (a copy: the process's memory is not the disk; never changed in place). */
  journalFile: Journal | null = null;
  closedJournals: string[] = [];
  /** The reports folder: each report as saved (JSON). */
  reportFiles: { id: string; json: string }[] = [];
  /** ENOSPC for every write to the state folder while set. */
  diskFull = false;
  lockFile: { pid: number; command: string; since: string } | null = null;
  /** Runs whose journal was ever written with a failure against the release (what recovery and the fleet must honour). */
  recordedFailures = new Set<string>();
  // --- processes, leases, the fleet ----------------------------------------------------------
  alive = new Set<number>();
  nextPid = 4242;
  fleet: { state: GroupState; leases: Map<string, number> } = { state: emptyGroup(), leases: new Map() };
  hostName = "h1";
  /** The host is part of a fleet (the slot must be held by a run's forward stops). */
  fleetEnabled = false;
  /** Promises broken while it happened (not visible in the end state): checked by the explorer. */
  breaches: string[] = [];
  /** Everything the host saw happen, in order (what a user would see the tool do). */
  readonly events: string[] = [];

  get scheme(): VersionScheme {
    return this.format === "rpm" ? rpmScheme : debScheme;
  }

  /** The engine package installed now, and the release its dockerd reports once started. */
  engineName(): string {
    return Object.keys(this.installedVersions).find((n) => ["docker.io", "docker-ce", "docker", "moby-engine"].includes(n)) ?? "docker.io";
  }

  engineBuild(): string {
    return this.scheme.upstream(this.installedVersions[this.engineName()] ?? "0");
  }

  readJournal(): Journal | null {
    return this.journalFile === null ? null : copyJournal(this.journalFile);
  }

  /** A process died: its fleet lease expires, its lock is stale; everything else stays as it was. */
  processDied(pid: number): void {
    this.alive.delete(pid);
    for (const [lease, owner] of this.fleet.leases) if (owner === pid) this.fleet.leases.delete(lease);
  }
}

/** A copy of a journal as deep as the run changes it (the snapshot and the package lists are never changed in place). */
export function copyJournal(j: Journal): Journal {
  // the planned restart's record is changed in place by the run (phases, times, checkpoints): copied whole
  return { ...j, failure: j.failure && { ...j.failure }, holds: { before: [...j.holds.before], after: [...j.holds.after] }, transitions: [...j.transitions], ...(j.restart ? { restart: structuredClone(j.restart) } : {}) };
}

/** A copy of everything on the host (to replay many faults from one state). */
export function cloneHost(h: SimHost): SimHost {
  const c = new SimHost();
  const data = structuredClone({ ...h, events: [] as string[] });
  Object.assign(c, data);
  return c;
}
