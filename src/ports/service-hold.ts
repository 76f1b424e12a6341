/**
 * Keeps package scripts from starting, stopping or restarting services while packages are installed
 * (Debian: policy-rc.d), so that the run restarts dockerd once, itself.
 */
export interface ServiceHoldPort {
  /** Holds service actions until release(). */
  hold(): Promise<void>;
  /** Undoes hold(); safe to call at any time (recovery calls it blindly). */
  release(): Promise<void>;
}
