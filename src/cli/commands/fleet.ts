import type { FleetPort, FleetStatus } from "../../ports/fleet.js";

/** `fleet status` as a person reads it. */
export function formatFleet(s: FleetStatus): string {
  const st = s.state;
  const lines = [`fleet group ${s.group} (${s.backend}): ${s.holders.length} of ${s.slots} slot(s) held${st?.paused ? ", PAUSED" : ""}`];
  for (const h of s.holders) lines.push(`  holder ${h.host}  run ${h.runId}  since ${h.since}  lease ${h.leaseAlive ? "alive" : "GONE (host lost mid-upgrade)"}`);
  if (st?.halted) lines.push(`HALTED by ${st.halted.host} (run ${st.halted.runId}) at ${st.halted.at}: ${st.halted.reason}`, `  after a fix: docker-live-upgrade fleet clear ${st.halted.host}`);
  if (st?.target) lines.push(`rollout target ${st.target.version} (set by ${st.target.setBy} at ${st.target.at})`);
  const hosts = Object.entries(st?.hosts ?? {});
  if (hosts.length) {
    lines.push("hosts:");
    for (const [name, h] of hosts.sort(([a], [b]) => a.localeCompare(b))) lines.push(`  ${name.padEnd(20)} ${h.version}  ${h.outcome}  ${h.at}`);
  }
  return lines.join("\n");
}

export function requireFleet(fleet: FleetPort | null): FleetPort {
  if (!fleet) throw new FleetNotConfiguredError("no fleet is configured: add a fleet: section (backend, group, slots, etcd.endpoints) to the config");
  return fleet;
}

export class FleetNotConfiguredError extends Error {
  override name = "FleetNotConfiguredError";
}
