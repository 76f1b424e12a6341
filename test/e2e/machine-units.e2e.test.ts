import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import type { RunReport } from "../../src/report/report.js";
import { until } from "./helpers.js";
import { bootEach, CE, type Machine } from "./machine.js";

// The units in systemd/, installed unchanged as the README tells, run by a real systemd.
const UNITS = "/opt/docker-live-upgrade/systemd";
const STATE = "/var/lib/docker-live-upgrade";

const install = (host: Machine, ...units: string[]) =>
  host.sh(`install -m 0644 ${units.map((u) => `${UNITS}/${u}`).join(" ")} /etc/systemd/system/ && systemctl daemon-reload`);

const lastReport = async (host: Machine): Promise<RunReport> => {
  const name = (await host.sh(`ls -t ${STATE}/reports | grep '[.]json$' | head -n1`)).trim();
  return JSON.parse(await host.readFile(`${STATE}/reports/${name}`)) as RunReport;
};

const journalState = async (host: Machine): Promise<string | null> => {
  const r = await host.exec(["cat", `${STATE}/journal.json`]);
  return r.exitCode === 0 ? (JSON.parse(String(r.stdout)) as { state: string }).state : null;
};

describe("our own units on a systemd host, hardening as shipped", () => {
  const boot = bootEach();

  it("one-shot service and timer: enable --now, then a run through systemctl start ends Result=success", async () => {
    const host = await boot("once", 18311, "docker-ce=20.10.25", "docker-ce-cli=20.10.25");
    const before = await host.identities();
    await install(host, "docker-live-upgrade-once.service", "docker-live-upgrade-once.timer");
    await host.run("systemctl", "enable", "--now", "docker-live-upgrade-once.timer");
    expect(await host.unit("docker-live-upgrade-once.timer", "ActiveState", "UnitFileState")).toEqual({ ActiveState: "active", UnitFileState: "enabled" });

    await host.run("systemctl", "start", "docker-live-upgrade-once.service");

    expect(await host.unit("docker-live-upgrade-once.service", "Result", "ExecMainStatus")).toEqual({ Result: "success", ExecMainStatus: "0" });
    const report = await lastReport(host);
    expect(report.outcome).toBe("upgraded");
    expect(await host.version("docker-ce")).toBe(`${CE("20.10.25")} install ok installed`);
    expect(await host.identities()).toEqual(before);
  });

  it("SIGKILL of the one-shot unit in the middle of the install, then its next start: recovered, healthy, containers kept", async () => {
    const host = await boot("kill", 18312, "docker-ce=20.10.25:preinst-sleeps", "docker-ce-cli=20.10.25");
    const before = await host.identities();
    await install(host, "docker-live-upgrade-once.service");

    await host.run("systemctl", "start", "--no-block", "docker-live-upgrade-once.service");
    await until("the install to be under way", async () => (await journalState(host)) === "installing" && (await host.exec(["pgrep", "-f", "^sleep 15"])).exitCode === 0, 120_000);
    await host.run("systemctl", "kill", "-s", "KILL", "docker-live-upgrade-once.service");
    await until("the unit to be dead", async () => (await host.unit("docker-live-upgrade-once.service", "ActiveState")).ActiveState !== "active" && (await host.unit("docker-live-upgrade-once.service", "ActiveState")).ActiveState !== "activating");
    expect((await host.unit("docker-live-upgrade-once.service", "Result")).Result).toBe("signal");
    expect(await journalState(host)).toBe("installing");

    await host.run("systemctl", "start", "docker-live-upgrade-once.service");

    expect((await host.unit("docker-live-upgrade-once.service", "Result")).Result).toBe("success");
    const report = await lastReport(host);
    expect(report.outcome).toBe("upgraded");
    expect(report.hostState).toMatch(/dockerd up, engine 20\.10\.25\+dfsg1; packages consistent/);
    expect(await host.version("docker-ce")).toBe(`${CE("20.10.25")} install ok installed`);
    expect(await host.run("dpkg", "--audit")).toBe("");
    expect(await host.identities()).toEqual(before);
    const recovered = await host.sh(`grep -l '"command": *"recover"\\|"found"' ${STATE}/reports/*.json | wc -l`);
    expect(Number(recovered)).toBeGreaterThan(0);
  });

  it("daemon unit: Type=notify gets active, watchdog pings arrive, a broken reload keeps it running, stop mid-run lets the run finish", async () => {
    const host = await boot("daemon", 18313, "docker-ce=20.10.25:preinst-sleeps", "docker-ce-cli=20.10.25");
    const before = await host.identities();
    const now = new Date();
    // a window that opened this minute and lasts two hours: the daemon runs at once
    await host.writeFile(
      "/etc/docker-live-upgrade/config.yaml",
      `schedule:\n  windows:\n    - cron: "${now.getUTCMinutes()} ${now.getUTCHours()} * * *"\n      duration: 2h\n      timezone: UTC\n  expectedDuration: 1m\n`,
    );
    await install(host, "docker-live-upgrade.service");
    // the shipped unit pings every WatchdogSec/2 = 2.5 min; a shorter period makes the pings observable
    await host.writeFile("/etc/systemd/system/docker-live-upgrade.service.d/watchdog.conf", "[Service]\nWatchdogSec=4s\n");
    await host.run("systemctl", "daemon-reload");

    await host.run("systemctl", "start", "docker-live-upgrade.service"); // returns at READY=1
    expect((await host.unit("docker-live-upgrade.service", "ActiveState")).ActiveState).toBe("active");

    await until("the run to be installing", async () => (await journalState(host)) === "installing", 120_000);
    const dog1 = (await host.unit("docker-live-upgrade.service", "WatchdogTimestampMonotonic")).WatchdogTimestampMonotonic;
    await new Promise((r) => setTimeout(r, 2_500));
    const dog2 = (await host.unit("docker-live-upgrade.service", "WatchdogTimestampMonotonic")).WatchdogTimestampMonotonic;
    expect(Number(dog2)).toBeGreaterThan(Number(dog1));

    await host.writeFile("/etc/docker-live-upgrade/config.yaml", "schedule: {windows: [{cron: 'not cron'}]}\nbogus: 1\n");
    await host.run("systemctl", "reload", "docker-live-upgrade.service");
    await until("the reload to be refused", async () => /keeping the running config|kept|invalid/i.test(await host.run("journalctl", "-u", "docker-live-upgrade.service", "-o", "cat", "--no-pager")));
    expect((await host.unit("docker-live-upgrade.service", "ActiveState")).ActiveState).toBe("active");
    expect(await journalState(host)).toBe("installing");

    // waits for the run to reach a safe state (bounded: a deadlock between the two stop jobs must fail, not hang)
    await host.run("timeout", "180", "systemctl", "stop", "docker-live-upgrade.service");

    expect(await host.unit("docker-live-upgrade.service", "ActiveState", "Result")).toEqual({ ActiveState: "inactive", Result: "success" });
    const report = await lastReport(host);
    expect(["upgraded", "rolled-back"]).toContain(report.outcome);
    expect(report.hostState).toMatch(/dockerd up, .*packages consistent/);
    expect(await journalState(host)).toBeNull();
    expect(await host.run("dpkg", "--audit")).toBe("");
    expect(await host.identities()).toEqual(before);
  });

  it("daemon unit SIGKILLed in the middle of the install: restarted with no window open, it recovers at once and says so once", async () => {
    const host = await boot("revive", 18314, "docker-ce=20.10.25:preinst-sleeps", "docker-ce-cli=20.10.25");
    const before = await host.identities();
    const events: string[] = [];
    const hook = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        events.push((JSON.parse(body) as { event: string }).event);
        res.end("ok");
      });
    });
    await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
    try {
      const now = new Date();
      const window = (cron: string) => `schedule:\n  windows:\n    - cron: "${cron}"\n      duration: 2h\n      timezone: UTC\n  expectedDuration: 1m\nnotify:\n  - webhook: ${url}\n`;
      await host.writeFile("/etc/docker-live-upgrade/config.yaml", window(`${now.getUTCMinutes()} ${now.getUTCHours()} * * *`));
      await install(host, "docker-live-upgrade.service");
      await host.writeFile("/etc/systemd/system/docker-live-upgrade.service.d/restart.conf", "[Service]\nRestartSec=1s\n");
      await host.run("systemctl", "daemon-reload");
      await host.run("systemctl", "start", "docker-live-upgrade.service");
      await until("the run to be installing", async () => (await journalState(host)) === "installing" && (await host.exec(["pgrep", "-f", "^sleep 15"])).exitCode === 0, 120_000);
      expect(await host.exec(["test", "-e", "/usr/sbin/policy-rc.d"]).then((r) => r.exitCode)).toBe(0);
      // no window is open when it comes back: tomorrow's only
      const later = new Date(now.getTime() + 86_400_000);
      await host.writeFile("/etc/docker-live-upgrade/config.yaml", window(`0 3 ${later.getUTCDate()} ${later.getUTCMonth() + 1} *`));

      await host.run("systemctl", "kill", "-s", "KILL", "docker-live-upgrade.service"); // an OOM kill: the whole unit
      await until("the restarted daemon to have recovered", async () => (await journalState(host)) === null, 120_000);
      expect((await host.unit("docker-live-upgrade.service", "ActiveState", "NRestarts")).ActiveState).toBe("active");
      expect(await host.exec(["test", "-e", "/usr/sbin/policy-rc.d"]).then((r) => r.exitCode)).not.toBe(0);
      const report = await lastReport(host);
      expect(report.command).toBe("recover");
      expect(report.hostState).toMatch(/^dockerd up, engine 20\.10\.24\+dfsg1; packages consistent; on the previous versions/);
      expect(await host.run("dpkg", "--audit")).toBe("");
      expect(await host.identities()).toEqual(before);
      expect(events.filter((e) => e === "recovery" || e === "failure")).toEqual(["recovery"]);
    } finally {
      hook.close();
      await host.exec(["systemctl", "stop", "docker-live-upgrade.service"]);
    }
  });
});
