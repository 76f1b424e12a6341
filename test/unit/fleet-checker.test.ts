import { describe, expect, it } from "vitest";
import { checkFleetHistory, type FleetHistory } from "../e2e/fleet-checker.js";
import { emptyGroup, type GroupState } from "../../src/fleet/semaphore.js";
import type { RunReport } from "../../src/report/report.js";

const t = (s: number) => Date.parse("2026-11-29T10:00:00Z") + s * 1000;
const at = (s: number) => new Date(t(s)).toISOString();
const holder = (host: string, since: number) => ({ host, runId: `run-${host}`, lease: `l-${host}`, since: at(since) });
const record = (host: string, s: number) => ({ [host]: { version: "v2", runId: `run-${host}`, outcome: "upgraded", at: at(s) } });
const report = (host: string, fence: number, over: Partial<RunReport> = {}): RunReport =>
  ({ id: `run-${host}`, outcome: "upgraded", finishedAt: at(fence + 20), engine: { package: "docker-ce", from: "v1", to: "v2" }, error: null, recovery: undefined, steps: [{ name: "fleet-fence", startedAt: at(fence), durationMs: 10, ok: true }], ...over }) as unknown as RunReport;

/** a then b, one slot, each stops and installs inside its slot; both end upgraded. */
function clean(): FleetHistory {
  const g = emptyGroup();
  const states: GroupState[] = [
    { ...g, holders: [holder("a", 0)] },
    { ...g, holders: [], hosts: record("a", 30) },
    { ...g, holders: [holder("b", 31)], hosts: record("a", 30) },
    { ...g, holders: [], hosts: { ...record("a", 30), ...record("b", 60) } },
  ];
  return {
    slots: 1,
    states,
    hosts: [
      { host: "a", reports: [report("a", 5)], dockerStops: [t(6)], installs: [{ at: t(8), version: "v2" }] },
      { host: "b", reports: [report("b", 35)], dockerStops: [t(36)], installs: [{ at: t(38), version: "v2" }] },
    ],
    clears: [],
    target: "v2",
    end: { a: { version: "v2", journalClosed: true, dockerUp: true }, b: { version: "v2", journalClosed: true, dockerUp: true } },
  };
}

describe("the fleet history checker", () => {
  it("finds nothing in a clean rollout", () => {
    expect(checkFleetHistory(clean())).toEqual([]);
  });

  it("finds two holders of one slot, a stop and an install outside any slot", () => {
    const h = clean();
    const g = emptyGroup();
    h.states = [{ ...g, holders: [holder("a", 0)] }, { ...g, holders: [holder("a", 0), holder("b", 10)] }, { ...g, holders: [holder("b", 10)], hosts: record("a", 30) }, { ...g, hosts: { ...record("a", 30), ...record("b", 60) } }];
    h.hosts[1]!.dockerStops.push(t(100));
    h.hosts[0]!.installs.push({ at: t(200), version: "v2" });
    expect(checkFleetHistory(h)).toEqual([
      "2 slots held at 2026-11-29T10:00:10.000Z (slots: 1), b (run run-b) among them",
      "a installed v2 at 2026-11-29T10:03:20.000Z holding no slot",
      "b stopped dockerd at 2026-11-29T10:01:40.000Z holding no slot",
    ]);
  });

  it("finds a fence passed while another host's halt stood, an install of a release another host failed on, a halt naming no run", () => {
    const h = clean();
    const g = emptyGroup();
    const halted = { host: "a", runId: "run-a", reason: "x", at: at(30), kind: "failed" as const };
    h.states = [{ ...g, holders: [holder("a", 0)] }, { ...g, halted, hosts: record("a", 30) }, { ...g, halted, holders: [holder("b", 31)], hosts: record("a", 30) }, { ...g, halted, hosts: { ...record("a", 30), ...record("b", 60) } }];
    h.hosts[0]!.reports = [report("a", 5, { outcome: "rolled-back", error: { message: "dockerd did not answer", step: "wait-ready" } })];
    expect(checkFleetHistory(h)).toEqual([
      "b passed its fence at 2026-11-29T10:00:35.010Z (run run-b) while a (run run-a) halted the group since 2026-11-29T10:00:30.000Z",
      "b installed v2 at 2026-11-29T10:00:38.000Z, on which a failed (run run-a)",
      "the group ends halted by a (run run-a): x",
    ]);
    for (const st of h.states) if (st.halted) st.halted = { ...st.halted, runId: "run-zz" };
    expect(checkFleetHistory(h)).toContainEqual("a halt names run run-zz of a, which has no report of it");
  });

  it("finds a host that did not end upgraded and settled", () => {
    const h = clean();
    h.end.b = { version: "v1", journalClosed: false, dockerUp: false };
    expect(checkFleetHistory(h)).toEqual(["b ends on v1, not v2", "b ends with its journal open", "b ends with dockerd down"]);
  });
});
