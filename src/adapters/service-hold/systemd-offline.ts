import type { ServiceHoldPort } from "../../ports/service-hold.js";

/**
 * rpm hosts: Docker's packages restart docker.service from %postun through systemctl (EL8's
 * `systemctl try-restart`, EL9's systemd-update-helper marking the unit for a restart at the end of
 * the transaction). rpm has no policy-rc.d; but systemctl honours SYSTEMD_OFFLINE=1 (systemd >= 237),
 * acting on unit files only and never on the running manager, and rpm passes the environment on to
 * the scriptlets. Holding is that variable on the install's environment: nothing on disk to undo,
 * which also makes a crash harmless. The run reloads systemd and restarts dockerd itself.
 */
export class SystemdOfflineHold implements ServiceHoldPort {
  hold(): Promise<{ env: Record<string, string> }> {
    return Promise.resolve({ env: { SYSTEMD_OFFLINE: "1" } });
  }

  release(): Promise<void> {
    return Promise.resolve();
  }
}
