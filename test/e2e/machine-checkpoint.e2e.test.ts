import { execa } from "execa";
import { afterEach, describe, expect, it } from "vitest";
import { Machine, MACHINE, type Flavor } from "./machine.js";

// Checkpoints with CRIU on machines (CRIU needs a real mount namespace, and an nspawn without its own
// seccomp filter: Debian 13 machines boot so). criu comes from each machine's own repository:
// Debian 12's 3.17.1, Debian 13's 4.1.1, unstable's 4.2.1 (TCP sockets on this kernel).
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const EXPERIMENTAL = '{"live-restore": true, "bridge": "none", "iptables": false, "ip6tables": false, "ip-masq": false, "experimental": true}\n';
/** A counter: one line per tick, the count held only in the shell's memory. */
const COUNTER = "i=0; while :; do i=$((i+1)); echo $i; sleep 0.1; done";

interface Part {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

describe("checkpoints with CRIU", () => {
  const machines: Machine[] = [];
  afterEach(async () => {
    for (const m of machines.splice(0)) await m.down();
  });

  const boot = async (name: string, flavor: Flavor, criu: string, experimental = true): Promise<Machine> => {
    const m = new Machine(name, flavor);
    machines.push(m);
    await m.down();
    await m.up();
    await m.repo(`criu=${criu}`);
    await m.run("apt-get", "install", "-y", "-q", "criu");
    if (experimental) {
      await m.writeFile("/etc/docker/daemon.json", EXPERIMENTAL);
      await m.run("systemctl", "restart", "docker");
    }
    return m;
  };
  const check = async (m: Machine): Promise<{ exitCode: number; ok: boolean; parts: Part[] }> => {
    const r = await m.exec(["docker-live-upgrade", "checkpoint", "check", "--image", "local/busybox:1", "--json"]);
    const out = JSON.parse(String(r.stdout)) as { ok: boolean; parts: Part[] };
    return { exitCode: r.exitCode ?? -1, ...out };
  };
  const cp = (m: Machine, ...args: string[]) => m.exec(["docker-live-upgrade", "checkpoint", ...args]);
  /** The counter's last line (its count at a checkpoint), or its first ones after a restore. */
  const lines = async (m: Machine, name: string) => (await m.run("docker", "logs", name)).split("\n").filter(Boolean).map(Number);
  const status = async (m: Machine, name: string) => (await m.run("docker", "inspect", "-f", "{{.State.Status}}", name)).trim();

  it("check fails naming each part and its fix on Debian 12 (criu 3.17) and without experimental mode; passes on Debian 13; a counter resumes from its count", async () => {
    const old = await boot("ck12", "deb", "3.17.1");
    const r12 = await check(old);
    expect(r12.exitCode).toBe(3);
    expect(r12.parts.filter((p) => !p.ok).map((p) => p.name)).toEqual(["criu", "criu-check"]);
    expect(r12.parts.find((p) => p.name === "criu")?.fix).toMatch(/install CRIU 4.1 or newer/);
    expect(r12.parts.find((p) => p.name === "criu-check")?.detail).toMatch(/vdso/i);
    await old.down();

    const m = await boot("ck13", "trixie", "4.1.1", false);
    const off = await check(m);
    expect(off.exitCode).toBe(3);
    expect(off.parts.filter((p) => !p.ok).map((p) => p.name)).toEqual(["experimental"]);
    expect(off.parts.find((p) => p.name === "experimental")?.fix).toMatch(/"experimental": true/);
    await m.writeFile("/etc/docker/daemon.json", EXPERIMENTAL);
    await m.run("systemctl", "restart", "docker");
    const on = await check(m);
    expect([on.exitCode, on.ok]).toEqual([0, true]);
    // criu 4.1 on kernels since 6.16 cannot dump TCP sockets: said, not failed
    expect(on.parts.map((p) => p.name)).toContain("checkpoint");
    expect(await m.run("docker", "ps", "-aq", "--filter", "label=docker-live-upgrade.scratch")).toBe("");

    await m.run("docker", "run", "-d", "--name", "counter", "--network", "none", "local/busybox:1", "sh", "-c", COUNTER);
    await sleep(1500);
    expect((await cp(m, "create", "counter", "--name", "before")).exitCode).toBe(0);
    expect(await status(m, "counter")).toBe("exited");
    const at = (await lines(m, "counter")).at(-1)!;
    expect(at).toBeGreaterThan(5);
    const restored = await cp(m, "restore", "counter");
    expect(restored.exitCode, String(restored.stderr)).toBe(0);
    await sleep(500);
    // the same log goes on: no line 1 again, the count past where it stopped
    const after = await lines(m, "counter");
    expect(after.filter((n) => n === 1)).toHaveLength(1);
    expect(after.at(-1)!).toBeGreaterThan(at);
    expect(after[after.indexOf(at) + 1]).toBe(at + 1);
    // a restore of a running container is refused
    expect((await cp(m, "restore", "counter")).exitCode).toBe(3);
    // CRIU 4.1 on this kernel cannot dump a TCP socket: the check warned; the dump fails, the server runs on
    expect(on.parts.find((p) => p.name === "sockets")?.detail).toMatch(/cannot dump TCP sockets/);
    await m.run("docker", "run", "-d", "--name", "web41", "--network", "host", "local/busybox:1", "httpd", "-f", "-p", "127.0.0.1:18472", "-h", "/");
    const dump = await cp(m, "create", "web41");
    expect(dump.exitCode).toBe(1);
    expect(String(dump.stderr)).toMatch(/checkpoint of web41 failed: .*; it runs on/);
    expect(await status(m, "web41")).toBe("running");
  });

  it("unstable's criu 4.2.1: a container with a listening TCP socket resumes; the daemon's periodic checkpoints keep the newest N", async () => {
    const m = await boot("ck42", "trixie", "4.2.1");
    const port = 18471;
    await m.run("docker", "run", "-d", "--name", "web", "--network", "host", "local/busybox:1", "sh", "-c", `mkdir -p /w && echo hi > /w/index.html && httpd -p 127.0.0.1:${port} -h /w && ${COUNTER}`);
    await sleep(1000);
    expect((await cp(m, "create", "web")).exitCode).toBe(0);
    const at = (await lines(m, "web")).at(-1)!;
    expect((await cp(m, "restore", "web")).exitCode).toBe(0);
    await sleep(500);
    const after = await lines(m, "web");
    expect(after[after.indexOf(at) + 1]).toBe(at + 1);
    // the machine shares this host's loopback: the restored server answers here
    expect((await (await fetch(`http://127.0.0.1:${port}/`)).text()).trim()).toBe("hi");

    await m.writeFile("/etc/docker-live-upgrade/config.yaml", "checkpoints:\n  - container: web\n    every: 10s\n    keep: 2\n");
    await m.exec(["timeout", "-s", "TERM", "36", "docker-live-upgrade", "daemon"]);
    const list = JSON.parse(String((await cp(m, "list", "web", "--json")).stdout)) as { checkpoints: { name: string }[] }[];
    const names = list[0]!.checkpoints.map((c) => c.name);
    // three or four made (at 0 s, 10 s, 20 s, 30 s), the newest two kept; the earlier one made by hand went with them
    expect(names).toHaveLength(2);
    for (const n of names) expect(n).toMatch(/^dlu-/);
    expect(await status(m, "web")).toBe("running");
  });

  it("export on one machine, import on another: the counter goes on there; a failing import creates nothing and the source runs on", async () => {
    const a = await boot("cka", "trixie", "4.1.1");
    const b = await boot("ckb", "trixie", "4.1.1");
    const copy = async (from: Machine, path: string, to: Machine, dest: string) => {
      const data = (await execa("bash", [MACHINE, "exec", from.name, "cat", path], { encoding: "buffer" })).stdout;
      await execa("bash", [MACHINE, "exec", to.name, "sh", "-c", 'cat > "$1"', "sh", dest], { input: data });
    };
    await a.run("docker", "run", "-d", "--name", "counter", "--network", "none", "--restart", "unless-stopped", "local/busybox:1", "sh", "-c", COUNTER);
    await sleep(1500);
    // its restart policy would start it again fresh after a checkpoint's stop: refused, it runs on
    const refusedStop = await cp(a, "create", "counter");
    expect(refusedStop.exitCode).toBe(3);
    expect(String(refusedStop.stderr)).toMatch(/restart policy unless-stopped: the engine would start it again, fresh/);
    expect(await status(a, "counter")).toBe("running");

    // each machine built its own local/busybox:1: another image there, refused before anything is made
    const copyOut = await cp(a, "export", "counter", "--out", "/root/copy.tgz", "--leave-running");
    expect(copyOut.exitCode, String(copyOut.stderr)).toBe(0);
    await copy(a, "/root/copy.tgz", b, "/root/copy.tgz");
    const refused = await cp(b, "import", "/root/copy.tgz", "--start");
    expect(refused.exitCode).toBe(3);
    expect(String(refused.stderr)).toMatch(/another image .* a checkpoint restores only onto the same image/);
    expect(await b.run("docker", "ps", "-aq", "--filter", "name=counter")).toBe("");
    expect(await status(a, "counter")).toBe("running");

    // the same image on both, then the move: stopped here at the checkpoint, resumed there
    await a.run("docker", "save", "-o", "/root/image.tar", "local/busybox:1");
    await copy(a, "/root/image.tar", b, "/root/image.tar");
    await b.run("docker", "load", "-i", "/root/image.tar");
    const out = await cp(a, "export", "counter", "--out", "/root/move.tgz");
    expect(out.exitCode, String(out.stderr)).toBe(0);
    expect(String(out.stdout)).toMatch(/stopped at checkpoint dlu-\S+ \(its restart policy unless-stopped set to no: it moved\)/);
    expect(await status(a, "counter")).toBe("exited");
    const policy = (m: Machine) => m.run("docker", "inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}", "counter");
    expect(await policy(a)).toBe("no");
    const at = (await lines(a, "counter")).at(-1)!;
    await copy(a, "/root/move.tgz", b, "/root/move.tgz");
    const imported = await cp(b, "import", "/root/move.tgz", "--start");
    expect(imported.exitCode, String(imported.stderr)).toBe(0);
    await sleep(500);
    expect(await status(b, "counter")).toBe("running");
    const there = await lines(b, "counter");
    expect(there[0]).toBe(at + 1);
    expect(await policy(b)).toBe("unless-stopped");
    // the source stays stopped where it was: its engine does not start it again
    await a.run("systemctl", "restart", "docker");
    expect(await status(a, "counter")).toBe("exited");
  });

  it("a MAJOR.MINOR jump with labelled containers: checkpointed instead of stopped, restored on 28.5.2 (--network host), or started fresh with its state said lost (--network none)", async () => {
    const m = await boot("ckjump", "trixie", "4.2.1");
    await m.repo("criu=4.2.1", "docker.io=28.5.2");
    for (const [name, net] of [["counter", "host"], ["boxed", "none"]]) {
      await m.run("docker", "run", "-d", "--name", name!, "--network", net!, "--restart", "unless-stopped", "--label", "docker-live-upgrade.checkpoint=true", "local/busybox:1", "sh", "-c", COUNTER);
    }
    await m.run("docker", "run", "-d", "--name", "plain", "--network", "none", "--restart", "unless-stopped", "local/busybox:1", "sleep", "1000000");
    await m.writeFile("/etc/docker-live-upgrade/config.yaml", "upgrade:\n  restart:\n    steady: 1s\n");
    await sleep(1000);

    const dry = await m.cli("plan", "--allow-restart");
    expect(dry.report.checks.find((c) => c.name === "checkpoints")).toMatchObject({ ok: true, message: expect.stringMatching(/counter: checkpointed instead of stopped \(criu 4\.2\.1\)/) });
    expect(dry.report.fates.find((f) => f.name === "counter")).toMatchObject({ fate: "checkpointed", risks: expect.arrayContaining([expect.stringMatching(/if the new engine cannot restore it, it starts fresh/)]) });
    expect(dry.report.fates.find((f) => f.name === "plain")?.fate).toBe("restarted");

    const { exitCode, report } = await m.cli("upgrade", "--allow-restart");
    expect(report.error).toBeNull();
    expect([exitCode, report.outcome]).toEqual([0, "upgraded"]);
    expect(await m.run("docker", "version", "-f", "{{.Server.Version}}")).toMatch(/^28\.5\.2/);
    const states: Record<string, string> = {};
    for (const name of ["counter", "boxed"]) {
      expect(await status(m, name)).toBe("running");
      expect(await m.run("docker", "inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}", name)).toBe("unless-stopped");
      const state = (states[name] = report.fates.find((f) => f.name === name)?.state ?? "");
      const fresh = (await lines(m, name)).filter((n) => n === 1).length > 1;
      // whichever happened, the report says it: restored (the count goes on) or lost (it counts from 1 again)
      if (state.startsWith("restored from ")) expect(fresh).toBe(false);
      else {
        expect(state).toMatch(/^lost: /);
        expect(fresh).toBe(true);
      }
    }
    const out = (name: string) => report.fates.find((f) => f.name === name)?.outageMs;
    console.log(`jump 26.1.5 -> 28.5.2 (containerd 1.7 -> 2.1), criu 4.2.1: ${JSON.stringify(states)}; outage counter ${out("counter")} ms, boxed ${out("boxed")} ms, plain ${out("plain")} ms`);
    // --network host: restored on the new engine; --network none: 28.5.2 with containerd 2.1 cannot
    // restore it (seen every time here), so it started fresh and the report says so
    expect(states.counter).toMatch(/^restored from upgrade-/);
    expect(states.boxed).toMatch(/^lost: the engine could not restore it \(.*\/proc\/0\/ns\/net.*\): started fresh/);
    expect(report.fates.find((f) => f.name === "plain")).toMatchObject({ fate: "restarted", outageMs: expect.any(Number) });
  });
});
