import { execa } from "execa";
import { describe, expect, it } from "vitest";
import type { RunReport } from "../../src/report/report.js";
import { docker, resetEngine, ROOT, SOCKET, STATE_DIR, writeConfig } from "./helpers.js";

const NEXT = "20.10.25+dfsg1-1";

describe("the container image", () => {
  it("builds with no registry and no network, and plans an upgrade of its host from inside a container", async () => {
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
    await docker("image", "rm", "docker-live-upgrade:e2e");
  });
});
