import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { parseJobs, parseSystemctlShow, startPlan, stopPlan, SystemdServiceManager } from "../../src/adapters/service/systemd.js";
import type { Exec } from "../../src/exec/index.js";
import { unitVerdicts } from "../../src/checks/verdicts.js";

const UNITS = ["docker.service", "docker.socket", "containerd.service"];
/** `systemctl show` of the three units on a machine with Docker's packages (systemd 252). */
const captured = () => parseSystemctlShow(readFileSync(new URL("../fixtures/systemctl-show-docker-ce.txt", import.meta.url), "utf8"), UNITS);
const withSocket = (props: Record<string, string>) => {
  const units = captured();
  units["docker.socket"] = { ...units["docker.socket"], ...props };
  return units;
};

describe("which units systemd is asked to stop and start", () => {
  it("a restart stops docker.service alone: docker.socket keeps queueing connections", () => {
    expect(stopPlan(captured(), { holdActivation: false })).toEqual(["docker.service"]);
  });

  it("stop-first stops docker.socket too, so no client re-activates dockerd during the install", () => {
    expect(stopPlan(captured(), { holdActivation: true })).toEqual(["docker.socket", "docker.service"]);
  });

  it("before a start, the failed state of every unit there is reset; docker.service pulls in its socket itself", () => {
    expect(startPlan(captured(), false)).toEqual({
      resetFailed: ["docker.service", "docker.socket", "containerd.service"],
      start: ["docker.service"],
      containerd: true,
    });
  });

  it.each([
    ["masked", { LoadState: "masked", ActiveState: "inactive", UnitFileState: "masked" }],
    ["absent", { LoadState: "not-found", ActiveState: "inactive", UnitFileState: "" }],
  ])("docker.socket %s: never stopped, started or reset", (_, props) => {
    const units = withSocket(props);
    expect(stopPlan(units, { holdActivation: true })).toEqual(["docker.service"]);
    const plan = startPlan(units, false);
    expect(plan.start).toEqual(["docker.service"]);
    expect(plan.resetFailed).not.toContain("docker.socket");
  });

  it("the socket is started explicitly only where the run stopped it (stop-first)", () => {
    const units = withSocket({ ActiveState: "inactive" });
    expect(startPlan(units, false).start).toEqual(["docker.service"]);
    expect(startPlan(units, true).start).toEqual(["docker.socket", "docker.service"]);
  });

  it("no containerd.service (containerd started by dockerd): nothing to restart", () => {
    const units = captured();
    units["containerd.service"] = { LoadState: "not-found", ActiveState: "inactive" };
    expect(startPlan(units, false).containerd).toBe(false);
  });
});

describe("a restart through systemd", () => {
  /** Records each systemctl argv; `show` answers with the captured units. */
  const recording = () => {
    const calls: string[] = [];
    const exec: Exec = (file, args) => {
      calls.push([file, ...args].join(" "));
      const stdout = args[0] === "show" ? readFileSync(new URL("../fixtures/systemctl-show-docker-ce.txt", import.meta.url), "utf8") : "";
      return Promise.resolve({ stdout, stderr: "", exitCode: 0 });
    };
    return { calls, exec };
  };

  it("is one systemctl restart, as a bare restart is: the query and the reset go before it, while dockerd serves", async () => {
    const { calls, exec } = recording();
    const systemd = new SystemdServiceManager(exec, 60_000);
    await systemd.prepareRestart();
    await systemd.restart({ timeoutMs: 30_000 });
    expect(calls.slice(1)).toEqual(["systemctl reset-failed docker.service docker.socket containerd.service", "systemctl restart docker.service"]);
  });

  it("after a stop-first stop took docker.socket down, the socket comes back in the restart's own transaction", async () => {
    const { calls, exec } = recording();
    const systemd = new SystemdServiceManager(exec, 60_000);
    await systemd.stop({ holdActivation: true });
    await systemd.prepareRestart();
    await systemd.restart({});
    expect(calls.filter((c) => !c.startsWith("systemctl show"))).toEqual([
      "systemctl stop docker.socket docker.service",
      "systemctl reset-failed docker.service docker.socket containerd.service",
      "systemctl restart docker.socket docker.service",
    ]);
  });
});

describe("the docker.socket verdict", () => {
  const verdict = (units: ReturnType<typeof captured>) => unitVerdicts({ units }, false).find((v) => v.name === "unit:docker.socket");

  it("listening: passes, and is not judged by KillMode like a service", () => {
    expect(verdict(captured())).toMatchObject({ ok: true, message: expect.stringMatching(/clients wait in its queue/) });
  });

  it("masked while docker.service Requires= it: refuses, naming the fix", () => {
    const v = verdict(withSocket({ LoadState: "masked", ActiveState: "inactive" }));
    expect(v).toMatchObject({ ok: false, level: "error" });
    expect(v?.message).toMatch(/Requires=docker.socket: systemd would refuse to start dockerd again; unmask it/);
  });

  it("absent with a docker.service that does not need it: left alone", () => {
    const units = withSocket({ LoadState: "not-found", ActiveState: "inactive" });
    units["docker.service"] = { ...units["docker.service"], Requires: "sysinit.target system.slice" };
    expect(verdict(units)).toMatchObject({ ok: true, message: expect.stringMatching(/left alone; clients are refused/) });
  });
});

describe("jobs left by a systemctl that timed out", () => {
  it("reads systemctl list-jobs", () => {
    const out = "1234 docker.service stop running\n1235 docker.socket stop waiting\n  99 containerd.service restart waiting\n";
    expect(parseJobs(out)).toEqual([
      { id: 1234, unit: "docker.service", type: "stop" },
      { id: 1235, unit: "docker.socket", type: "stop" },
      { id: 99, unit: "containerd.service", type: "restart" },
    ]);
    expect(parseJobs("")).toEqual([]);
  });
});
