import { describe, expect, it } from "vitest";
import { PingError, type DockerPort, type PingFailure, type SocketWatch } from "../../src/ports/docker.js";
import { waitReady } from "../../src/upgrade/daemon-cycle.js";
import type { SimHost } from "../fakes/host.js";
import { Scheduler } from "../fakes/process.js";

/** A socket file's changes, told by the test: the same promise rules as the inotify adapter. */
class FakeWatch implements SocketWatch {
  closed = false;
  broken: Error | null = null;
  private pending = false;
  private waiter: (() => void) | null = null;

  change(): void {
    const w = this.waiter;
    this.waiter = null;
    if (w) w();
    else this.pending = true;
  }

  changed(signal?: AbortSignal): Promise<void> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const me = () => resolve();
      this.waiter = me;
      signal?.addEventListener("abort", () => {
        if (this.waiter === me) this.waiter = null;
        resolve();
      });
    });
  }

  close(): void {
    this.closed = true;
  }
}

/**
 * dockerd answering from `readyAt` on, on a clock of its own; every ask recorded (at what time).
 * `watched`: the socket file is watched (the test tells its changes). `held`: a socket unit's
 * connection, held until dockerd answers or the ask times out (`heldShortMs`: the clock reads the
 * timeout that many ms short); `failure`: how an ask fails before then (refused at once: a plain
 * error, as a fake without PingError gives, unless told).
 */
function engine(readyAt: number, options: { watched?: boolean; held?: boolean; heldShortMs?: number; failure?: PingFailure; onAsk?: (at: number, watch: FakeWatch) => void } = {}) {
  const clock = new Scheduler({ now: 0 } as SimHost);
  const watch = new FakeWatch();
  const asks: number[] = [];
  const docker = {
    ping: async (timeoutMs: number) => {
      asks.push(clock.now());
      options.onAsk?.(clock.now(), watch);
      if (options.held && clock.now() < readyAt) await clock.sleep(Math.min(timeoutMs - (options.heldShortMs ?? 0), readyAt - clock.now()));
      if (clock.now() >= readyAt) return;
      if (options.held) throw new PingError(`GET /_ping: no answer within ${timeoutMs}ms`, "held");
      throw options.failure ? new PingError(`GET /_ping: ${options.failure}`, options.failure) : new Error("connect ENOENT /run/docker.sock");
    },
    ...(options.watched ? { watchSocket: () => watch } : {}),
  } as unknown as DockerPort;
  return { clock, watch, docker, asks };
}

describe("waiting for dockerd to answer", () => {
  it("without a watch, asks every 5 ms until the first good ping", async () => {
    const { clock, docker, asks } = engine(100);
    expect(await waitReady(docker, 5_000, clock)).toBe(100);
    expect(asks).toHaveLength(21);
  });

  it("with a watch, asks the moment the socket file is made, then every 1 ms while dockerd has not yet listened", async () => {
    const { clock, watch, docker, asks } = engine(33, { watched: true });
    void clock.sleep(30).then(() => watch.change());
    expect(await waitReady(docker, 5_000, clock)).toBe(33);
    expect(asks).toEqual([0, 30, 31, 32, 33]);
    expect(watch.closed).toBe(true);
  });

  it("with a watch and no change, asks every 50 ms (a socket unit's file is always there)", async () => {
    const { clock, docker, asks } = engine(120, { watched: true });
    expect(await waitReady(docker, 5_000, clock)).toBe(150);
    expect(asks).toEqual([0, 50, 100, 150]);
  });

  it("asks again at once after an ask held by a socket unit timed out, and is answered when dockerd serves", async () => {
    const { clock, docker, asks } = engine(1_500, { watched: true, held: true });
    expect(await waitReady(docker, 5_000, clock)).toBe(1_500);
    expect(asks).toEqual([0, 1_000]);
  });

  it("an ask held until its timeout is asked again at once, though the clock reads the timeout short", async () => {
    const { clock, docker, asks } = engine(1_500, { watched: true, held: true, heldShortMs: 1 });
    expect(await waitReady(docker, 5_000, clock)).toBe(1_500);
    expect(asks).toEqual([0, 999]);
  });

  it("after an ask that connected and failed (reset, a bad answer), asks again in 5 ms: the file will not change", async () => {
    const { clock, docker, asks } = engine(12, { watched: true, failure: "failed" });
    expect(await waitReady(docker, 5_000, clock)).toBe(15);
    expect(asks).toEqual([0, 5, 10, 15]);
  });

  it("a refused ask waits on the watch", async () => {
    const { clock, docker, asks } = engine(12, { watched: true, failure: "unreachable" });
    expect(await waitReady(docker, 5_000, clock)).toBe(50);
    expect(asks).toEqual([0, 50]);
  });

  it("a change that comes while an ask is failing is not lost", async () => {
    let told = false;
    const { clock, docker, asks } = engine(51, {
      watched: true,
      onAsk: (at, watch) => {
        if (at !== 50 || told) return;
        told = true;
        watch.change();
      },
    });
    expect(await waitReady(docker, 5_000, clock)).toBe(51);
    expect(asks).toEqual([0, 50, 50, 51]);
  });

  it("after 20 quick asks that fail, goes back to waiting on the watch", async () => {
    const { clock, watch, docker, asks } = engine(400, { watched: true });
    void clock.sleep(10).then(() => watch.change());
    expect(await waitReady(docker, 5_000, clock)).toBe(430);
    expect(asks.slice(0, 3)).toEqual([0, 10, 11]);
    expect(asks.filter((t) => t > 30)).toEqual([80, 130, 180, 230, 280, 330, 380, 430]);
  });

  it("a watch that breaks falls back to asking every 5 ms", async () => {
    const { clock, watch, docker, asks } = engine(100, { watched: true });
    watch.broken = new Error("inotify: the folder was removed");
    expect(await waitReady(docker, 5_000, clock)).toBe(100);
    expect(asks.slice(0, 4)).toEqual([0, 5, 10, 15]);
    expect(watch.closed).toBe(true);
  });

  it("gives up after its budget, naming the last error, and lets go of the watch", async () => {
    const { clock, watch, docker } = engine(Infinity, { watched: true });
    await expect(waitReady(docker, 500, clock)).rejects.toThrow(/did not answer \/_ping within 500ms \(last error: connect ENOENT/);
    expect(watch.closed).toBe(true);
  });
});
