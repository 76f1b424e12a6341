// The benchmarks, on the sandbox engine (scripts/sandbox.sh up first; as root) and on a machine with
// systemd as PID 1 (scripts/machine.sh base first).
//   node bench/run.mjs [downtime] [window] [snapshot] [dryrun] [machine] [machine-rpm] [fleet] [jump]   (default: all eight)
// Environment: ROUNDS (default 5; window: 15; jump: 2), SIZES (snapshot, default 50,150,300), WINDOW_SIZES (default 5,100,300),
// JUMP_CONTAINERS (default 10; jump needs scripts/machine.sh base-trixie).
import { runDowntime } from "./downtime.mjs";
import { removeBenchContainers, runSnapshot } from "./snapshot.mjs";
import { runDryRun } from "./dryrun.mjs";
import { runMachine } from "./machine.mjs";
import { runFleet } from "./fleet.mjs";
import { runWindow } from "./window.mjs";
import { runJump } from "./jump.mjs";
import { sandbox } from "./lib.mjs";

const which = process.argv.slice(2);
const all = which.length === 0;
await sandbox("up");
const out = [];
try {
  if (all || which.includes("downtime")) out.push(await runDowntime());
  if (all || which.includes("window")) out.push(await runWindow());
  if (all || which.includes("dryrun")) out.push(await runDryRun());
  if (all || which.includes("snapshot")) out.push(await runSnapshot());
  if (all || which.includes("machine")) out.push(await runMachine());
  if (all || which.includes("machine-rpm")) out.push(await runMachine("rpm"));
  if (all || which.includes("fleet")) out.push(await runFleet());
  if (all || which.includes("jump")) out.push(await runJump());
} finally {
  await removeBenchContainers().catch((err) => console.error(`bench: cleanup failed: ${err.shortMessage ?? err.message}`));
  // each run upgrades the sandbox's docker.io through new patch releases, and a repacked release keeps
  // its build's version text at the same length (up to 20.10.99): the next run starts from the original
  await sandbox("down").catch((err) => console.error(`bench: sandbox down failed: ${err.shortMessage ?? err.message}`));
}
console.log(out.join("\n\n"));
