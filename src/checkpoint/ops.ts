import pRetry from "p-retry";
import { z } from "zod";
import type { CheckpointEntry, CheckpointPort, ContainerDefinition } from "../ports/checkpoints.js";
import type { Clock } from "../ports/clock.js";
import type { DockerPort } from "../ports/docker.js";
import { autoName, CHECKPOINT_NAME, newestFirst, pruneSet } from "./names.js";

/** What the checkpoint commands touch. */
export interface CheckpointDeps {
  docker: DockerPort;
  checkpoints: CheckpointPort;
  clock: Clock;
  /** The wait before a restore is tried again (2 s: the engine's "content already exists" passes by then). */
  retryDelayMs?: number;
}

/** A request the host cannot do as asked (exit 3): nothing was touched. */
export class CheckpointRefused extends Error {
  override name = "CheckpointRefused";
}

/** Something was tried and failed (exit 1): the message says what state it left. */
export class CheckpointFailed extends Error {
  override name = "CheckpointFailed";
}

/** A bad argument (exit 2): nothing was touched. */
export class CheckpointUsage extends Error {
  override name = "CheckpointUsage";
}

export function validName(name: string): string {
  if (!CHECKPOINT_NAME.test(name)) throw new CheckpointUsage(`not a checkpoint name: ${JSON.stringify(name)} (two or more of letters, digits, '_', '.', '-'; a letter or digit first)`);
  return name;
}

async function container(deps: CheckpointDeps, ref: string) {
  const c = await deps.docker.inspect(ref);
  if (!c) throw new CheckpointRefused(`no container ${ref} on this host (docker ps -a)`);
  return c;
}

/**
 * `docker start --checkpoint`, tried again after a pause when the engine says the checkpoint's
 * content already exists (docker 26.1 with containerd 1.7 does so for many of the restores made
 * right after a create; the same restore a moment later works).
 */
export async function restoreWithRetry(deps: CheckpointDeps, id: string, name: string): Promise<number> {
  let attempts = 0;
  await pRetry(
    async () => {
      attempts++;
      await deps.checkpoints.restore(id, name);
    },
    { retries: 3, minTimeout: deps.retryDelayMs ?? 2_000, factor: 1, shouldRetry: ({ error }) => /already exists/i.test(error.message) },
  );
  return attempts;
}

export interface Created {
  container: string;
  id: string;
  checkpoint: string;
  leftRunning: boolean;
  ms: number;
  /** The restart policy it had, set to "no" for the move (export): null when untouched. */
  policyWas: string | null;
}

/**
 * `checkpoint create`: a running container's checkpoint; without leaveRunning it stops there (as
 * docker's). The engine starts a stopped container again at once, fresh, when its restart policy says
 * so (and a starting dockerd does too): that stop is refused unless the policy is "no", or (policyOff,
 * an export's move) the policy is set to "no" first, and put back if the checkpoint fails.
 */
export async function createCheckpoint(deps: CheckpointDeps, ref: string, opts: { name?: string | undefined; leaveRunning: boolean; policyOff?: boolean }): Promise<Created> {
  const c = await container(deps, ref);
  const name = opts.name ? validName(opts.name) : autoName(deps.clock.now());
  if (!c.running) throw new CheckpointRefused(`${c.name} is not running (${c.status}): only a running container has a state to checkpoint`);
  if (c.paused) throw new CheckpointRefused(`${c.name} is paused: unpause it first (docker unpause ${c.name})`);
  const exit = !opts.leaveRunning;
  if (exit && c.restartPolicy !== "no" && !opts.policyOff) {
    throw new CheckpointRefused(`${c.name} has restart policy ${c.restartPolicy}: the engine would start it again, fresh, right after the checkpoint stops it. Checkpoint it with --leave-running, or first \`docker update --restart no ${c.name}\` (and back after its restore)`);
  }
  if ((await deps.checkpoints.list(c.id)).some((e) => e.name === name)) throw new CheckpointRefused(`${c.name} has a checkpoint named ${name} already: another --name, or remove it first`);
  const policyWas = exit && c.restartPolicy !== "no" ? c.restartPolicy : null;
  const started = deps.clock.now();
  try {
    if (policyWas) await deps.checkpoints.setRestartPolicy(c.id, "no");
    await deps.checkpoints.create(c.id, name, exit);
  } catch (err) {
    // a failed dump lets the process run on; should it have stopped anyway, it starts again (fresh)
    const after = await deps.docker.inspect(c.id).catch(() => null);
    let state = "it runs on";
    if (after && !after.running) {
      state = await deps.docker.startContainer(c.id).then(
        () => "it had stopped and was started again (its state before is lost)",
        (e: unknown) => `it is stopped and could not be started again: ${(e as Error).message}`,
      );
    }
    if (policyWas) {
      state += await deps.checkpoints.setRestartPolicy(c.id, policyWas).then(
        () => "",
        (e: unknown) => `; its restart policy is still no, not ${policyWas}: docker update --restart ${policyWas} ${c.name} (${(e as Error).message})`,
      );
    }
    throw new CheckpointFailed(`checkpoint of ${c.name} failed: ${(err as Error).message}; ${state}`);
  }
  return { container: c.name, id: c.id, checkpoint: name, leftRunning: opts.leaveRunning, ms: deps.clock.now() - started, policyWas };
}

/** The newest checkpoint of a container, or the one named. */
async function pick(deps: CheckpointDeps, id: string, cname: string, name: string | undefined): Promise<CheckpointEntry> {
  const all = await deps.checkpoints.list(id);
  if (name) {
    const e = all.find((x) => x.name === validName(name));
    if (!e) throw new CheckpointRefused(`${cname} has no checkpoint ${name} (it has: ${all.map((x) => x.name).join(", ") || "none"})`);
    return e;
  }
  const newest = newestFirst(all)[0];
  if (!newest) throw new CheckpointRefused(`${cname} has no checkpoint (docker-live-upgrade checkpoint create ${cname})`);
  return newest;
}

export interface Restored {
  container: string;
  checkpoint: string;
  attempts: number;
  ms: number;
}

/** `checkpoint restore`: a stopped container resumes from its newest (or the named) checkpoint. */
export async function restoreCheckpoint(deps: CheckpointDeps, ref: string, opts: { name?: string | undefined }): Promise<Restored> {
  const c = await container(deps, ref);
  if (c.running) throw new CheckpointRefused(`${c.name} is running: a restore starts a stopped container from its checkpoint (stop it, or checkpoint it without --leave-running, first)`);
  const e = await pick(deps, c.id, c.name, opts.name);
  const started = deps.clock.now();
  try {
    const attempts = await restoreWithRetry(deps, c.id, e.name);
    return { container: c.name, checkpoint: e.name, attempts, ms: deps.clock.now() - started };
  } catch (err) {
    throw new CheckpointFailed(`restore of ${c.name} from ${e.name} failed: ${(err as Error).message}; it stays stopped (docker start ${c.name} starts it fresh)`);
  }
}

export interface Listed {
  container: string;
  checkpoints: CheckpointEntry[];
}

/** `checkpoint list`: one container's checkpoints, or every container's that has any; newest first. */
export async function listCheckpoints(deps: CheckpointDeps, ref?: string): Promise<Listed[]> {
  const ids = ref ? [(await container(deps, ref)).id] : await deps.docker.listContainerIds();
  const out: Listed[] = [];
  for (const id of ids) {
    const c = await deps.docker.inspect(id);
    if (!c) continue;
    const checkpoints = newestFirst(await deps.checkpoints.list(c.id));
    if (ref || checkpoints.length) out.push({ container: c.name, checkpoints });
  }
  return out;
}

/** `checkpoint prune`: each container keeps its newest `keep` automatic checkpoints. */
export async function pruneCheckpoints(deps: CheckpointDeps, ref: string | undefined, keep: number): Promise<{ container: string; removed: string[] }[]> {
  const out: { container: string; removed: string[] }[] = [];
  for (const l of await listCheckpoints(deps, ref)) {
    const id = (await deps.docker.inspect(l.container))?.id;
    if (!id) continue;
    const removed: string[] = [];
    for (const e of pruneSet(l.checkpoints, keep)) {
      await deps.checkpoints.remove(id, e.name);
      removed.push(e.name);
    }
    out.push({ container: l.container, removed });
  }
  return out;
}

const EXPORT_FORMAT = "docker-live-upgrade-export/1";

const manifestSchema = z.object({
  format: z.literal(EXPORT_FORMAT),
  exportedAt: z.string(),
  from: z.object({ engine: z.string(), criu: z.string().nullable() }),
  checkpoint: z.string().regex(CHECKPOINT_NAME),
  container: z.object({
    id: z.string(),
    name: z.string(),
    image: z.string(),
    imageId: z.string(),
    config: z.record(z.string(), z.unknown()),
    hostConfig: z.record(z.string(), z.unknown()),
    mounts: z.array(z.object({ type: z.string(), source: z.string(), destination: z.string() })),
    running: z.boolean(),
  }),
  notCarried: z.array(z.string()),
});
export type ExportManifest = z.infer<typeof manifestSchema>;

/** Mounts whose content stays behind: volumes and bind mounts are the operator's to move. */
const notCarried = (def: ContainerDefinition): string[] => def.mounts.filter((m) => m.type !== "tmpfs").map((m) => `${m.type} ${m.source} -> ${m.destination}`);

/**
 * What a container created from this definition mounts, one line per destination: its binds and
 * volumes (HostConfig.Binds and Mounts), and the image's or config's volumes none of those cover
 * (anonymous: created empty). Read from what it is created with, not from the file's own list.
 */
export function mountsOf(hc: Record<string, unknown>, config: Record<string, unknown>): string[] {
  const byDest = new Map<string, string>();
  for (const b of Array.isArray(hc.Binds) ? (hc.Binds as unknown[]) : []) {
    if (typeof b !== "string") continue;
    const [src = "", dest = ""] = b.split(":");
    byDest.set(dest, `${src.startsWith("/") ? "bind" : "volume"} ${src} -> ${dest}`);
  }
  for (const raw of Array.isArray(hc.Mounts) ? (hc.Mounts as unknown[]) : []) {
    const mt = raw as { Type?: string; Source?: string; Target?: string };
    if (mt.Type === "tmpfs" || !mt.Target) continue;
    byDest.set(mt.Target, `${mt.Type ?? "?"} ${mt.Source ?? ""} -> ${mt.Target}`);
  }
  for (const v of Object.keys((config.Volumes as Record<string, unknown> | null | undefined) ?? {})) if (!byDest.has(v)) byDest.set(v, `volume (anonymous) -> ${v}`);
  return [...byDest.values()];
}

/**
 * What a container created from this HostConfig would get of the host beyond its own namespaces: an
 * export file is data from elsewhere, and creating its container as it says is acting on it as root.
 */
export function hostAccess(hc: Record<string, unknown>): string[] {
  const out: string[] = [];
  const list = (k: string) => (Array.isArray(hc[k]) ? (hc[k] as unknown[]) : []);
  if (hc.Privileged === true) out.push("privileged");
  // (CgroupnsMode host is the engine's own default on cgroup v1 hosts: not counted)
  for (const k of ["NetworkMode", "PidMode", "IpcMode", "UTSMode", "UsernsMode"]) {
    const v = hc[k];
    if (v === "host" || (typeof v === "string" && v.startsWith("container:"))) out.push(`${k} ${v}`);
  }
  for (const v of list("VolumesFrom")) out.push(`volumes from ${String(v)}`);
  for (const r of list("DeviceCgroupRules")) out.push(`device rule ${String(r)}`);
  if (typeof hc.Runtime === "string" && hc.Runtime !== "" && hc.Runtime !== "runc") out.push(`runtime ${hc.Runtime}`);
  for (const b of list("Binds")) if (typeof b === "string" && b.startsWith("/")) out.push(`bind ${b}`);
  for (const m of list("Mounts")) if ((m as { Type?: string }).Type === "bind") out.push(`bind ${String((m as { Source?: string }).Source)} -> ${String((m as { Target?: string }).Target)}`);
  for (const d of list("Devices")) out.push(`device ${String((d as { PathOnHost?: string }).PathOnHost)}`);
  for (const c of list("CapAdd")) out.push(`capability ${String(c)}`);
  for (const o of list("SecurityOpt")) if (typeof o === "string" && /unconfined|label[=:]disable/.test(o)) out.push(`security-opt ${o}`);
  return out;
}

export interface Exported {
  container: string;
  checkpoint: string;
  file: string;
  bytes: number;
  /** Where the source is now: "running", "stopped at the checkpoint", or what a failure left. */
  source: string;
  /** The restart policy the source had, set to "no" as it moved: null when untouched. */
  policyWas: string | null;
  notCarried: string[];
}

/**
 * `checkpoint export`: the container's checkpoint (a new one, or --name) and its definition in one
 * file. A new checkpoint stops the container there unless leaveRunning (it is moving); if anything
 * after the stop fails, it is restored where it was.
 */
export async function exportContainer(
  deps: CheckpointDeps,
  ref: string,
  opts: { out: string; name?: string | undefined; leaveRunning: boolean; engine: string; criu: string | null },
): Promise<Exported> {
  const def = await deps.checkpoints.definition(ref);
  if (!def) throw new CheckpointRefused(`no container ${ref} on this host (docker ps -a)`);
  if (await deps.checkpoints.exists(opts.out)) throw new CheckpointRefused(`${opts.out} exists: the export writes a new file (another --out, or remove that one first)`);
  let name: string;
  let stoppedHere = false;
  let policyWas: string | null = null;
  if (opts.name) name = (await pick(deps, def.id, def.name, opts.name)).name;
  else {
    // a move: the source must stay stopped here, its restart policy off (the definition keeps it for the import)
    const made = await createCheckpoint(deps, def.id, { leaveRunning: opts.leaveRunning, policyOff: true });
    name = made.checkpoint;
    stoppedHere = !opts.leaveRunning;
    policyWas = made.policyWas;
  }
  const manifest: ExportManifest = {
    format: EXPORT_FORMAT,
    exportedAt: new Date(deps.clock.now()).toISOString(),
    from: { engine: opts.engine, criu: opts.criu },
    checkpoint: name,
    container: def,
    notCarried: notCarried(def),
  };
  try {
    const bytes = await deps.checkpoints.pack(def.id, name, manifest, opts.out);
    const running = (await deps.docker.inspect(def.id))?.running === true;
    const source = running ? "running" : `stopped at checkpoint ${name}${policyWas ? ` (its restart policy ${policyWas} set to no: it moved)` : ""}`;
    return { container: def.name, checkpoint: name, file: opts.out, bytes, source, policyWas, notCarried: manifest.notCarried };
  } catch (err) {
    let source = "untouched";
    if (stoppedHere) {
      const back = await restoreWithRetry(deps, def.id, name).then(
        () => null,
        (e: unknown) => e as Error,
      );
      source = back === null ? `restored here from ${name}` : `could not be restored here (${back.message}): docker-live-upgrade checkpoint restore ${def.name} --name ${name}`;
      // its policy back only once it runs: on a stopped one, the next dockerd start would start it fresh
      if (policyWas && back === null) {
        source += await deps.checkpoints.setRestartPolicy(def.id, policyWas).then(
          () => "",
          (e: unknown) => `; its restart policy is no, not ${policyWas}: docker update --restart ${policyWas} ${def.name} (${(e as Error).message})`,
        );
      } else if (policyWas) source += `, then docker update --restart ${policyWas} ${def.name} (its restart policy is no meanwhile)`;
    }
    throw new CheckpointFailed(`export of ${def.name} failed: ${(err as Error).message}; the container: ${source}`);
  }
}

export interface Imported {
  container: string;
  id: string;
  checkpoint: string;
  started: boolean;
  attempts: number;
  notCarried: string[];
}

/**
 * `checkpoint import`: the exported container created here from its definition, its checkpoint put
 * where the engine keeps checkpoints, and (start) resumed from it. The same image must be here.
 * Whatever fails after the create removes what the import made: nothing half-imported stays.
 */
export async function importContainer(deps: CheckpointDeps, file: string, opts: { start: boolean; rename?: string | undefined; allowHostAccess?: boolean }): Promise<Imported> {
  if (!(await deps.checkpoints.exists(file))) throw new CheckpointUsage(`no file ${file}`);
  const parsed = manifestSchema.safeParse(await deps.checkpoints.readManifest(file));
  if (!parsed.success) throw new CheckpointRefused(`${file} is not an export this version reads (${EXPORT_FORMAT}): ${parsed.error.issues[0]?.message ?? "invalid"}`);
  const m = parsed.data;
  const name = opts.rename ?? m.container.name;
  // the engine's rule for container names is the one for checkpoint names
  if (!CHECKPOINT_NAME.test(name)) throw new CheckpointUsage(`not a container name: ${JSON.stringify(name)}`);
  const access = hostAccess(m.container.hostConfig);
  if (access.length && !opts.allowHostAccess) throw new CheckpointRefused(`the exported container reaches into the host (${access.join(", ")}): import it only from a host you trust, with --allow-host-access`);
  if (await deps.docker.inspect(name)) throw new CheckpointRefused(`a container named ${name} exists on this host: import it under another name (--rename NAME), or remove that one first`);
  const here = await deps.checkpoints.imageId(m.container.image);
  if (here === null) throw new CheckpointRefused(`the image ${m.container.image} (${m.container.imageId}) is not on this host: load or pull that same image first, then import again`);
  if (here !== m.container.imageId) throw new CheckpointRefused(`${m.container.image} here is another image (${here}) than the exported container ran (${m.container.imageId}): a checkpoint restores only onto the same image`);
  const id = await deps.checkpoints.createContainer(name, m.container);
  try {
    await deps.checkpoints.unpack(file, id, m.checkpoint);
    const attempts = opts.start ? await restoreWithRetry(deps, id, m.checkpoint) : 0;
    return { container: name, id, checkpoint: m.checkpoint, started: opts.start, attempts, notCarried: mountsOf(m.container.hostConfig, m.container.config) };
  } catch (err) {
    const cleanup = await deps.checkpoints.removeContainer(id).then(
      () => "the container it created was removed",
      (e: unknown) => `the container it created (${id.slice(0, 12)}) could not be removed: ${(e as Error).message}`,
    );
    throw new CheckpointFailed(`import of ${m.container.name} failed: ${(err as Error).message}; ${cleanup}; the source host is untouched`);
  }
}
