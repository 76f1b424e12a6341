import { randomUUID } from "node:crypto";
import { link, lstat, mkdir, mkdtemp, readdir, rename, rm, stat, symlink, writeFile } from "node:fs/promises";
import { release } from "node:os";
import { join } from "node:path";
import type Docker from "dockerode";
import type { Exec } from "../../exec/index.js";
import { ExecError } from "../../exec/index.js";
import type { CheckpointEntry, CheckpointPort, ContainerDefinition, CriuFacts } from "../../ports/checkpoints.js";
import { deadlineClient, modemCall, type ModemCall } from "../docker/modem.js";

/** The archive's description of itself: the first entry of an export. */
const MANIFEST = "manifest.json";
/** The checkpoint's own files, under this folder in the archive. */
const FILES = "checkpoint";

const enc = encodeURIComponent;

/** Total size of a folder's files (a checkpoint is a flat folder of CRIU images, with few subfolders). */
async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    total += e.isDirectory() ? await folderBytes(p) : (await stat(p)).size;
  }
  return total;
}

/**
 * The engine's checkpoint API (through dockerode's modem: one timeout per call) and its checkpoint
 * folders under the host root; criu itself through exec (argv only).
 */
export class EngineCheckpoints implements CheckpointPort {
  private client: Promise<Docker> | null = null;
  private rootDir: Promise<string> | null = null;

  constructor(
    private readonly socketPath: string,
    private readonly exec: Exec,
    private readonly hostRoot = "/",
  ) {}

  private dial<T>(call: Omit<ModemCall, "timeoutMs"> & { timeoutMs?: number }): Promise<T> {
    this.client ??= deadlineClient(this.socketPath);
    return modemCall<T>(this.client, { timeoutMs: 60_000, ...call }).catch((err: unknown) => {
      throw engineError(err);
    });
  }

  /** Where the engine keeps this container's checkpoints, as this process sees it. */
  private async checkpointsDir(containerId: string): Promise<string> {
    this.rootDir ??= this.dial<{ DockerRootDir: string }>({ path: "/info", method: "GET", ok: [200] }).then((i) => i.DockerRootDir);
    return join(this.hostRoot, await this.rootDir, "containers", containerId, "checkpoints");
  }

  async criu(): Promise<CriuFacts> {
    const kernel = release();
    const v = await this.exec("criu", ["--version"], { timeoutMs: 10_000 }).catch((err: unknown) => err as ExecError);
    if (v instanceof Error) return { version: null, check: null, kernel };
    const version = /Version:\s*(\S+)/.exec(v.stdout)?.[1] ?? v.stdout.trim().split("\n")[0] ?? "?";
    try {
      const r = await this.exec("criu", ["check"], { timeoutMs: 60_000 });
      return { version, check: { ok: true, message: (r.stdout || r.stderr).trim() || "Looks good." }, kernel };
    } catch (err) {
      const e = err as ExecError;
      const text = (e.stderr || e.stdout || e.message).trim().split("\n");
      return { version, check: { ok: false, message: text.filter((l) => /error|fail|unexpected/i.test(l)).slice(0, 2).join("; ") || text.slice(-3).join("; ") }, kernel };
    }
  }

  async experimental(): Promise<boolean> {
    const info = await this.dial<{ ExperimentalBuild?: boolean }>({ path: "/info", method: "GET", ok: [200] });
    return info.ExperimentalBuild === true;
  }

  async list(containerId: string): Promise<CheckpointEntry[]> {
    const names = (await this.dial<{ Name: string }[] | null>({ path: `/containers/${enc(containerId)}/checkpoints`, method: "GET", ok: [200] })) ?? [];
    const dir = await this.checkpointsDir(containerId);
    return Promise.all(
      names.map(async ({ Name: name }) => {
        const s = await stat(join(dir, name)).catch(() => null);
        return { name, createdAt: s ? s.mtime.toISOString() : null, bytes: s ? await folderBytes(join(dir, name)).catch(() => null) : null };
      }),
    );
  }

  async create(containerId: string, name: string, exit: boolean): Promise<void> {
    // a dump writes the container's whole memory: minutes for a large one
    await this.dial({ path: `/containers/${enc(containerId)}/checkpoints`, method: "POST", ok: [200, 201, 204], body: { CheckpointID: name, Exit: exit }, timeoutMs: 15 * 60_000 });
  }

  async remove(containerId: string, name: string): Promise<void> {
    await this.dial({ path: `/containers/${enc(containerId)}/checkpoints/${enc(name)}`, method: "DELETE", ok: [200, 204] });
  }

  async setRestartPolicy(containerId: string, policy: string): Promise<void> {
    const [name, count] = policy.split(":");
    const RestartPolicy = { Name: name, ...(count ? { MaximumRetryCount: Number(count) } : {}) };
    await this.dial({ path: `/containers/${enc(containerId)}/update`, method: "POST", ok: [200], body: { RestartPolicy } });
  }

  async restore(containerId: string, name: string): Promise<void> {
    await this.dial({ path: `/containers/${enc(containerId)}/start`, query: { checkpoint: name }, method: "POST", ok: [204], timeoutMs: 15 * 60_000 });
  }

  async definition(containerId: string): Promise<ContainerDefinition | null> {
    const raw = await this.dial<{
      Id: string;
      Name: string;
      Image: string;
      Config: Record<string, unknown> & { Image?: string };
      HostConfig: Record<string, unknown>;
      Mounts?: { Type?: string; Source?: string; Name?: string; Destination?: string }[] | null;
      State: { Running: boolean };
    } | null>({ path: `/containers/${enc(containerId)}/json`, method: "GET", ok: [200] }).catch((err: unknown) => {
      if ((err as { statusCode?: number }).statusCode === 404) return null;
      throw err;
    });
    if (!raw) return null;
    return {
      id: raw.Id,
      name: raw.Name.replace(/^\//, ""),
      image: raw.Config.Image ?? raw.Image,
      imageId: raw.Image,
      config: raw.Config,
      hostConfig: raw.HostConfig,
      mounts: (raw.Mounts ?? []).map((m) => ({ type: m.Type ?? "?", source: m.Type === "volume" ? (m.Name ?? "") : (m.Source ?? ""), destination: m.Destination ?? "" })),
      running: raw.State.Running,
    };
  }

  async imageId(reference: string): Promise<string | null> {
    const img = await this.dial<{ Id: string }>({ path: `/images/${enc(reference)}/json`, method: "GET", ok: [200] }).catch((err: unknown) => {
      if ((err as { statusCode?: number }).statusCode === 404) return null;
      throw err;
    });
    return img?.Id ?? null;
  }

  async createContainer(name: string, def: ContainerDefinition): Promise<string> {
    const r = await this.dial<{ Id: string }>({ path: "/containers/create", query: { name }, method: "POST", ok: [201], body: { ...def.config, HostConfig: def.hostConfig } });
    return r.Id;
  }

  async removeContainer(containerId: string): Promise<void> {
    await this.dial({ path: `/containers/${enc(containerId)}`, query: { force: "true" }, method: "DELETE", ok: [204, 404] });
  }

  async runScratch(image: string, script: string, labels: Record<string, string>, network: "none" | "host"): Promise<string> {
    const r = await this.dial<{ Id: string }>({
      path: "/containers/create",
      method: "POST",
      ok: [201],
      body: { Image: image, Cmd: ["sh", "-c", script], Labels: labels, HostConfig: { NetworkMode: network } },
    });
    try {
      await this.dial({ path: `/containers/${enc(r.Id)}/start`, method: "POST", ok: [204] });
    } catch (err) {
      await this.removeContainer(r.Id).catch(() => undefined);
      throw err;
    }
    return r.Id;
  }

  async exists(file: string): Promise<boolean> {
    // lstat: a dangling link is there too (never written through); only "no such file" is absence
    return lstat(file).then(
      () => true,
      (err: unknown) => {
        if ((err as { code?: string }).code === "ENOENT") return false;
        throw err;
      },
    );
  }

  async pack(containerId: string, name: string, manifest: object, out: string): Promise<number> {
    const { create } = await import("tar");
    const src = join(await this.checkpointsDir(containerId), name);
    await stat(src).catch(() => {
      throw new Error(`the checkpoint ${name} has no folder at ${src}: is the engine's data root under ${this.hostRoot}?`);
    });
    const stage = await mkdtemp(join(this.hostRoot, "tmp", "docker-live-upgrade-export-"));
    // a name of its own: never an operator's file; linked into place only if `out` is still free
    const part = `${out}.${process.pid}-${randomUUID()}.part`;
    try {
      await writeFile(join(stage, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
      await symlink(src, join(stage, FILES));
      // the manifest first: an import reads it without unpacking the rest; the link is followed
      await create({ gzip: true, file: part, cwd: stage, follow: true, portable: false }, [MANIFEST, FILES]);
      await link(part, out).catch(async (err: unknown) => {
        const code = (err as { code?: string }).code;
        if (code === "EEXIST") throw new Error(`${out} appeared meanwhile: not overwritten`);
        // file systems without hard links (vfat, some network mounts): a rename, after one more look
        if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "ENOSYS") throw err;
        if (await this.exists(out)) throw new Error(`${out} appeared meanwhile: not overwritten`);
        await rename(part, out);
      });
      return (await stat(out)).size;
    } finally {
      await rm(part, { force: true });
      await rm(stage, { recursive: true, force: true });
    }
  }

  async readManifest(file: string): Promise<unknown> {
    const { list } = await import("tar");
    let text: string | null = null;
    await list({
      file,
      filter: (p) => p === MANIFEST,
      onReadEntry: (entry) => {
        const chunks: Buffer[] = [];
        entry.on("data", (c: Buffer) => chunks.push(c));
        entry.on("end", () => (text = Buffer.concat(chunks).toString("utf8")));
      },
    });
    if (text === null) throw new Error(`${file} is not an export of docker-live-upgrade: it has no ${MANIFEST}`);
    return JSON.parse(text) as unknown;
  }

  async unpack(file: string, containerId: string, name: string): Promise<void> {
    const { extract } = await import("tar");
    const dir = await this.checkpointsDir(containerId);
    await mkdir(dir, { recursive: true });
    // staged beside checkpoints/, not in it: the engine lists every folder there as a checkpoint
    const stage = await mkdtemp(join(dir, "..", ".docker-live-upgrade-import-"));
    try {
      // node-tar refuses absolute paths and "..": nothing lands outside the stage; only plain files
      // and folders (a link could make the restore read a host file)
      await extract({ file, cwd: stage, filter: (p, e) => (p === FILES || p.startsWith(`${FILES}/`)) && "type" in e && (e.type === "File" || e.type === "Directory") });
      await stat(join(stage, FILES)).catch(() => {
        throw new Error(`${file} carries no checkpoint files`);
      });
      await rename(join(stage, FILES), join(dir, name));
    } finally {
      await rm(stage, { recursive: true, force: true });
    }
  }
}

/**
 * The engine's own words for a refused call ("cannot checkpoint container c: ..."), not the modem's
 * wrapping. An error with no answer from the engine (no socket, a deadline) is passed on as it is: its
 * kind (code, name) is what tells an unreachable dockerd.
 */
function engineError(err: unknown): Error {
  const e = err as { statusCode?: number; json?: { message?: string } | null; message?: string };
  if (e.statusCode === undefined) return err as Error;
  const message = e.json?.message ?? e.message ?? String(err);
  const out = new Error(message.trim());
  (out as Error & { statusCode?: number }).statusCode = e.statusCode;
  return out;
}
