import { execa, type ResultPromise } from "execa";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MACHINE } from "./machine.js";

/**
 * A real Prometheus (Debian's binary, extracted by scripts/machine.sh) on loopback that scrapes
 * nothing and evaluates alert rules every second: `fire(names)` makes exactly these alerts fire
 * (rules rewritten, then a reload by SIGHUP to its own PID).
 */
export class Prometheus {
  private proc: ResultPromise | null = null;
  private dir = "";
  constructor(readonly port = 19_090) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private async rules(names: string[]): Promise<void> {
    const rules = names.map((n) => `      - alert: ${n}\n        expr: vector(1)\n        labels: { severity: test }\n`).join("");
    await writeFile(join(this.dir, "rules.yml"), `groups:\n  - name: test\n    interval: 1s\n    rules:\n${rules || "      []\n"}`.replace("    rules:\n      []\n", "    rules: []\n"));
  }

  async start(firing: string[]): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), "dlu-prometheus-"));
    const bin = (await execa("bash", [MACHINE, "prometheus"])).stdout.trim();
    await writeFile(join(this.dir, "prometheus.yml"), "global:\n  evaluation_interval: 1s\nrule_files: [rules.yml]\n");
    await this.rules(firing);
    this.proc = execa(bin, [`--config.file=${join(this.dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(this.dir, "data")}`, `--web.listen-address=127.0.0.1:${this.port}`], { reject: false, stdio: "ignore" });
    await this.until(firing);
  }

  /** Makes exactly these alerts fire, and waits until Prometheus says so. */
  async fire(names: string[]): Promise<void> {
    await this.rules(names);
    this.proc?.kill("SIGHUP");
    await this.until(names);
  }

  /** The alert names the ALERTS series holds now. */
  async active(): Promise<string[]> {
    const res = await fetch(`${this.url}/api/v1/query?query=ALERTS`);
    const body = (await res.json()) as { data: { result: { metric: { alertname: string } }[] } };
    return body.data.result.map((r) => r.metric.alertname).sort();
  }

  private async until(names: string[]): Promise<void> {
    const want = [...names].sort().join(",");
    let seen = "";
    for (let i = 0; i < 300; i++) {
      seen = await this.active().then((a) => a.join(","), (err: unknown) => `(${String(err)})`);
      if (seen === want) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`Prometheus at ${this.url} shows alerts [${seen}], not [${want}]`);
  }

  async stop(): Promise<void> {
    this.proc?.kill("SIGTERM");
    await this.proc?.catch(() => undefined);
    this.proc = null;
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}
