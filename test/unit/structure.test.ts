import { readdirSync, readFileSync, existsSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

// The arrows between folders point one way. Read from the sources themselves.
const SRC = resolve(import.meta.dirname, "../../src");
const files = (readdirSync(SRC, { recursive: true }) as string[]).filter((f) => f.endsWith(".ts")).map((f) => join(SRC, f));
const imports = (file: string): string[] =>
  [...readFileSync(file, "utf8").matchAll(/(?:^|\n)\s*(?:import|export)[^"';]*?from\s+"(\.[^"]+)"/g)].map((m) => relative(SRC, resolve(dirname(file), m[1]!)));
const edges = files.flatMap((f) => imports(f).map((to) => ({ from: relative(SRC, f), to })));
const folder = (p: string) => p.split("/")[0]!;

/**
 * The folders from the bottom up: a folder imports only from folders of a lower layer (never from its
 * own layer's other folders, never upward). Pure data and rules at the bottom, the ports above them,
 * the decisions, then the adapters and the run, the daemon and the command line on top.
 */
const LAYERS: string[][] = [
  ["versions"], //                     package names and versions, the patch rule
  ["schedule", "exec", "logging"], //  cron windows; the one place processes start; the logger
  ["config"], //                       the schema (names and cron come from below)
  ["report"], //                       the run report's shape and its text
  ["ports"], //                        interfaces of every side effect, and their records
  ["fleet", "history", "checks", "probes"], // pure decisions over ports and reports
  ["plan"], //                         targets and the plan
  ["restart", "checkpoint"], //        the planned-restart path's pure parts (start order, fates); checkpoints over their port
  ["hooks", "notify"], //              argv hooks, webhooks
  ["adapters"], //                     one per port
  ["upgrade"], //                      the state machine, the run, recovery, the session
  ["status"], //                       what `status` and the metrics read
  ["daemon"], //                       the daemon's loop, metrics, sd_notify
  ["cli"], //                          commands, the real world wired
];
const layerOf = new Map(LAYERS.flatMap((names, i) => names.map((n) => [n, i] as const)));

describe("the code's structure", () => {
  it("every folder has a layer", () => {
    const folders = [...new Set(files.map((f) => folder(relative(SRC, f))))].filter((f) => !f.endsWith(".ts"));
    expect(folders.filter((f) => !layerOf.has(f))).toEqual([]);
  });

  it("every import between folders points down a layer: no arrow up, none sideways, so no cycle", () => {
    const wrong = edges
      .filter((e) => folder(e.from) !== folder(e.to))
      .filter((e) => !(layerOf.get(folder(e.to))! < layerOf.get(folder(e.from))!))
      .map((e) => `${e.from} -> ${e.to}`);
    expect(wrong).toEqual([]);
  });

  it("ports depend on nothing but ports and pure data/version types (not on the run, the CLI or adapters)", () => {
    expect(edges.filter((e) => folder(e.from) === "ports" && !["ports", "report", "versions"].includes(folder(e.to)))).toEqual([]);
  });

  it("only the adapters, the exec layer, the command line, the daemon, the probes and the config loader reach the real world", () => {
    const real = /from\s+"(dockerode|execa|etcd3|node:fs(?:\/promises)?|node:http|node:child_process)"/;
    const allowed = (f: string) => ["adapters", "cli", "exec", "daemon", "probes"].includes(folder(f)) || f === "config/source.ts";
    const outside = files.map((f) => relative(SRC, f)).filter((f) => !allowed(f) && real.test(readFileSync(join(SRC, f), "utf8")));
    expect(outside).toEqual([]);
  });

  it("planning has one home", () => {
    expect(existsSync(join(SRC, "upgrade/plan.ts"))).toBe(false);
    expect(edges.filter((e) => e.to === "upgrade/plan.js")).toEqual([]);
  });
});
