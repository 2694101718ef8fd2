/**
 * The conformance corpus on Beam's Prism runner (Go, the pinned Beam version), through Sluice's
 * portable runner and the TypeScript SDK harness in LOOPBACK mode. One Prism serves all cases.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PipelineOptions } from "sluice";
import { PortableRunner } from "../../src/runners/portable/runner.js";
import { type LocalService, startPrism } from "../../src/runners/portable/services.js";
import { corpus } from "./corpus.js";
import { runCase } from "./harness.js";

let prism: LocalService;
beforeAll(async () => {
  prism = await startPrism();
}, 60_000);
afterAll(async () => {
  await prism?.stop();
});

describe("conformance on Prism (LOOPBACK)", () => {
  for (const c of corpus) {
    it(c.name, async () => {
      const runner = new PortableRunner(prism.endpoint, { log: () => undefined });
      const { lines, files, result } = await runCase(c, PipelineOptions.create(), (p) => runner.run(p));
      expect(lines).toEqual([...c.expected].sort());
      expect(result.state).toBe("DONE");
      if (c.shards !== undefined) expect(files).toHaveLength(c.shards);
      for (const [name, value] of Object.entries(c.counters ?? {})) {
        expect(result.metrics.counter(name)).toBe(value);
      }
    }, 60_000);
  }
});
