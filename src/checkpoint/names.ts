import type { CheckpointEntry } from "../ports/checkpoints.js";

/** The engine's rule for a checkpoint name (at least two characters). */
export const CHECKPOINT_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Names this tool gives: `dlu-` and the UTC time to the millisecond (they sort as they were made). */
const AUTO = /^dlu-\d{8}T\d{6}\.\d{3}Z$/;

/** `dlu-` and the time: periodic and command-line checkpoints. A planned restart's are `upgrade-`: never pruned. */
export function autoName(now: number, prefix: "dlu-" | "upgrade-" = "dlu-"): string {
  return `${prefix}${new Date(now).toISOString().replace(/[-:]/g, "")}`;
}

export const isAuto = (name: string): boolean => AUTO.test(name);

/** When an automatic name was made, from the name itself; null for other names. */
export function autoTime(name: string): number | null {
  if (!isAuto(name)) return null;
  const m = /^dlu-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z$/.exec(name)!;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, +m[7]!);
}

/** Newest first: by the time in an automatic name, else the folder's time, else by name. */
export function newestFirst(entries: readonly CheckpointEntry[]): CheckpointEntry[] {
  const at = (e: CheckpointEntry) => autoTime(e.name) ?? (e.createdAt ? Date.parse(e.createdAt) : 0);
  return [...entries].sort((a, b) => at(b) - at(a) || b.name.localeCompare(a.name));
}

/** What a prune keeping `keep` removes: the automatic checkpoints past the newest `keep`; names an operator gave are theirs. */
export function pruneSet(entries: readonly CheckpointEntry[], keep: number): CheckpointEntry[] {
  return newestFirst(entries.filter((e) => isAuto(e.name))).slice(keep);
}
