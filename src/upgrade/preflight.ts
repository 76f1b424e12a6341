import { errorMessage } from "./steps.js";
import { badTargets } from "../history/bad-targets.js";
import type { ContainerState, EngineInfo, EngineVersion } from "../ports/docker.js";
import type { CheckResult } from "../report/report.js";
import { containerdVerdict, containerHazards, fail, pass, unitVerdicts } from "../checks/verdicts.js";
import { buildOfRelease, buildPlan, judgeSimulation, resolveTargets, selectPackages, type UpgradePlan } from "../plan/plan.js";
import { knownPackages, roleOf } from "../plan/roles.js";
import type { World } from "./world.js";
import { takeSnapshot } from "./snapshot.js";
import { CHECKPOINT_LABEL, logRates, planFates } from "../restart/fates.js";
import { checkpointCheck } from "../checkpoint/check.js";
import type { ContainerFate, RunReport } from "../report/report.js";

export interface PreflightResult {
  checks: CheckResult[];
  /** "proceed" with a plan, "up-to-date", or "refused" (a failing error-level check). */
  verdict: "proceed" | "up-to-date" | "refused";
  plan: UpgradePlan | null;
  engine: { package: string | null; from: string | null; to: string | null };
  version: EngineVersion | null;
  info: EngineInfo | null;
  snapshot: ContainerState[];
  /** The engine's installed packages the run manages (client plugins left out). */
  packages: string[];
  /** Each container's fate in the planned run, and its risks. */
  fates: ContainerFate[];
  /** The planned-restart path: the containers to checkpoint instead of stopping. */
  checkpoint: string[];
}

/** The down window a live upgrade is expected to take, for the log-pipe risk: the last run's, else this. */
const EXPECTED_DOWN_MS = 3_000;


/**
 * Every check before the stop, read-only. Each check is recorded whatever its verdict; the first
 * failing error-level check that makes later checks meaningless ends the preflight early.
 */
export async function preflight(world: World, options: { to?: string | undefined; dryRun: boolean; allowRestart?: boolean }): Promise<PreflightResult> {
  const { docker, packages, config } = world;
  const checks: CheckResult[] = [];
  const result: PreflightResult = { checks, verdict: "refused", plan: null, engine: { package: null, from: null, to: null }, version: null, info: null, snapshot: [], packages: [], fates: [], checkpoint: [] };
  const beyond = options.allowRestart === true || config.upgrade.beyondPatch === "restart";
  const refused = (): PreflightResult => ({ ...result, verdict: "refused" });

  try {
    await docker.ping(5_000);
    result.version = await docker.version();
    result.info = await docker.info();
    checks.push(pass("api-reachable", `engine ${result.version.version} (API ${result.version.apiVersion}) at ${config.docker.socket}`));
  } catch (err) {
    checks.push(fail("api-reachable", `cannot reach the Docker API at ${config.docker.socket}: ${errorMessage(err)}; is dockerd running and docker.socket the right path?`));
    return refused();
  }
  const info = result.info;
  checks.push(
    info.liveRestoreEnabled
      ? pass("live-restore", "live restore is enabled")
      : fail("live-restore", 'live restore is off: stopping dockerd would stop every container; set "live-restore": true in /etc/docker/daemon.json and reload dockerd (SIGHUP), then run again'),
  );
  checks.push(
    info.swarmState === "inactive"
      ? pass("swarm-inactive", "swarm mode is inactive")
      : fail("swarm-inactive", `swarm mode is ${info.swarmState}: live restore is incompatible with swarm mode; upgrade swarm nodes by draining them`),
  );
  checks.push(pass("daemon-options", `recorded Driver=${info.driver} DockerRootDir=${info.dockerRootDir} CgroupDriver=${info.cgroupDriver || "?"}`));

  const names = config.packages.names === "auto" ? knownPackages(packages.scheme.name) : config.packages.names;
  // Read-only queries that do not depend on each other run together (apt-cache and dpkg-query take no lock).
  const [installed, audit, snapshot] = await Promise.all([packages.installed(names), packages.audit(), takeSnapshot(docker)]);
  // the logs' sizes now and at the end of the preflight: each running container's log rate
  const logged = snapshot.filter((c) => c.running && c.logPath);
  const sizesAt = world.clock.now();
  const sizes = await world.host.fileSizes(logged.map((c) => c.logPath!)).catch(() => logged.map(() => null));
  const selection = selectPackages(installed, config.packages.names, config.packages.engine, packages.scheme.name);
  checks.push(selection.check);
  if (!selection.engine) return refused();
  const engine = selection.engine;
  result.packages = selection.packages.filter((p) => roleOf(p.name) !== "plugin").map((p) => p.name);
  result.engine = { package: engine.name, from: engine.version, to: null };

  const broken = installed.filter((p) => !p.ok);
  checks.push(
    broken.length || audit.length
      ? fail("package-state", `the package database is not consistent (${[...broken.map((p) => `${p.name} ${p.status}`), ...audit.slice(0, 3)].join("; ")}); ${packages.repairHint}`)
      : pass("package-state", "every package is fully installed"),
  );

  if (config.packages.refresh && !options.dryRun) {
    try {
      await packages.refresh();
      checks.push(pass("package-lists", "package lists refreshed"));
    } catch (err) {
      checks.push(fail("package-lists", `could not refresh the package lists: ${errorMessage(err)}`, "warning"));
    }
  }

  const available = await packages.available(selection.packages.map((p) => p.name));
  // One release per rollout: the group's wins over this host's own newest patch; each host takes its own build of it.
  let to = options.to;
  if (world.fleet && to === undefined) {
    try {
      const release = await world.fleet.rolloutTarget(engine.version);
      if (release) {
        const build = buildOfRelease(packages.scheme, engine.version, available[engine.name] ?? [], release, config.packages.deny);
        if (!build) {
          checks.push(fail("fleet-target", `the group's rollout goes to ${release}, and this host's repositories offer no build of it that may be installed here (${engine.name} ${engine.version}); refresh the package lists or add the release to the repository, or \`docker-live-upgrade fleet forget\` this host`));
          return refused();
        }
        to = build;
        checks.push(pass("fleet-target", `the group's rollout goes to ${release}: this host follows it with ${to}`));
      }
    } catch (err) {
      checks.push(fail("fleet", errorMessage(err)));
      return refused();
    }
  }
  // the recent reports, read once: the known-bad targets and the last down window
  let recent: Promise<RunReport[]> | null = null;
  const reports = () => (recent ??= world.state.reports(50));
  let resolution = resolveTargets(packages.scheme, { ...selection, engine }, available, to, config.packages.deny, beyond);
  // A target that failed here is not tried again by itself (only by name, with --to, or a newer release).
  const first = resolution.kind === "target" && options.to === undefined ? resolution.engineTarget : null;
  const bad = first !== null ? badTargets(await reports()).find((b) => b.version === first) : undefined;
  if (bad) {
    const message = `${bad.version} ${bad.outcome === "rolled-back" ? "was rolled back" : "failed"} on this host (run ${bad.runId}: ${bad.reason}); it is not retried by itself: \`docker-live-upgrade upgrade --to ${bad.version}\` once the cause is fixed, or wait for a newer release`;
    // a jump that failed does not keep the host from its series' patch releases
    const patch = resolution.kind === "target" && resolution.path === "restart" ? resolveTargets(packages.scheme, { ...selection, engine }, available, undefined, config.packages.deny, false) : null;
    if (patch === null || patch.kind === "refused") {
      checks.push(resolution.check, fail("known-bad-target", message));
      return refused();
    }
    checks.push(fail("known-bad-target", `${message}; the newest patch release of the installed series instead`, "warning"));
    resolution = patch;
  }
  checks.push(resolution.check);
  if (resolution.kind === "refused") return refused();
  const path = resolution.kind === "target" ? resolution.path : "live";
  if (path === "restart") {
    // no container runs across the restart: live restore is not needed (nor relied on)
    const at = checks.findIndex((c) => c.name === "live-restore");
    checks[at] = pass("live-restore", `${info.liveRestoreEnabled ? "enabled" : "off"}; not needed on the planned-restart path (every running container is stopped before dockerd)`);
  }

  result.snapshot = snapshot;
  checks.push(pass("snapshot", `${result.snapshot.length} containers (${result.snapshot.filter((c) => c.running).length} running)`));
  if (path === "live") checks.push(...containerHazards(result.version.version, result.snapshot));
  const rm = snapshot.filter((c) => c.running && c.autoRemove);
  if (path === "restart" && rm.length) {
    checks.push(fail("autoremove-containers", `${rm.map((c) => c.name).join(", ")} run with --rm: the planned restart's stop would remove them for good; stop them yourself, or recreate them without --rm, then run again`));
  }
  const measure = resolution.kind === "target" && path === "live" && logged.length > 0;
  const waited = world.clock.now() - sizesAt;
  if (measure && waited < 1_000) await world.clock.sleep(1_000 - waited);
  const rates = measure ? logRates(logged.map((c) => c.id), sizes, await world.host.fileSizes(logged.map((c) => c.logPath!)).catch(() => logged.map(() => null)), world.clock.now() - sizesAt) : new Map<string, number>();
  const lastDown = (await reports().catch(() => [])).slice(0, 10).find((r) => r.daemonDowntimeMs !== null && r.path !== "restart")?.daemonDowntimeMs;
  const cp = path === "restart" ? await checkpointPlan(world, snapshot) : null;
  if (cp?.check) checks.push(cp.check);
  result.checkpoint = [...(cp?.ids ?? [])];
  result.fates = planFates(snapshot, { path, logRates: rates, expectedDownMs: lastDown ?? EXPECTED_DOWN_MS, steadyMs: config.upgrade.restart.steady, checkpointed: cp?.ids, noCheckpoints: cp?.why ?? null });

  if (resolution.kind === "up-to-date") {
    result.engine.to = engine.version;
    result.verdict = checks.some((c) => !c.ok && c.level === "error") ? "refused" : "up-to-date";
    return result;
  }
  result.engine.to = resolution.targets.find((t) => t.name === engine.name)?.version ?? engine.version;

  const changes = await packages.simulate(resolution.targets).catch((err: unknown) => {
    checks.push(fail("simulation", `the package manager refuses the plan: ${errorMessage(err)}`));
    return null;
  });
  if (!changes) return refused();
  checks.push(...judgeSimulation(packages.scheme, changes, resolution.targets, path));
  const plan = buildPlan({ name: engine.name, from: engine.version, to: result.engine.to }, changes, resolution.targets, path);
  result.plan = plan;

  const [holder, held, dl, back, unitChecks, processes, holdSupport] = await Promise.all([
    packages.lockHolder(),
    packages.held(plan.changes.map((c) => c.name)),
    packages.downloadable(plan.targets),
    packages.downloadable(plan.previous),
    world.service.kind === "systemd"
      ? world.service.facts().then(
          (f) => unitVerdicts(f, plan.restartContainerd),
          (err: unknown) => [fail("units", `cannot read the systemd units: ${errorMessage(err)}`)],
        )
      : Promise.resolve([]),
    world.host.processes(),
    config.packages.hold ? packages.holdSupport() : Promise.resolve(null),
  ]);
  checks.push(holder ? fail("package-lock", `the package database is locked by ${holder}; wait for it to finish`) : pass("package-lock", "the package database is not locked"));
  checks.push(holdsVerdict(held, result.packages, config.packages.hold, packages.holdsHint, holdSupport));
  checks.push({ name: "downloadable", ok: dl.ok, message: dl.message, level: "error" });
  checks.push({
    name: "rollback-available",
    ok: back.ok,
    message: back.ok ? `previous versions fetchable for a rollback: ${plan.previous.map((p) => `${p.name}=${p.version}`).join(", ")}` : `${back.message}: a rollback would not be possible`,
    level: "error",
  });
  checks.push(...unitChecks);
  checks.push(containerdVerdict(info, processes));

  result.verdict = checks.some((c) => !c.ok && c.level === "error") ? "refused" : "proceed";
  return result;
}

/**
 * Holds on the planned packages. With packages.hold the upgrader manages the engine's own packages'
 * holds (lifts them for its installs, leaves them held); a hold on any other package it would change
 * (a dependency) is someone else's and refuses the run, as any hold does without packages.hold.
 */
function holdsVerdict(held: readonly string[], engineSet: readonly string[], manage: boolean, hint: string, unsupported: string | null): CheckResult {
  if (manage && unsupported) return fail("package-holds", `packages.hold is on, but ${unsupported}; or set packages.hold: false`);
  const foreign = manage ? held.filter((n) => !engineSet.includes(n)) : [...held];
  if (foreign.length) return fail("package-holds", `${foreign.join(", ")} held by someone else (${hint}); release the hold${manage ? "" : ", or set packages.hold: true to let the upgrader manage the engine's holds"}`);
  if (manage) return pass("package-holds", held.length ? `${held.join(", ")} held by the upgrader between runs` : `${engineSet.join(", ")} will be held after the run (packages.hold)`);
  return pass("package-holds", "no holds on the planned packages");
}

/**
 * The planned-restart path: running containers labelled docker-live-upgrade.checkpoint=true are
 * checkpointed instead of stopped when checkpoints work here (CRIU 4.1+, its own check, the engine in
 * experimental mode: `checkpoint check` without its throwaway container). A dump that fails in the run
 * falls back to a stop, and a restore that fails to a fresh start: said in the report, never hidden.
 */
async function checkpointPlan(world: World, snapshot: readonly ContainerState[]): Promise<{ ids: Set<string>; why: string | null; check: CheckResult | null }> {
  const labelled = snapshot.filter((c) => c.running && !c.paused && c.spec?.labels[CHECKPOINT_LABEL] === "true");
  if (!labelled.length) return { ids: new Set(), why: null, check: null };
  const names = labelled.map((c) => c.name).join(", ");
  let why: string;
  if (!world.checkpoints) why = "no checkpoint support in this build";
  else {
    const r = await checkpointCheck({ docker: world.docker, checkpoints: world.checkpoints, clock: world.clock }, { image: null, live: false }).catch((err: unknown) => errorMessage(err));
    if (typeof r !== "string" && r.ok) return { ids: new Set(labelled.map((c) => c.id)), why: null, check: pass("checkpoints", `${names}: checkpointed instead of stopped (criu ${r.criu ?? "?"}); a failed dump falls back to a stop, a failed restore to a fresh start`) };
    why = typeof r === "string" ? r : r.parts.filter((p) => !p.ok).map((p) => `${p.detail}${p.fix ? ` (${p.fix})` : ""}`).join("; ");
  }
  return { ids: new Set(), why, check: fail("checkpoints", `${names} labelled ${CHECKPOINT_LABEL}=true, but checkpoints do not work here: ${why}; they are stopped and started fresh, their state lost`, "warning") };
}
