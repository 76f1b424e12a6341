import { chmod, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ServiceHoldPort } from "../../ports/service-hold.js";

const POLICY_RC_D = "/usr/sbin/policy-rc.d";
const POLICY_STASH = "/usr/sbin/policy-rc.d.docker-live-upgrade-saved";
const POLICY_MARKER = "# docker-live-upgrade: service actions held during a staged install";

/**
 * A temporary /usr/sbin/policy-rc.d that answers 101 (action forbidden): invoke-rc.d and
 * deb-systemd-invoke in the package scripts ask it before they start, stop or restart a service. A
 * site's own policy-rc.d is put aside and restored byte for byte.
 */
export class PolicyRcdHold implements ServiceHoldPort {
  private readonly policy: string;
  private readonly stash: string;

  /** `hostRoot`: where the host's root is mounted ("/" unless run from the image). */
  constructor(hostRoot = "/") {
    this.policy = join(hostRoot, POLICY_RC_D);
    this.stash = join(hostRoot, POLICY_STASH);
  }

  async hold(): Promise<{ env: Record<string, string> }> {
    const existing = await readFile(this.policy, "utf8").catch(() => null);
    if (existing !== null && !existing.includes(POLICY_MARKER)) await rename(this.policy, this.stash);
    await writeFile(this.policy, `#!/bin/sh\n${POLICY_MARKER}\nexit 101\n`);
    await chmod(this.policy, 0o755);
    return { env: {} };
  }

  async release(): Promise<void> {
    const current = await readFile(this.policy, "utf8").catch(() => null);
    const stashed = await stat(this.stash).then(() => true, () => false);
    if (current !== null && current.includes(POLICY_MARKER)) await rm(this.policy, { force: true });
    if (stashed) await rename(this.stash, this.policy);
  }
}
