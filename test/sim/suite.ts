import { expect, it } from "vitest";
import { explore, type Finding } from "./explore.js";
import { ALL_SCENARIOS, nameOf, type Scenario } from "./scenarios.js";

/**
 * Runs the explorer over the configurations of one order and package manager (the suite is split in
 * files that vitest runs side by side), prints what it explored, and fails with the first findings.
 */
export function simulate(order: Scenario["order"], pm: Scenario["pm"], fleet?: boolean, jump = false): void {
  const scenarios = ALL_SCENARIOS.filter((s) => s.order === order && s.pm === pm && (fleet === undefined || s.fleet === fleet) && (s.jump ?? false) === jump);
  const which = `${order}, ${pm}${fleet === undefined ? "" : fleet ? ", fleet" : ", no fleet"}${jump ? ", MAJOR.MINOR jump" : ""}`;
  it(`${which}: ${scenarios.length} configurations, every crash, failure and signal explored; no host left broken, no report untrue`, async () => {
    const started = Date.now();
    let explored = 0;
    let states = 0;
    const findings: Finding[] = [];
    for (const s of scenarios) {
      const r = await explore(s);
      explored += r.explored;
      states += r.crashStates;
      findings.push(...r.findings);
    }
    console.log(`fault simulator (${which}): ${explored} scenarios in ${scenarios.length} configurations (${states} states left by crashes), ${findings.length} findings, ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(findings.slice(0, 10).map((f) => `${f.scenario} | ${f.fault} | ${f.problems.join("; ")}`)).toEqual([]);
  }, 300_000);
}

export { nameOf };
