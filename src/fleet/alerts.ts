import type { ActiveAlert } from "../ports/alerts.js";

export interface AlertFilter {
  /** Alert names (a regular expression) that never block. */
  ignore?: string | undefined;
  /** Only alerts whose name matches block. */
  only?: string | undefined;
  /** Pending alerts do not block. */
  firingOnly: boolean;
}

const whole = (re: string) => new RegExp(`^(?:${re})$`);

/** The alerts that keep a host from taking a slot (kured's gate: any active alert, less the filtered ones). */
export function blockingAlerts(alerts: readonly ActiveAlert[], filter: AlertFilter): ActiveAlert[] {
  const ignore = filter.ignore === undefined ? null : whole(filter.ignore);
  const only = filter.only === undefined ? null : whole(filter.only);
  return alerts.filter((a) => (!filter.firingOnly || a.state === "firing") && !ignore?.test(a.name) && (only === null || only.test(a.name)));
}

export function describeAlerts(alerts: readonly ActiveAlert[]): string {
  const names = [...new Set(alerts.map((a) => `${a.name} (${a.state})`))];
  return names.slice(0, 5).join(", ") + (names.length > 5 ? ` and ${names.length - 5} more` : "");
}
