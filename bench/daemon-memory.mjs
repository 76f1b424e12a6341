// The daemon's resident memory as a user runs it: the shipped unit (systemd/docker-live-upgrade.service)
// on a systemd machine, the installed command, a config file. Against Node.js doing nothing (a
// transient unit, same machine, same moments):
//   waiting   the daemon started with no window open: 5 s and 20 s after its start
//   during    the run: the highest of samples 1 s apart
//   after     a window opened (config reloaded): its worker upgrades the host to `release` and ends;
//             the same resident process MEMORY_AFTER seconds after the run (default 10,60)
// VmRSS of each unit's main process, and of all the daemon unit's processes together; "workers left":
// its processes besides the main one.
import { setTimeout as sleep } from "node:timers/promises";

const AFTER = (process.env.MEMORY_AFTER ?? "10,60").split(",").map(Number);
const UNIT = "docker-live-upgrade.service";
const IDLE = "bench-node-idle.service";
const CONFIG = "/etc/docker-live-upgrade/config.yaml";

const windowAt = (cron) => `schedule:\n  windows:\n    - cron: "${cron}"\n      duration: 2h\n      timezone: UTC\n  expectedDuration: 1m\n`;

/** `inside(...argv)` runs a command in the machine; `versionOf()` is the installed engine package's version. */
export async function daemonMemory(inside, versionOf, release) {
  const sh = async (script, ...args) => (await inside("sh", "-c", script, "sh", ...args)).stdout.trim();
  const rssOf = async (pid) => Number(/VmRSS:\s+(\d+)/.exec(await sh('cat "/proc/$1/status" 2>/dev/null || true', String(pid)))?.[1] ?? 0) / 1024;
  const mainPid = async (unit) => Number(await sh('systemctl show -p MainPID --value "$1"', unit));
  // every process of the daemon's unit (its worker, a systemd-notify), from its cgroup (v2, hybrid or v1)
  const unitPids = async () =>
    (await sh('cg=$(systemctl show -p ControlGroup --value "$1"); for f in "/sys/fs/cgroup$cg" "/sys/fs/cgroup/unified$cg" "/sys/fs/cgroup/systemd$cg"; do if [ -r "$f/cgroup.procs" ]; then cat "$f/cgroup.procs"; break; fi; done', UNIT)).split("\n").filter(Boolean).map(Number);
  const at = async (label) => {
    const pids = await unitPids();
    const total = (await Promise.all(pids.map(rssOf))).reduce((a, b) => a + b, 0);
    return { label, ours: await rssOf(await mainPid(UNIT)), total, node: await rssOf(await mainPid(IDLE)), workers: pids.length - 1 };
  };

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
    // a window that opens at the next minute: after every run made before (one in the window it opens
    // at counts as this window's run)
    const opens = new Date(Date.now() + 60_000);
    await inside("sh", "-c", 'printf "%s" "$1" > "$2"', "sh", windowAt(`${opens.getUTCMinutes()} ${opens.getUTCHours()} * * *`), CONFIG);
    await inside("systemctl", "reload", UNIT);
    const t0 = Date.now();
    let peak = null; // the unit's processes together during the run, sampled once a second
    while ((await versionOf()) !== release || (await unitPids()).length > 1) {
      if (Date.now() - t0 > 300_000) throw new Error(`the daemon did not upgrade to ${release} and end its worker within 5 minutes (journalctl -u ${UNIT} in the machine says why)`);
      const now = await at("during the run (the highest sample, 1 s apart)");
      if (!peak || now.total > peak.total) peak = now;
      await sleep(1_000);
    }
    if (peak) rows.push(peak);
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
