import type { StartOptions } from "../../ports/service.js";

/** A start may take the service's own timeout, or less: what the run's downtime budget has left. */
export const startTimeout = (own: number, options: Pick<StartOptions, "timeoutMs">): number => Math.min(own, options.timeoutMs ?? own);
