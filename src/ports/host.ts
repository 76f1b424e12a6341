export interface ProcessEntry {
  pid: number;
  ppid: number;
  comm: string;
}

/** Read-only facts about the host's processes. */
export interface HostPort {
  processes(): Promise<ProcessEntry[]>;
}
