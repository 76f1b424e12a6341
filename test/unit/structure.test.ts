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

describe("the code's structure", () => {
  it("ports depend on nothing but ports and pure data/version types (not on the run, the CLI or adapters)", () => {
    expect(edges.filter((e) => folder(e.from) === "ports" && !["ports", "report", "fleet", "versions"].includes(folder(e.to)))).toEqual([]);
  });

  it("nothing outside the CLI imports from it", () => {
    expect(edges.filter((e) => folder(e.from) !== "cli" && folder(e.to) === "cli")).toEqual([]);
  });

  it("the config schema and the windows do not import each other", () => {
    expect(edges.filter((e) => e.from.startsWith("config/") && e.to === "schedule/windows.js")).toEqual([]);
  });

  it("exit codes, the report skeleton and the host's state are not taken from the state machine", () => {
    const fromRun = files.filter((f) => /import \{[^}]*\b(EXIT|emptyReport|newRunId|describeHost)\b[^}]*\} from "[^"]*\/run\.js"/.test(readFileSync(f, "utf8")));
    expect(fromRun.map((f) => relative(SRC, f))).toEqual([]);
  });

  it("planning has one home", () => {
    expect(existsSync(join(SRC, "upgrade/plan.ts"))).toBe(false);
    expect(edges.filter((e) => e.to === "upgrade/plan.js")).toEqual([]);
  });
});
