import { describe, expect, it } from "vitest";
import { newRunId } from "../../src/report/skeleton.js";

describe("run ids", () => {
  it("sort in the order the runs started, even within one second", () => {
    const t = Date.UTC(2026, 10, 23, 4, 55, 12, 0);
    const ids = [t + 999, t + 5, t + 1_000, t, t + 6].map((ms) => newRunId(ms));
    expect([...ids].sort()).toEqual([ids[3], ids[1], ids[4], ids[0], ids[2]]);
    expect(ids[3]).toMatch(/^20261123T045512\.000Z-[0-9a-f]{6}$/);
  });
});
