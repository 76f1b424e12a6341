import type { RunReport } from "../../report/report.js";
import { runSession } from "../../upgrade/session.js";
import type { World } from "../../upgrade/world.js";
import { processSignals } from "../signals.js";

/** `upgrade`, `plan` and `recover` as the command line runs them: one session, signals routed to it. */
export function sessionCommand(world: World, request: Parameters<typeof runSession>[1]): Promise<RunReport[]> {
  return runSession(world, request, processSignals);
}
