import { createServer, type Server } from "node:http";
import { hostname } from "node:os";
import type { Logger } from "pino";
import { Gauge, Registry } from "prom-client";
import { fleetNeedsAttention } from "../fleet/attention.js";
import { rolloutProgress } from "../fleet/rollout.js";
import { splitHostPort } from "../probes/transport.js";
import { statusCommand } from "../status/status.js";
import type { World } from "../upgrade/world.js";
import type { PeriodicCheckpoints } from "../checkpoint/periodic.js";

export interface Metrics {
  refresh(): Promise<void>;
  close(): void;
  registry: Registry;
}

const OUTCOMES = ["upgraded", "would-upgrade", "up-to-date", "refused", "failed", "rolled-back", "deferred"] as const;

/** Prometheus exposition on the configured (local) address while the daemon runs. */
export function startMetrics(listen: string, world: World, logger: Logger, checkpoints?: PeriodicCheckpoints): Metrics {
  const registry = new Registry();
  const g = (name: string, help: string, labelNames: string[] = []) => new Gauge({ name: `docker_live_upgrade_${name}`, help, labelNames, registers: [registry] });
  const lastRunTime = g("last_run_timestamp_seconds", "When the last run finished (unix time)");
  const lastOutcome = g("last_run_outcome", "1 for the outcome of the last run, 0 for the others", ["outcome"]);
  const downtime = g("last_daemon_downtime_seconds", "Docker API unreachable during the last run");
  const containers = g("last_run_containers", "Containers of the last run by verdict", ["verdict"]);
  const pending = g("pending_upgrade", "1 when a newer patch release of the engine is available");
  const nextWindow = g("next_window_timestamp_seconds", "When the next maintenance window opens (unix time)");
  const daemonUp = g("docker_api_up", "1 when the Docker API answers");
  const slotHeld = world.fleet ? g("fleet_slot_held", "1 while this host holds a slot of its fleet group") : null;
  const groupHalted = world.fleet ? g("fleet_group_halted", "1 while this host's fleet group is halted, or holds a slot for a host whose lease is gone (lost, not yet halted)") : null;
  const holder = world.fleet ? g("fleet_holder", "1 for each host holding a slot of the group", ["host"]) : null;
  const batch = world.fleet ? g("fleet_rollout_batch", "The batch each series' rollout is at (batches total in of)", ["series", "release", "of"]) : null;
  const soakUntil = world.fleet ? g("fleet_rollout_soak_until_timestamp_seconds", "When the soak before a rollout's next batch ends (unix time), 0 when none", ["series"]) : null;
  const cpLast = world.config.checkpoints.length ? g("checkpoint_last_success_timestamp_seconds", "When each container's last periodic checkpoint was made (unix time)", ["container"]) : null;
  const cpOk = world.config.checkpoints.length ? g("checkpoint_last_ok", "1 when each container's last periodic checkpoint worked, 0 when it failed", ["container"]) : null;
  const cpFailures = world.config.checkpoints.length ? g("checkpoint_failures", "Periodic checkpoints that failed since the daemon started") : null;
  const stale = world.fleet ? g("fleet_hosts_stale", "Hosts of the group not seen for longer than fleet.staleAfter") : null;

  // Everything is read first and the gauges set together after, so a scrape never sees half a refresh.
  const refresh = async () => {
    try {
      const last = (await world.state.reports(5)).find((r) => !r.dryRun);
      const s = await statusCommand(world);
      const fleet = world.fleet?.backend === "etcd" ? await world.fleet.status().catch(() => null) : null;
      const me = world.config.fleet?.host ?? hostname();
      if (last) {
        lastRunTime.set(Date.parse(last.finishedAt) / 1000);
        for (const o of OUTCOMES) lastOutcome.set({ outcome: o }, o === last.outcome ? 1 : 0);
        downtime.set((last.daemonDowntimeMs ?? 0) / 1000);
        const c = last.containers;
        for (const v of ["unchanged", "restarted", "missing", "changed", "new"] as const) containers.set({ verdict: v }, c ? c[v].length : 0);
      }
      if (checkpoints) {
        for (const r of checkpoints.last.values()) {
          cpOk?.set({ container: r.container }, r.ok ? 1 : 0);
          if (r.ok) cpLast?.set({ container: r.container }, r.at / 1000);
        }
        cpFailures?.set(checkpoints.failures);
      }
      pending.set(s.engine.target && s.engine.target !== s.engine.installed ? 1 : 0);
      daemonUp.set(s.daemonUp ? 1 : 0);
      if (s.nextWindow) nextWindow.set(Date.parse(s.nextWindow.opens) / 1000);
      if (fleet) {
        slotHeld?.set(fleet.holders.some((h) => h.host === me) ? 1 : 0);
        groupHalted?.set(fleetNeedsAttention(fleet) ? 1 : 0);
        holder?.reset();
        for (const h of fleet.holders) holder?.set({ host: h.host }, 1);
        batch?.reset();
        soakUntil?.reset();
        for (const r of Object.values(fleet.state?.rollouts ?? {})) {
          const p = rolloutProgress(fleet.state!, r, fleet.now);
          batch?.set({ series: r.series, release: r.release, of: String(p.of) }, p.finished ? p.of : p.batch);
          soakUntil?.set({ series: r.series }, p.soakUntil ? Date.parse(p.soakUntil) / 1000 : 0);
        }
        stale?.set(fleet.stale.length);
      }
    } catch (err) {
      logger.warn({ err }, "metrics refresh failed");
    }
  };

  const server: Server = createServer((req, res) => {
    if (req.url !== "/metrics") {
      res.writeHead(404).end("see /metrics\n");
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { "content-type": registry.contentType }).end(body),
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });
  const [host, port] = splitHostPort(listen);
  server.listen(port, host, () => logger.info({ listen }, "metrics listening"));
  server.on("error", (err) => logger.error({ err, listen }, "metrics server failed"));
  return { refresh, close: () => server.close(), registry };
}
