/** Facts about how the docker and containerd services are run, for the preflight checks. */
export interface ServiceFacts {
  /** unit -> property -> value, e.g. docker.service KillMode=process. Empty when not systemd. */
  units: Record<string, Record<string, string>>;
}

export interface StopOptions {
  /**
   * dockerd stays down for a while (stop-first: the install runs in the down window): nothing may
   * start it again meanwhile, so docker.socket is stopped too. Without it (a restart), the socket
   * keeps listening and queues the clients' connections until the new dockerd takes them.
   */
  holdActivation: boolean;
}

export interface StartOptions {
  /** containerd's package changed: restart it before dockerd so the new build runs. */
  restartContainerd: boolean;
  /** The longest the start may take (what is left of the downtime budget); the service's own timeout when absent. */
  timeoutMs?: number;
}

export interface ServiceManagerPort {
  readonly kind: "systemd" | "openrc" | "command";
  facts(): Promise<ServiceFacts>;
  /** Stops dockerd (and, with holdActivation, whatever could re-activate it: docker.socket). */
  stop(options: StopOptions): Promise<void>;
  start(options: StartOptions): Promise<void>;
  /** Tells the service manager that unit files on disk changed (systemctl daemon-reload). */
  reload(): Promise<void>;
}
