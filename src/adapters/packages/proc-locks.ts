/** /proc/locks: "1: POSIX  ADVISORY  WRITE 1234 fe:01:5505029 0 EOF" -> holders of the given inodes. */
export function lockHoldersFromProcLocks(procLocks: string, inodes: ReadonlySet<number>): number[] {
  const pids: number[] = [];
  for (const line of procLocks.split("\n")) {
    const m = /^\d+:\s+(?:->\s+)?\S+\s+\S+\s+\S+\s+(\d+)\s+[0-9a-f]+:[0-9a-f]+:(\d+)\s/.exec(line);
    if (m && inodes.has(Number(m[2])) && !pids.includes(Number(m[1]))) pids.push(Number(m[1]));
  }
  return pids;
}
