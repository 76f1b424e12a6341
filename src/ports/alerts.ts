/** An alert as Prometheus shows it in its ALERTS series. */
export interface ActiveAlert {
  name: string;
  state: "firing" | "pending";
  labels: Record<string, string>;
}

/** The monitoring a host asks before it takes a fleet slot: the alerts active now. */
export interface AlertsPort {
  /** Where the alerts come from, as it may be shown (no credentials). */
  readonly source: string;
  active(): Promise<ActiveAlert[]>;
}
