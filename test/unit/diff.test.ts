import { describe, expect, it } from "vitest";
import { diffContainers, harmed } from "../../src/upgrade/diff.js";
import { container } from "../fakes/world.js";

describe("container diff", () => {
  const before = [
    container("web"),
    container("paused", { paused: true, status: "paused" }),
    container("exited", { running: false, status: "exited", pid: 0 }),
    container("gone"),
    container("ported", { ports: "80/tcp->127.0.0.1:8080" }),
  ];

  it("classifies unchanged, restarted, missing, changed and new", () => {
    const after = [
      container("web"),
      container("paused", { paused: false, status: "running" }),
      container("exited", { running: false, status: "exited", pid: 0 }),
      container("ported", { ports: "" }),
      container("fresh"),
    ];
    const d = diffContainers(before, after);
    expect(d.before).toBe(5);
    expect(d.after).toBe(5);
    expect(d.unchanged.map((c) => c.name)).toEqual(["web", "exited"]);
    expect(d.missing.map((c) => c.name)).toEqual(["gone"]);
    expect(d.new.map((c) => c.name)).toEqual(["fresh"]);
    expect(d.changed).toEqual([
      { id: expect.any(String), name: "paused", what: "paused true -> false" },
      { id: expect.any(String), name: "ported", what: 'ports "80/tcp->127.0.0.1:8080" -> ""' },
    ]);
    expect(harmed(d)).toBe(3);
  });

  it("a container restarted in the window is restarted even if RestartCount says 0: Pid or StartedAt moved", () => {
    const d1 = diffContainers([container("a")], [container("a", { pid: 999 })]);
    const d2 = diffContainers([container("a")], [container("a", { startedAt: "2026-11-22T03:00:01Z" })]);
    expect(d1.restarted.map((c) => c.name)).toEqual(["a"]);
    expect(d2.restarted.map((c) => c.name)).toEqual(["a"]);
  });

  it("a container crash-looping before the upgrade is not counted as restarted by it", () => {
    const d = diffContainers([container("loop", { status: "restarting", pid: 0 })], [container("loop", { status: "restarting", pid: 0, startedAt: "2026-11-22T03:00:09Z" })]);
    expect(d.restarted).toEqual([]);
    expect(d.unchanged.map((c) => c.name)).toEqual(["loop"]);
  });

  it("a running container that died in the window is changed, not unchanged", () => {
    const d = diffContainers([container("a")], [container("a", { running: false, status: "exited" })]);
    expect(d.changed[0]?.what).toBe("status running -> exited");
  });
});
