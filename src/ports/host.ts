export interface ProcessEntry {
  pid: number;
  ppid: number;
  comm: string;
}

/** Facts about the host, and the few host commands that are neither package nor service actions. */
export interface HostPort {
  processes(): Promise<ProcessEntry[]>;
  /**
   * `dockerd --validate --config-file FILE` with the dockerd now on disk (23.0+): null when the file is
   * absent, else whether that build accepts the configuration.
   */
  validateDaemonConfig(configFile: string): Promise<{ ok: boolean; message: string } | null>;
}
