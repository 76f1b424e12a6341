import { spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";

/** execa, loaded at the first process (not at start-up: the idle daemon starts none). */
let loaded: Promise<typeof import("execa")> | null = null;
const loadExeca = () => (loaded ??= import("execa"));

export interface RawResult {
  exitCode: number | undefined;
  signal: string | undefined;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved, as a terminal would have shown them. */
  all: string;
  timedOut: boolean;
  failedToStart: string | undefined;
  /** What made it fail, when something did (execa's error). */
  cause: unknown;
}

export interface RawOptions {
  timeoutMs: number;
  env: Record<string, string>;
  cwd?: string | undefined;
  input?: string | undefined;
}

/** The parent of every process, from /proc/PID/stat (the field after the parenthesised name). */
async function parents(): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const name of await readdir("/proc").catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, "utf8").catch(() => null);
    const m = stat ? /\)\s+\S\s+(\d+)/.exec(stat) : null;
    if (m) out.set(Number(name), Number(m[1]));
  }
  return out;
}

/** `pid` and every process below it, whatever session or group it went to (apt-get starts dpkg in a session of its own). */
export async function processTree(pid: number): Promise<number[]> {
  const ppid = await parents();
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) for (const [child, parent] of ppid) if (parent === tree[i] && !tree.includes(child)) tree.push(child);
  return tree;
}

const send = (pid: number, signal: NodeJS.Signals): void => {
  try {
    process.kill(pid, signal);
  } catch {
    // gone already
  }
};

/**
 * Ends a command and everything it started: the tree is frozen (nothing in it starts anything new),
 * sent SIGTERM and thawed; whatever of it is left 5 s later gets SIGKILL. The tree is read once, at
 * the timeout: a process whose parent exits is handed to init, out of reach of a later look.
 */
async function endTree(pid: number): Promise<void> {
  const tree = await processTree(pid);
  for (const p of tree) send(p, "SIGSTOP");
  for (const p of tree) send(p, "SIGTERM");
  for (const p of tree) send(p, "SIGCONT");
  setTimeout(() => {
    for (const p of tree) send(p, "SIGKILL");
  }, 5_000).unref();
}

/**
 * A short helper whose output nobody reads (systemd-notify), with Node's own spawn: the resident
 * daemon starts only these, and loading execa for them cost it 6 MiB of its 51 (measured under
 * systemd). Resolves with its exit code, null when it could not start or was ended at `timeoutMs`.
 */
export function spawnQuiet(file: string, args: readonly string[], timeoutMs: number): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: "ignore", shell: false });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    const done = (code: number | null) => {
      clearTimeout(timer);
      resolve(code);
    };
    child.once("error", () => done(null));
    child.once("exit", (code) => done(code));
  });
}

/**
 * Where every process but spawnQuiet's starts. Never a shell: the program and an argv array. A command that
 * outlives its timeout is ended with everything it started (SIGTERM, then SIGKILL 5 s later): a dpkg
 * left running would keep the package database locked through the rollback that follows.
 */
export async function spawnRaw(file: string, args: readonly string[], options: RawOptions): Promise<RawResult> {
  const { execa } = await loadExeca();
  const child = execa(file, args, {
    reject: false,
    shell: false,
    // its own process group: a Ctrl-C in the terminal reaches the upgrader (which decides what it means
    // at this point of the run), not apt-get or systemctl in the middle of their work
    detached: true,
    stdin: options.input === undefined ? "ignore" : "pipe",
    input: options.input,
    env: options.env,
    extendEnv: true,
    cwd: options.cwd,
    stripFinalNewline: true,
    maxBuffer: 64 * 1024 * 1024,
    all: true,
  });
  let timedOut = false;
  // 0 (or less) means no timeout, as for execa; Node fires a delay over 2^31-1 ms at once: cap it
  const timer =
    options.timeoutMs > 0 && Number.isFinite(options.timeoutMs)
      ? setTimeout(() => {
          timedOut = true;
          if (child.pid !== undefined) void endTree(child.pid);
        }, Math.min(options.timeoutMs, 2 ** 31 - 1))
      : undefined;
  const result = await child;
  clearTimeout(timer);
  const startError = result.failed && result.exitCode === undefined && !timedOut && !result.isTerminated;
  return {
    exitCode: timedOut ? undefined : result.exitCode,
    signal: result.signal,
    stdout: String(result.stdout ?? ""),
    stderr: String(result.stderr ?? ""),
    all: String(result.all ?? ""),
    timedOut,
    failedToStart: startError ? (result.cause instanceof Error ? result.cause.message : result.shortMessage) : undefined,
    cause: result.failed ? (result.cause ?? undefined) : undefined,
  };
}
