import { execa } from "execa";
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { cli, dpkgVersion, identities, makeContainers, resetEngine, sandbox, waitApi, writeConfig } from "./helpers.js";

const NEXT = "20.10.25+dfsg1-1";
// Two real builds of containerd in Debian's archive (bookworm and bookworm-security): a real companion upgrade.
const CONTAINERD_OLD = "1.6.20~ds1-1+deb12u2";
const CONTAINERD_NEW = "1.6.20~ds1-1+deb12u3";
const containerdPid = async () => Number((await readFile("/run/docker-live-upgrade-sandbox/containerd.pid", "utf8")).trim());

describe("a companion package upgrade (docs/failure-modes.md#fm-3)", () => {
  it("upgrades containerd with the engine: containerd restarted under running containers, none of them restarted", async () => {
    await resetEngine([NEXT]);
    const env = { DEBIAN_FRONTEND: "noninteractive" };
    await execa("apt-get", ["install", "-y", "-q", "--allow-downgrades", `containerd=${CONTAINERD_OLD}`], { env });
    try {
      // run the old containerd build
      await sandbox("stop-daemon");
      await execa("bash", [new URL("../../scripts/sandbox.sh", import.meta.url).pathname, "start-daemon"], { env: { DOCKER_LIVE_UPGRADE_RESTART_CONTAINERD: "1" } });
      await waitApi();
      await makeContainers();
      const before = await identities();
      const containerdBefore = await containerdPid();

      const r = await cli("upgrade", "--json", "--config", await writeConfig());
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.report!.outcome).toBe("upgraded");
      expect(r.report!.packages).toEqual(
        expect.arrayContaining([
          { name: "docker.io", from: expect.any(String), to: NEXT },
          { name: "containerd", from: CONTAINERD_OLD, to: CONTAINERD_NEW },
        ]),
      );
      expect(r.report!.checks.find((c) => c.name === "patch-only:containerd")).toMatchObject({ ok: true });
      expect(await dpkgVersion("containerd")).toEqual({ version: CONTAINERD_NEW, status: "install ok installed" });
      expect(await containerdPid()).not.toBe(containerdBefore);
      expect(await identities()).toEqual(before);
      expect(r.report!.containers).toMatchObject({ restarted: [], missing: [], changed: [] });
    } finally {
      await execa("apt-get", ["install", "-y", "-q", `containerd=${CONTAINERD_NEW}`], { env, reject: false });
    }
  });
});
