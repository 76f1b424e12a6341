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

/** A command that failed: what ran, how it ended, and what it said. */
export class ExecError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number | undefined,
    readonly stdout: string,
    readonly stderr: string,
    readonly reason: string,
    all = "",
  ) {
    const output = tail(all || `${stdout}\n${stderr}`, 15);
    super(`${reason}: ${argv.join(" ")}${output ? `\n${output}` : ""}`);
    this.name = "ExecError";
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
    const raw = await spawnRaw(argv[0]!, argv.slice(1), {
      timeoutMs: options.timeoutMs ?? defaults.timeoutMs,
      env: options.env ?? {},
      cwd: options.cwd,
      input: options.input,
    });
    const durationMs = Date.now() - started;
    const ok = raw.exitCode !== undefined && (options.okExitCodes ?? [0]).includes(raw.exitCode);
    logger.debug({ argv, exitCode: raw.exitCode, durationMs }, "command finished");
    if (ok) return { stdout: raw.stdout, stderr: raw.stderr, exitCode: raw.exitCode! };
    const reason = raw.failedToStart
      ? `could not start (${raw.failedToStart})`
      : raw.timedOut
        ? `timed out after ${options.timeoutMs ?? defaults.timeoutMs}ms`
        : raw.signal
          ? `killed by ${raw.signal}`
          : `failed with exit code ${raw.exitCode}`;
    throw new ExecError(argv, raw.exitCode, raw.stdout, raw.stderr, reason, raw.all);
  };
}
