import { defineConfig } from "vitest/config";

// Unit tests: pure logic with fakes at every port. test/setup-unit.ts fails any test that
// tries to spawn a process, so nothing here can touch the host.
export default defineConfig({
  test: {
    include: ["test/unit/**/*.test.ts"],
    setupFiles: ["test/setup-unit.ts"],
    environment: "node",
    // CPU-bound and independent (the fault simulator is split in files for this): both cores, not vitest's cores-1
    maxWorkers: 2,
  },
});
