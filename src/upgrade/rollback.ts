import { installHeld } from "./install.js";
import { errorMessage } from "./steps.js";
import type { CheckResult } from "../report/report.js";
import { transition, type RunContext } from "./context.js";
import { restartDaemon } from "./daemon-cycle.js";
import type { ContainerDiff } from "./diff.js";
import { settleContainers } from "./verify.js";

export interface RollbackResult {
  ok: boolean;
  checks: CheckResult[];
  containers: ContainerDiff | null;
  error: string | null;
}


/**
 * Puts the recorded previous versions back from the packages downloaded before the stop (no network
 * needed), then makes sure the previous build is the one running, and compares the containers again.
 */
export async function rollback(ctx: RunContext, why: string): Promise<RollbackResult> {
  const { world, journal } = ctx;
  world.logger.warn({ why }, "rolling back");
  const checks: CheckResult[] = [];
  await transition(ctx, "rolling-back");
  try {
    await ctx.steps.run("rollback-repair", () => world.packages.repair()).catch((err: unknown) => {
      world.logger.warn({ err }, "dpkg --configure -a failed; reinstalling the previous versions anyway");
    });
    await ctx.steps.run("rollback-install", () =>
      installHeld(world, journal.previous, { from: journal.rollbackDir, allowDowngrades: true, reinstall: true }),
    );
    await transition(ctx, "installed");
    await world.service.reload().catch(() => undefined);
    // Staged and interrupted before the stop: the old build never stopped running; nothing to restart.
    // A new build that hangs or crash-loops is stopped first: stop is idempotent, a plain start might not replace it.
    if (ctx.everStopped) await restartDaemon(ctx, journal.restartContainerd);
    const containers = await settleContainers(world, journal.snapshot, world.config.upgrade.settle);
    checks.push({
      name: "rollback",
      ok: true,
      message: `previous versions back: ${journal.previous.map((p) => `${p.name} ${p.version}`).join(", ")}`,
      level: "error",
    });
    return { ok: true, checks, containers, error: null };
  } catch (err) {
    checks.push({ name: "rollback", ok: false, message: `rollback failed: ${errorMessage(err)}`, level: "error" });
    return { ok: false, checks, containers: null, error: errorMessage(err) };
  }
}
