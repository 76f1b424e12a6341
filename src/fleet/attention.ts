import type { FleetStatus } from "../ports/fleet.js";

/** Whether the group needs an operator: halted, or a holder lost (its lease gone) that no host noticed yet. */
export function fleetNeedsAttention(s: FleetStatus): boolean {
  return Boolean(s.state?.halted) || s.holders.some((h) => !h.leaseAlive);
}
