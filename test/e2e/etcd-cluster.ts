import { execa, type ResultPromise } from "execa";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Etcd3 } from "etcd3";

/**
 * A real three-member etcd (Debian's etcd-server) on loopback: TLS for clients and peers with
 * certificates made here, client certificates required, auth on, and a user `fleet` whose role may
 * read and write only the project's prefix. Members are ended by their own PIDs, never by name.
 */
export class EtcdCluster {
  readonly members = ["m1", "m2", "m3"] as const;
  private procs = new Map<string, ResultPromise>();
  private dir = "";
  private token = `dlu-${process.pid}-${Date.now()}`;
  readonly user = "fleet";
  readonly password = "fleet-pw-0";
  private readonly rootPassword = "root-pw-0";

  // below the kernel's ephemeral range (32768-60999): a member restarted there may find its port
  // taken as the source port of some connection (etcd then exits: bind: address already in use)
  constructor(private readonly basePort = 22_379) {}

  private port(i: number, peer = false): number {
    return this.basePort + i * 100 + (peer ? 1 : 0);
  }
  endpointOf(name: string): string {
    return `https://127.0.0.1:${this.port(this.members.indexOf(name as "m1"))}`;
  }
  get endpoints(): string[] {
    return this.members.map((m) => this.endpointOf(m));
  }
  get pki(): { ca: string; cert: string; key: string } {
    return { ca: join(this.dir, "pki", "ca.crt"), cert: join(this.dir, "pki", "client.crt"), key: join(this.dir, "pki", "client.key") };
  }
  running(name: string): boolean {
    return this.procs.has(name);
  }

  /** The client's certificate files by name (ca.crt, client.crt, client.key), to copy into machines. */
  async clientFiles(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const f of ["ca.crt", "client.crt", "client.key"]) out[f] = await readFile(join(this.dir, "pki", f), "utf8");
    return out;
  }

  /** The YAML of a `fleet.etcd` block for this cluster (certificates under `pkiDir`, default where they were made). */
  configYaml(indent = "    ", pkiDir?: string): string {
    const p = pkiDir ? { ca: join(pkiDir, "ca.crt"), cert: join(pkiDir, "client.crt"), key: join(pkiDir, "client.key") } : this.pki;
    return [
      `endpoints: [${this.endpoints.map((e) => `"${e}"`).join(", ")}]`,
      `ca: ${p.ca}`,
      `cert: ${p.cert}`,
      `key: ${p.key}`,
      `username: ${this.user}`,
      `password: ${this.password}`,
    ]
      .map((l) => `${indent}${l}`)
      .join("\n");
  }

  private async openssl(...args: string[]): Promise<void> {
    await execa("openssl", args, { cwd: join(this.dir, "pki") });
  }

  private async makePki(): Promise<void> {
    await execa("mkdir", ["-p", join(this.dir, "pki")]);
    const w = (f: string, t: string) => writeFile(join(this.dir, "pki", f), t);
    await this.openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "30", "-subj", "/CN=dlu-test-ca", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
    await w("server.ext", "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n");
    await w("client.ext", "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n");
    for (const [name, cn] of [["server", "etcd-server"], ["client", "dlu-client"]] as const) {
      await this.openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`);
      await this.openssl("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "30", "-sha256", "-extfile", `${name}.ext`, "-out", `${name}.crt`);
    }
    // readable by the machines' copies and by etcdctl run as anyone
    await execa("chmod", ["0644", ...["ca.crt", "client.crt", "client.key"].map((f) => join(this.dir, "pki", f))]);
  }

  private args(name: string): string[] {
    const i = this.members.indexOf(name as "m1");
    const p = join(this.dir, "pki");
    const cluster = this.members.map((m, j) => `${m}=https://127.0.0.1:${this.port(j, true)}`).join(",");
    return [
      "--name", name, "--data-dir", join(this.dir, name),
      "--listen-peer-urls", `https://127.0.0.1:${this.port(i, true)}`, "--initial-advertise-peer-urls", `https://127.0.0.1:${this.port(i, true)}`,
      "--listen-client-urls", this.endpointOf(name), "--advertise-client-urls", this.endpointOf(name),
      "--initial-cluster", cluster, "--initial-cluster-state", "new", "--initial-cluster-token", this.token,
      "--cert-file", join(p, "server.crt"), "--key-file", join(p, "server.key"), "--trusted-ca-file", join(p, "ca.crt"), "--client-cert-auth",
      "--peer-cert-file", join(p, "server.crt"), "--peer-key-file", join(p, "server.key"), "--peer-trusted-ca-file", join(p, "ca.crt"), "--peer-client-cert-auth",
      "--heartbeat-interval", "100", "--election-timeout", "1000", "--logger", "zap", "--log-outputs", join(this.dir, `${name}.log`),
    ];
  }

  private async etcdctl(args: string[], user: "root" | "fleet" | null = "root"): Promise<{ exitCode: number | undefined; stdout: string; stderr: string }> {
    const p = this.pki;
    const auth = user === "root" ? [`--user=root:${this.rootPassword}`] : user === "fleet" ? [`--user=${this.user}:${this.password}`] : [];
    const r = await execa("etcdctl", [`--endpoints=${this.endpoints.join(",")}`, `--cacert=${p.ca}`, `--cert=${p.cert}`, `--key=${p.key}`, ...auth, ...args], { env: { ETCDCTL_API: "3" }, reject: false });
    return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
  }

  /** Starts a member (again): its data directory keeps the cluster it belongs to. */
  start(name: string): Promise<void> {
    if (!this.procs.has(name)) {
      const p = execa("etcd", this.args(name), { reject: false, stdio: "ignore" });
      this.procs.set(name, p);
      // a member that exits by itself (a fatal error in its log) is no longer running
      void p.finally(() => {
        if (this.procs.get(name) === p) this.procs.delete(name);
      });
    }
    return Promise.resolve();
  }

  /** A new cluster: certificates, three members, auth with the fleet's user and role. */
  async create(): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), "dlu-etcd-cluster-"));
    await this.makePki();
    for (const m of this.members) await this.start(m);
    await this.healthy(null);
    const steps: string[][] = [
      ["user", "add", `root:${this.rootPassword}`],
      ["auth", "enable"],
    ];
    for (const s of steps) await this.must(s, null);
    for (const s of [
      ["role", "add", "dlu"],
      ["role", "grant-permission", "dlu", "--prefix=true", "readwrite", "/docker-live-upgrade/"],
      ["user", "add", `${this.user}:${this.password}`],
      ["user", "grant-role", this.user, "dlu"],
    ]) {
      await this.must(s, "root");
    }
  }

  private async must(args: string[], user: "root" | null): Promise<void> {
    const r = await this.etcdctl(args, user);
    if (r.exitCode !== 0) throw new Error(`etcdctl ${args[0]} ${args[1] ?? ""}: ${r.stderr}`);
  }

  /** Waits until the running members answer (a leader elected). */
  async healthy(user: "root" | null = "root", timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.etcdctl(["endpoint", "health", `--endpoints=${this.members.filter((m) => this.running(m)).map((m) => this.endpointOf(m)).join(",")}`], user);
      if (r.exitCode === 0) return;
      if (Date.now() > deadline) throw new Error(`etcd cluster not healthy: ${r.stderr}`);
      await new Promise((res) => setTimeout(res, 200));
    }
  }

  /** The member that leads now (asked of each running member in turn), or null. */
  async leader(): Promise<string | null> {
    for (const m of this.members.filter((x) => this.running(x))) {
      const client = this.client([this.endpointOf(m)]);
      try {
        const s = await client.maintenance.status();
        if (s.leader === s.header.member_id) return m;
      } catch {
        // not answering: the next one
      } finally {
        client.close();
      }
    }
    return null;
  }

  /** Ends a member by its PID: SIGKILL forces an election, SIGTERM hands leadership over first. */
  async kill(name: string, signal: "SIGKILL" | "SIGTERM" = "SIGKILL"): Promise<void> {
    const p = this.procs.get(name);
    if (!p) return;
    p.kill(signal);
    await p.catch(() => undefined);
    this.procs.delete(name);
  }

  async stopAll(): Promise<void> {
    for (const m of this.members) await this.kill(m, "SIGTERM");
  }

  async destroy(): Promise<void> {
    for (const m of this.members) await this.kill(m, "SIGKILL");
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }

  /** A client as the fleet's user (TLS, client certificate, password). */
  client(hosts = this.endpoints, user: { username: string; password: string } | null = { username: this.user, password: this.password }): Etcd3 {
    return new Etcd3({
      hosts,
      credentials: { rootCertificate: Buffer.from(this.cert("ca")), privateKey: Buffer.from(this.cert("client.key")), certChain: Buffer.from(this.cert("client")) },
      ...(user ? { auth: user } : {}),
    });
  }

  private pem = new Map<string, string>();
  private cert(name: "ca" | "client" | "client.key"): string {
    return this.pem.get(name) ?? "";
  }
  /** Loads the certificates into memory (for in-process clients). */
  async loadPem(): Promise<void> {
    const p = this.pki;
    this.pem.set("ca", await readFile(p.ca, "utf8"));
    this.pem.set("client", await readFile(p.cert, "utf8"));
    this.pem.set("client.key", await readFile(p.key, "utf8"));
  }

  /** Every version the key had, oldest first, as [revision, value] (etcd keeps them: nothing compacts here). */
  async history(key: string): Promise<{ revision: number; value: string | null }[]> {
    const client = this.client();
    try {
      const now = await client.get(key).exec();
      const out: { revision: number; value: string | null }[] = [];
      const kv = now.kvs[0];
      if (!kv) return out;
      const first = Number(kv.create_revision);
      let rev = Number(kv.mod_revision);
      // walk back from the newest version: each version's mod_revision, then the one before it
      const seen: { revision: number; value: string | null }[] = [];
      while (rev >= first) {
        const at = await client.get(key).revision(rev).exec();
        const v = at.kvs[0];
        if (!v) break;
        seen.push({ revision: Number(v.mod_revision), value: v.value.toString() });
        rev = Number(v.mod_revision) - 1;
      }
      out.push(...seen.reverse());
      return out;
    } finally {
      client.close();
    }
  }
}
