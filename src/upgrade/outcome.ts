import type { Journal } from "../ports/journal.js";
import type { Outcome } from "../report/report.js";
import { EXIT } from "../report/exit-codes.js";
import type { VersionScheme } from "../versions/scheme.js";
import { isAt, runningSet, type HostView, type Mode } from "./machine.js";

export interface Judgement {
  outcome: Outcome;
  exitCode: number;
  /** dockerd answers on the build of a whole package set, the database is consistent, and the run is finished or undone. */
  healthy: boolean;
  /** One sentence for the report: what the host looks like now, and what to do if it is not healthy. */
  text: string;
}

export interface JudgeInput {
  journal: Journal;
  view: HostView;
  /** The forward verification passed in this process. */
  verified: boolean;
  mode: Mode;
  /** Recovery found nothing changed and changed nothing itself. */
  untouched: boolean;
  repairHint: string;
}

const versions = (view: HostView, names: readonly string[]): string =>
  names.map((n) => `${n} ${view.installed[n]?.version ?? "(none)"}${view.installed[n] && !view.installed[n].ok ? ` (${view.installed[n].status.trim()})` : ""}`).join(", ");

/**
 * The outcome and exit code, from what the host shows at the end, never from the path taken:
 * "upgraded" only with every target version installed, the target's dockerd answering and the
 * verification passed; "rolled-back" only with every previous version back and its dockerd answering.
 */
export function judge(input: JudgeInput, scheme: VersionScheme): Judgement {
  const { journal: j, view } = input;
  const running = runningSet(j, view, scheme);
  const onTarget = isAt(j, view, "target") && running === "target";
  const onPrevious = isAt(j, view, "previous") && running === "previous";
  const names = [...new Set([...j.target, ...j.previous].map((t) => t.name))];
  const parts: string[] = [];
  parts.push(view.daemonUp ? `dockerd up, engine ${view.engineVersion ?? "?"}` : "dockerd NOT answering: start it (systemctl start docker) and run `docker-live-upgrade recover`");
  parts.push(view.consistent ? "packages consistent" : `package database inconsistent: ${input.repairHint}`);
  if (onTarget) parts.push("on the target versions");
  else if (onPrevious) parts.push("on the previous versions");
  else if (isAt(j, view, "target") || isAt(j, view, "previous")) parts.push(`the answering dockerd is not the installed build (${versions(view, names)})`);
  else parts.push(`packages neither all previous nor all target (${versions(view, names)}): run \`docker-live-upgrade recover\``);

  let outcome: Outcome = "failed";
  if (view.daemonUp && view.consistent) {
    if (onTarget && j.direction === "forward" && input.verified) outcome = "upgraded";
    else if (onPrevious) outcome = input.mode === "recover" && input.untouched ? "up-to-date" : "rolled-back";
  }
  const healthy = outcome !== "failed";
  const exitCode = input.mode === "run" ? (outcome === "upgraded" ? EXIT.ok : EXIT.failed) : healthy ? EXIT.ok : EXIT.failed;
  return { outcome, exitCode, healthy, text: parts.join("; ") };
}
