export interface ContainerRef {
  id: string;
  name: string;
}

/** Every container before and after, classified (same Id, Pid, StartedAt and Paused: unchanged). */
export interface ContainerDiff {
  before: number;
  after: number;
  unchanged: ContainerRef[];
  restarted: ContainerRef[];
  missing: ContainerRef[];
  changed: (ContainerRef & { what: string })[];
  new: ContainerRef[];
  /** The planned-restart path: stopped and started again by the run, with the same Id and configuration (not a failure). */
  planned?: ContainerRef[];
}

/**
 * A container's fate in a run, and what puts it at risk: kept by live restore, restarted as planned
 * (with its outage: from its stop to ready again), left stopped, or lost to its own --rm.
 */
export interface ContainerFate {
  id: string;
  name: string;
  fate: "kept" | "restarted" | "checkpointed" | "left-stopped" | "removed-by-stop";
  risks: string[];
  /** Checkpointed: "restored from NAME", or "lost: WHY" (it started fresh). */
  state?: string;
  /** Restarted: from its stop to ready again (null until measured). */
  outageMs: number | null;
}

/** deferred: nothing touched, try again later (no fleet slot in time). */
export type Outcome = "upgraded" | "would-upgrade" | "up-to-date" | "refused" | "failed" | "rolled-back" | "deferred";

export interface CheckResult {
  name: string;
  ok: boolean;
  message: string;
  /** "error" refuses the run when not ok; "warning" is reported and the run goes on. */
  level: "error" | "warning";
}

export interface StepRecord {
  name: string;
  startedAt: string;
  durationMs: number;
  ok: boolean;
}

export interface ProbeResult {
  name: string;
  target: string;
  attempts: number;
  failures: number;
  longestOutageMs: number;
  /** The longest single attempt, answered or not: a connection that waited in docker.socket's queue shows here. */
  longestWaitMs: number;
}

export interface PackageChangeRecord {
  name: string;
  from: string | null;
  to: string | null;
}

/** The run report (contract fields first, then extras). One file per run under stateDir/reports. */
export interface RunReport {
  id: string;
  command: "upgrade" | "recover";
  startedAt: string;
  finishedAt: string;
  dryRun: boolean;
  outcome: Outcome;
  engine: { package: string | null; from: string | null; to: string | null };
  packages: PackageChangeRecord[];
  checks: CheckResult[];
  daemonDowntimeMs: number | null;
  containers: ContainerDiff | null;
  probes: ProbeResult[];
  steps: StepRecord[];
  error: { message: string; step: string } | null;
  /** What state the host is in when the run ends, in one sentence. */
  hostState: string;
  order: "staged" | "stop-first" | null;
  engineVersion: { before: string | null; after: string | null };
  snapshot: { id: string; name: string; status: string; pid: number; startedAt: string; paused: boolean }[];
  /** How the containers cross the upgrade: "live" (live restore), "restart" (a MAJOR.MINOR jump by planned restarts); null before a plan. */
  path: "live" | "restart" | null;
  /** Each container's fate, its risks and (restarted) its outage. */
  fates: ContainerFate[];
  /** A recovery: the run it finished or undid (null when there was none), what it found, the steps it took. */
  recovery: { runId: string | null; found: string; actions: string[] } | null;
  /** With a fleet: the group, how long the run waited for its slot, and the requests it made to the coordination service. */
  fleet: { backend: "etcd" | "fleetlock"; group: string; waitedMs: number; requests: number } | null;
  exitCode: number;
}
