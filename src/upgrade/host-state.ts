import { errorMessage } from "./steps.js";
import type { World } from "./ports.js";

export interface HostState {
  daemonUp: boolean;
  packagesConsistent: boolean;
  /** One sentence for the report: what the host looks like now, and what to do if it is not healthy. */
  text: string;
}

/** What the host looks like now: daemon answering (and on which engine), package database consistent. */
export async function describeHost(world: World, daemonDown: boolean): Promise<HostState> {
  const parts: string[] = [];
  let daemonUp = false;
  let packagesConsistent = false;
  try {
    if (daemonDown) throw new Error("down");
    await world.docker.ping(2_000);
    const v = await world.docker.version();
    daemonUp = true;
    parts.push(`dockerd up, engine ${v.version}`);
  } catch {
    parts.push("dockerd NOT answering: start it (systemctl start docker) and run `docker-live-upgrade recover`");
  }
  try {
    const audit = await world.packages.audit();
    packagesConsistent = audit.length === 0;
    parts.push(packagesConsistent ? "packages consistent" : `package database inconsistent (${audit[0]}): run dpkg --configure -a`);
  } catch (err) {
    parts.push(`package state unknown (${errorMessage(err)})`);
  }
  return { daemonUp, packagesConsistent, text: parts.join("; ") };
}
