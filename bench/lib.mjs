// Shared helpers for the benchmarks: the sandbox engine, an outside API pinger, medians, tables.
import { execa } from "execa";
import { request } from "node:http";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "..");
export const SANDBOX = join(ROOT, "scripts/sandbox.sh");
export const SOCKET = "/run/docker-live-upgrade-sandbox/docker.sock";
export const CLI = join(ROOT, "dist/src/cli/main.js");
export const DOCKER = ["/usr/bin/docker", "-H", `unix://${SOCKET}`];

export const sandbox = (...args) => execa("bash", [SANDBOX, ...args]);
export const docker = (...args) => execa(DOCKER[0], [...DOCKER.slice(1), ...args]);

export function ping(timeoutMs = 200) {
  return new Promise((resolvePing) => {
    const req = request({ socketPath: SOCKET, path: "/_ping", timeout: timeoutMs }, (res) => {
      res.resume();
      resolvePing(res.statusCode === 200);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolvePing(false));
    req.end();
  });
}

export async function waitApi(limitMs = 30_000) {
  const end = Date.now() + limitMs;
  while (Date.now() < end) {
    if (await ping()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("sandbox API did not come back");
}

/**
 * Pings /_ping every 20 ms from outside while `action` runs; returns the longest continuous stretch
 * without a good answer (from the last good ping before it to the first good one after).
 */
export async function measureDown(action) {
  let stop = false;
  let lastGood = performance.now();
  let longest = 0;
  let down = false;
  const loop = (async () => {
    while (!stop) {
      const t = performance.now();
      const ok = await ping(200);
      if (ok) {
        if (down) longest = Math.max(longest, t - lastGood);
        down = false;
        lastGood = t;
      } else down = true;
      const wait = 20 - (performance.now() - t);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  })();
  await action();
  await waitApi();
  await new Promise((r) => setTimeout(r, 100));
  stop = true;
  await loop;
  return longest;
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** The q-th quartile (1 or 3), linear between the two nearest values. */
export const quartile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  const at = ((s.length - 1) * q) / 4;
  const lo = Math.floor(at);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (at - lo);
};

export function table(headers, rows) {
  const line = (cells) => `| ${cells.join(" | ")} |`;
  return [line(headers), line(headers.map(() => "---")), ...rows.map(line)].join("\n");
}

export async function sandboxConfig(extra = "") {
  const dir = await mkdtemp(join(tmpdir(), "dlu-bench-"));
  const file = join(dir, "config.yaml");
  await sandbox("config", file);
  await writeFile(file, (await readFile(file, "utf8")) + extra);
  return file;
}

export const ms = (x) => `${(x / 1000).toFixed(2)} s`;
