import type { ContainerState } from "../ports/docker.js";
import type { CheckResult } from "../report/report.js";
import { fail, pass } from "../checks/verdicts.js";
import { releaseOf, type Release } from "../versions/scheme.js";
import { roleOf } from "../plan/roles.js";
import type { PackageTarget } from "../ports/packages.js";
import type { Journal } from "../ports/journal.js";
import { diffContainers, diffPlanned, harmed, type ContainerDiff } from "./diff.js";
import type { World } from "./world.js";
import { takeSnapshot } from "./snapshot.js";

export interface Verification {
  checks: CheckResult[];
  containers: ContainerDiff;
  engineVersion: string | null;
}

const sameRelease = (a: Release | null, b: Release | null): boolean =>
  a !== null && b !== null && a.major === b.major && a.minor === b.minor && a.patch === b.patch;

type Differ = (before: readonly ContainerState[], after: readonly ContainerState[]) => ContainerDiff;

/**
 * How the run's containers are judged: unchanged (live restore), or, once the planned-restart path
 * stopped them, running again with the same Id and configuration.
 */
export function diffFor(j: Journal): Differ {
  const r = j.restart;
  if (!r || r.phase === "running") return diffContainers;
  const planned = new Set(r.levels.flat());
  return (before, after) => diffPlanned(before, after, planned);
}

/**
 * Retries the container comparison until nothing is harmed or `settleMs` runs out: right after the
 * start, dockerd is still restoring containers and may briefly show them in transition.
 */
export async function settleContainers(world: World, before: readonly ContainerState[], settleMs: number, diff_: Differ = diffContainers): Promise<ContainerDiff> {
  const deadline = world.clock.now() + settleMs;
  for (;;) {
    const diff = diff_(before, await takeSnapshot(world.docker));
    if (harmed(diff) === 0 || world.clock.now() >= deadline) return diff;
    await world.clock.sleep(250);
  }
}

/**
 * After the start: the running engine is the installed one (its /version against the package's upstream
 * version: which one is compared is said in the message), the options did not change, the packages are
 * the targets, and every container is as it was.
 */
export async function verifyAfterStart(world: World, journal: Journal, expected: readonly PackageTarget[]): Promise<Verification> {
  const checks: CheckResult[] = [];
  const { docker, packages } = world;
  // all at once: the containers' inspects (the longest part) do not wait for the other answers; each
  // ends before anything is decided (no settle loop left calling the API after a failure), and a
  // failure is reported in this order whatever finished first
  const [version, info, installed, containers] = await allSettledInOrder([
    docker.version(),
    docker.info(),
    packages.installed(expected.map((t) => t.name)),
    settleContainers(world, journal.snapshot, world.config.upgrade.settle, diffFor(journal)),
  ] as const);
  const scheme = packages.scheme;

  const wrong = expected.filter((t) => installed.find((p) => p.name === t.name)?.version !== t.version || !installed.find((p) => p.name === t.name)?.ok);
  checks.push(
    wrong.length
      ? fail("packages-installed", `not installed as planned: ${wrong.map((t) => `${t.name} wanted ${t.version}, have ${installed.find((p) => p.name === t.name)?.version ?? "none"}`).join("; ")}`)
      : pass("packages-installed", expected.map((t) => `${t.name} ${t.version}`).join(", ")),
  );

  const engineTarget = expected.find((t) => roleOf(t.name) === "engine");
  if (engineTarget) {
    const upstream = scheme.upstream(engineTarget.version);
    checks.push(
      sameRelease(releaseOf(version.version), releaseOf(upstream))
        ? pass("engine-version", `the API reports ${version.version}, the release of package ${engineTarget.name} ${engineTarget.version}`)
        : fail("engine-version", `the API reports ${version.version} but package ${engineTarget.name} ${engineTarget.version} is release ${upstream}: the running dockerd is not the installed build`),
    );
  }
  const containerdTarget = expected.find((t) => roleOf(t.name) === "containerd");
  const component = version.components.find((c) => c.name.toLowerCase() === "containerd");
  if (containerdTarget && component) {
    const upstream = scheme.upstream(containerdTarget.version);
    checks.push(
      sameRelease(releaseOf(component.version), releaseOf(upstream))
        ? pass("containerd-version", `the API reports containerd ${component.version} for package ${containerdTarget.version}`)
        : fail("containerd-version", `the API reports containerd ${component.version} but package ${containerdTarget.name} ${containerdTarget.version} is ${upstream}: containerd was not restarted`),
    );
  }

  const before = journal.engineOptions;
  if (before) {
    const changed = (["driver", "dockerRootDir", "cgroupDriver"] as const).filter((k) => before[k] !== info[k]);
    checks.push(
      changed.length
        ? fail("daemon-options", `changed across the restart: ${changed.map((k) => `${k} ${before[k]} -> ${info[k]}`).join(", ")}`)
        : pass("daemon-options", `unchanged: Driver=${info.driver} DockerRootDir=${info.dockerRootDir}`),
    );
  }
  if (!journal.restart) checks.push(info.liveRestoreEnabled ? pass("live-restore-after", "still enabled") : fail("live-restore-after", "live restore is off after the restart"));

  const policy = world.config.upgrade.rollbackOn;
  const lost = (policy.restarted ? containers.restarted.length + containers.changed.length : 0) + (policy.missing ? containers.missing.length : 0);
  checks.push(
    harmed(containers) === 0
      ? pass("containers", containers.planned ? `${containers.planned.length} restarted as planned (same Id and configuration, running again), ${containers.unchanged.length} left as they were, of ${containers.before}` : `${containers.unchanged.length} of ${containers.before} unchanged (same Id, Pid, StartedAt, Paused)`)
      : {
          name: "containers",
          ok: false,
          message: `${containers.restarted.length} restarted, ${containers.missing.length} missing, ${containers.changed.length} changed`,
          level: lost ? "error" : "warning",
        },
  );
  return { checks, containers, engineVersion: version.version };
}

/** Waits for every promise; then the values, or the first rejection in the list's order. */
async function allSettledInOrder<T extends readonly unknown[]>(promises: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
