import { createRequire } from "node:module";
import { pino, type Logger } from "pino";

/**
 * Logs go to stderr (journald under systemd), JSON unless stderr is a terminal. A fixed message plus
 * fields; errors under `err`; webhook URLs redacted (they carry tokens).
 */
export function createLogger(level: string, tty = process.stderr.isTTY === true): Logger {
  const options = {
    level,
    base: { name: "docker-live-upgrade" },
    redact: { paths: ["webhook", "*.webhook", "notify[*].webhook", "url", "*.url"], censor: "[redacted]" },
  };
  if (tty) {
    // loaded only for a terminal: the daemon under systemd never pays for it
    const pretty = createRequire(import.meta.url)("pino-pretty") as typeof import("pino-pretty");
    return pino(options, pretty({ destination: 2, colorize: true, ignore: "pid,hostname,name", sync: true }));
  }
  return pino(options, pino.destination({ dest: 2, sync: true }));
}
