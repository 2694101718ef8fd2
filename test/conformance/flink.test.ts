/**
 * The conformance corpus on Beam's Flink job server with an embedded Flink ([local]), through
 * Sluice's portable runner and the TypeScript SDK harness (LOOPBACK). One job server for all cases.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PipelineOptions } from "sluice";
import { startFlinkJobServer } from "../../src/runners/portable/flink.js";
import { PortableRunner } from "../../src/runners/portable/runner.js";
import type { LocalService } from "../../src/runners/portable/services.js";
import { corpus } from "./corpus.js";
import { runCase } from "./harness.js";

let jobServer: LocalService;
beforeAll(async () => {
  jobServer = await startFlinkJobServer({ log: (m) => console.log(m) });
}, 600_000);
afterAll(async () => {
  await jobServer?.stop();
});

describe("conformance on Flink [local] (LOOPBACK)", () => {
  for (const c of corpus) {
    it(c.name, async () => {
      const runner = new PortableRunner(jobServer.endpoint, { log: () => undefined });
      const { lines, files, result } = await runCase(c, PipelineOptions.create(), (p) => runner.run(p));
      expect(lines).toEqual([...c.expected].sort());
      expect(result.state).toBe("DONE");
      if (c.shards !== undefined) expect(files).toHaveLength(c.shards);
      for (const [name, value] of Object.entries(c.counters ?? {})) {
        expect(result.metrics.counter(name)).toBe(value);
      }
    }, 120_000);
  }
});
