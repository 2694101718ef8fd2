/**
 * Combiner lifting on a portable runner (Prism, LOOPBACK): the precombine phase in the SDK harness
 * sends at most one accumulator per key and window per bundle across the data plane, in windowed
 * pipelines too (it once keyed its table by window object, so every element's accumulator crossed).
 */
import { describe, expect, it } from "vitest";
import { Create, FixedWindows, Map, Metrics, Pipeline, PipelineOptions, Sum, WindowInto } from "sluice";
import { dataPlaneStats } from "../src/harness/bundle.js";
import { usePrism } from "./support.js";
import { PortableRunner } from "../src/runners/portable/runner.js";

const prismEndpoint = usePrism();

describe("combiner lifting in the harness", () => {
  it("sends one accumulator per key and window per bundle, in fixed windows", async () => {
    const keys = ["a", "b", "c"];
    const windows = 2;
    const n = 2000;
    const elements = Array.from({ length: n }, (_, i) => ({ value: [keys[i % keys.length]!, 1] as [string, number], timestamp: (i % windows) * 60_000 + 1 }));
    const p = Pipeline.create(PipelineOptions.create());
    const seen = Metrics.counter("test", "groups");
    p.apply("Events", Create.timestamped(elements))
      .apply("Minutes", WindowInto(FixedWindows(60_000)))
      .apply("Sum", Sum.perKey<string>())
      .apply("Seen", Map(() => void seen.inc()));
    Object.assign(dataPlaneStats, { elementsIn: 0, bytesIn: 0, elementsOut: 0, bytesOut: 0 });
    const result = await new PortableRunner(prismEndpoint()).run(p);
    expect(result.metrics.counter("groups")).toBe(keys.length * windows);
    // What leaves the harness: the precombine stage's accumulators (the last stage outputs nothing).
    expect(dataPlaneStats.elementsOut).toBeLessThanOrEqual(keys.length * windows);
    expect(dataPlaneStats.elementsOut).toBeGreaterThan(0);
  }, 120_000);
});
