/**
 * PeriodicImpulse on the direct runner: its firing times on the wall clock (a start in the past
 * emits what is due at once), its watermark closing each window, its checks; and on Prism, where
 * its reader's state and timers go through the harness.
 */
import { describe, expect, it } from "vitest";
import { GroupByKey, IntervalWindow, Map, Pipeline, PipelineOptions, PeriodicImpulse } from "sluice";
import { PortableRunner } from "../src/runners/portable/runner.js";
import { thrown, usePrism } from "./support.js";

const prismEndpoint = usePrism();

describe("PeriodicImpulse", () => {
  it("emits start, start + interval, … before stop, each timestamped with its firing time", async () => {
    const start = Date.now() - 1000;
    const stop = Date.now() + 250;
    const seen: [number, number][] = [];
    const p = Pipeline.create(PipelineOptions.create());
    p.apply("Ticks", PeriodicImpulse({ startTimestamp: start, stopTimestamp: stop, fireInterval: 100 })).apply(
      "Seen",
      Map((t: number, c) => void seen.push([t, c.timestamp])),
    );
    const t0 = Date.now();
    await p.run();
    const want: number[] = [];
    for (let t = start; t < stop; t += 100) want.push(t);
    expect(seen.map(([t]) => t)).toEqual(want);
    expect(seen.every(([t, ts]) => t === ts)).toBe(true);
    // The last firing is due at its time of the wall clock, not before.
    expect(Date.now()).toBeGreaterThanOrEqual(want[want.length - 1]!);
    expect(Date.now() - t0).toBeLessThan(60_000);
  });

  it("applyWindowing: each firing in its own fixed window, closed on time by the next firing's watermark", async () => {
    const start = Math.floor((Date.now() - 500) / 100) * 100; // FixedWindows align to the epoch
    const panes: string[] = [];
    const p = Pipeline.create(PipelineOptions.create());
    p.apply("Ticks", PeriodicImpulse({ startTimestamp: start, stopTimestamp: start + 500, fireInterval: 100, applyWindowing: true }))
      .apply("Key", Map((t: number): [string, number] => ["k", t]))
      .apply("Group", GroupByKey<string, number>())
      .apply(
        "Panes",
        Map(([, ts]: [string, Iterable<number>], c) => {
          const w = c.window as IntervalWindow;
          panes.push(`${[...ts].join(",")} [${w.start - start},${w.end - start}) ${c.pane.timing}`);
        }),
      );
    await p.run();
    expect(panes.sort()).toEqual(
      [0, 100, 200, 300, 400].map((o) => `${start + o} [${o},${o + 100}) ON_TIME`).sort(),
    );
  });

  it("refuses a non-positive interval or a stop not after the start", () => {
    const p = Pipeline.create(PipelineOptions.create());
    expect(thrown(() => p.apply("A", PeriodicImpulse({ fireInterval: 0 }))).message).toContain("fireInterval must be a positive number of ms");
    expect(thrown(() => p.apply("B", PeriodicImpulse({ startTimestamp: 10, stopTimestamp: 10 }))).code).toBe("INVALID_ARGUMENT");
  });

  it("runs on Prism: its reader's state and processing-time timers through the harness", async () => {
    const start = Date.now() - 1000;
    const stop = Date.now() + 300;
    const seen: [number, number][] = [];
    const p = Pipeline.create(PipelineOptions.create());
    p.apply("Ticks", PeriodicImpulse({ startTimestamp: start, stopTimestamp: stop, fireInterval: 100 })).apply(
      "Seen",
      Map((t: number, c) => void seen.push([t, c.timestamp])),
    );
    await new PortableRunner(prismEndpoint()).run(p);
    const want: number[] = [];
    for (let t = start; t < stop; t += 100) want.push(t);
    expect(seen.map(([t]) => t).sort((a, b) => a - b)).toEqual(want);
    expect(seen.every(([t, ts]) => t === ts)).toBe(true);
  }, 120_000);
});
