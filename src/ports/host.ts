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
  /**
   * Whether the running dockerd (its pid file's process) runs a binary that has since been replaced on
   * disk (/proc/PID/exe " (deleted)"): it is not the installed build, whatever its version says. null
   * when that cannot be told (no pid file, no such process).
   */
  dockerdReplaced(pidFile: string): Promise<boolean | null>;
  /**
   * Writes the filesystem holding `path` out to disk (syncfs): what an install left in memory is
   * flushed while dockerd still serves, not by the new dockerd's first overlay mount inside the window.
   */
  flushFilesystem(path: string): Promise<void>;
  /**
   * Opens the binary each process runs (/proc/PID/exe; absent processes are skipped) and holds it
   * until the returned release. An install replaces dockerd's file while the old dockerd still runs
   * from it; when that process exits, the last reference to the unlinked file goes and the kernel
   * frees its blocks in the exit path, before systemd sees the service stop (measured: 25-85 ms of a
   * restart's window on a machine). Held, the old file is freed at the release, after the window. `count`: the binaries held.
   */
  holdBinaries(pids: readonly number[]): Promise<{ count: number; release: () => void }>;
  /** dockerd's pid from its pid file; null when there is none. */
  dockerdPid(pidFile: string): Promise<number | null>;
  /** Each file's size in bytes (null: absent or unreadable): a container log's growth is its log rate. */
  fileSizes(paths: readonly string[]): Promise<(number | null)[]>;
}
