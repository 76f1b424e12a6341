import type { ConfigInput } from "../../src/config/schema.js";
import { container, SimHost, SITE_POLICY } from "../fakes/host.js";

/** One configuration the explorer runs every fault of. */
export interface Scenario {
  order: "staged" | "stop-first";
  pm: "apt" | "dnf";
  /** containerd's package changes too (and containerd is restarted). */
  containerd: boolean;
  fleet: boolean;
  /**
   * good; install-fails (a package script fails: what came before it is in); dockerd-dies (the new
   * dockerd exits at once); restarts-containers (it runs, but its restore restarted them: verification
   * fails); wrong-build (the running dockerd reports the old release: verification fails).
   */
  release: "good" | "install-fails" | "dockerd-dies" | "restarts-containers" | "wrong-build" | "revision";
  /** A MAJOR.MINOR jump (Debian 13's 26.1.5 to unstable's 28.5.2, containerd 1.7 to 2.1) by planned container restarts. */
  jump?: boolean;
  /** A jump: db is labelled for checkpoints; its restores work, or the new engine refuses every one. */
  restoreFails?: boolean;
}

export const ALL_SCENARIOS: Scenario[] = (() => {
  const out: Scenario[] = [];
  for (const order of ["staged", "stop-first"] as const)
    for (const pm of ["apt", "dnf"] as const)
      for (const containerd of [false, true])
        for (const fleet of [false, true])
          for (const release of ["good", "install-fails", "dockerd-dies"] as const) out.push({ order, pm, containerd, fleet, release });
  // releases that fail verification with the new dockerd running: each order (the fleet's part is the other releases')
  for (const order of ["staged", "stop-first"] as const)
    for (const release of ["restarts-containers", "wrong-build"] as const) out.push({ order, pm: "apt", containerd: true, fleet: false, release });
  // a revision of the same release (Debian's usual docker.io update), on a host whose docker.socket
  // starts a stopped dockerd at a client's connection: only the host tells which build answers
  for (const order of ["staged", "stop-first"] as const) out.push({ order, pm: "apt", containerd: false, fleet: false, release: "revision" });
  // a MAJOR.MINOR jump by planned container restarts: every release, each order; a fleet on the good one
  for (const order of ["staged", "stop-first"] as const) {
    for (const release of ["good", "install-fails", "dockerd-dies", "wrong-build"] as const) out.push({ order, pm: "apt", containerd: true, fleet: false, release, jump: true });
    out.push({ order, pm: "apt", containerd: true, fleet: true, release: "good", jump: true });
    out.push({ order, pm: "apt", containerd: true, fleet: false, release: "good", jump: true, restoreFails: true });
  }
  return out;
})();

export const nameOf = (s: Scenario): string => `${s.order} ${s.pm}${s.containerd ? " +containerd" : ""}${s.fleet ? " fleet" : ""}${s.jump ? " jump" : ""}${s.restoreFails ? " restore-fails" : ""} release:${s.release}`;

interface Versions {
  engine: [string, string, string];
  family: [string, string, string] | null;
  containerd: [string, string, string];
}

/** Debian 13's engine to unstable's: a MAJOR.MINOR jump, containerd 1.x to 2.x. */
const JUMP: Versions = {
  engine: ["docker.io", "26.1.5+dfsg1-9+deb13u1+b1", "28.5.2+dfsg4-5"],
  family: null,
  containerd: ["containerd", "1.7.24~ds1-6+deb13u1", "2.1.9~ds1-5"],
};

/** name, before, target for each format. */
const VERSIONS: Record<Scenario["pm"], Versions> = {
  apt: {
    engine: ["docker.io", "20.10.24+dfsg1-1+deb12u1+b6", "20.10.25+dfsg1-1"],
    family: null,
    containerd: ["containerd", "1.6.20~ds1-1+deb12u3", "1.6.21~ds1-1"],
  },
  dnf: {
    engine: ["docker-ce", "3:20.10.24-1.el9", "3:20.10.25-1.el9"],
    family: ["docker-ce-cli", "1:20.10.24-1.el9", "1:20.10.25-1.el9"],
    containerd: ["containerd.io", "1.6.20-3.1.el9", "1.6.21-3.1.el9"],
  },
};

export interface Prepared {
  host: SimHost;
  config: ConfigInput;
  /** The packages the run changes: name, before, target. */
  planned: [string, string, string][];
  /** Holds the run must leave in force. */
  holdsAfter: string[];
  /** The planned-restart path: the containers that ran, which must run again whenever dockerd answers at the end. */
  ran: string[];
  /** The container whose state rides a checkpoint (a jump's db), and its state as the run found it. */
  stateful: { name: string; token: number } | null;
}

const configs = new Map<string, ConfigInput>();

/** A host as the scenario starts it: the engine held (packages.hold), a site's own policy-rc.d, containers running. */
export function prepare(s: Scenario): Prepared {
  const base = s.jump ? JUMP : VERSIONS[s.pm];
  const v: Versions = s.release === "revision" ? { ...base, engine: [base.engine[0], base.engine[1], "20.10.24+dfsg1-1+deb12u2"] } : base;
  const host = new SimHost();
  host.format = s.pm === "dnf" ? "rpm" : "deb";
  const installed: [string, string, string][] = [v.engine, ...(v.family ? [v.family] : []), v.containerd];
  host.installedVersions = Object.fromEntries(installed.map(([n, before]) => [n, before]));
  host.availableVersions = Object.fromEntries(installed.map(([n, before, target]) => [n, n === v.containerd[0] && !s.containerd ? [before] : [before, target]]));
  host.engineVersion = host.engineBuild();
  host.runningBuild = v.engine[1];
  host.containerdVersion = host.scheme.upstream(v.containerd[1]);
  host.policyRcd = SITE_POLICY;
  host.holds = [v.engine[0]];
  const planned = installed.filter(([n]) => n !== v.containerd[0] || s.containerd);
  if (s.release === "install-fails") host.failInstallOf = planned.at(-1)![2]; // the last of the set: what came before it is in
  const newBuild = host.scheme.upstream(v.engine[2]);
  if (s.release === "dockerd-dies") host.brokenBuilds.add(newBuild);
  if (s.release === "restarts-containers") host.restartsContainers.add(newBuild);
  // the new package ships the old dockerd (a repack that kept the old binary): it reports the old release
  if (s.release === "wrong-build") {
    host.reportsAs.set(newBuild, host.engineBuild());
    host.shipsBinaryOf.set(v.engine[2], v.engine[1]);
  }
  host.socketActivation = s.release === "revision";
  if (s.jump) {
    // a compose pair (web after db), a container without compose labels, and one that is stopped
    const compose = (service: string, dependsOn?: string) => ({ imageId: "sha256:1", command: "[null,null]", env: [], mounts: [], networkMode: "host", restartPolicy: "unless-stopped", labels: { "com.docker.compose.project": "shop", "com.docker.compose.service": service, ...(dependsOn ? { "com.docker.compose.depends_on": `${dependsOn}:service_started:false` } : {}) } });
    host.containers = [
      container("web", { restartPolicy: "unless-stopped", spec: compose("web", "db") }),
      container("db", { pid: 2000, restartPolicy: "unless-stopped", spec: { ...compose("db"), labels: { ...compose("db").labels, "docker-live-upgrade.checkpoint": "true" } } }),
      container("cron", { pid: 3000, spec: { imageId: "sha256:2", command: "[null,null]", env: ["A=1"], mounts: [], networkMode: "host", restartPolicy: "no", labels: {} } }),
      container("frozen", { pid: 4000, paused: true, status: "paused", restartPolicy: "unless-stopped" }),
      container("old", { running: false, status: "exited", pid: 0 }),
    ];
    host.containersRunBy = host.engineBuild();
    host.stateTokens.set(host.containers[1]!.id, 2000);
    host.restoreFails = s.restoreFails === true;
  }
  // a restarted dockerd answers once it has restored its containers
  host.readyDelayMs = 2_000;
  // rpm: a newer CLI than the engine's target is on offer; the CLI must follow the engine
  if (v.family) host.availableVersions[v.family[0]]!.push(v.family[2].replace("20.10.25", "20.10.26"));
  const config: ConfigInput = configs.get(nameOf(s)) ?? {
    upgrade: { order: s.order, downtimeBudget: "3s", settle: "1s", ...(s.jump ? { beyondPatch: "restart" as const, restart: { readyTimeout: "5s", steady: "1s" } } : {}) },
    docker: { readyTimeout: "3s", apiProbeInterval: "1s" },
    packages: { hold: true, names: installed.map(([n]) => n) },
    probes: [{ name: "web", http: "http://127.0.0.1:8080/", interval: "2s" }],
  };
  configs.set(nameOf(s), config); // one object per configuration: parsed once
  return { host, config, planned, holdsAfter: installed.map(([n]) => n), ran: s.jump ? host.containers.filter((c) => c.running).map((c) => c.name) : [], stateful: s.jump ? { name: "db", token: 2000 } : null };
}
