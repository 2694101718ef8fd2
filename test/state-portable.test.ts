/**
 * State and timers through the Fn API on Prism: the harness keeps each state cell as Beam's bag
 * user state and sends and receives timers on the data plane; the runner schedules them. What is
 * the harness's own: state carried across bundles (loaded, written back), and firings a runner
 * sends all at once at its watermark (a timer re-set by a callback, the expiry after it). Every
 * state kind on Prism and Flink is the corpus's (test/conformance: state-all-kinds-bounded, …).
 */
import { describe, expect, it } from "vitest";
import {
  type Coder,
  CombineFns,
  KvCoder,
  StringUtf8Coder,
  VarIntCoder,
  Create,
  Duration,
  FixedWindows,
  IntervalWindow,
  Map,
  ParDo,
  type PCollection,
  Pipeline,
  PipelineOptions,
  StateSpec,
  TestStream,
  TimerSpec,
  WindowInto,
} from "sluice";
import { PortableRunner } from "../src/runners/portable/runner.js";
import { usePrism } from "./support.js";

const prismEndpoint = usePrism();

interface Out {
  readonly value: unknown;
  readonly timestamp: number;
  readonly window: string;
}

async function run(build: (p: Pipeline) => PCollection<unknown>): Promise<Out[]> {
  const out: Out[] = [];
  const p = Pipeline.create(PipelineOptions.create());
  build(p).apply(
    "Collect",
    Map((value: unknown, c) => {
      const w = c.window instanceof IntervalWindow ? `${c.window.start}-${c.window.end}` : "global";
      out.push({ value, timestamp: c.timestamp, window: w });
    }),
  );
  await new PortableRunner(prismEndpoint()).run(p);
  return out.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

describe("state and timers on Prism", () => {
  it("state lasts across bundles; timers move when set again, fire when the watermark reaches them, output at their time", async () => {
    const out = await run((p) =>
      p
        .apply(
          "Events",
          // Beam's standard coders: Prism passes a TestStream's encoded elements through as they are,
          // while telling the SDK a length-prefixed coder for a stateful DoFn's non-standard key.
          TestStream.create<[string, number]>(new KvCoder(StringUtf8Coder, VarIntCoder) as unknown as Coder<[string, number]>)
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
            state: { buf: StateSpec.bag<number>(), seen: StateSpec.value<number>() },
            timers: { flush: TimerSpec.eventTime() },
            process([key, n], ctx) {
              ctx.state.buf.add(n);
              ctx.state.seen.write((ctx.state.seen.read() ?? 0) + 1);
              ctx.timers.flush.set(ctx.timestamp + 2000);
              return [`${key} got ${n}, ${ctx.state.seen.read()} so far`];
            },
            onTimer: {
              flush(ctx) {
                const values = ctx.state.buf.read();
                ctx.state.buf.clear();
                return [`${ctx.key} fired at ${ctx.fireTimestamp} with ${values.join(",")}`];
              },
            },
          }),
        ),
    );
    expect(out).toEqual([
      { value: "a fired at 3500 with 1,2", timestamp: 3500, window: "global" },
      { value: "a fired at 8000 with 4", timestamp: 8000, window: "global" },
      { value: "a got 1, 1 so far", timestamp: 1000, window: "global" },
      { value: "a got 2, 2 so far", timestamp: 1500, window: "global" },
      { value: "a got 4, 3 so far", timestamp: 6000, window: "global" },
      { value: "b fired at 5600 with 3", timestamp: 5600, window: "global" },
      { value: "b got 3, 1 so far", timestamp: 3600, window: "global" },
    ]);
  }, 180_000);

  it("timers re-set from their callback, dynamic tags, clear; onWindowExpiration with the window's state", async () => {
    const out = await run((p) =>
      p
        .apply("Events", Create.timestamped<[string, number]>([{ value: ["k", 5], timestamp: 0 }]))
        .apply("Fixed", WindowInto(FixedWindows(Duration.seconds(10))))
        .apply(
          "Loop",
          ParDo({
            state: { fired: StateSpec.value<number>(), total: StateSpec.combining(CombineFns.sum()) },
            timers: { loop: TimerSpec.eventTime(), tagged: TimerSpec.eventTime() },
            process([, n], ctx) {
              ctx.state.total.add(n);
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
                ctx.state.total.add(1);
                if (n < 3) ctx.timers.loop.set(ctx.fireTimestamp + 1000);
                return [`loop ${n} at ${ctx.fireTimestamp}`];
              },
              tagged(ctx) {
                return [`tag ${ctx.tag} at ${ctx.fireTimestamp}`];
              },
            },
            onWindowExpiration(ctx) {
              return [`expired with total ${ctx.state.total.read()}`];
            },
          }),
        ),
    );
    expect(out.map((o) => o.value).sort()).toEqual(["expired with total 8", "loop 1 at 1000", "loop 2 at 2000", "loop 3 at 3000", "tag x at 500", "tag y at 600"]);
  }, 180_000);
});
