import { formatDuration } from "../../config/duration.js";
import type { RunReport } from "../../report/report.js";

export function formatHistory(reports: readonly RunReport[]): string {
  if (!reports.length) return "no runs yet";
  return reports
    .map((r) => {
      const eng = r.engine.package ? `${r.engine.package} ${r.engine.from ?? "?"} -> ${r.engine.to ?? "?"}` : "-";
      const down = r.daemonDowntimeMs !== null ? ` down ${formatDuration(r.daemonDowntimeMs)}` : "";
      const c = r.containers ? ` containers ${r.containers.unchanged.length}/${r.containers.before} unchanged` : "";
      return `${r.startedAt}  ${r.id}  ${(r.dryRun ? "plan" : r.command).padEnd(7)} ${r.outcome.padEnd(13)} ${eng}${down}${c}`;
    })
    .join("\n");
}
