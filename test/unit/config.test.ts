import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig, parseConfigText } from "../../src/config/load.js";

function problemsOf(raw: unknown): string[] {
  try {
    parseConfig(raw);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error("expected the config to be refused");
}

describe("config", () => {
  it("an empty file gives the documented defaults", () => {
    const config = parseConfig({});
    expect(config.docker.socket).toBe("/var/run/docker.sock");
    expect(config.service.manager).toBe("systemd");
    expect(config.packages).toMatchObject({ manager: "auto", names: "auto", engine: "auto", refresh: true });
    expect(config.stateDir).toBe("/var/lib/docker-live-upgrade");
    expect(config.upgrade.order).toBe("staged");
    expect(config.upgrade.downtimeBudget).toBe(90_000);
    expect(config.metrics).toBeUndefined();
  });

  it("reads durations and probes", () => {
    const config = parseConfigText(`
probes:
  - name: web
    http: http://127.0.0.1:8080/
  - name: cache
    tcp: 127.0.0.1:6379
    interval: 100ms
schedule:
  windows:
    - cron: "0 3 * * SUN"
      duration: 1h30m
      timezone: Europe/Berlin
`);
    expect(config.probes).toEqual([
      { name: "web", http: "http://127.0.0.1:8080/", interval: 200, timeout: 1000 },
      { name: "cache", tcp: "127.0.0.1:6379", interval: 100, timeout: 1000 },
    ]);
    expect(config.schedule.windows[0]).toEqual({ cron: "0 3 * * SUN", duration: 5_400_000, timezone: "Europe/Berlin" });
  });

  it("reports every problem at once, each with its path", () => {
    const problems = problemsOf({
      dokker: {},
      docker: { socket: "relative.sock", extra: 1 },
      service: { manager: "command", stop: ["sh", "-c", "x"] },
      packages: { names: ["docker.io", "Bad Name; rm -rf /"] },
      probes: [{ name: "web", http: "http://127.0.0.1/", tcp: "127.0.0.1:1" }],
      schedule: { windows: [{ cron: "0 3 * *", duration: "forever", timezone: "Mars/Olympus" }] },
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        '(top level): unknown key "dokker"',
        "docker.socket: an absolute unix socket path",
        'docker: unknown key "extra"',
        "service.start: required with manager: command",
        "packages.names[1]: not a package name",
        "probes[0]: give exactly one of http or tcp",
        "schedule.windows[0].cron: a 5-field cron expression (min hour dom month dow)",
        expect.stringMatching(/^schedule\.windows\[0\]\.duration: not a duration: "forever"/),
        "schedule.windows[0].timezone: not an IANA time zone name (e.g. Europe/Berlin)",
      ]),
    );
  });

  it("rejects start/stop argv unless the manager is command", () => {
    expect(problemsOf({ service: { stop: ["true"] } })).toEqual([
      "service.stop: only used with manager: command (manager is systemd)",
    ]);
  });

  it("reports YAML syntax errors", () => {
    expect(() => parseConfigText("docker: [")).toThrow(ConfigError);
  });
});

describe("config/config.example.yaml", () => {
  it("parses, and its values are exactly the defaults (the file documents them)", async () => {
    const { readFile } = await import("node:fs/promises");
    const text = await readFile(new URL("../../config/config.example.yaml", import.meta.url), "utf8");
    expect(parseConfigText(text)).toEqual(parseConfig({}));
  });
});
