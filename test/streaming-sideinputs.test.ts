/**
 * Side inputs of unbounded collections on the direct runner: main input waits per window, until
 * that window of the side input is ready (a pane of it arrived, or the side input's watermark
 * passed its end), not for the whole side input to end; waiting elements hold the ParDo's output
 * watermark, so a grouping after it still gets them on time.
 */
import { describe, expect, it } from "vitest";
import { AsDict, Duration, Filter, FixedWindows, GroupByKey, IntervalWindow, Map, Pipeline, PipelineOptions, Sum, TestStream, WindowInto } from "sluice";

describe("side inputs of unbounded collections", () => {
  it("main input in a window waits for that window of the side input, and is on time downstream", async () => {
    const seen: string[] = [];
    const p = Pipeline.create(PipelineOptions.create());
    const events = p
      .apply(
        "Events",
        TestStream.create<[string, number]>()
          .addElements({ value: ["a", 1], timestamp: 1000 }, { value: ["b", 50], timestamp: 2000 })
          .advanceWatermarkTo(5000)
          .addElements({ value: ["a", 2], timestamp: 6000 })
          .advanceWatermarkTo(15_000)
          .addElements({ value: ["a", 30], timestamp: 16_000 }, { value: ["b", 1], timestamp: 17_000 })
          .advanceWatermarkToInfinity(),
      )
      .apply("Fixed", WindowInto<[string, number]>(FixedWindows(Duration.seconds(10))));
    const totals = events.apply("Totals", Sum.perKey());
    // Keeps a key's events in a window where its total is under 10: [0,10 s) a (3), [10 s,20 s) b (1).
    events
      .apply("Small", Filter(([k]: [string, number], c) => (c.sideInputs.totals.get(k) ?? 0) < 10, { sideInputs: { totals: AsDict(totals) } }))
      .apply("Group", GroupByKey())
      .apply("Seen", Map(([k, vs]: [string, number[]], c) => void seen.push(`${k} ${(c.window as IntervalWindow).start} ${[...vs].sort((x, y) => x - y).join(",")} ${c.pane.timing}`)));
    const result = await p.run();
    expect(seen.sort()).toEqual(["a 0 1,2 ON_TIME", "b 10000 1 ON_TIME"]);
    expect(result.metrics.counter("droppedDueToLateness")).toBe(0);
  });
});
