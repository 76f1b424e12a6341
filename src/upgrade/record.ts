import type { RunReport } from "../report/report.js";
import { errorMessage } from "./steps.js";
import type { World } from "./world.js";

const UNSAVED = "this report could not be saved";

/** Saves a report; a full disk or a broken state folder is said in the report (still printed), never thrown. */
export async function saveReport(world: World, report: RunReport): Promise<string | null> {
  try {
    return await world.state.writeReport(report);
  } catch (err) {
    world.logger.error({ err, id: report.id }, "could not save the report");
    if (!report.hostState.includes(UNSAVED)) report.hostState += `; ${UNSAVED} (${errorMessage(err)})`;
    return null;
  }
}
