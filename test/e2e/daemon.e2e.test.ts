import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, readFile, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, dpkgVersion, identities, makeContainers, OLD, resetEngine, startCli, STATE_DIR, until, writeConfig } from "./helpers.js";

const NEXT = "20.10.25+dfsg1-1";
const METRICS = "127.0.0.1:19475";

interface Hook {
  event: string;
  text: string;
  report: { outcome?: string; id: string };
}


const reportCount = async () => (await readdir(join(STATE_DIR, "reports")).catch(() => [])).filter((n) => n.endsWith(".json")).length;

describe("daemon: maintenance windows on a real engine", () => {
  let server: Server;
  let hookUrl: string;
  const received: Hook[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        received.push(JSON.parse(body) as Hook);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook/T000/SECRET`;
  });

  afterAll(() => {
    server.close();
  });

  it("with a window open now: upgrades by itself, notifies, runs the hooks, exposes metrics, stops on SIGTERM", async () => {
    await resetEngine([NEXT]);
    await makeContainers();
    const before = await identities();
    const hookLog = join(await mkdtemp(join(tmpdir(), "dlu-hooks-")), "hooks.log");
    const hook = (kind: string) => `["sh", "-c", "echo ${kind} $DOCKER_LIVE_UPGRADE_HOOK $DOCKER_LIVE_UPGRADE_TO $DOCKER_LIVE_UPGRADE_OUTCOME >> ${hookLog}"]`;
    // a window that opened this very minute and opens again only tomorrow: exactly one run
    const now = new Date();
    const config = await writeConfig(`
schedule:
  windows:
    - cron: "${now.getUTCMinutes()} ${now.getUTCHours()} * * *"
      duration: 2h
      timezone: UTC
  expectedDuration: 1m
notify:
  - webhook: ${hookUrl}
metrics:
  listen: ${METRICS}
hooks:
  pre: [${hook("pre")}]
  verify: [${hook("verify")}]
  post: [${hook("post")}]
`);
    const daemon = startCli(["daemon", "--config", config]);
    try {
      await until("the daemon's run to finish", async () => (await reportCount()) >= 1 && received.some((h) => h.event === "success"), 120_000);
      expect(await dpkgVersion("docker.io")).toEqual({ version: NEXT, status: "install ok installed" });
      expect(await identities()).toEqual(before);

      expect(received.map((h) => h.event)).toEqual(["start", "success"]);
      expect(received[1]!.text).toMatch(/docker-live-upgrade success: docker\.io 20\.10\.24\+dfsg1-1\+deb12u1\+b6 -> 20\.10\.25\+dfsg1-1 \(upgraded\), API down \d+ ms, containers 5\/5 unchanged/);
      expect(received[1]!.report.outcome).toBe("upgraded");

      expect((await readFile(hookLog, "utf8")).trim().split("\n")).toEqual([`pre pre ${NEXT}`, `verify verify ${NEXT}`, "post post upgraded"]);

      let scrape = "";
      await until("metrics to show the run", async () => {
        scrape = await fetch(`http://${METRICS}/metrics`).then((r) => r.text(), () => "");
        return /docker_live_upgrade_last_run_outcome\{outcome="upgraded"\} 1/.test(scrape);
      }, 90_000);
      expect(scrape).toMatch(/docker_live_upgrade_last_run_containers\{verdict="unchanged"\} 5/);
      expect(scrape).toMatch(/docker_live_upgrade_last_run_containers\{verdict="restarted"\} 0/);
      expect(scrape).toMatch(/docker_live_upgrade_last_daemon_downtime_seconds \d/);
      expect(scrape).toMatch(/docker_live_upgrade_pending_upgrade 0/);
      expect(scrape).toMatch(/docker_live_upgrade_docker_api_up 1/);
      expect(scrape).toMatch(/docker_live_upgrade_next_window_timestamp_seconds \d/);

      const status = JSON.parse((await cli("status", "--json", "--config", config)).stdout) as Record<string, unknown>;
      expect(status).toMatchObject({ engine: { installed: NEXT, target: NEXT }, lastRun: { outcome: "upgraded" }, nextWindow: { opens: expect.any(String) } });
      const history = JSON.parse((await cli("history", "--json", "--config", config)).stdout) as { outcome: string }[];
      expect(history[0]?.outcome).toBe("upgraded");
    } finally {
      daemon.kill("SIGTERM");
    }
    const ended = await daemon;
    expect(ended.exitCode).toBe(0);
    // the webhook URL carries a secret: never in the logs
    expect(String(ended.stderr)).not.toContain("SECRET");
  });

  it("with no window open: does nothing, refuses an invalid config on SIGHUP and keeps running, SIGTERM ends it", async () => {
    await resetEngine([NEXT]);
    // a one-hour window twelve hours from now: closed whenever this runs
    const later = new Date(Date.now() + 12 * 3_600_000);
    const config = await writeConfig(`
schedule:
  windows:
    - cron: "${later.getUTCMinutes()} ${later.getUTCHours()} * * *"
      duration: 1h
      timezone: UTC
`);
    const daemon = startCli(["daemon", "--config", config]);
    await new Promise((r) => setTimeout(r, 3_000));
    await writeFile(config, "schedule:\n  windows: [{ cron: 'not a cron', duration: 1h }]\n");
    daemon.kill("SIGHUP");
    await new Promise((r) => setTimeout(r, 2_000));
    expect(daemon.exitCode).toBeNull(); // still running on the old config
    daemon.kill("SIGTERM");
    const ended = await daemon;
    expect(ended.exitCode).toBe(0);
    expect(String(ended.stderr)).toMatch(/schedule\.windows\[0\]\.cron: a 5-field cron expression.*config reload refused; keeping the running config/s);
    expect(await reportCount()).toBe(0);
    expect(await dpkgVersion("docker.io")).toEqual({ version: OLD, status: "install ok installed" });
  });
});
