import { defineConfig } from "vitest/config";

export default defineConfig({
  // Tests import "sluice" from source (the package's "sluice-source" export condition), not dist.
  resolve: { conditions: ["sluice-source", "import", "node", "default"] },
  ssr: { resolve: { conditions: ["sluice-source", "import", "node", "default"], externalConditions: ["sluice-source"] } },
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    reporters: ["default", "./test/summary-reporter.ts"],
  },
});
