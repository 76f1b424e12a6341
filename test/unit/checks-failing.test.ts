import { describe, expect, it } from "vitest";
import { runUpgrade } from "../../src/upgrade/run.js";
import { InterruptGate } from "../../src/upgrade/interrupt.js";
import type { RunReport } from "../../src/report/report.js";
import { fakeWorld, type FakeWorld } from "../fakes/world.js";

// Every check the README lists, seen failing: the verdict, the exit code, and the message a user reads.
const gate = () => new InterruptGate();
// the last verdict of that name: daemon-options is recorded before the stop and judged after the start
const check = (r: RunReport, name: string) => r.checks.findLast((c) => c.name === name);
const run = (w: FakeWorld) => runUpgrade(w, { dryRun: false, interrupt: gate() });
const touched = (w: FakeWorld) => w.events.filter((e) => /^packages\.(fetch|install)|^service\./.test(e));

describe("preflight checks that refuse (exit 3, nothing touched)", () => {
  it("simulation: the package manager would remove a package", async () => {
    const w = fakeWorld();
    w.fakePackages.simulationExtras = [{ name: "docker-compose", from: "1.29.2-3", to: null, action: "remove" }];
    const r = await run(w);
    expect([r.outcome, r.exitCode]).toEqual(["refused", 3]);
    expect(check(r, "simulation")).toMatchObject({ ok: false, message: "the package manager would remove docker-compose; resolve the conflict by hand first" });
    expect(touched(w)).toEqual([]);
  });

  it("package-lock: another package run holds the dpkg lock", async () => {
    const w = fakeWorld();
    w.fakePackages.lockedBy = "unattended-upgr (pid 4242)";
    const r = await run(w);
    expect([r.outcome, r.exitCode]).toEqual(["refused", 3]);
    expect(check(r, "package-lock")).toMatchObject({ ok: false, message: "the package database is locked by unattended-upgr (pid 4242); wait for it to finish" });
    expect(touched(w)).toEqual([]);
  });

  it("downloadable: the target is in no source", async () => {
    const w = fakeWorld();
    w.fakePackages.notDownloadable.add("docker.io=20.10.25+dfsg1-1");
    const r = await run(w);
    expect([r.outcome, r.exitCode]).toEqual(["refused", 3]);
    expect(check(r, "downloadable")).toMatchObject({ ok: false, message: "not downloadable: docker.io=20.10.25+dfsg1-1 (no source)" });
    expect(touched(w)).toEqual([]);
  });

  it("rollback-available: the installed version can no longer be fetched", async () => {
    const w = fakeWorld();
    w.fakePackages.notDownloadable.add("docker.io=20.10.24+dfsg1-1+deb12u1+b6");
    const r = await run(w);
    expect([r.outcome, r.exitCode]).toEqual(["refused", 3]);
    expect(check(r, "rollback-available")).toMatchObject({
      ok: false,
      message: "not downloadable: docker.io=20.10.24+dfsg1-1+deb12u1+b6 (no source): a rollback would not be possible",
    });
    expect(touched(w)).toEqual([]);
  });
});

describe("checks after the start that roll back (exit 1)", () => {
  it("engine-version: the running dockerd is not the installed build", async () => {
    const w = fakeWorld();
    w.engine.reportsAfterStart = "20.10.24+dfsg1";
    const r = await run(w);
    expect([r.outcome, r.exitCode]).toEqual(["rolled-back", 1]);
    expect(check(r, "engine-version")).toMatchObject({
      ok: false,
      message: "the API reports 20.10.24+dfsg1 but package docker.io 20.10.25+dfsg1-1 is release 20.10.25+dfsg1: the running dockerd is not the installed build",
    });
  });

  it("containerd-version: containerd was upgraded but the old one still runs", async () => {
    const w = fakeWorld();
    w.fakePackages.availableVersions.containerd = ["1.6.20~ds1-1+deb12u3", "1.6.21~ds1-1"];
    w.engine.containerdVersion = "1.6.20~ds1";
    w.sim.containerdPinned = true; // its restart leaves the old containerd running
    const r = await run(w);
    expect(r.outcome).toBe("rolled-back");
    expect(check(r, "containerd-version")).toMatchObject({
      ok: false,
      message: "the API reports containerd 1.6.20~ds1 but package containerd 1.6.21~ds1-1 is 1.6.21~ds1: containerd was not restarted",
    });
  });

  it("daemon-options: the data root changed across the restart", async () => {
    const w = fakeWorld();
    w.engine.infoAfterStart = { dockerRootDir: "/srv/docker" };
    const r = await run(w);
    expect(r.outcome).toBe("rolled-back");
    expect(check(r, "daemon-options")).toMatchObject({ ok: false, message: "changed across the restart: dockerRootDir /var/lib/docker -> /srv/docker" });
  });

  it("live-restore-after: the new daemon came up without live restore", async () => {
    const w = fakeWorld();
    w.engine.infoAfterStart = { liveRestoreEnabled: false };
    const r = await run(w);
    expect(r.outcome).toBe("rolled-back");
    expect(check(r, "live-restore-after")).toMatchObject({ ok: false, message: "live restore is off after the restart" });
  });

  it("probes: more failures than upgrade.rollbackOn.probeFailures allows", async () => {
    const w = fakeWorld({ upgrade: { rollbackOn: { probeFailures: 0 } }, probes: [{ name: "web", tcp: "127.0.0.1:1", interval: "100ms" }] });
    w.probeCheck = () => Promise.reject(new Error("ECONNREFUSED"));
    const r = await run(w);
    expect(r.outcome).toBe("rolled-back");
    expect(check(r, "probes")).toMatchObject({ ok: false, message: expect.stringMatching(/^\d+ probe failures \(allowed 0\)$/) as string });
  });
});
