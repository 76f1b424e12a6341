import type { Logger } from "pino";
import { join } from "node:path";
import type { Config } from "../config/schema.js";
import { createExec } from "../exec/index.js";
import { DockerodeDocker } from "../adapters/docker/dockerode-docker.js";
import { systemClock } from "../adapters/clock/system-clock.js";
import { FsStateStore } from "../adapters/state/fs-state-store.js";
import { PidLock } from "../adapters/state/pid-lock.js";
import { createHost } from "../adapters/host/proc-host.js";
import { SystemdServiceManager } from "../adapters/service/systemd.js";
import { OpenrcServiceManager } from "../adapters/service/openrc.js";
import { CommandServiceManager } from "../adapters/service/command.js";
import { nodeProbeCheck } from "../probes/transport.js";
import { createHookRunner } from "../hooks/hooks.js";
import { createWebhookNotifier } from "../notify/webhook.js";
import type { ServiceManagerPort } from "../ports/service.js";
import type { World } from "../upgrade/world.js";
import { detectPackageManager } from "./detect.js";
import { SystemdOfflineHold } from "../adapters/service-hold/systemd-offline.js";
import { PolicyRcdHold } from "../adapters/service-hold/policy-rc-d.js";
import { PrometheusAlerts } from "../adapters/alerts/prometheus.js";
import { hostname } from "node:os";
import type { FleetPort } from "../ports/fleet.js";
import { EngineCheckpoints } from "../adapters/checkpoints/engine-checkpoints.js";

/** The fleet adapter for `fleet:` (loaded only when configured: the etcd client is heavy). */
export async function createFleet(config: Config, logger: Logger): Promise<FleetPort | null> {
  const fleet = config.fleet;
  if (!fleet) return null;
  const host = fleet.host ?? hostname();
  if (fleet.backend === "fleetlock") {
    const { FleetLockFleet } = await import("../adapters/fleet/fleetlock.js");
    return new FleetLockFleet(fleet, host, systemClock, logger);
  }
  const { EtcdFleet } = await import("../adapters/fleet/etcd-fleet.js");
  return new EtcdFleet(fleet, host, systemClock, logger);
}

/** The real world: one adapter per port, built from the config. */
export async function createWorld(config: Config, logger: Logger): Promise<World> {
  // The host's own /usr/bin/env runs each program inside the chroot: a busybox chroot (Alpine, or a
  // minimal image) would otherwise run its own applet for names it knows (env, dpkg, rpm) instead of the host's.
  const exec = createExec(logger, { timeoutMs: 120_000, prefix: config.hostRoot === "/" ? [] : ["chroot", config.hostRoot, "/usr/bin/env"] });
  const timeout = config.service.timeout;
  const service: ServiceManagerPort =
    config.service.manager === "command"
      ? new CommandServiceManager(exec, { stop: config.service.stop!, start: config.service.start! }, timeout)
      : config.service.manager === "openrc"
        ? new OpenrcServiceManager(exec, timeout)
        : new SystemdServiceManager(exec, timeout);
  const packages = await detectPackageManager(config, exec);
  return {
    config,
    docker: new DockerodeDocker(config.docker.socket),
    packages,
    service,
    serviceHold: packages.kind === "dnf" ? new SystemdOfflineHold() : new PolicyRcdHold(config.hostRoot),
    clock: systemClock,
    state: new FsStateStore(config.stateDir),
    lock: new PidLock(join(config.stateDir, "lock")),
    host: createHost(exec, config.hostRoot),
    probeCheck: nodeProbeCheck,
    hooks: createHookRunner(exec, config.hooks),
    notifier: createWebhookNotifier(config.notify, logger),
    fleet: await createFleet(config, logger),
    checkpoints: new EngineCheckpoints(config.docker.socket, exec, config.hostRoot),
    alerts: config.fleet?.alerts ? new PrometheusAlerts(config.fleet.alerts.prometheus, config.fleet.alerts.timeout) : null,
    logger,
  };
}
