// The daemon's resident memory as a user runs it: the shipped unit (systemd/docker-live-upgrade.service)
// on a systemd machine, the installed command, a config file. Against Node.js doing nothing (a
// transient unit, same machine, same moments):
//   waiting   the daemon started with no window open: 5 s and 20 s after its start
//   after     a window opened (config reloaded): its worker upgrades the host to `release` and ends;
//             the same resident process MEMORY_AFTER seconds after the run (default 10,60)
// Reads VmRSS of each unit's main process; "workers" counts the daemon's child processes.
import { setTimeout as sleep } from "node:timers/promises";

const AFTER = (process.env.MEMORY_AFTER ?? "10,60").split(",").map(Number);
const UNIT = "docker-live-upgrade.service";
const IDLE = "bench-node-idle.service";
const CONFIG = "/etc/docker-live-upgrade/config.yaml";

const windowAt = (cron) => `schedule:\n  windows:\n    - cron: "${cron}"\n      duration: 2h\n      timezone: UTC\n  expectedDuration: 1m\n`;

/** `inside(...argv)` runs a command in the machine; `versionOf()` is the installed engine package's version. */
export async function daemonMemory(inside, versionOf, release) {
  const sh = async (script, ...args) => (await inside("sh", "-c", script, "sh", ...args)).stdout.trim();
  const rss = async (unit) => {
    const pid = await sh('systemctl show -p MainPID --value "$1"', unit);
    return Number(/VmRSS:\s+(\d+)/.exec(await sh('cat "/proc/$1/status"', pid))?.[1]) / 1024;
  };
  // the daemon's children (its worker, a systemd-notify): /proc/PID/stat's fourth field is the parent
  const children = async () => Number(await sh('awk -v p="$(systemctl show -p MainPID --value "$1")" \'$4 == p\' /proc/[0-9]*/stat 2>/dev/null | wc -l', UNIT));
  const at = async (label) => ({ label, ours: await rss(UNIT), node: await rss(IDLE), workers: await children() });

  await inside("sh", "-c", 'mkdir -p /etc/docker-live-upgrade && printf "%s" "$1" > "$2"', "sh", windowAt("0 3 1 1 *"), CONFIG);
  await inside("install", "-m", "0644", `/opt/docker-live-upgrade/systemd/${UNIT}`, "/etc/systemd/system/");
  await inside("systemctl", "daemon-reload");
  await inside("systemd-run", `--unit=${IDLE}`, "/usr/local/bin/node", "-e", "setInterval(() => {}, 1000)");
  await inside("systemctl", "start", UNIT); // returns at READY=1
  const rows = [];
  try {
    await sleep(5_000);
    rows.push(await at("waiting, 5 s after its start"));
    await sleep(15_000);
    rows.push(await at("waiting, 20 s after its start"));
    const now = new Date();
    await inside("sh", "-c", 'printf "%s" "$1" > "$2"', "sh", windowAt(`${now.getUTCMinutes()} ${now.getUTCHours()} * * *`), CONFIG);
    await inside("systemctl", "reload", UNIT);
    const t0 = Date.now();
    while ((await versionOf()) !== release || (await children()) > 0) {
      if (Date.now() - t0 > 300_000) throw new Error(`the daemon did not upgrade to ${release} within 5 minutes`);
      await sleep(1_000);
    }
    let waited = 0;
    for (const s of AFTER) {
      await sleep((s - waited) * 1000);
      waited = s;
      rows.push(await at(`after a run, ${s} s`));
    }
  } finally {
    await inside("systemctl", "stop", UNIT, IDLE).catch(() => undefined);
  }
  return rows;
}
