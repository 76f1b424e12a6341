import { recordRelease, rolloutProgress } from "../../fleet/rollout.js";
import type { FleetPort, FleetStatus } from "../../ports/fleet.js";

/** `fleet status` as a person reads it. */
export function formatFleet(s: FleetStatus): string {
  const st = s.state;
  const lines = [`fleet group ${s.group} (${s.backend}): ${s.holders.length} of ${s.slots} slot(s) held${st?.paused ? ", PAUSED" : ""}`];
  for (const h of s.holders) lines.push(`  holder ${h.host}  run ${h.runId}  since ${h.since}  lease ${h.leaseAlive ? "alive" : "GONE: lost mid-upgrade (the next host that asks for a slot halts the group on it)"}`);
  if (st?.halted) lines.push(`HALTED by ${st.halted.host} (run ${st.halted.runId}, ${st.halted.kind ?? "failed"}) at ${st.halted.at}: ${st.halted.reason}`, `  after a fix: docker-live-upgrade fleet clear ${st.halted.host}`);
  for (const q of st?.queuedHalts ?? []) lines.push(`  and then by ${q.host} (run ${q.runId}, ${q.kind ?? "failed"}) at ${q.at}: ${q.reason}`);
  for (const r of Object.values(st?.rollouts ?? {}).sort((a, b) => a.series.localeCompare(b.series))) {
    const p = rolloutProgress(st!, r, s.now);
    const where = p.finished
      ? "finished"
      : p.soakUntil
        ? `batch ${p.batch - 1} of ${p.of} done, soaking until ${p.soakUntil}`
        : `batch ${p.batch} of ${p.of}, waiting for ${p.behind.join(", ")}`;
    lines.push(`rollout ${r.series}: to ${r.release} (started by ${r.setBy} at ${r.at}): ${where}`);
    r.batches.forEach((b, i) => lines.push(`  batch ${i + 1}: ${b.join(", ") || "(none left)"}`));
  }
  const hosts = Object.entries(st?.hosts ?? {});
  if (hosts.length) {
    lines.push("hosts:");
    for (const [name, h] of hosts.sort(([a], [b]) => a.localeCompare(b))) {
      const stale = s.stale.includes(name) ? `  STALE: not seen since ${h.seen ?? h.at} (retired? docker-live-upgrade fleet forget ${name})` : "";
      lines.push(`  ${name.padEnd(20)} ${(recordRelease(h) ?? "?").padEnd(9)} ${h.version}  ${h.outcome}  ${h.at}${stale}`);
    }
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
