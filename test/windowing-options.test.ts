/**
 * WindowInto's trigger, accumulation mode and allowed lateness: construction-time checks and what
 * the output PCollection's windowing strategy holds.
 */
import { describe, expect, it } from "vitest";
import {
  AfterAny,
  AfterCount,
  AfterProcessingTime,
  AfterWatermark,
  Create,
  DefaultTrigger,
  Duration,
  FixedWindows,
  Pipeline,
  PipelineOptions,
  Repeatedly,
  SlidingWindows,
  WindowInto,
} from "sluice";
import { thrown } from "./support.js";

const numbers = () => Pipeline.create(PipelineOptions.create()).apply("Numbers", Create.of([1, 2, 3]));

describe("WindowInto options", () => {
  it("sets trigger, accumulation mode and allowed lateness on the output's windowing", () => {
    const trigger = AfterWatermark({ early: AfterCount(10) });
    const w = numbers().apply("Window", WindowInto(FixedWindows(60_000), { trigger, accumulationMode: "ACCUMULATING", allowedLateness: Duration.minutes(2) }));
    expect(w.windowing.trigger).toEqual(trigger);
    expect(w.windowing.accumulationMode).toBe("ACCUMULATING");
    expect(w.windowing.allowedLateness).toBe(120_000);
  });

  it("keeps the input's settings a later WindowInto does not set (as Beam Java's Window.into)", () => {
    const first = numbers().apply("First", WindowInto(FixedWindows(60_000), { trigger: Repeatedly(AfterCount(2)), accumulationMode: "DISCARDING", allowedLateness: 5000 }));
    const second = first.apply("Second", WindowInto(SlidingWindows(60_000, 10_000)));
    expect(second.windowing.windowFn.kind).toBe("sliding");
    expect(second.windowing.trigger).toEqual(Repeatedly(AfterCount(2)));
    expect(second.windowing.allowedLateness).toBe(5000);
  });

  it("defaults: the default trigger, discarding, no lateness", () => {
    const w = numbers().apply("Window", WindowInto(FixedWindows(1000)));
    expect(w.windowing.trigger).toEqual(DefaultTrigger());
    expect(w.windowing.accumulationMode).toBe("DISCARDING");
    expect(w.windowing.allowedLateness).toBe(0);
  });

  it("needs an accumulation mode with a non-default trigger, as Beam does", () => {
    const err = thrown(() => numbers().apply("Window", WindowInto(FixedWindows(1000), { trigger: AfterCount(3) })));
    expect(err.message).toContain("WindowInto with trigger AfterCount(3) needs an accumulation mode");
    expect(err.hint).toMatch(/DISCARDING.*ACCUMULATING/);
  });

  it("refuses negative lateness and malformed triggers, naming them", () => {
    expect(thrown(() => numbers().apply("Window", WindowInto(FixedWindows(1000), { allowedLateness: -1 }))).message).toContain("allowedLateness must be 0 ms or more, got -1");
    expect(thrown(() => AfterCount(0)).code).toBe("INVALID_ARGUMENT");
    expect(thrown(() => AfterCount(1.5)).message).toContain("AfterCount needs a whole number of at least 1, got 1.5");
    expect(thrown(() => AfterProcessingTime(-5)).message).toContain("AfterProcessingTime needs a delay of 0 ms or more");
    expect(thrown(() => AfterAny()).message).toContain("AfterAny needs at least one subtrigger");
  });
});
