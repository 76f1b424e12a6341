import { resolve } from "node:path";
import type { Command } from "commander";
import { Option } from "commander";
import type { CheckpointDeps } from "../../checkpoint/ops.js";
import { EXIT } from "../../report/exit-codes.js";
import type { World } from "../../upgrade/world.js";

// loaded when a checkpoint command runs: the daemon and the other commands never carry them
const ops = () => import("../../checkpoint/ops.js");
const printResult = async (json: boolean, value: unknown, human: string) => (await import("../output.js")).printResult(json, value, human);

interface Common {
  config?: string;
  json?: boolean;
}

type Setup = (opts: Common) => Promise<{ world: World }>;

const mib = (n: number | null) => (n === null ? "?" : `${(n / 1024 / 1024).toFixed(1)} MiB`);

function depsOf(world: World): CheckpointDeps {
  if (!world.checkpoints) throw new Error("this world has no checkpoint adapter");
  return { docker: world.docker, checkpoints: world.checkpoints, clock: world.clock };
}

/** The engine's socket not answering: no socket, nobody listening, or a call past its deadline. */
function unreachable(err: unknown): boolean {
  const e = err as { name?: string; code?: string; syscall?: string };
  return e.name === "AbortError" || e.name === "TimeoutError" || (e.syscall === "connect" && ["ENOENT", "ECONNREFUSED", "EACCES"].includes(e.code ?? ""));
}

/**
 * Runs one checkpoint command: bad arguments exit 2, refusals 3, failures 1, each with its message
 * (on stdout too with --json). SIGINT, SIGTERM and SIGHUP (an ssh session gone) do not cut it short:
 * it finishes, its undo included (a container stopped by an export is restored, a half-made import
 * removed), then exits 130 (143 for SIGTERM, 129 for SIGHUP) unless it failed. A second signal ends it
 * at once, saying what may be left.
 */
async function run(setExit: (code: number) => void, setup: Setup, opts: Common, fn: (world: World) => Promise<void>): Promise<void> {
  const { CheckpointFailed, CheckpointRefused, CheckpointUsage } = await ops();
  let signalled: NodeJS.Signals | null = null;
  const onSignal = (s: NodeJS.Signals) => {
    if (signalled) {
      process.stderr.write(`docker-live-upgrade: ${s} again: ending now; a container this command stopped may stay stopped (docker-live-upgrade checkpoint list, docker ps -a)\n`);
      process.exit(128 + (s === "SIGTERM" ? 15 : s === "SIGHUP" ? 1 : 2));
    }
    process.stderr.write(`docker-live-upgrade: ${s}: finishing this checkpoint command first (it leaves nothing half done); ${s} again ends it at once\n`);
    signalled = s;
  };
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  for (const s of signals) process.on(s, onSignal);
  let socket = "its socket";
  let failed = false;
  try {
    const { world } = await setup(opts);
    socket = world.config.docker.socket;
    await fn(world);
  } catch (err) {
    const known = err instanceof CheckpointRefused || err instanceof CheckpointFailed || err instanceof CheckpointUsage;
    if (!known && !unreachable(err)) throw err;
    failed = true;
    const message = known ? err.message : `the Docker API at ${socket} does not answer (${(err as Error).message}): is dockerd running? (systemctl status docker)`;
    process.stderr.write(`docker-live-upgrade: ${message}\n`);
    if (opts.json) process.stdout.write(`${JSON.stringify({ error: { message, kind: err instanceof Error ? err.name : "Error" } }, null, 2)}\n`);
    setExit(err instanceof CheckpointUsage ? EXIT.usage : err instanceof CheckpointRefused ? EXIT.refused : EXIT.failed);
  } finally {
    for (const s of signals) process.off(s, onSignal);
    const s = signalled as NodeJS.Signals | null;
    if (s && !failed) setExit(128 + (s === "SIGTERM" ? 15 : s === "SIGHUP" ? 1 : 2));
  }
}

/** `checkpoint ...`: CRIU checkpoints through the engine (experimental), proven on the host by `check`. */
export function registerCheckpoint(program: Command, setup: Setup, setExit: (code: number) => void): void {
  const configOpt = () => new Option("-c, --config <file>", "config file (YAML)");
  const jsonOpt = () => new Option("--json", "print the result as JSON on stdout");
  const cp = program
    .command("checkpoint")
    .description("checkpoints of containers with CRIU: keep a container's state (memory, processes) across a stop, or move it to another host")
    .addHelpText(
      "after",
      "\nCheckpoints need CRIU (4.1 or newer; 4.2 for TCP sockets on kernels since 6.16) and the engine in\n" +
        'experimental mode ("experimental": true in daemon.json). `checkpoint check` proves both on this host.\n' +
        "Names this tool gives (dlu-<UTC time>) are the ones `prune` and periodic checkpoints manage.",
    );

  cp.command("check")
    .description("whether checkpoints work here: criu and `criu check`, experimental mode, then a throwaway container checkpointed and restored (exit 0 works, 3 not, each failing part with its fix)")
    .option("--image <image>", "the image of the throwaway container (any local image with /bin/sh)")
    .addOption(configOpt())
    .addOption(jsonOpt())
    .action((opts: Common & { image?: string }) =>
      run(setExit, setup, opts, async (world) => {
        const { checkpointCheck, formatCheck } = await import("../../checkpoint/check.js");
        const r = await checkpointCheck(depsOf(world), { image: opts.image ?? null });
        await printResult(opts.json === true, r, formatCheck(r));
        setExit(r.ok ? EXIT.ok : EXIT.refused);
      }),
    );

  cp.command("create")
    .argument("<container>", "name or ID")
    .description("checkpoint a running container; it stops there unless --leave-running (refused for a container whose restart policy would start it again fresh)")
    .option("--name <id>", "the checkpoint's name (default dlu-<UTC time>)")
    .option("--leave-running", "keep the container running after the checkpoint")
    .addOption(configOpt())
    .addOption(jsonOpt())
    .action((ref: string, opts: Common & { name?: string; leaveRunning?: boolean }) =>
      run(setExit, setup, opts, async (world) => {
        const r = await (await ops()).createCheckpoint(depsOf(world), ref, { name: opts.name, leaveRunning: opts.leaveRunning === true });
        await printResult(opts.json === true, r, `${r.container}: checkpoint ${r.checkpoint} in ${r.ms} ms; ${r.leftRunning ? "it runs on" : "stopped there (checkpoint restore resumes it)"}`);
      }),
    );

  cp.command("restore")
    .argument("<container>", "name or ID (stopped)")
    .description("resume a stopped container from its newest checkpoint, or --name")
    .option("--name <id>", "the checkpoint to resume from")
    .addOption(configOpt())
    .addOption(jsonOpt())
    .action((ref: string, opts: Common & { name?: string }) =>
      run(setExit, setup, opts, async (world) => {
        const r = await (await ops()).restoreCheckpoint(depsOf(world), ref, { name: opts.name });
        await printResult(opts.json === true, r, `${r.container}: resumed from ${r.checkpoint} in ${r.ms} ms${r.attempts > 1 ? ` (${r.attempts} tries)` : ""}`);
      }),
    );

  cp.command("list")
    .argument("[container]", "name or ID; default every container with checkpoints")
    .description("checkpoints, newest first, with their time and size")
    .addOption(configOpt())
    .addOption(jsonOpt())
    .action((ref: string | undefined, opts: Common) =>
      run(setExit, setup, opts, async (world) => {
        const r = await (await ops()).listCheckpoints(depsOf(world), ref);
        const text = r.length
          ? r.map((l) => [`${l.container}:`, ...(l.checkpoints.length ? l.checkpoints.map((e) => `  ${e.name}  ${e.createdAt ?? "?"}  ${mib(e.bytes)}`) : ["  (none)"])].join("\n")).join("\n")
          : "no checkpoints";
        await printResult(opts.json === true, r, text);
      }),
    );

  cp.command("prune")
    .argument("[container]", "name or ID; default every container")
    .description("keep each container's newest N automatic checkpoints (dlu-...); checkpoints you named are never removed")
    .requiredOption("--keep <n>", "how many to keep")
    .addOption(configOpt())
    .addOption(jsonOpt())
    .action((ref: string | undefined, opts: Common & { keep: string }) =>
      run(setExit, setup, opts, async (world) => {
        const keep = Number(opts.keep);
        if (!Number.isInteger(keep) || keep < 0) throw new (await ops()).CheckpointUsage(`--keep must be a whole number, 0 or more, not ${opts.keep}`);
        const r = await (await ops()).pruneCheckpoints(depsOf(world), ref, keep);
        await printResult(opts.json === true, r, r.map((x) => `${x.container}: ${x.removed.length ? `removed ${x.removed.join(", ")}` : "nothing to remove"}`).join("\n") || "no checkpoints");
      }),
    );

  cp.command("export")
    .argument("<container>", "name or ID")
    .description("the container's checkpoint and definition in one file, for `checkpoint import` on another host; a new checkpoint stops it here unless --leave-running (on failure it is restored here)")
    .requiredOption("--out <file>", "the file to write (gzip'd tar)")
    .option("--name <id>", "export this existing checkpoint instead of making one")
    .option("--leave-running", "keep the container running here (the export is a copy, not a move)")
    .addOption(configOpt())
    .addOption(jsonOpt())
    .action((ref: string, opts: Common & { out: string; name?: string; leaveRunning?: boolean }) =>
      run(setExit, setup, opts, async (world) => {
        const deps = depsOf(world);
        const [engine, facts] = await Promise.all([world.docker.version(), world.checkpoints!.criu()]);
        const r = await (await ops()).exportContainer(deps, ref, { out: resolve(opts.out), name: opts.name, leaveRunning: opts.leaveRunning === true, engine: engine.version, criu: facts.version });
        const lines = [
          `${r.container}: checkpoint ${r.checkpoint} exported to ${r.file} (${mib(r.bytes)}); here it is ${r.source}`,
          ...(r.notCarried.length ? ["not carried (their content is yours to move):", ...r.notCarried.map((m) => `  ${m}`)] : []),
          `on the other host: docker-live-upgrade checkpoint import ${r.file} --start`,
        ];
        if (!r.source.startsWith("running")) {
          lines.push(`if that fails, resume it here: docker-live-upgrade checkpoint restore ${r.container} --name ${r.checkpoint}${r.policyWas ? `, then docker update --restart ${r.policyWas} ${r.container}` : ""}`);
        }
        await printResult(opts.json === true, r, lines.join("\n"));
      }),
    );

  cp.command("import")
    .argument("<file>", "a file written by `checkpoint export`")
    .description("create the exported container here (the same image must be here) with its checkpoint; --start resumes it from there")
    .option("--start", "resume it from the checkpoint now")
    .option("--rename <name>", "create it under another name")
    .option("--allow-host-access", "create it even though it reaches into the host (privileged, host namespaces, bind mounts, devices, added capabilities): only for an export from a host you trust")
    .addOption(configOpt())
    .addOption(jsonOpt())
    .action((file: string, opts: Common & { start?: boolean; rename?: string; allowHostAccess?: boolean }) =>
      run(setExit, setup, opts, async (world) => {
        const r = await (await ops()).importContainer(depsOf(world), resolve(file), { start: opts.start === true, rename: opts.rename, allowHostAccess: opts.allowHostAccess === true });
        const lines = [`${r.container} (${r.id.slice(0, 12)}) created with checkpoint ${r.checkpoint}; ${r.started ? `resumed from it${r.attempts > 1 ? ` (${r.attempts} tries)` : ""}` : `not started (docker-live-upgrade checkpoint restore ${r.container})`}`];
        if (r.notCarried.length) lines.push("not carried (their content is yours to move):", ...r.notCarried.map((m) => `  ${m}`));
        await printResult(opts.json === true, r, lines.join("\n"));
      }),
    );
}
