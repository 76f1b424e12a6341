import type { Logger } from "pino";
import { spawnRaw } from "./common.js";

export interface ExecOptions {
  timeoutMs?: number;
  env?: Record<string, string>;
  cwd?: string;
  input?: string;
  /** Exit codes that count as success (default [0]). */
  okExitCodes?: readonly number[];
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

const tail = (text: string, lines = 12): string => text.trim().split("\n").slice(-lines).join("\n");

/** How a command ended, as execa says it: exit code or signal, its output, what went wrong underneath. */
export interface ExecFailure {
  argv: readonly string[];
  exitCode: number | undefined;
  signal?: string | undefined;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved, for the message. */
  all?: string;
  timedOut?: boolean;
  /** Why, in a few words: "failed with exit code 100", "timed out after 900000ms", "killed by SIGKILL". */
  reason: string;
  cause?: unknown;
}

/** A command that failed: what ran, how it ended (exit code or signal), what it said, and the cause underneath (execa's shape). */
export class ExecError extends Error {
  readonly argv: readonly string[];
  /** The command line as one string, for messages (never run through a shell). */
  readonly command: string;
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly reason: string;

  constructor(failure: ExecFailure) {
    const output = tail(failure.all || `${failure.stdout}\n${failure.stderr}`, 15);
    super(`${failure.reason}: ${failure.argv.join(" ")}${output ? `\n${output}` : ""}`, { cause: failure.cause });
    this.name = "ExecError";
    this.argv = failure.argv;
    this.command = failure.argv.join(" ");
    this.exitCode = failure.exitCode;
    this.signal = failure.signal;
    this.stdout = failure.stdout;
    this.stderr = failure.stderr;
    this.timedOut = failure.timedOut ?? false;
    this.reason = failure.reason;
  }
}

export type Exec = (file: string, args: readonly string[], options?: ExecOptions) => Promise<ExecResult>;

/**
 * Runs a program with an argv array, a timeout and logging; throws ExecError unless the exit code is ok.
 * `prefix` (e.g. ["chroot", "/host"]) is put before every command: how the container image acts on its host.
 */
export function createExec(logger: Logger, defaults: { timeoutMs: number; prefix?: readonly string[] } = { timeoutMs: 120_000 }): Exec {
  const prefix = defaults.prefix ?? [];
  return async (file, args, options = {}) => {
    const argv = [...prefix, file, ...args];
    const started = Date.now();
    const timeoutMs = options.timeoutMs ?? defaults.timeoutMs;
    const raw = await spawnRaw(argv[0]!, argv.slice(1), { timeoutMs, env: options.env ?? {}, cwd: options.cwd, input: options.input });
    const durationMs = Date.now() - started;
    const ok = raw.exitCode !== undefined && (options.okExitCodes ?? [0]).includes(raw.exitCode);
    logger.debug({ argv, exitCode: raw.exitCode, durationMs }, "command finished");
    if (ok) return { stdout: raw.stdout, stderr: raw.stderr, exitCode: raw.exitCode! };
    const reason = raw.failedToStart
      ? `could not start (${raw.failedToStart})`
      : raw.timedOut
        ? `timed out after ${timeoutMs}ms`
        : raw.signal
          ? `killed by ${raw.signal}`
          : `failed with exit code ${raw.exitCode}`;
    throw new ExecError({ argv, exitCode: raw.exitCode, signal: raw.signal, stdout: raw.stdout, stderr: raw.stderr, all: raw.all, timedOut: raw.timedOut, reason, cause: raw.cause });
  };
}
