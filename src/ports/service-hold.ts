/**
 * Keeps package scripts from starting, stopping or restarting services while packages are installed
 * (Debian: policy-rc.d; rpm: systemctl offline), so that the run restarts dockerd once, itself.
 */
export interface ServiceHoldPort {
  /** Holds service actions until release(); returns what the package manager's environment must carry for it. */
  hold(): Promise<{ env: Record<string, string> }>;
  /** Undoes hold(); safe to call at any time (recovery calls it blindly). */
  release(): Promise<void>;
}
