/**
 * Type tests of stateful DoFns: state and timer declarations type `ctx.state` and `ctx.timers`,
 * and misuse does not compile. `tsc --noEmit` (part of `npm test`) fails if an `@ts-expect-error`
 * line stops being an error.
 */
import { describe, expectTypeOf, it } from "vitest";
import { CombineFns, Create, ParDo, type PCollection, Pipeline, PipelineOptions, StateSpec, TimerSpec } from "sluice";

const p = Pipeline.create(PipelineOptions.create());
const kvs = p.apply("KVs", Create.of<[string, number]>([["a", 1]]));
const words = p.apply("Words", Create.of(["a"]));

describe("stateful DoFn types", () => {
  it("infers state, timers, key and output types from the declarations", () => {
    // The output type comes from where the result goes (or from an explicit ParDo<…> / DoFn type).
    const out: PCollection<string> = kvs.apply(
      "Stateful",
      ParDo({
        state: {
          total: StateSpec.value<number>(),
          seen: StateSpec.bag<string>(),
          sum: StateSpec.combining(CombineFns.sum()),
          ids: StateSpec.set<string>(),
          byId: StateSpec.map<string, number>(),
        },
        timers: { flush: TimerSpec.eventTime(), tick: TimerSpec.processingTime() },
        process([key, n], ctx) {
          expectTypeOf(key).toEqualTypeOf<string>();
          expectTypeOf(ctx.key).toEqualTypeOf<string>();
          expectTypeOf(ctx.state.total.read()).toEqualTypeOf<number | undefined>();
          ctx.state.total.write(n);
          ctx.state.seen.add(key);
          expectTypeOf(ctx.state.seen.read()).toEqualTypeOf<string[]>();
          ctx.state.sum.add(n);
          expectTypeOf(ctx.state.sum.read()).toEqualTypeOf<number>();
          expectTypeOf(ctx.state.ids.has("x")).toEqualTypeOf<boolean>();
          ctx.state.byId.set(key, n);
          ctx.timers.flush.set(ctx.window.maxTimestamp());
          ctx.timers.tick.setRelative(1000, { tag: "t" });
          return [`${key}=${n}`];
        },
        onTimer: {
          flush(ctx) {
            expectTypeOf(ctx.key).toEqualTypeOf<string>();
            expectTypeOf(ctx.tag).toEqualTypeOf<string>();
            ctx.output(String(ctx.state.total.read()));
          },
          tick(ctx) {
            ctx.timers.flush.clear();
          },
        },
        onWindowExpiration(ctx) {
          ctx.output(`${ctx.key}: ${ctx.state.sum.read()}`);
        },
      }),
    );
    expectTypeOf(out).toEqualTypeOf<PCollection<string>>();
    // @ts-expect-error: outputs must be of the declared output type
    const wrong: PCollection<string> = kvs.apply("Wrong", ParDo({ state: { n: StateSpec.value<number>() }, process([, n], ctx) { ctx.output(n); } }));
    void wrong;
  });

  it("rejects misuse at compile time", () => {
    // Never run: some of these also fail at construction (for JavaScript callers); here only tsc checks them.
    const misuse = (): void => {
      kvs.apply(
        "WrongValue",
        ParDo({
          state: { total: StateSpec.value<number>() },
          process(_kv, ctx) {
            // @ts-expect-error: a value state of numbers takes numbers
            ctx.state.total.write("x");
            // @ts-expect-error: undeclared state
            ctx.state.other.read();
          },
        }),
      );
      kvs.apply(
        "UndeclaredTimer",
        ParDo({
          timers: { flush: TimerSpec.eventTime() },
          process(_kv, ctx) {
            // @ts-expect-error: undeclared timer
            ctx.timers.other.set(0);
            // @ts-expect-error: setRelative is for processing-time timers
            ctx.timers.flush.setRelative(10);
          },
          onTimer: { flush() {} },
        }),
      );
      kvs.apply(
        "MissingCallback",
        // @ts-expect-error: a declared timer needs its onTimer callback
        ParDo({
          timers: { flush: TimerSpec.eventTime() },
          process() {},
        }),
      );
      kvs.apply(
        "ExtraCallback",
        // @ts-expect-error: a callback for a timer that is not declared
        ParDo({
          timers: { flush: TimerSpec.eventTime() },
          process() {},
          onTimer: { flush() {}, other() {} },
        }),
      );
      words.apply(
        "NotKeyed",
        // @ts-expect-error: state needs [key, value] input
        ParDo({
          state: { n: StateSpec.value<number>() },
          process() {},
        }),
      );
    };
    expectTypeOf(misuse).toBeFunction();
  });
});
