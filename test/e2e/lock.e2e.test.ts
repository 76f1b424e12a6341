import { execa } from "execa";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./helpers.js";

// The real lock adapter in real processes: many contenders race for one stale lock.
const LOCK = join(ROOT, "dist/src/adapters/state/pid-lock.js");
const CONTENDER = `
const { PidLock } = await import(${JSON.stringify(LOCK)});
const lock = new PidLock(process.argv[1]);
await new Promise((r) => setTimeout(r, Number(process.argv[2]) - Date.now()));
const r = await lock.acquire("upgrade");
if (r.acquired) { await new Promise((r) => setTimeout(r, 1500)); }
console.log(JSON.stringify({ pid: process.pid, acquired: r.acquired, tookOver: r.acquired ? r.tookOverFrom : null }));
if (r.acquired) await lock.release();
`;

describe("the lock file", () => {
  it("twenty processes racing for one stale lock: exactly one wins, and it says whose it took over", async () => {
    const dir = await mkdtemp(join(tmpdir(), "dlu-lock-"));
    const path = join(dir, "lock");
    // a lock left by a process that is gone (pid 2^22 - 1 is above any pid_max default here)
    await writeFile(path, JSON.stringify({ pid: 4_194_303, command: "upgrade", since: "2026-11-22T03:00:00.000Z", startTime: "1" }));
    const start = Date.now() + 1_500; // all of them act at the same moment
    const results = await Promise.all(
      Array.from({ length: 20 }, () => execa("node", ["--input-type=module", "-e", CONTENDER, path, String(start)]).then((r) => JSON.parse(r.stdout) as { pid: number; acquired: boolean; tookOver: { pid: number } | null })),
    );
    const winners = results.filter((r) => r.acquired);
    expect(winners).toHaveLength(1);
    expect(winners[0]!.tookOver).toMatchObject({ pid: 4_194_303 });
    await expect(readFile(path, "utf8")).rejects.toThrow(); // released by the winner
    await rm(dir, { recursive: true, force: true });
  });
});
