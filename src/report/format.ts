import { formatDuration } from "../config/duration.js";
import type { RunReport } from "./report.js";

const mark = (ok: boolean, level: "error" | "warning" = "error"): string => (ok ? "ok  " : level === "warning" ? "warn" : "FAIL");

/** The human summary printed on stdout. */
export function formatReport(r: RunReport): string {
  const out: string[] = [];
  const title = r.dryRun ? "plan" : r.command;
  out.push(`docker-live-upgrade ${title} ${r.id}: ${r.outcome.toUpperCase()}`);
  if (r.engine.package) {
    const to = r.engine.to && r.engine.to !== r.engine.from ? ` -> ${r.engine.to}` : "";
    out.push(`engine package ${r.engine.package} ${r.engine.from ?? "?"}${to}`);
  }
  if (r.engineVersion.before || r.engineVersion.after) {
    out.push(`engine reports ${r.engineVersion.before ?? "?"}${r.engineVersion.after && r.engineVersion.after !== r.engineVersion.before ? ` -> ${r.engineVersion.after}` : ""}`);
  }
  if (r.packages.length) {
    out.push("", "packages:");
    for (const p of r.packages) out.push(`  ${p.name.padEnd(28)} ${p.from ?? "(none)"} -> ${p.to ?? "(removed)"}`);
  }
  if (r.path === "restart") out.push("", "path: planned restarts (a MAJOR.MINOR jump live restore cannot carry: the containers that run are stopped and started again)");
  if (r.checks.length) {
    out.push("", "checks:");
    for (const c of r.checks) out.push(`  [${mark(c.ok, c.level)}] ${c.name.padEnd(22)} ${c.message}`);
  }
  if (r.steps.length) {
    out.push("", "steps:");
    for (const s of r.steps) out.push(`  [${mark(s.ok)}] ${s.name.padEnd(22)} ${formatDuration(s.durationMs)}`);
  }
  if (r.daemonDowntimeMs !== null) out.push("", `daemon API down: ${formatDuration(r.daemonDowntimeMs)}`);
  if (r.containers) {
    const c = r.containers;
    out.push(
      "",
      `containers: ${c.before} before, ${c.after} after: ${c.unchanged.length} unchanged, ${c.restarted.length} restarted, ` +
        `${c.missing.length} missing, ${c.changed.length} changed, ${c.new.length} new${c.planned ? `, ${c.planned.length} restarted as planned` : ""}`,
    );
    if (c.planned) out.push(`  ${c.planned.length} restarted as planned: running again, same Id and configuration`);
    for (const x of c.restarted) out.push(`  restarted ${x.name} (${x.id.slice(0, 12)})`);
    for (const x of c.missing) out.push(`  missing   ${x.name} (${x.id.slice(0, 12)})`);
    for (const x of c.changed) out.push(`  changed   ${x.name} (${x.id.slice(0, 12)}): ${x.what}`);
  } else if (r.snapshot.length) {
    out.push("", `containers (${r.snapshot.length}):`);
    for (const s of r.snapshot) {
      out.push(`  ${s.id.slice(0, 12)} ${s.name.padEnd(24)} ${(s.paused ? "paused" : s.status).padEnd(8)} pid ${s.pid}`);
    }
  }
  if (r.fates.length) {
    out.push("", "container fates:");
    for (const f of r.fates) {
      const outage = f.outageMs !== null ? `, out ${formatDuration(f.outageMs)}` : "";
      out.push(`  ${f.name.padEnd(24)} ${f.fate}${outage}${f.state ? `; state ${f.state}` : ""}`);
      for (const risk of f.risks) out.push(`  ${"".padEnd(24)}   - ${risk}`);
    }
  }
  if (r.probes.length) {
    out.push("", "probes:");
    for (const p of r.probes) {
      out.push(`  ${p.name.padEnd(16)} ${p.attempts} attempts, ${p.failures} failures, longest outage ${formatDuration(p.longestOutageMs)}, longest wait ${formatDuration(p.longestWaitMs)}  (${p.target})`);
    }
  }
  if (r.recovery) out.push("", `recovery: ${r.recovery.found}; did: ${r.recovery.actions.join(", ") || "nothing"}`);
  if (r.fleet) out.push("", `fleet: group ${r.fleet.group} (${r.fleet.backend}), waited ${formatDuration(r.fleet.waitedMs)} for the slot, ${r.fleet.requests} requests`);
  if (r.error) out.push("", `error in ${r.error.step}: ${r.error.message}`);
  out.push("", `host: ${r.hostState}`);
  return out.join("\n");
}
