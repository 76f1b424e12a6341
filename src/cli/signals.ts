import type { SignalSource } from "../upgrade/session.js";

/** SIGINT and SIGTERM of this process, for a session (which decides what a signal means at each point). */
export const processSignals: SignalSource = (handler) => {
  const on = (signal: NodeJS.Signals) => handler(signal);
  process.on("SIGINT", on);
  process.on("SIGTERM", on);
  return () => {
    process.off("SIGINT", on);
    process.off("SIGTERM", on);
  };
};
