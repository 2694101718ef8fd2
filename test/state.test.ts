/**
 * State and timers (Beam's stateful DoFn) on the direct runner. Expectations are derived by hand
 * from Beam's semantics (state per key and window; event-time timers fire once the watermark
 * reaches them, processing-time ones when the clock does; a pending timer holds the
 * watermark at its output timestamp; windows expire at their end plus the allowed lateness).
 */
import { describe, expect, it } from "vitest";
import {
  CombineFns,
  Count,
  Create,
  Duration,
  FixedWindows,
  GLOBAL_WINDOW_MAX_TIMESTAMP,
  IntervalWindow,
  Map,
  ParDo,
  type PCollection,
  type Pipeline,
  PipelineOptions,
  Pipeline as P,
  Sessions,
  StateSpec,
  TestStream,
  TimerSpec,
  WindowInto,
} from "sluice";
import { failure } from "./support.js";

interface Out {
  readonly value: unknown;
  readonly timestamp: number;
  readonly window: string;
}

/** Runs what `build` makes; returns the outputs of the collection it returns, with timestamps and windows. */
async function run(build: (p: Pipeline) => PCollection<unknown>): Promise<{ out: Out[]; counter: (name: string) => number }> {
  const out: Out[] = [];
  const p = P.create(PipelineOptions.create());
  build(p).apply(
    "Collect",
    Map((value: unknown, c) => {
      const w = c.window instanceof IntervalWindow ? `${c.window.start}-${c.window.end}` : "global";
      out.push({ value, timestamp: c.timestamp, window: w });
    }),
  );
  const result = await p.run();
  return { out, counter: (name) => result.metrics.counter(name) };
}

const sortByValue = (xs: Out[]): Out[] => [...xs].sort((a, b) => JSON.stringify(a.value).localeCompare(JSON.stringify(b.value)));

describe("state", () => {
  it("keeps every kind of state per key and window, read at the window's end by an event-time timer", async () => {
    const { out } = await run((p) =>
      p
        .apply(
          "Events",
          Create.timestamped<[string, number]>([
            { value: ["a", 1], timestamp: 1000 },
            { value: ["a", 2], timestamp: 2000 },
            { value: ["a", 2], timestamp: 3000 },
            { value: ["b", 5], timestamp: 3000 },
            { value: ["a", 7], timestamp: 12_000 },
          ]),
        )
        .apply("Fixed", WindowInto(FixedWindows(Duration.seconds(10))))
        .apply(
          "AllKinds",
          ParDo({
            state: {
              count: StateSpec.value<number>(),
              values: StateSpec.bag<number>(),
              sum: StateSpec.combining(CombineFns.sum()),
              distinct: StateSpec.set<number>(),
              last: StateSpec.map<string, number>(),
            },
            timers: { end: TimerSpec.eventTime() },
            process([key, n], ctx) {
              ctx.state.count.write((ctx.state.count.read() ?? 0) + 1);
              ctx.state.values.add(n);
              ctx.state.sum.add(n);
              ctx.state.distinct.add(n);
              ctx.state.last.set(key, n);
              ctx.timers.end.set(ctx.window.maxTimestamp());
            },
            onTimer: {
              end(ctx) {
                return [
                  {
                    key: ctx.key,
                    count: ctx.state.count.read(),
                    values: ctx.state.values.read().sort(),
                    sum: ctx.state.sum.read(),
                    distinct: ctx.state.distinct.read().sort(),
                    size: ctx.state.distinct.size,
                    last: ctx.state.last.keys(),
                  },
                ];
              },
            },
          }),
        ),
    );
    expect(sortByValue(out)).toEqual(
      sortByValue([
        { value: { key: "a", count: 3, values: [1, 2, 2], sum: 5, distinct: [1, 2], size: 2, last: ["a"] }, timestamp: 9999, window: "0-10000" },
        { value: { key: "b", count: 1, values: [5], sum: 5, distinct: [5], size: 1, last: ["b"] }, timestamp: 9999, window: "0-10000" },
        { value: { key: "a", count: 1, values: [7], sum: 7, distinct: [7], size: 1, last: ["a"] }, timestamp: 19_999, window: "10000-20000" },
      ]),
    );
  });

  it("holds copies: mutating what was written or read leaves the state as written", async () => {
    const { out } = await run((p) =>
      p.apply("Events", Create.of<[string, { n: number }]>([["k", { n: 1 }]])).apply(
        "Copies",
        ParDo({
          state: { v: StateSpec.value<{ n: number }>(), bag: StateSpec.bag<{ n: number }>() },
          process([, obj], ctx) {
            ctx.state.v.write(obj);
            ctx.state.bag.add(obj);
            obj.n = 99;
            ctx.state.v.read()!.n = 42;
            ctx.state.bag.read()[0]!.n = 42;
            return [[ctx.state.v.read()!.n, ctx.state.bag.read()[0]!.n]];
          },
        }),
      ),
    );
    expect(out.map((o) => o.value)).toEqual([[1, 1]]);
  });

  it("clears and deletes: value, bag, set and map", async () => {
    const { out } = await run((p) =>
      p.apply("Events", Create.of<[string, number]>([["k", 1]])).apply(
        "Clears",
        ParDo({
          state: { v: StateSpec.value<number>(), b: StateSpec.bag<number>(), s: StateSpec.set<number>(), m: StateSpec.map<number, string>(), c: StateSpec.combining(CombineFns.sum()) },
          process(_kv, ctx) {
            const st = ctx.state;
            st.v.write(1);
            st.b.add(1);
            st.s.add(1);
            st.s.add(2);
            st.m.set(1, "one");
            st.m.set(2, "two");
            st.c.add(3);
            const before = [st.v.read(), st.b.isEmpty(), st.s.has(2), st.m.get(2), st.m.size, st.c.read()];
            st.v.clear();
            st.b.clear();
            st.s.delete(2);
            st.m.delete(2);
            st.c.clear();
            return [[...before, st.v.read(), st.b.isEmpty(), st.s.read(), st.m.entries(), st.c.isEmpty(), st.c.read()]];
          },
        }),
      ),
    );
    expect(out.map((o) => o.value)).toEqual([[1, false, true, "two", 2, 3, undefined, true, [1], [[1, "one"]], true, 0]]);
  });

  it("drops a key's state when its window expires, after onWindowExpiration saw it", async () => {
    const { out } = await run((p) =>
      p
        .apply(
          "Events",
          TestStream.create<[string, number]>()
            .addElements({ value: ["a", 1], timestamp: 1000 }, { value: ["a", 2], timestamp: 2000 })
            .advanceWatermarkTo(5000)
            .addElements({ value: ["a", 3], timestamp: 4000 })
            .advanceWatermarkTo(16_000)
            // Window [0, 10 s) expired at 10 s + 5 s of allowed lateness: this one is dropped.
            .addElements({ value: ["a", 4], timestamp: 5000 }, { value: ["a", 10], timestamp: 12_000 })
            .advanceWatermarkToInfinity(),
        )
        .apply("Fixed", WindowInto(FixedWindows(Duration.seconds(10)), { allowedLateness: Duration.seconds(5) }))
        .apply(
          "Total",
          ParDo({
            state: { total: StateSpec.combining(CombineFns.sum()) },
            process([, n], ctx) {
              ctx.state.total.add(n);
            },
            onWindowExpiration(ctx) {
              return [`${ctx.key} ${ctx.state.total.read()}`];
            },
          }),
        ),
    );
    expect(out).toEqual([
      { value: "a 6", timestamp: 9999, window: "0-10000" },
      { value: "a 10", timestamp: 19_999, window: "10000-20000" },
    ]);
  });

  it("counts elements of expired windows as dropped (sluice/droppedDueToLateness)", async () => {
    const { out, counter } = await run((p) =>
      p
        .apply("Events", TestStream.create<[string, number]>().advanceWatermarkTo(20_000).addElements({ value: ["a", 1], timestamp: 1000 }).advanceWatermarkToInfinity())
        .apply("Fixed", WindowInto(FixedWindows(Duration.seconds(10))))
        .apply("Id", ParDo({ state: { n: StateSpec.value<number>() }, process: ([k]) => [k] })),
    );
    expect(out).toEqual([]);
    expect(counter("droppedDueToLateness")).toBe(1);
  });
});

describe("timers", () => {
  /** A TestStream of one key's elements, each setting an event-time timer 2 s after it. */
  const buffered = (p: Pipeline): PCollection<string> =>
    p
      .apply(
        "Events",
        TestStream.create<[string, number]>()
          .addElements({ value: ["a", 1], timestamp: 1000 }, { value: ["a", 2], timestamp: 1500 })
          .advanceWatermarkTo(3499)
          .advanceWatermarkTo(3500)
          .addElements({ value: ["b", 3], timestamp: 3600 })
          .addElements({ value: ["a", 4], timestamp: 6000 })
          .advanceWatermarkToInfinity(),
      )
      .apply(
        "Buffer",
        ParDo({
          state: { buf: StateSpec.bag<number>() },
          timers: { flush: TimerSpec.eventTime() },
          process([key, n], ctx) {
            ctx.state.buf.add(n);
            ctx.timers.flush.set(ctx.timestamp + 2000); // setting again moves it
            return [`${key} got ${n}`];
          },
          onTimer: {
            flush(ctx) {
              const values = ctx.state.buf.read();
              ctx.state.buf.clear();
              return [`${ctx.key} fired at ${ctx.fireTimestamp} with ${values.join(",")}`];
            },
          },
        }),
      );

  it("fire when the watermark reaches their time, moved by setting again, outputs at the firing time", async () => {
    const { out } = await run(buffered);
    // a's timer (moved to 3500) fires when the watermark reaches 3500, as Beam Python's does.
    expect(out).toEqual([
      { value: "a got 1", timestamp: 1000, window: "global" },
      { value: "a got 2", timestamp: 1500, window: "global" },
      { value: "a fired at 3500 with 1,2", timestamp: 3500, window: "global" },
      { value: "b got 3", timestamp: 3600, window: "global" },
      { value: "a got 4", timestamp: 6000, window: "global" },
      { value: "b fired at 5600 with 3", timestamp: 5600, window: "global" },
      { value: "a fired at 8000 with 4", timestamp: 8000, window: "global" },
    ]);
  });

  it("re-set themselves from their callback, have dynamic tags, and clear", async () => {
    const { out } = await run((p) =>
      p.apply("Events", Create.timestamped<[string, number]>([{ value: ["k", 0], timestamp: 0 }])).apply(
        "Loop",
        ParDo({
          state: { fired: StateSpec.value<number>() },
          timers: { loop: TimerSpec.eventTime(), tagged: TimerSpec.eventTime() },
          process(_kv, ctx) {
            ctx.timers.loop.set(1000);
            ctx.timers.tagged.set(500, { tag: "x" });
            ctx.timers.tagged.set(600, { tag: "y" });
            ctx.timers.tagged.set(700, { tag: "z" });
            ctx.timers.tagged.clear("z");
          },
          onTimer: {
            loop(ctx) {
              const n = (ctx.state.fired.read() ?? 0) + 1;
              ctx.state.fired.write(n);
              if (n < 3) ctx.timers.loop.set(ctx.fireTimestamp + 1000);
              return [`loop ${n} at ${ctx.fireTimestamp}`];
            },
            tagged(ctx) {
              return [`tag ${ctx.tag} at ${ctx.fireTimestamp}`];
            },
          },
        }),
      ),
    );
    expect(out.map((o) => o.value)).toEqual(["tag x at 500", "tag y at 600", "loop 1 at 1000", "loop 2 at 2000", "loop 3 at 3000"]);
  });

  it("hold the watermark at their output timestamp, so what they emit is on time downstream", async () => {
    // The timer fires at 25 s but emits at 5 s: until then, downstream's watermark stays at 5 s,
    // so its window [0, 10 s) is still open when the output arrives (without the hold, it would
    // have closed when the watermark passed 12 s, and the output would be dropped as late).
    const { out, counter } = await run((p) =>
      p
        .apply(
          "Events",
          TestStream.create<[string, number]>()
            .addElements({ value: ["a", 1], timestamp: 5000 })
            .advanceWatermarkTo(12_000)
            .addElements({ value: ["b", 1], timestamp: 13_000 })
            .advanceWatermarkTo(30_000)
            .advanceWatermarkToInfinity(),
        )
        .apply(
          "Delay",
          ParDo({
            timers: { later: TimerSpec.eventTime() },
            process([key], ctx) {
              if (key === "a") ctx.timers.later.set(25_000, { outputTimestamp: ctx.timestamp });
              else ctx.output(key);
            },
            onTimer: {
              later(ctx) {
                return [ctx.key];
              },
            },
          }),
        )
        .apply("Fixed", WindowInto(FixedWindows(Duration.seconds(10))))
        .apply("Count", Count.perElement()),
    );
    expect(sortByValue(out)).toEqual([
      { value: ["a", 1], timestamp: 9999, window: "0-10000" },
      { value: ["b", 1], timestamp: 19_999, window: "10000-20000" },
    ]);
    expect(counter("droppedDueToLateness")).toBe(0);
  });

  it("processing-time timers fire when the clock reaches them; setRelative counts from now", async () => {
    const { out } = await run((p) =>
      p
        .apply(
          "Events",
          TestStream.create<[string, number]>()
            .addElements({ value: ["a", 1], timestamp: 1000 })
            .advanceProcessingTime(500)
            .addElements({ value: ["a", 2], timestamp: 1100 })
            .advanceProcessingTime(600)
            .advanceProcessingTime(5000)
            .advanceWatermarkToInfinity(),
        )
        .apply(
          "Batch",
          ParDo({
            state: { buf: StateSpec.bag<number>(), armed: StateSpec.value<boolean>() },
            timers: { flush: TimerSpec.processingTime() },
            process([, n], ctx) {
              ctx.state.buf.add(n);
              if (!ctx.state.armed.read()) {
                ctx.state.armed.write(true);
                ctx.timers.flush.setRelative(1000);
              }
            },
            onTimer: {
              flush(ctx) {
                const values = ctx.state.buf.read();
                ctx.state.buf.clear();
                ctx.state.armed.clear();
                return [`${values.join(",")} at ${ctx.fireTimestamp}`];
              },
            },
          }),
        ),
    );
    // Armed at processing time 0 for 1000; the clock reaches 1100 with both elements buffered.
    // The default output timestamp of a processing-time timer is the setting element's.
    expect(out).toEqual([{ value: "1,2 at 1000", timestamp: 1000, window: "global" }]);
  });

  it("on bounded input, pending timers of both domains fire at the end of input", async () => {
    const { out } = await run((p) =>
      p.apply("Events", Create.timestamped<[string, number]>([{ value: ["k", 1], timestamp: 100 }])).apply(
        "AtEnd",
        ParDo({
          timers: { event: TimerSpec.eventTime(), processing: TimerSpec.processingTime() },
          process(_kv, ctx) {
            ctx.timers.event.set(GLOBAL_WINDOW_MAX_TIMESTAMP);
            ctx.timers.processing.setRelative(60_000);
          },
          onTimer: {
            event: () => ["event"],
            processing: (ctx) => {
              ctx.timers.processing.setRelative(60_000); // would fire forever: set at the end, it does not fire
              return ["processing"];
            },
          },
        }),
      ),
    );
    expect(out.map((o) => o.value)).toEqual(["event", "processing"]);
  });
});

describe("stateful DoFn errors", () => {
  it("needs keyed input", async () => {
    const p = P.create(PipelineOptions.create());
    p.apply("Numbers", Create.of([1, 2])).apply("Count", ParDo({ state: { n: StateSpec.value<number>() }, process() {} }) as never);
    const err = await failure(p.run());
    expect(err.message).toMatch(/Transform 'Count' has state, but got number elements/);
  });

  it("needs non-merging windows", () => {
    const p = P.create(PipelineOptions.create());
    const sessions = p.apply("KVs", Create.of<[string, number]>([["a", 1]])).apply("Sessions", WindowInto(Sessions(1000)));
    expect(() => sessions.apply("Count", ParDo({ state: { n: StateSpec.value<number>() }, process() {} }))).toThrow(
      /Count: a stateful DoFn needs non-merging windows, but its input 'Sessions' is in merging windows/,
    );
  });

  it("needs a callback per timer and no others (for JavaScript callers)", () => {
    const p = P.create(PipelineOptions.create());
    const kvs = p.apply("KVs", Create.of<[string, number]>([["a", 1]]));
    const noCallback = { timers: { t: TimerSpec.eventTime() }, process() {} };
    expect(() => kvs.apply("A", ParDo(noCallback as never))).toThrow(/timer 't' has no callback/);
    const extra = { timers: { t: TimerSpec.eventTime() }, process() {}, onTimer: { t() {}, u() {} } };
    expect(() => kvs.apply("B", ParDo(extra as never))).toThrow(/callback 'u' for a timer that is not declared/);
  });

  it("refuses an event-time timer after its window expires, and an output timestamp before the input's", async () => {
    const late = P.create(PipelineOptions.create());
    late
      .apply("KVs", Create.timestamped<[string, number]>([{ value: ["a", 1], timestamp: 1000 }]))
      .apply("Fixed", WindowInto(FixedWindows(Duration.seconds(10))))
      .apply("Late", ParDo({ timers: { t: TimerSpec.eventTime() }, process: (_kv, ctx) => ctx.timers.t.set(20_000), onTimer: { t() {} } }));
    expect((await failure(late.run())).message).toMatch(/'Late' set event-time timer 't' for 20000, after its window .* expires \(9999\)/);

    const back = P.create(PipelineOptions.create());
    back
      .apply("KVs", Create.timestamped<[string, number]>([{ value: ["a", 1], timestamp: 1000 }]))
      .apply("Back", ParDo({ timers: { t: TimerSpec.eventTime() }, process: (_kv, ctx) => ctx.timers.t.set(5000, { outputTimestamp: 500 }), onTimer: { t() {} } }));
    expect((await failure(back.run())).message).toMatch(/'Back' set timer 't' with output timestamp 500, before the timestamp of the current input \(1000\)/);
  });
});
