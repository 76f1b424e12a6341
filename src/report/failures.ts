/**
 * The steps whose failure speaks against the release itself: its packages would not install, its
 * dockerd rejected the configuration, would not start (alone or in a restart) or answer, could not start the
 * containers again (the planned-restart path), or failed verification. A run that
 * failed there halts its fleet group and marks its target bad on this host. A failure anywhere else
 * (the window closing, the fleet slot lost, a signal, the state folder full, a package hold or a
 * systemctl that would not do its part) is this host's trouble: the run is undone all the same, but the
 * release is not blamed (a host left unhealthy halts the group regardless).
 */
export const AGAINST_THE_RELEASE: ReadonlySet<string> = new Set(["install", "validate-config", "start", "restart", "wait-ready", "start-containers", "verify"]);

export const againstTheRelease = (error: { step: string } | null | undefined): boolean => error != null && AGAINST_THE_RELEASE.has(error.step);
