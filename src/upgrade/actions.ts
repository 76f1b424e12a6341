import type { PackageSet } from "../ports/journal.js";
import type { CheckResult } from "../report/report.js";
import { roleOf } from "../plan/roles.js";
import { releaseOf } from "../versions/scheme.js";
import { enter, type MachineContext } from "./context.js";
import { restartDaemon, startDaemon, stopDaemon } from "./daemon-cycle.js";
import { heldServices, installHeld } from "./install.js";
import { packagesOf, turnBack, type Step } from "./machine.js";
import { observe } from "./observe.js";
import { StepError } from "./steps.js";
import { diffFor, settleContainers, verifyAfterStart } from "./verify.js";
import { startContainers, stopContainers } from "./containers.js";

export const runNames = (ctx: MachineContext): string[] => [...new Set([...ctx.journal.target, ...ctx.journal.previous].map((t) => t.name))];

/** Lifts the holds the run found on the packages it is about to install (journaled at the commit point, put back at the end). */
async function liftHolds(ctx: MachineContext, names: readonly string[]): Promise<void> {
  const lift = ctx.journal.holds.before.filter((n) => names.includes(n));
  if (!lift.length) return;
  await ctx.steps.run("lift-holds", async () => {
    const held = await ctx.world.packages.held(lift);
    if (held.length) await ctx.world.packages.setHold(held, false);
  });
}

/** 23.0 and later: the new dockerd must accept the daemon's configuration (staged: before the old one stops). */
async function validateConfig(ctx: MachineContext): Promise<void> {
  const { world, journal: j } = ctx;
  const engine = j.target.find((t) => roleOf(t.name) === "engine");
  const rel = engine ? releaseOf(world.packages.scheme.upstream(engine.version)) : null;
  if (!rel || rel.major < 23) return;
  const file = world.config.docker.configFile;
  const v = await ctx.steps.run("validate-config", () => world.host.validateDaemonConfig(file));
  if (!v) return;
  ctx.report.checks.push({ name: "daemon-config", ok: v.ok, message: `${file}: ${v.message}`, level: "error" });
  if (!v.ok) throw new StepError("validate-config", new Error(`the new dockerd rejects ${file}: ${v.message}`));
}

async function install(ctx: MachineContext, set: PackageSet): Promise<void> {
  const { world, journal: j } = ctx;
  ctx.tried.install[set]++;
  const targets = packagesOf(j, set);
  await enter(ctx, "installing");
  ctx.acted = true;
  await liftHolds(ctx, targets.map((t) => t.name));
  await ctx.steps.run(set === "target" ? "install" : "rollback-install", () =>
    // back: a reinstall, which also repairs a half-installed package
    installHeld(world, targets, { from: set === "target" ? j.targetDir : j.rollbackDir, allowDowngrades: set === "previous", reinstall: set === "previous" }),
  );
  const installed = { ...ctx.view.installed };
  for (const t of targets) installed[t.name] = { name: t.name, version: t.version, status: "ii", ok: true };
  // a running dockerd keeps its old binary: the installed file is another one now
  const replaced = ctx.view.daemonUp && targets.some((t) => roleOf(t.name) === "engine") ? true : ctx.view.binaryReplaced;
  ctx.view = { ...ctx.view, installed, consistent: true, binaryReplaced: replaced };
  await enter(ctx, "installed");
  await ctx.steps.run(set === "target" ? "reload" : "rollback-reload", () => world.service.reload());
  if (set === "target") await validateConfig(ctx);
}

async function repair(ctx: MachineContext): Promise<void> {
  ctx.tried.repair++;
  await enter(ctx, "repairing");
  ctx.acted = true;
  // dpkg --configure -a runs the package scripts: held like an install's, or they restart dockerd mid-run
  await ctx.steps.run("repair", () => heldServices(ctx.world, (env) => ctx.world.packages.repair(env)));
  ctx.view = await observe(ctx.world, runNames(ctx));
}

const hookChecks = (results: readonly { argv: string[]; ok: boolean; message: string }[]): CheckResult[] =>
  results.map((h) => ({ name: `hook:verify:${h.argv[0]}`, ok: h.ok, message: h.message, level: "error" }));

/** Forward, with the new build answering: versions, options, containers, verify hooks, probes. */
async function verify(ctx: MachineContext): Promise<void> {
  const { world, journal: j, report } = ctx;
  ctx.tried.verify++;
  const v = await ctx.steps.run("verify", () => verifyAfterStart(world, j, j.target));
  const checks = [...v.checks];
  report.containers = v.containers;
  report.engineVersion.after = v.engineVersion;
  checks.push(...hookChecks(await ctx.steps.run("hooks-verify", () => world.hooks.run("verify", ctx.facts))));
  const threshold = world.config.upgrade.rollbackOn.probeFailures;
  if (threshold !== null && ctx.probes.failures() > threshold) {
    checks.push({ name: "probes", ok: false, message: `${ctx.probes.failures()} probe failures (allowed ${threshold})`, level: "error" });
  }
  report.checks.push(...checks);
  const failed = checks.find((c) => !c.ok && c.level === "error");
  if (failed) throw new StepError("verify", new Error(`${failed.name}: ${failed.message}`));
  ctx.verified = true;
  // nothing on the host waits on this record (a recovery verifies a started run again): best effort
  await enter(ctx, "verified", { bestEffort: true });
}

/** Going back: the containers compared with the snapshot once the previous build answers. */
async function compare(ctx: MachineContext): Promise<void> {
  ctx.tried.compare++;
  ctx.report.containers = await ctx.steps.run("compare", () => settleContainers(ctx.world, ctx.journal.snapshot, ctx.world.config.upgrade.settle, diffFor(ctx.journal)));
}

async function restart(ctx: MachineContext): Promise<void> {
  ctx.tried.start++;
  await restartDaemon(ctx);
}

export async function perform(ctx: MachineContext, step: Step): Promise<void> {
  switch (step.kind) {
    case "repair":
      return repair(ctx);
    case "install":
      return install(ctx, step.set);
    case "stop":
      ctx.tried.stop++;
      return stopDaemon(ctx, { holdActivation: true });
    case "start":
      ctx.tried.start++;
      return startDaemon(ctx);
    case "restart":
      return restart(ctx);
    case "stop-containers":
      return stopContainers(ctx);
    case "start-containers":
      return startContainers(ctx);
    case "verify":
      return verify(ctx);
    case "compare":
      return compare(ctx);
    case "turn-back":
      turnBack(ctx.journal, ctx.tried);
      ctx.world.logger.warn({ why: step.why }, "recovery: going back to the previous versions");
      if (ctx.report.recovery) ctx.report.recovery.found += `; going back: ${step.why}`;
      return enter(ctx, ctx.journal.state);
    case "done":
      return;
  }
}
