import { execa } from "execa";

// The end-to-end suite needs the real thing: it provisions the sandbox engine (scripts/sandbox.sh)
// and fails loudly when it cannot. It never skips.
export default async function setup(): Promise<() => Promise<void>> {
  if (process.getuid?.() !== 0) {
    throw new Error("the end-to-end suite runs its own dockerd and apt-get: run it as root on a Debian machine (see README)");
  }
  await execa("bash", ["scripts/sandbox.sh", "install"], { stdio: "inherit" });
  await execa("bash", ["scripts/sandbox.sh", "up"], { stdio: "inherit" });
  // Machines with systemd as PID 1 (scripts/machine.sh): the base root is built once and cached.
  await execa("bash", ["scripts/machine.sh", "install"], { stdio: "inherit" });
  await execa("bash", ["scripts/machine.sh", "base"], { stdio: "inherit" });
  await execa("bash", ["scripts/machine.sh", "base-rpm"], { stdio: "inherit" });
  return async () => {
    if (process.env.DLU_KEEP_SANDBOX === "1") return;
    await execa("bash", ["scripts/machine.sh", "down", "--all"], { stdio: "inherit" });
    await execa("bash", ["scripts/sandbox.sh", "down"], { stdio: "inherit" });
  };
}
