export interface LockHolder {
  pid: number;
  command: string;
  since: string;
}

export type LockResult = { acquired: true; tookOverFrom: LockHolder | null } | { acquired: false; holder: LockHolder };

/** One run at a time on the host. */
export interface LockPort {
  acquire(command: string): Promise<LockResult>;
  release(): Promise<void>;
  /** Who holds it now (null when free or held by a dead process). */
  holder(): Promise<LockHolder | null>;
}
