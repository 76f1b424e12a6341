// The benchmarks, on the sandbox engine (scripts/sandbox.sh up first; as root).
//   node bench/run.mjs [downtime] [snapshot] [dryrun]     (default: all three)
// Environment: ROUNDS (default 5), SIZES (default 50,150,300).
import { runDowntime } from "./downtime.mjs";
import { removeBenchContainers, runSnapshot } from "./snapshot.mjs";
import { runDryRun } from "./dryrun.mjs";
import { sandbox } from "./lib.mjs";

const which = process.argv.slice(2);
const all = which.length === 0;
await sandbox("up");
const out = [];
try {
  if (all || which.includes("downtime")) out.push(await runDowntime());
  if (all || which.includes("dryrun")) out.push(await runDryRun());
  if (all || which.includes("snapshot")) out.push(await runSnapshot());
} finally {
  await removeBenchContainers().catch((err) => console.error(`bench: cleanup failed: ${err.shortMessage ?? err.message}`));
}
console.log(out.join("\n\n"));
