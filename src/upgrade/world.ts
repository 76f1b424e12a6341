import type { Logger } from "pino";
import type { Config } from "../config/schema.js";
import type { ProbeCheck } from "../probes/transport.js";
import type { Clock } from "../ports/clock.js";
import type { DockerPort } from "../ports/docker.js";
import type { HostPort } from "../ports/host.js";
import type { LockPort } from "../ports/lock.js";
import type { PackageManagerPort } from "../ports/packages.js";
import type { ServiceManagerPort } from "../ports/service.js";
import type { StateStore } from "../ports/state-store.js";
import type { HookRunner } from "../hooks/hooks.js";
import type { Notifier } from "../notify/notifier.js";
import type { FleetPort } from "../ports/fleet.js";
import type { ServiceHoldPort } from "../ports/service-hold.js";
import type { AlertsPort } from "../ports/alerts.js";
import type { CheckpointPort } from "../ports/checkpoints.js";

/** Everything a run touches, injected: the real adapters in the CLI, fakes in unit tests. */
export interface World {
  config: Config;
  docker: DockerPort;
  packages: PackageManagerPort;
  service: ServiceManagerPort;
  /** Holds the package scripts' service actions during an install (policy-rc.d). */
  serviceHold: ServiceHoldPort;
  clock: Clock;
  state: StateStore;
  lock: LockPort;
  host: HostPort;
  probeCheck: ProbeCheck;
  hooks: HookRunner;
  notifier: Notifier;
  /** The fleet this host coordinates with (`fleet:`), or null: it decides alone. */
  fleet: FleetPort | null;
  /** The alerts that must be quiet before this host takes a fleet slot (`fleet.alerts`), or null. */
  alerts?: AlertsPort | null;
  /** Checkpoints through the engine and CRIU (the checkpoint commands, periodic checkpoints, planned restarts). */
  checkpoints?: CheckpointPort;
  logger: Logger;
}
