import { pino, type Logger } from "pino";
import pretty from "pino-pretty";

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
  if (tty) return pino(options, pretty({ destination: 2, colorize: true, ignore: "pid,hostname,name", sync: true }));
  return pino(options, pino.destination({ dest: 2, sync: true }));
}
