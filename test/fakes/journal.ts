import type { Journal } from "../../src/ports/journal.js";

export const OLD = "20.10.24+dfsg1-1+deb12u1+b6";
export const NEW = "20.10.25+dfsg1-1";

/** A journal as a run of docker.io OLD -> NEW leaves it, at the given state. */
export function journalOf(over: Partial<Journal> = {}): Journal {
  return {
    version: 2,
    runId: "r0",
    pid: 1,
    startedAt: "2026-11-22T02:59:00.000Z",
    order: "staged",
    state: "fetched",
    direction: "forward",
    failure: null,
    startedOn: "previous",
    engine: { name: "docker.io", from: OLD, to: NEW },
    previous: [{ name: "docker.io", version: OLD }],
    target: [{ name: "docker.io", version: NEW }],
    targetDir: "/state/cache/r0/target",
    rollbackDir: "/state/cache/r0/rollback",
    restartContainerd: false,
    holds: { before: [], after: [] },
    snapshot: [],
    engineOptions: null,
    fleetSlot: false,
    transitions: [],
    ...over,
  };
}
