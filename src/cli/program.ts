import { Command, CommanderError, Option } from "commander";
import type { Logger } from "pino";
import { ConfigError, configOf, loadConfig } from "../config/load.js";
import type { ConfigSource } from "../config/source.js";
import type { Config } from "../config/schema.js";
import { createLogger } from "../logging/logger.js";
import { EXIT } from "../report/exit-codes.js";
import type { World } from "../upgrade/world.js";
import { createWorld } from "./world.js";
import { UnsupportedHostError } from "./detect.js";
import { LockedError } from "../upgrade/lock.js";
import { FleetNotConfiguredError, formatFleet, requireFleet } from "./commands/fleet.js";
import { FleetRefusedError } from "../ports/fleet.js";
import { WORKER_ENV } from "../daemon/protocol.js";
import { registerCheckpoint } from "./commands/checkpoint.js";

interface Common {
  config?: string;
  json?: boolean;
}

// Each command loads what it uses when it runs: the daemon waiting for its window carries no report
// formatter and no upgrade machinery, a dry run no metrics server.
const output = () => import("./output.js");

async function setup(opts: Common, source?: ConfigSource): Promise<{ config: Config; world: World; logger: Logger }> {
  const { config } = source ? configOf(source) : await loadConfig({ flag: opts.config });
  const logger = createLogger(config.log.level);
  const world = await createWorld(config, logger);
  opened.add(world);
  return { config, world, logger };
}

/** Worlds of this process: their fleet clients hold connections open, closed when the command ends (or the daemon reloads). */
const opened = new Set<World>();
async function closeWorld(world: World): Promise<void> {
  opened.delete(world);
  await world.fleet?.close().catch(() => undefined);
}
async function closeAll(): Promise<void> {
  await Promise.all([...opened].map(closeWorld));
}

const EPILOG = `
Exit codes: 0 upgraded / would upgrade / up to date; 1 attempted and failed (see the report: rolled back
or not); 2 bad usage or invalid config; 3 refused by a safety check, nothing touched; 4 another run holds
the lock. Config: --config FILE, else $DOCKER_LIVE_UPGRADE_CONFIG, else /etc/docker-live-upgrade/config.yaml.`;

export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command("docker-live-upgrade")
    .description("Upgrade Docker Engine to the latest patch release of its MAJOR.MINOR without stopping containers (live restore).")
    .version("0.1.0")
    .showHelpAfterError()
    .exitOverride()
    .addHelpText("after", EPILOG);

  const configOpt = () => new Option("-c, --config <file>", "config file (YAML)");
  const jsonOpt = () => new Option("--json", "print the result as JSON on stdout (logs stay on stderr)");

  const upgrade = async (opts: Common & { dryRun?: boolean; to?: string; allowRestart?: boolean }) => {
    const { world } = await setup(opts);
    const { sessionCommand } = await import("./commands/upgrade.js");
    const { printReport, printResult } = await output();
    const reports = await sessionCommand(world, { command: "upgrade", dryRun: opts.dryRun === true, to: opts.to, allowRestart: opts.allowRestart === true });
    const last = reports.at(-1)!;
    if (opts.json) printResult(true, reports.length === 1 ? last : reports, "");
    else for (const r of reports) printReport(false, r);
    setExit(last.exitCode);
  };

  program
    .command("upgrade")
    .description("one live upgrade now: preflight, snapshot, download, install, restart, verify, report")
    .option("-n, --dry-run", "everything up to the stop, read-only: versions, plan, checks, snapshot")
    .option("--to <version>", "target this version: exact (5:24.0.9-1~debian.12~bookworm) or upstream (24.0.9)")
    .option("--allow-restart", "a MAJOR.MINOR jump (which live restore cannot carry) by planned container restarts, for this run")
    .addOption(configOpt())
    .addOption(jsonOpt())
    .addHelpText(
      "after",
      "\nPatch releases of the installed MAJOR.MINOR: live restore keeps every container running.\n" +
        "A MAJOR.MINOR jump is refused (exit 3) unless --allow-restart (or upgrade.beyondPatch: restart):\n" +
        "then the containers that run are stopped (their own stop timeouts, compose dependents first), the\n" +
        "packages upgraded, and the containers started again in order, each waited for and checked against\n" +
        "its recorded configuration; on failure the previous versions come back and the containers with them.",
    )
    .action(upgrade);

  program
    .command("plan")
    .description("alias of `upgrade --dry-run`")
    .option("--to <version>", "target this version instead of the newest patch release")
    .option("--allow-restart", "plan a MAJOR.MINOR jump by planned container restarts")
    .addOption(configOpt())
    .addOption(jsonOpt())
    .action((opts: Common & { to?: string; allowRestart?: boolean }) => upgrade({ ...opts, dryRun: true }));

  program
    .command("recover")
    .description("finish or undo an interrupted run from its journal; never leaves dockerd stopped")
    .addOption(configOpt())
    .addOption(jsonOpt())
    .action(async (opts: Common) => {
      const { world } = await setup(opts);
      const { sessionCommand } = await import("./commands/upgrade.js");
      const { printReport } = await output();
      // a fleet halt is lifted only by the recovery of the very run that was lost (see docs/fleets.md)
      const report = (await sessionCommand(world, { command: "recover" })).at(-1)!;
      printReport(opts.json === true, report);
      setExit(report.exitCode);
    });

  program
    .command("daemon")
    .description("stay running and upgrade inside the configured maintenance windows (schedule.windows)")
    .addOption(configOpt())
    .action(async (opts: Common) => {
      const { daemonCommand, workerLink } = await import("./commands/daemon.js");
      // the resident daemon (src/daemon/supervisor.ts) runs this as its worker, the config handed over
      const link = process.env[WORKER_ENV] && process.send ? await workerLink() : null;
      setExit(await daemonCommand((source) => setup(opts, source ?? undefined), closeWorld, link));
    });

  program
    .command("status")
    .description("installed and target versions, last run, next window, lock holder")
    .addOption(configOpt())
    .addOption(jsonOpt())
    .action(async (opts: Common) => {
      const { world } = await setup(opts);
      const { formatStatus, statusCommand } = await import("./commands/status.js");
      const { printResult } = await output();
      const s = await statusCommand(world);
      printResult(opts.json === true, s, formatStatus(s));
    });

  program
    .command("history")
    .description("past runs, newest first, from the state directory")
    .option("--limit <n>", "how many runs", "20")
    .addOption(configOpt())
    .addOption(jsonOpt())
    .action(async (opts: Common & { limit: string }) => {
      const { world } = await setup(opts);
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a positive whole number, not ${opts.limit}`);
      const reports = await world.state.reports(limit);
      const { formatHistory } = await import("./commands/history.js");
      const { printResult } = await output();
      printResult(opts.json === true, reports, formatHistory(reports));
    });

  const fleet = program.command("fleet").description("the fleet group this host belongs to (fleet: in the config)");
  fleet
    .command("status")
    .description("slots, holders (run, since, lease alive), halt (who, why), rollouts (release, batches, who soaks until when), hosts with their versions, stale hosts")
    .addOption(configOpt())
    .addOption(jsonOpt())
    .action(async (opts: Common) => {
      const { world } = await setup(opts);
      const s = await requireFleet(world.fleet).status();
      const { printResult } = await output();
      printResult(opts.json === true, s, formatFleet(s));
    });
  fleet
    .command("clear")
    .argument("<host>", "the host whose halt (and any slot it still holds) to clear")
    .description("clear a host's halt once it is fixed: the group grants slots again (refused while the host holds a slot with its lease alive)")
    .option("--force", "free the slot of a host whose lease is still alive (only when you know its run is gone)")
    .addOption(configOpt())
    .action(async (host: string, opts: Common & { force?: boolean }) => {
      const { world } = await setup(opts);
      await requireFleet(world.fleet).clear(host, opts.force === true);
      await world.notifier.notify("fleet-clear", { id: `fleet-clear-${host}`, hostState: `the halt of ${host} was cleared in fleet group ${world.config.fleet?.group ?? "?"}` });
      process.stdout.write(`fleet: cleared ${host}\n`);
    });
  fleet
    .command("forget")
    .argument("<host>", "the retired or renamed host to drop")
    .description("drop a retired host from the group's records and rollouts, so that it no longer holds a rollout back (refused while it holds a slot or halts the group)")
    .addOption(configOpt())
    .action(async (host: string, opts: Common) => {
      const { world } = await setup(opts);
      await requireFleet(world.fleet).forget(host);
      process.stdout.write(`fleet: forgot ${host}\n`);
    });
  for (const [name, paused] of [["pause", true], ["resume", false]] as const) {
    fleet
      .command(name)
      .description(paused ? "grant no more slots (runs in progress go on)" : "grant slots again")
      .addOption(configOpt())
      .action(async (opts: Common) => {
        const { world } = await setup(opts);
        await requireFleet(world.fleet).setPaused(paused);
        process.stdout.write(`fleet: ${paused ? "paused" : "resumed"}\n`);
      });
  }

  registerCheckpoint(program, setup, setExit);

  return program;
}

class UsageError extends Error {}

export async function main(argv: string[]): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram((c) => (code = c));
  try {
    await program.parseAsync(argv);
    return code;
  } catch (err) {
    if (err instanceof FleetNotConfiguredError) {
      process.stderr.write(`docker-live-upgrade: ${err.message}\n`);
      return EXIT.usage;
    }
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (err instanceof ConfigError || err instanceof UsageError || err instanceof UnsupportedHostError) {
      process.stderr.write(`docker-live-upgrade: ${err.message}\n`);
      return EXIT.usage;
    }
    if (err instanceof LockedError) {
      process.stderr.write(`docker-live-upgrade: ${err.message}\n`);
      return EXIT.locked;
    }
    if (err instanceof FleetRefusedError) {
      process.stderr.write(`docker-live-upgrade: ${err.message}\n`);
      return EXIT.refused;
    }
    // the coordination service away or answering no: its message says which and where
    if (err instanceof Error && (err.name === "FleetUnavailableError" || err.name === "FleetLockError")) {
      process.stderr.write(`docker-live-upgrade: ${err.message}\n`);
      return EXIT.failed;
    }
    process.stderr.write(`docker-live-upgrade: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return EXIT.failed;
  } finally {
    await closeAll();
  }
}


