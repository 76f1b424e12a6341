import type { Acquired, FleetPort } from "../../src/ports/fleet.js";

/** A fleet that answers as told and records what the run did with its slot. */
export function fakeFleet(answer: "slot" | "deferred" | "halted" | "retarget", fence = true, releaseFails = false) {
  const calls: string[] = [];
  const fleet: FleetPort = {
    backend: "etcd",
    requests: 0,
    rolloutTarget: () => Promise.resolve(null),
    acquire: (r): Promise<Acquired> => {
      calls.push(`acquire ${r.target}`);
      if (answer === "deferred") return Promise.resolve({ kind: "deferred", reason: "all 1 slot(s) are held (b)" });
      if (answer === "halted") return Promise.resolve({ kind: "halted", reason: "halted by b: lost" });
      if (answer === "retarget") return Promise.resolve({ kind: "retarget", release: "20.10.26", reason: "the group's rollout of series 20.10 is to 20.10.26" });
      return Promise.resolve({
        kind: "slot",
        release: r.target,
        slot: {
          assertHeld: () => (fence ? Promise.resolve() : Promise.reject(new Error("this host no longer holds its fleet slot"))),
          release: (x) => {
            calls.push(`release ${x.ok ? "ok" : "halt"} ${x.outcome}`);
            return releaseFails ? Promise.reject(new Error("etcd unreachable")) : Promise.resolve();
          },
        },
      });
    },
    forget: () => Promise.resolve(),
    settleRun: (runId, x) => {
      calls.push(`settle ${runId} ${x.ok ? "ok" : "halt"} ${x.outcome}`);
      return Promise.resolve();
    },
    status: () => Promise.reject(new Error("n/a")),
    clear: () => Promise.resolve(),
    setPaused: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
  return { fleet, calls };
}
