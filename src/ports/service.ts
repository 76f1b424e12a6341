/** Facts about how the docker and containerd services are run, for the preflight checks. */
export interface ServiceFacts {
  /** unit -> property -> value, e.g. docker.service KillMode=process. Empty when not systemd. */
  units: Record<string, Record<string, string>>;
}

export interface StartOptions {
  /** containerd's package changed: restart it before dockerd so the new build runs. */
  restartContainerd: boolean;
}

export interface ServiceManagerPort {
  readonly kind: "systemd" | "openrc" | "command";
  facts(): Promise<ServiceFacts>;
  /** Stops dockerd and whatever could re-activate it (docker.socket). */
  stop(): Promise<void>;
  start(options: StartOptions): Promise<void>;
  /** Tells the service manager that unit files on disk changed (systemctl daemon-reload). */
  reload(): Promise<void>;
}
