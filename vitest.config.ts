import { defineConfig } from "vitest/config";
import LongestFirst from "./test/sequencer.js";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Finds (or installs) Envoy once, checks Go, isolates HOME/TMPDIR/caches, and fails the run on leftovers.
    globalSetup: ["./test/global-setup.ts"],
    // Integration tests run real Go builds, Envoy and HTTP: give them time.
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: "forks",
    poolOptions: { forks: { maxForks: 3, minForks: 1 } },
    sequence: { sequencer: LongestFirst },
    reporters: ["default", "./test/summary-reporter.ts"],
  },
});
