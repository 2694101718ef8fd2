/**
 * Small structural transforms: key/value reshaping, Flatten, Partition, Reshuffle, windowing and
 * timestamps.
 */
import { type AccumulationMode, describeTrigger, type Trigger } from "../windowing/triggers.js";
import { SluiceError } from "../../internal/errors.js";
import { JsValueCoder } from "../coders/index.js";
import { PCollection, PCollectionList } from "../pvalue.js";
import type { Timestamp } from "../time.js";
import { type ExpandContext, PTransform } from "../transform.js";
import type { BoundedWindow } from "../windowing/window.js";
import type { TimestampCombiner, WindowFn } from "../windowing/windowfns.js";
import { Map, ParDo } from "./core.js";

/** The keys of `[key, value]` pairs. */
export function Keys<K, V>(): PTransform<PCollection<readonly [K, V]>, PCollection<K>> {
  return named("Keys", Map((kv: readonly [K, V]) => kv[0]));
}

/** The values of `[key, value]` pairs. */
export function Values<K, V>(): PTransform<PCollection<readonly [K, V]>, PCollection<V>> {
  return named("Values", Map((kv: readonly [K, V]) => kv[1]));
}

/** `[key, value]` → `[value, key]`. */
export function KvSwap<K, V>(): PTransform<PCollection<readonly [K, V]>, PCollection<[V, K]>> {
  return named("KvSwap", Map((kv: readonly [K, V]): [V, K] => [kv[1], kv[0]]));
}

/** Pairs each element with a key computed from it (or a constant key): `[key, element]`. */
export function WithKeys<T, K>(keyFn: ((element: T) => K) | K): PTransform<PCollection<T>, PCollection<[K, T]>> {
  const f = typeof keyFn === "function" ? (keyFn as (element: T) => K) : () => keyFn;
  return named("WithKeys", Map((v: T): [K, T] => [f(v), v]));
}

function named<In extends PCollection<unknown>, Out extends PCollection<unknown>>(
  label: string,
  inner: PTransform<In, Out>,
): PTransform<In, Out> {
  return new (class extends PTransform<In, Out> {
    expand(input: In, ctx: ExpandContext): Out {
      return inner.expand(input, ctx);
    }
  })(label);
}

class FlattenTransform<T> extends PTransform<PCollectionList<T>, PCollection<T>> {
  constructor() {
    super("Flatten");
  }
  expand(input: PCollectionList<T>, ctx: ExpandContext): PCollection<T> {
    const first = input.get(0);
    const fn = first.windowing.windowFn;
    for (const p of input.all) {
      const other = p.windowing.windowFn;
      if (other.urn !== fn.urn || JSON.stringify(other.params) !== JSON.stringify(fn.params)) {
        ctx.fail(
          `inputs are windowed differently: '${first.name}' by ${fn.toString()}, '${p.name}' by ${other.toString()}`,
          "Apply the same WindowInto to every input before flattening.",
        );
      }
    }
    ctx.primitive({ kind: "flatten" });
    const sameCoder = input.all.every((p) => p.coder === first.coder);
    return ctx.output("main", sameCoder ? first.coder : (JsValueCoder as never), first.windowing);
  }
}

/** Merges several PCollections into one: `PCollectionList.of(a, b).apply("Merge", Flatten())`. */
export function Flatten<T>(): PTransform<PCollectionList<T>, PCollection<T>> {
  return new FlattenTransform<T>();
}

class PartitionTransform<T> extends PTransform<PCollection<T>, PCollectionList<T>> {
  constructor(
    private readonly n: number,
    private readonly fn: (element: T, partitions: number) => number,
  ) {
    super("Partition");
  }
  expand(input: PCollection<T>): PCollectionList<T> {
    const { n, fn } = this;
    const tags = Array.from({ length: n }, (_, i) => `p${i}`);
    const outs = input.apply(
      "ParDo",
      ParDo<T, T, {}, Record<string, T>>({
        process(element, ctx) {
          const i = fn(element, n);
          if (!Number.isInteger(i) || i < 0 || i >= n) {
            throw new SluiceError("USER_CODE_FAILED", `the partition function returned ${String(i)}; it must be an integer in [0, ${n})`, {
              hint: `Make the function passed to Partition(${n}, fn) return a partition index from 0 to ${n - 1}.`,
            });
          }
          ctx.outputTo(`p${i}`, element);
        },
      }).withOutputs(...tags),
    ) as Readonly<Record<string, PCollection<T>>>;
    return PCollectionList.of(...tags.map((t) => outs[t]!));
  }
}

/** Splits a collection into `n` by `fn(element, n)` → partition index; the result's `.get(i)` is partition i. */
export function Partition<T>(n: number, fn: (element: T, partitions: number) => number): PTransform<PCollection<T>, PCollectionList<T>> {
  if (!Number.isInteger(n) || n < 1) {
    throw new SluiceError("INVALID_ARGUMENT", `Partition needs a positive integer count, got ${n}`, { hint: "Pass the number of partitions, e.g. Partition(3, fn)." });
  }
  return new PartitionTransform(n, fn);
}

class ReshuffleTransform<T> extends PTransform<PCollection<T>, PCollection<T>> {
  constructor() {
    super("Reshuffle");
  }
  expand(input: PCollection<T>, ctx: ExpandContext): PCollection<T> {
    ctx.composite({ kind: "reshuffle" });
    // Runners that do not know Reshuffle: a pass-through keeps the elements, timestamps and windows.
    const out = input.apply("Identity", Map((v: T) => v));
    out.setInferredCoder(input.coder);
    return out;
  }
}

/** Redistributes elements (a fusion break on distributed runners); the elements are unchanged. */
export function Reshuffle<T>(): PTransform<PCollection<T>, PCollection<T>> {
  return new ReshuffleTransform<T>();
}

/**
 * What WindowInto sets besides the window fn. Unset fields keep the input's (as Beam Java's
 * Window.into does; Beam Python resets them to the defaults, which differ only after an earlier
 * WindowInto set them).
 */
export interface WindowIntoOptions {
  /** How grouping outputs are timestamped (default END_OF_WINDOW). */
  readonly timestampCombiner?: TimestampCombiner;
  /** When groupings emit panes (default DefaultTrigger()). Needs `accumulationMode` too, as in Beam. */
  readonly trigger?: Trigger;
  /** DISCARDING (each pane holds only new elements) or ACCUMULATING (all so far). */
  readonly accumulationMode?: AccumulationMode;
  /** Event time (ms) after the end of a window during which late data is still grouped (default 0). */
  readonly allowedLateness?: number;
}

class WindowIntoTransform<T> extends PTransform<PCollection<T>, PCollection<T>> {
  constructor(
    private readonly windowFn: WindowFn,
    private readonly options: WindowIntoOptions,
  ) {
    super("WindowInto");
  }
  expand(input: PCollection<T>, ctx: ExpandContext): PCollection<T> {
    const o = this.options;
    if (o.trigger !== undefined && o.trigger.kind !== "default" && o.accumulationMode === undefined) {
      ctx.fail(
        `WindowInto with trigger ${describeTrigger(o.trigger)} needs an accumulation mode`,
        "Add accumulationMode: \"DISCARDING\" (each pane holds the new elements) or \"ACCUMULATING\" (each pane holds all so far), as Beam requires.",
      );
    }
    if (o.allowedLateness !== undefined && (!Number.isFinite(o.allowedLateness) || o.allowedLateness < 0)) {
      ctx.fail(`WindowInto allowedLateness must be 0 ms or more, got ${o.allowedLateness}`, "Pass milliseconds, e.g. allowedLateness: Duration.minutes(5).");
    }
    ctx.primitive({ kind: "assign_windows", windowFn: this.windowFn });
    return ctx.output("main", input.coder, {
      windowFn: this.windowFn,
      timestampCombiner: o.timestampCombiner ?? input.windowing.timestampCombiner,
      allowedLateness: o.allowedLateness ?? input.windowing.allowedLateness,
      trigger: o.trigger ?? input.windowing.trigger,
      accumulationMode: o.accumulationMode ?? input.windowing.accumulationMode,
    });
  }
}

/** Assigns elements to windows by their timestamps: `WindowInto(FixedWindows(Duration.minutes(1)))`. */
export function WindowInto<T>(windowFn: WindowFn, options: WindowIntoOptions = {}): PTransform<PCollection<T>, PCollection<T>> {
  return new WindowIntoTransform<T>(windowFn, options);
}

/** Sets each element's event time from `fn(element)` (ms since the epoch, or a Date). */
export function WithTimestamps<T>(
  fn: (element: T, current: Timestamp, window: BoundedWindow) => Timestamp | Date,
): PTransform<PCollection<T>, PCollection<T>> {
  return named(
    "WithTimestamps",
    ParDo<T, T>({
      process(element, ctx) {
        const ts = fn(element, ctx.timestamp, ctx.window);
        const ms = ts instanceof Date ? ts.getTime() : ts;
        if (typeof ms !== "number" || Number.isNaN(ms)) {
          throw new SluiceError("USER_CODE_FAILED", `WithTimestamps' function returned ${String(ts)}; return milliseconds since the epoch or a Date`, {
            hint: "Return a number of milliseconds since the epoch (e.g. Date.parse(s)) or a Date.",
          });
        }
        ctx.outputWithTimestamp(element, ms);
      },
    }),
  );
}
