import { describe, expect, it } from "vitest";
import { DirectRunner, PipelineOptions } from "sluice";
import { corpus } from "./corpus.js";
import { runCase } from "./harness.js";

const modes = [
  { name: "direct", mode: "native", runner: new DirectRunner() },
  // The expansions other runners execute (WriteToText via GroupByKey, CombinePerKey unlifted), checked here too.
  { name: "direct, composites expanded", mode: "expanded", runner: new DirectRunner({ nativeComposites: false, bundleSize: 2 }) },
] as const;

for (const mode of modes) {
  describe(`conformance on ${mode.name}`, () => {
    for (const c of corpus) {
      const deviation = c.directDeviation;
      if (deviation !== undefined && (deviation.modes ?? ["native", "expanded"]).includes(mode.mode)) {
        it(`${c.name} (known deviation of the direct runner, to be fixed there: ${deviation.reason})`, async () => {
          // Still deviating: the run fails, or it writes other lines than expected.
          const run = await runCase(c, PipelineOptions.create(), (p) => mode.runner.run(p)).catch(() => undefined);
          if (run === undefined) return;
          expect(run.result.state).toBe("DONE");
          expect(run.lines, `${c.name} gives the expected output now: remove its directDeviation`).not.toEqual([...c.expected].sort());
        });
        continue;
      }
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
