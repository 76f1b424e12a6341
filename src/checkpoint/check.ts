import semver from "semver";
import type { CheckpointDeps } from "./ops.js";
import { restoreWithRetry } from "./ops.js";

export interface CheckPart {
  name: "criu" | "criu-check" | "experimental" | "sockets" | "checkpoint" | "restore";
  ok: boolean;
  detail: string;
  /** What to do about it, when it failed. */
  fix?: string;
}

export interface CheckResult {
  ok: boolean;
  criu: string | null;
  kernel: string;
  parts: CheckPart[];
  /** The live test: how long the throwaway container's checkpoint and restore took. */
  dumpMs: number | null;
  restoreMs: number | null;
}

/** The label that marks the throwaway container of a check (removed by the check itself). */
export const SCRATCH_LABEL = "docker-live-upgrade.scratch";

const COUNTER = "i=0; while :; do i=$((i+1)); echo $i; sleep 0.1; done";

/**
 * `checkpoint check`: whether checkpoints work on this host, proven, never assumed. CRIU present and
 * its own `criu check`; the engine in experimental mode; then (image given) a throwaway container
 * checkpointed and restored on this engine. Each failing part names its fix.
 */
export async function checkpointCheck(deps: CheckpointDeps, opts: { image: string | null; live?: boolean }): Promise<CheckResult> {
  const parts: CheckPart[] = [];
  const facts = await deps.checkpoints.criu();
  const res: CheckResult = { ok: false, criu: facts.version, kernel: facts.kernel, parts, dumpMs: null, restoreMs: null };
  const v = semver.coerce(facts.version ?? "");
  if (facts.version === null) parts.push({ name: "criu", ok: false, detail: "criu is not installed", fix: "install CRIU 4.1 or newer (Debian 13: apt-get install criu)" });
  else if (v && semver.lt(v, "4.1.0")) parts.push({ name: "criu", ok: false, detail: `criu ${facts.version} is older than 4.1: on recent kernels it fails to start ("Unexpected rt vDSO area bounds")`, fix: "install CRIU 4.1 or newer (Debian 13's criu, or a backport)" });
  else parts.push({ name: "criu", ok: true, detail: `criu ${facts.version}` });
  if (facts.check) parts.push(facts.check.ok ? { name: "criu-check", ok: true, detail: facts.check.message } : { name: "criu-check", ok: false, detail: `criu check: ${facts.check.message}`, fix: "see `criu check --all`; a CRIU older than the kernel often fails it: upgrade criu" });
  const kernel = semver.coerce(facts.kernel);
  if (v && kernel && semver.gte(kernel, "6.16.0") && semver.lt(v, "4.2.0")) {
    // not a failure: containers without sockets checkpoint fine
    parts.push({ name: "sockets", ok: true, detail: `warning: criu ${facts.version} on kernel ${facts.kernel} cannot dump TCP sockets ("Can't get 1:16 opt": fixed in CRIU 4.2); containers with TCP sockets fail to checkpoint` });
  }
  const experimental = await deps.checkpoints.experimental().catch((err: unknown) => err as Error);
  if (experimental === true) parts.push({ name: "experimental", ok: true, detail: "the engine runs with experimental features (docker checkpoint)" });
  else parts.push({ name: "experimental", ok: false, detail: experimental === false ? "the engine does not run with experimental features: it refuses checkpoints" : `the engine did not answer: ${experimental.message}`, fix: 'set "experimental": true in /etc/docker/daemon.json and restart dockerd (with live-restore on, containers keep running)' });
  if (parts.some((p) => !p.ok)) return res;
  if (opts.live === false) {
    // the tools and the engine only (a planned restart's preflight: its dumps fall back to a stop)
    res.ok = true;
    return res;
  }
  if (!opts.image) {
    parts.push({ name: "checkpoint", ok: false, detail: "no image to try a checkpoint with", fix: "pass --image IMAGE: any image on this host with /bin/sh (docker images)" });
    return res;
  }
  // the engine's network namespace handling differs by mode (28.5 with containerd 2.1 restores
  // --network host, not --network none): each is tried
  for (const network of ["none", "host"] as const) await tryOne(deps, opts.image, network, res);
  res.ok = parts.every((p) => p.ok);
  return res;
}

/** A throwaway container on one network mode, checkpointed and restored: its parts pushed onto the result. */
async function tryOne(deps: CheckpointDeps, image: string, network: "none" | "host", res: CheckResult): Promise<void> {
  const parts = res.parts;
  const on = `--network ${network}`;
  let id: string | null = null;
  try {
    id = await deps.checkpoints.runScratch(image, COUNTER, { [SCRATCH_LABEL]: "checkpoint-check" }, network);
    await deps.clock.sleep(500);
    const t0 = deps.clock.now();
    try {
      await deps.checkpoints.create(id, "check", true);
      const ms = deps.clock.now() - t0;
      res.dumpMs = Math.max(res.dumpMs ?? 0, ms);
      parts.push({ name: "checkpoint", ok: true, detail: `${on}: a throwaway container of ${image} checkpointed in ${ms} ms` });
    } catch (err) {
      parts.push({ name: "checkpoint", ok: false, detail: `${on}: checkpoint of a throwaway container failed: ${(err as Error).message}`, fix: "see the engine's log (journalctl -u docker) and CRIU's dump.log in the container's checkpoint folder" });
      return;
    }
    const t1 = deps.clock.now();
    try {
      const attempts = await restoreWithRetry(deps, id, "check");
      const ms = deps.clock.now() - t1;
      res.restoreMs = Math.max(res.restoreMs ?? 0, ms);
      const c = await deps.docker.inspect(id);
      if (!c?.running) throw new Error(`the container is ${c?.status ?? "gone"} after the restore`);
      parts.push({ name: "restore", ok: true, detail: `${on}: restored in ${ms} ms${attempts > 1 ? ` (${attempts} tries: the engine's "content already exists" passes on a later try)` : ""}` });
    } catch (err) {
      parts.push({ name: "restore", ok: false, detail: `${on}: restore of the throwaway container failed: ${(err as Error).message}`, fix: `this engine and containerd cannot restore containers on ${on} here: keep such containers unlabelled, or try another engine release` });
    }
  } catch (err) {
    parts.push({ name: "checkpoint", ok: false, detail: `${on}: a throwaway container of ${image} did not start: ${(err as Error).message}`, fix: "pass --image IMAGE: any image on this host with /bin/sh (docker images)" });
  } finally {
    if (id) await deps.checkpoints.removeContainer(id).catch(() => undefined);
  }
}

export function formatCheck(r: CheckResult): string {
  const lines = r.parts.map((p) => `${p.ok ? "ok  " : "FAIL"} ${p.name}: ${p.detail}${p.fix ? `\n     fix: ${p.fix}` : ""}`);
  const worked = ["none", "host"].filter((n) => r.parts.some((p) => p.name === "restore" && p.ok && p.detail.startsWith(`--network ${n}:`)));
  lines.push(r.ok ? "checkpoints work on this host" : worked.length ? `checkpoints work on this host only for containers on --network ${worked.join(", ")}` : "checkpoints do not work on this host");
  return lines.join("\n");
}
