import { execa, type ResultPromise } from "execa";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A real etcd (Debian's etcd-server) on loopback, with its own data directory and ports. */
export class Etcd {
  private proc: ResultPromise | null = null;
  private dir = "";
  constructor(
    readonly clientPort = 23_791,
    readonly peerPort = 23_801,
  ) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.clientPort}`;
  }

  get running(): boolean {
    return this.proc !== null;
  }

  async start(): Promise<void> {
    if (this.proc) return;
    this.dir ||= await mkdtemp(join(tmpdir(), "dlu-etcd-"));
    this.proc = execa(
      "etcd",
      [
        "--name", "e2e", "--data-dir", join(this.dir, "data"),
        "--listen-client-urls", this.endpoint, "--advertise-client-urls", this.endpoint,
        "--listen-peer-urls", `http://127.0.0.1:${this.peerPort}`, "--initial-advertise-peer-urls", `http://127.0.0.1:${this.peerPort}`,
        "--initial-cluster", `e2e=http://127.0.0.1:${this.peerPort}`,
      ],
      { reject: false, stdio: "ignore" },
    );
    for (let i = 0; i < 100; i++) {
      if ((await execa("etcdctl", ["--endpoints", this.endpoint, "endpoint", "health"], { reject: false, env: { ETCDCTL_API: "3" } })).exitCode === 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`etcd did not come up on ${this.endpoint}`);
  }

  async stop(): Promise<void> {
    this.proc?.kill("SIGTERM");
    await this.proc?.catch(() => undefined);
    this.proc = null;
  }

  async destroy(): Promise<void> {
    await this.stop();
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }

  async get(key: string): Promise<string> {
    return (await execa("etcdctl", ["--endpoints", this.endpoint, "get", "--print-value-only", key], { env: { ETCDCTL_API: "3" } })).stdout;
  }

  /** The keys under a prefix. */
  async keys(prefix: string): Promise<string[]> {
    const r = await execa("etcdctl", ["--endpoints", this.endpoint, "get", "--prefix", "--keys-only", prefix], { env: { ETCDCTL_API: "3" }, reject: false });
    return String(r.stdout).split("\n").filter(Boolean);
  }
}
