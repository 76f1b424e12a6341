#!/usr/bin/env node
import { daemonArgs, superviseDaemon } from "../daemon/supervisor.js";
import { WORKER_ENV } from "../daemon/protocol.js";

// The resident daemon loads only its scheduler; everything else (and its worker) the full command line.
const daemon = process.env[WORKER_ENV] ? null : daemonArgs(process.argv.slice(2));
if (daemon) {
  process.exitCode = await superviseDaemon(process.argv[1]!, daemon.config);
} else {
  const { main } = await import("./program.js");
  process.exitCode = await main(process.argv);
  // a daemon's worker that ends (an invalid config too) lets go of its channel, or it would stay
  if (process.connected) process.disconnect();
}
