import type { RunReport } from "../report/report.js";

export type NotifyEvent = "start" | "success" | "failure" | "refusal";

export interface Notifier {
  notify(event: NotifyEvent, report: Partial<RunReport> & { id: string }): Promise<void>;
}

export const silentNotifier: Notifier = { notify: () => Promise.resolve() };
