import { describe, expect, it } from "vitest";
import { DirectRunner, PipelineOptions } from "sluice";
import { corpus } from "./corpus.js";
import { runCase } from "./harness.js";

const modes = [
  { name: "direct", runner: new DirectRunner() },
  // The expansions other runners execute (WriteToText via GroupByKey, CombinePerKey unlifted), checked here too.
  { name: "direct, composites expanded", runner: new DirectRunner({ nativeComposites: false, bundleSize: 2 }) },
];

for (const mode of modes) {
  describe(`conformance on ${mode.name}`, () => {
    for (const c of corpus) {
      it(c.name, async () => {
        const { lines, files, result } = await runCase(c, PipelineOptions.create(), (p) => mode.runner.run(p));
        expect(lines).toEqual([...c.expected].sort());
        expect(result.state).toBe("DONE");
        if (c.shards !== undefined) expect(files).toHaveLength(c.shards);
        for (const [name, value] of Object.entries(c.counters ?? {})) {
          expect(result.metrics.counter(name)).toBe(value);
        }
      });
    }
  });
}
