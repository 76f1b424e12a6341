import type { RunReport } from "../../report/report.js";
import { recoverRun } from "../../upgrade/recover.js";
import { EXIT } from "../../report/exit-codes.js";
import { emptyReport, newRunId } from "../../report/skeleton.js";
import { describeHost } from "../../upgrade/host-state.js";
import type { World } from "../../upgrade/ports.js";
import { withLock } from "./run-locked.js";
import { waitReady } from "../../upgrade/daemon-cycle.js";

/** `recover`: finish or undo the journaled run; with no journal, make sure dockerd is up and say so. */
export async function recoverCommand(world: World): Promise<RunReport> {
  return withLock(world, "recover", async () => {
    const journal = await world.state.readJournal();
    if (journal) {
      const report = await recoverRun(world, journal);
      await world.state.writeReport(report);
      return report;
    }
    const now = world.clock.now();
    const report = emptyReport(newRunId(now), "recover", now, false);
    report.recovery = { found: "no unfinished run", actions: [] };
    const up = await world.docker.ping(2_000).then(() => true, () => false);
    if (!up) {
      report.recovery.actions.push("start-daemon");
      await world.service.start({ restartContainerd: false }).catch((err: unknown) => world.logger.error({ err }, "could not start dockerd"));
      await waitReady(world.docker, world.config.docker.readyTimeout, world.clock.now).catch(() => undefined);
    }
    const host = await describeHost(world, false);
    report.hostState = host.text;
    const healthy = host.daemonUp && host.packagesConsistent;
    report.outcome = healthy ? "up-to-date" : "failed";
    report.exitCode = healthy ? EXIT.ok : EXIT.failed;
    report.finishedAt = new Date(world.clock.now()).toISOString();
    return report;
  });
}
