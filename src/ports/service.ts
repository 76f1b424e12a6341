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

/** A restart keeps docker.socket listening; containerd's restart, where it is due, goes through stop and start. */
export type RestartOptions = Omit<StartOptions, "restartContainerd">;

export interface ServiceManagerPort {
  readonly kind: "systemd" | "openrc" | "command";
  facts(): Promise<ServiceFacts>;
  /** Stops dockerd (and, with holdActivation, whatever could re-activate it: docker.socket). */
  stop(options: StopOptions): Promise<void>;
  start(options: StartOptions): Promise<void>;
  /**
   * What a restart needs before dockerd goes down, done while it still serves (systemd: the units'
   * states read, their failed states reset). Present together with `restart`.
   */
  prepareRestart?(): Promise<void>;
  /**
   * Stops and starts dockerd as one act of the service manager (one systemd job: nothing of ours runs
   * in between). A stopped dockerd is started. Absent where the service manager has no such act (the
   * operator's own commands): stop, then start.
   */
  restart?(options: RestartOptions): Promise<void>;
  /** Tells the service manager that unit files on disk changed (systemctl daemon-reload). */
  reload(): Promise<void>;
}
