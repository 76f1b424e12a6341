import type { Status } from "../../status/status.js";

export { statusCommand, type Status } from "../../status/status.js";

export function formatStatus(s: Status): string {
  const lines = [
    `engine package: ${s.engine.package ?? "(none found)"} ${s.engine.installed ?? ""}`.trimEnd(),
    `target:         ${s.engine.target ?? "-"}  (${s.engine.verdict})`,
    `engine reports: ${s.engineVersion ?? "dockerd not answering"}`,
    ...s.packages.filter((p) => p.name !== s.engine.package).map((p) => `  with ${p.name} ${p.installed}`),
    `last run:       ${s.lastRun ? `${s.lastRun.id} ${s.lastRun.outcome} at ${s.lastRun.finishedAt}` : "none"}`,
    `next window:    ${s.nextWindow ? `${s.nextWindow.opens} to ${s.nextWindow.closes}` : "none configured"}`,
    `lock:           ${s.lock ? `held by pid ${s.lock.pid} (${s.lock.command}) since ${s.lock.since}` : "free"}`,
  ];
  for (const b of s.badTargets) lines.push(`bad target:     ${b.version} ${b.outcome} in run ${b.runId} (${b.reason}); not retried by itself: upgrade --to ${b.version} once fixed`);
  if (s.unfinishedRun) lines.push(`UNFINISHED RUN: ${s.unfinishedRun.runId} at "${s.unfinishedRun.state}": run \`docker-live-upgrade recover\``);
  return lines.join("\n");
}
