/**
 * The Docker packages the planner knows, and the rule each must obey for a live restore.
 * - engine: the daemon; its version is "the engine version". Patch releases only.
 * - engine-family: shipped in lockstep with the engine (CLI, rootless extras). Follows the engine's target.
 * - containerd / runc: the runtime under the shims. Patch releases by default; a MAJOR change is never live-restorable.
 * - plugin: client plugins, no effect on running containers.
 */
export type PackageRole = "engine" | "engine-family" | "containerd" | "runc" | "plugin";

const ROLES: Record<string, PackageRole> = {
  "docker-ce": "engine",
  "docker.io": "engine",
  "moby-engine": "engine",
  "docker-engine": "engine",
  // RHEL, CentOS, Amazon Linux: the distribution's engine package (on Debian "docker" was another program)
  docker: "engine",
  "docker-ce-cli": "engine-family",
  // Debian 13 and later: the CLI split out of docker.io, same version
  "docker-cli": "engine-family",
  "docker-ce-rootless-extras": "engine-family",
  "moby-cli": "engine-family",
  "containerd.io": "containerd",
  containerd: "containerd",
  "moby-containerd": "containerd",
  runc: "runc",
  "moby-runc": "runc",
  "docker-buildx-plugin": "plugin",
  "docker-compose-plugin": "plugin",
  "moby-buildx": "plugin",
  "moby-compose": "plugin",
};

/** Names that mean a Docker package only in one package format. */
const ONLY_RPM = new Set(["docker"]);

/** The packages names: auto looks for, for a package format. */
export function knownPackages(format: "deb" | "rpm"): string[] {
  return Object.keys(ROLES).filter((n) => format === "rpm" || !ONLY_RPM.has(n));
}

/** Engines in order of preference when several are somehow installed. */
export function enginePackages(format: "deb" | "rpm"): string[] {
  return knownPackages(format).filter((n) => ROLES[n] === "engine");
}

export function roleOf(name: string): PackageRole | null {
  return ROLES[name] ?? null;
}

/** Upstream versions with a known live-restore bug (moby#45898: 24.0.3 panics restoring bind-mount containers). */
export const KNOWN_BAD_UPSTREAM = ["24.0.3"];
