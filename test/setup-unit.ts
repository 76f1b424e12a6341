import { vi } from "vitest";

// Unit tests never touch the host: any attempt to start a process or reach the Docker API fails the test.
const refuse = (what: string) => () => {
  throw new Error(`unit test tried to ${what}; use a fake at the port instead`);
};
vi.mock("execa", () => ({ execa: refuse("run a process (execa)") }));
vi.mock("node:child_process", () => ({
  spawn: refuse("spawn a process"),
  exec: refuse("exec a process"),
  execFile: refuse("exec a process"),
  execSync: refuse("exec a process"),
  execFileSync: refuse("exec a process"),
  spawnSync: refuse("spawn a process"),
  fork: refuse("fork a process"),
}));
vi.mock("dockerode", () => ({ default: refuse("reach the Docker API (dockerode)") }));
