import type { RunReport } from "../report/report.js";

/** recovery: an interrupted run was finished or undone, the host healthy again; fleet-halt: this host's failed run halted its fleet group; fleet-clear: an operator cleared a host's halt. */
export type NotifyEvent = "start" | "success" | "failure" | "refusal" | "recovery" | "fleet-halt" | "fleet-clear" | "checkpoint-failure";

export interface Notifier {
  notify(event: NotifyEvent, report: Partial<RunReport> & { id: string }): Promise<void>;
}

export const silentNotifier: Notifier = { notify: () => Promise.resolve() };
