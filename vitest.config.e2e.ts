import { defineConfig } from "vitest/config";

// End-to-end tests: a real containerd + dockerd (live restore) and real apt-get against a local
// repository, provisioned by scripts/sandbox.sh. One worker, one file at a time: they share the engine.
export default defineConfig({
  test: {
    include: ["test/e2e/**/*.e2e.test.ts"],
    globalSetup: ["test/e2e/global-setup.ts"],
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 300_000,
    hookTimeout: 300_000,
    sequence: { concurrent: false },
  },
});
