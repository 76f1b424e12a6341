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
}

export interface RawOptions {
  timeoutMs: number;
  env: Record<string, string>;
  cwd?: string | undefined;
  input?: string | undefined;
}

/** The only place that starts processes. Never a shell: the program and an argv array. */
export async function spawnRaw(file: string, args: readonly string[], options: RawOptions): Promise<RawResult> {
  const { execa } = await loadExeca();
  const result = await execa(file, args, {
    reject: false,
    shell: false,
    stdin: options.input === undefined ? "ignore" : "pipe",
    input: options.input,
    timeout: options.timeoutMs,
    killSignal: "SIGTERM",
    forceKillAfterDelay: 5_000,
    env: options.env,
    extendEnv: true,
    cwd: options.cwd,
    stripFinalNewline: true,
    maxBuffer: 64 * 1024 * 1024,
    all: true,
  });
  const startError = result.failed && result.exitCode === undefined && !result.timedOut && !result.isTerminated;
  return {
    exitCode: result.exitCode,
    signal: result.signal,
    stdout: String(result.stdout ?? ""),
    stderr: String(result.stderr ?? ""),
    all: String(result.all ?? ""),
    timedOut: result.timedOut,
    failedToStart: startError ? (result.cause instanceof Error ? result.cause.message : result.shortMessage) : undefined,
  };
}
