import { execa } from "execa";
import { describe, expect, it } from "vitest";
import type { RunReport } from "../../src/report/report.js";
import { docker, dpkgVersion, OLD, resetEngine, ROOT, SOCKET, STATE_DIR, until, writeConfig } from "./helpers.js";

const NEXT = "20.10.25+dfsg1-1";

describe("the container image", () => {
  it("builds with no registry and no network, plans an upgrade of its host from inside a container, and downloads, installs and rolls back through chroot", async () => {
    await resetEngine([NEXT]);
    const built = await execa("bash", [`${ROOT}/scripts/build-image.sh`, "docker-live-upgrade:e2e"], { reject: false, all: true });
    expect(built.exitCode, String(built.all).slice(-3000)).toBe(0);
    expect(String(built.stdout)).toContain("0.1.0");

    const config = await writeConfig("hostRoot: /host\n");
    await execa("mkdir", ["-p", STATE_DIR]);
    const r = await execa(
      "/usr/bin/docker",
      [
        "-H", `unix://${SOCKET}`, "run", "--rm", "--network", "none", "--pid", "host",
        "-v", "/:/host",
        "-v", `${SOCKET.replace(/\/docker\.sock$/, "")}:${SOCKET.replace(/\/docker\.sock$/, "")}`,
        "-v", `${STATE_DIR}:${STATE_DIR}`,
        "-v", `${config}:/etc/docker-live-upgrade/config.yaml:ro`,
        "docker-live-upgrade:e2e", "plan", "--json",
      ],
      { reject: false },
    );
    expect(r.exitCode, String(r.stderr).slice(-2000)).toBe(0);
    const report = JSON.parse(String(r.stdout)) as RunReport;
    expect(report).toMatchObject({ outcome: "would-upgrade", engine: { package: "docker.io", to: NEXT } });
    // it sees its own --rm container on the engine it would restart, and says what that risks
    expect(report.checks.find((c) => c.name === "autoremove-containers")?.message).toMatch(/engines below 25\.0 may kill --rm containers/);

    // A real run from the image: the download, the install and the rollback all go through `chroot
    // /host`. The engine is never stopped (the service commands are `true`): the old dockerd keeps
    // answering, so the engine-version check fails after the "restart" and the run rolls back, putting
    // the installed version back from the packages it fetched before.
    await resetEngine([NEXT]);
    await execa("mkdir", ["-p", STATE_DIR]);
    const runConfig = await writeConfig('hostRoot: /host\nservice:\n  manager: command\n  stop: ["true"]\n  start: ["true"]\n');
    const strays = async () => (await execa("sh", ["-c", "ls / | grep -c '\\.deb$' || true"])).stdout.trim();
    const straysBefore = await strays();
    await execa(
      "/usr/bin/docker",
      [
        // the host's network, as the image runs in production: apt in the chroot fetches the installed
        // version for the rollback from the host's configured mirror, as the host-side runs do
        "-H", `unix://${SOCKET}`, "run", "-d", "--name", "dlu-image-run", "--network", "host", "--pid", "host",
        "-v", "/:/host",
        "-v", `${SOCKET.replace(/\/docker\.sock$/, "")}:${SOCKET.replace(/\/docker\.sock$/, "")}`,
        "-v", `${STATE_DIR}:${STATE_DIR}`,
        "-v", `${runConfig}:/etc/docker-live-upgrade/config.yaml:ro`,
        "docker-live-upgrade:e2e", "upgrade", "--json",
      ],
    );
    const exited = async () => (await docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "dlu-image-run").catch(() => "")).trim();
    await until("the run in the image to end", async () => (await exited()).startsWith("exited"), 240_000);
    const run = { exitCode: Number((await exited()).split(" ")[1]), stdout: await docker("logs", "dlu-image-run"), stderr: "" };
    await docker("rm", "-f", "dlu-image-run");
    const ran = JSON.parse(String(run.stdout)) as RunReport;
    expect([run.exitCode, ran.outcome], JSON.stringify({ error: ran.error, steps: ran.steps, host: ran.hostState, stderr: String(run.stderr).slice(-1500) })).toEqual([1, "rolled-back"]);
    expect(ran.steps.filter((s) => s.ok).map((s) => s.name)).toEqual(expect.arrayContaining(["download", "install", "rollback-install"]));
    expect(ran.error?.message).toMatch(/engine-version/);
    expect(ran.hostState).toMatch(/dockerd up, engine 20\.10\.24\+dfsg1; packages consistent/);
    expect((await dpkgVersion("docker.io")).version).toBe(OLD);
    // the packages were fetched into the state directory, none into the host's "/" (chroot resets a working directory)
    expect(await strays()).toBe(straysBefore);
    await docker("image", "rm", "docker-live-upgrade:e2e");
  });
});
