/**
 * The element-wise core: Impulse, ParDo and the function shorthands built on it (Map, FlatMap,
 * Filter), and Create.
 */
import { SluiceError } from "../../internal/errors.js";
import { BytesCoder, JsValueCoder } from "../coders/index.js";
import type { AnyDoFn, DoFn, FailedElement, ProcessContext, StatefulDoFn } from "../dofn.js";
import { PBegin, PCollection } from "../pvalue.js";
import type { SideInputs } from "../sideinputs.js";
import type { StateSpecs, TimerSpecs } from "../state.js";
import type { Timestamp } from "../time.js";
import type { StatefulSpec } from "../graph.js";
import { type ExpandContext, PTransform } from "../transform.js";
import { keyValueCoders } from "./kv.js";
import { DEFAULT_WINDOWING } from "../windowing/windowfns.js";
import { flatMapOutputs, plainElementFn } from "./element_fn.js";

/** The root primitive: one empty element in the global window. Sources start from it. */
export class Impulse extends PTransform<PBegin, PCollection<Uint8Array>> {
  constructor() {
    super("Impulse");
  }
  expand(_input: PBegin, ctx: ExpandContext): PCollection<Uint8Array> {
    ctx.primitive({ kind: "impulse" });
    // Runners produce the impulse element themselves: an empty byte array, bytes-coded.
    return ctx.output("main", BytesCoder, DEFAULT_WINDOWING);
  }
}

export interface ParDoOptions<S extends SideInputs> {
  /** Side inputs the DoFn reads as `context.sideInputs.<name>`. */
  readonly sideInputs?: S;
  /**
   * @internal The DoFn is an unbounded source (ReadFromUnbounded's reader): its outputs are
   * unbounded whatever its input (Beam's IsBounded of a splittable DoFn's output).
   */
  readonly unboundedOutput?: boolean;
}

type TaggedOutputs<Out, Tagged extends Record<string, unknown>, Tags extends keyof Tagged> = {
  readonly main: PCollection<Out>;
} & { readonly [K in Tags]: PCollection<Tagged[K]> };

/** The result of exception handling: what succeeded, and the elements that failed with their errors. */
export type WithFailures<Out, In> = {
  readonly good: PCollection<Out>;
  readonly bad: PCollection<FailedElement<In>>;
};

/** Tagged outputs under exception handling: `{ good, bad, <tag>… }`, as Beam Python's DoOutputsTuple. */
export type TaggedWithFailures<Out, In, Tagged extends Record<string, unknown>, Tags extends keyof Tagged> = WithFailures<Out, In> & {
  readonly [K in Tags]: PCollection<Tagged[K]>;
};

const RESERVED_TAGS = ["main", "good", "bad", "failed"];

function checkTags(tags: readonly string[], exceptionHandling: boolean): void {
  for (const t of tags) {
    if (t === "main") throw new SluiceError("INVALID_ARGUMENT", "withOutputs: 'main' is the main output's tag", { hint: "Choose another tag name." });
    if (exceptionHandling && RESERVED_TAGS.includes(t)) {
      throw new SluiceError("INVALID_ARGUMENT", `withOutputs: '${t}' names an output of exception handling (good, bad)`, { hint: "Choose another tag name." });
    }
  }
  if (new Set(tags).size !== tags.length) {
    throw new SluiceError("INVALID_ARGUMENT", `withOutputs lists a tag twice: ${tags.join(", ")}`, { hint: "List each tag once." });
  }
}

/** `ParDo(fn).withOutputs(...)`: `{ main, <tag>… }`; `.withExceptionHandling()` adds `good`/`bad`. */
export class ParDoWithOutputs<In, Out, S extends SideInputs, Tagged extends Record<string, unknown>, Tags extends keyof Tagged & string> extends PTransform<
  PCollection<In>,
  TaggedOutputs<Out, Tagged, Tags>
> {
  /** @internal */
  constructor(
    private readonly pardo: ParDoTransform<In, Out, S, Tagged>,
    private readonly tags: readonly Tags[],
  ) {
    super(pardo.defaultLabel);
    checkTags(tags, false);
  }
  expand(input: PCollection<In>, ctx: ExpandContext): TaggedOutputs<Out, Tagged, Tags> {
    return Object.fromEntries(this.pardo.build(input, ctx, this.tags, false)) as TaggedOutputs<Out, Tagged, Tags>;
  }
  /** Like Beam Python's `with_outputs(...).with_exception_handling()`: `{ good, bad, <tag>… }`. */
  withExceptionHandling(): ParDoWithFailures<In, Out, S, Tagged, Tags> {
    return new ParDoWithFailures(this.pardo, this.tags);
  }
}

/**
 * `ParDo(fn).withExceptionHandling()`: `{ good, bad }`; `.withOutputs(...)` adds tagged outputs.
 * Tagged outputs of an element that fails are discarded with its main outputs.
 */
export class ParDoWithFailures<In, Out, S extends SideInputs, Tagged extends Record<string, unknown>, Tags extends keyof Tagged & string> extends PTransform<
  PCollection<In>,
  TaggedWithFailures<Out, In, Tagged, Tags>
> {
  /** @internal */
  constructor(
    private readonly pardo: ParDoTransform<In, Out, S, Tagged>,
    private readonly tags: readonly Tags[],
  ) {
    super(pardo.defaultLabel);
    checkTags(tags, true);
  }
  expand(input: PCollection<In>, ctx: ExpandContext): TaggedWithFailures<Out, In, Tagged, Tags> {
    const outs = this.pardo.build(input, ctx, this.tags, true);
    const result: Record<string, PCollection<unknown>> = { good: outs.get("main")!, bad: outs.get("failed")! };
    for (const t of this.tags) result[t] = outs.get(t)!;
    return result as TaggedWithFailures<Out, In, Tagged, Tags>;
  }
  /** Declares tagged outputs too: `{ good, bad, <tag>… }`. */
  withOutputs<const More extends readonly (keyof Tagged & string)[]>(...tags: More): ParDoWithFailures<In, Out, S, Tagged, Tags | More[number]> {
    return new ParDoWithFailures<In, Out, S, Tagged, Tags | More[number]>(this.pardo, [...this.tags, ...tags]);
  }
}

function observesContext(fn: (...args: never[]) => unknown): boolean {
  return fn.length >= 2;
}

/**
 * A stateful DoFn's declarations, checked: known state kinds and time domains, one callback per
 * timer, keyed input with a deterministic key coder, non-merging windows (as Beam requires).
 */
function statefulSpec(fn: AnyDoFn, input: PCollection<unknown>, ctx: ExpandContext): StatefulSpec | undefined {
  if (fn.state === undefined && fn.timers === undefined) {
    if (fn.onTimer !== undefined) ctx.fail("the DoFn has onTimer callbacks but declares no timers", "Declare them: timers: { name: TimerSpec.eventTime() }.");
    return undefined;
  }
  const state = fn.state ?? {};
  const timers = fn.timers ?? {};
  for (const [name, spec] of Object.entries(state)) {
    const kind = (spec as { kind?: unknown } | undefined)?.kind;
    if (!["value", "bag", "combining", "set", "map"].includes(kind as string)) {
      ctx.fail(`state '${name}' is not a state declaration`, "Declare state with StateSpec.value(), .bag(), .combining(fn), .set() or .map().");
    }
    if (spec.kind === "combining" && typeof spec.combineFn?.addInput !== "function") {
      ctx.fail(`combining state '${name}' has no CombineFn`, "Pass a CombineFn: StateSpec.combining(CombineFns.sum()).");
    }
    const keyed = spec.kind === "set" ? spec.coder : spec.kind === "map" ? spec.keyCoder : undefined;
    if (keyed !== undefined && !keyed.deterministic) {
      ctx.fail(`${spec.kind} state '${name}' compares by encoding, but its coder ${keyed.toString()} is not deterministic`, "Use a deterministic coder (strings, integers, the default JS value coder).");
    }
  }
  const callbacks = fn.onTimer ?? {};
  for (const [name, spec] of Object.entries(timers)) {
    const domain = (spec as { domain?: unknown } | undefined)?.domain;
    if (domain !== "EVENT_TIME" && domain !== "PROCESSING_TIME") {
      ctx.fail(`timer '${name}' is not a timer declaration`, "Declare timers with TimerSpec.eventTime() or TimerSpec.processingTime().");
    }
    if (typeof callbacks[name] !== "function") ctx.fail(`timer '${name}' has no callback`, `Add onTimer: { ${name}(ctx) { … } }.`);
  }
  for (const name of Object.keys(callbacks)) {
    if (!(name in timers)) ctx.fail(`onTimer has a callback '${name}' for a timer that is not declared`, `Declare it (timers: { ${name}: TimerSpec.eventTime() }) or remove the callback.`);
  }
  if (input.windowing.windowFn.isMerging) {
    ctx.fail(
      `a stateful DoFn needs non-merging windows, but its input '${input.name}' is in merging windows (${input.windowing.windowFn.urn})`,
      "State is kept per key and window, and merging windows (Sessions) would merge it: window into fixed or global windows first, as Beam requires.",
    );
  }
  const { key } = keyValueCoders(input, ctx, "A stateful DoFn");
  return { keyCoder: key, state, timers };
}

/** ParDo: runs a DoFn on every element. See `ParDo()`. */
export class ParDoTransform<In, Out, S extends SideInputs = {}, Tagged extends Record<string, unknown> = {}> extends PTransform<
  PCollection<In>,
  PCollection<Out>
> {
  /** @internal */
  constructor(
    label: string,
    readonly fn: DoFn<In, Out, S, Tagged>,
    readonly options: ParDoOptions<S>,
    private readonly observesWindow: boolean,
  ) {
    super(label);
  }

  expand(input: PCollection<In>, ctx: ExpandContext): PCollection<Out> {
    return this.build(input, ctx, [], false).get("main") as PCollection<Out>;
  }

  /**
   * Declares tagged outputs the DoFn emits with `context.outputTo(tag, value)`; the result is a
   * record `{ main, <tag>… }` of PCollections.
   */
  withOutputs<const Tags extends readonly (keyof Tagged & string)[]>(...tags: Tags): ParDoWithOutputs<In, Out, S, Tagged, Tags[number]> {
    return new ParDoWithOutputs<In, Out, S, Tagged, Tags[number]>(this, tags);
  }

  /**
   * Routes elements whose processing throws to a separate `bad` collection (with the error) instead
   * of failing the run, like Beam Python's `with_exception_handling()`. Outputs of a failing element
   * are discarded, so every input element lands in exactly one of `good` (through its outputs) or `bad`.
   * Composes with `withOutputs` in either order (`{ good, bad, <tag>… }`).
   */
  withExceptionHandling(): ParDoWithFailures<In, Out, S, Tagged, never> {
    return new ParDoWithFailures<In, Out, S, Tagged, never>(this, []);
  }

  /** @internal */
  build(
    input: PCollection<In>,
    ctx: ExpandContext,
    tags: readonly string[],
    exceptionHandling: boolean,
  ): globalThis.Map<string, PCollection<unknown>> {
    if (typeof this.fn?.process !== "function") {
      ctx.fail("the DoFn has no process method", "Pass an object or class instance with process(element, context).");
    }
    const sideInputs = this.options.sideInputs ?? ({} as S);
    for (const [name, side] of Object.entries(sideInputs)) {
      ctx.sideInput(`side:${name}`, side.pcoll);
    }
    const stateful = statefulSpec(this.fn as unknown as AnyDoFn, input as PCollection<unknown>, ctx);
    ctx.primitive({
      kind: "pardo",
      fn: this.fn as unknown as AnyDoFn,
      sideInputs,
      taggedOutputs: exceptionHandling ? ["failed", ...tags] : tags,
      observesWindow: this.observesWindow || Object.keys(sideInputs).length > 0 || stateful !== undefined,
      exceptionHandling,
      ...(stateful ? { stateful } : {}),
      ...(this.options.unboundedOutput === true ? { unboundedOutput: true } : {}),
    });
    const outs = new globalThis.Map<string, PCollection<unknown>>();
    outs.set("main", ctx.output("main", JsValueCoder, input.windowing));
    for (const t of tags) outs.set(t, ctx.output(t, JsValueCoder, input.windowing));
    if (exceptionHandling) outs.set("failed", ctx.output("failed", JsValueCoder, input.windowing));
    return outs;
  }
}

/**
 * Runs `fn` on every element (Beam's ParDo).
 *
 * ```ts
 * words.apply("Lengths", ParDo({ process: (w: string) => [w.length] }));
 * ```
 *
 * A DoFn that declares `state` or `timers` is a stateful DoFn (see `StatefulDoFn`, `StateSpec`,
 * `TimerSpec`): its input must be `[key, value]` pairs.
 */
export function ParDo<
  K,
  V,
  Out,
  St extends StateSpecs = {},
  Tm extends TimerSpecs = {},
  S extends SideInputs = {},
  Tagged extends Record<string, unknown> = {},
>(fn: StatefulDoFn<K, V, Out, St, Tm, S, Tagged> & ({ readonly state: St } | { readonly timers: Tm }), options?: ParDoOptions<S>): ParDoTransform<readonly [K, V], Out, S, Tagged>;
export function ParDo<In, Out, S extends SideInputs = {}, Tagged extends Record<string, unknown> = {}>(
  fn: DoFn<In, Out, S, Tagged> & { readonly state?: never; readonly timers?: never },
  options?: ParDoOptions<S>,
): ParDoTransform<In, Out, S, Tagged>;
export function ParDo<In, Out, S extends SideInputs = {}, Tagged extends Record<string, unknown> = {}>(
  fn: DoFn<In, Out, S, Tagged>,
  options: ParDoOptions<S> = {},
): ParDoTransform<In, Out, S, Tagged> {
  const label = (fn as object).constructor?.name && (fn as object).constructor !== Object ? (fn as object).constructor.name : "ParDo";
  return new ParDoTransform(label, fn, options, true);
}

/**
 * What Map, FlatMap and Filter functions see as their second argument: the element's timestamp,
 * window and pane, and side inputs. (They return their outputs, so there is no `output` here.)
 */
export type MapContext<S extends SideInputs = {}> = Pick<ProcessContext<never, S>, "timestamp" | "window" | "pane" | "sideInputs">;

/** One output per element: `Map((w: string) => w.length)`; the function may be async. */
export function Map<In, Out, S extends SideInputs = {}>(
  fn: (element: In, context: MapContext<S>) => Out | Promise<Out>,
  options: ParDoOptions<S> = {},
): ParDoTransform<In, Out, S> {
  const dofn: DoFn<In, Out, S> = {
    process(element, context) {
      const out = fn(element, context);
      // An async function: its result, not the promise, is the output.
      if (out instanceof Promise) return out.then((v) => [v]);
      context.output(out);
      return undefined;
    },
  };
  return new ParDoTransform("Map", plainElementFn(dofn, "map", fn), options, observesContext(fn));
}

/** Zero or more outputs per element: `FlatMap((line: string) => line.split(" "))`. */
export function FlatMap<In, Out, S extends SideInputs = {}>(
  fn: (element: In, context: MapContext<S>) => Iterable<Out>,
  options: ParDoOptions<S> = {},
): ParDoTransform<In, Out, S> {
  const dofn: DoFn<In, Out, S> = {
    // Returned, not emitted here: the runner pushes the outputs downstream incrementally.
    process(element, context) {
      return flatMapOutputs(fn(element, context));
    },
  };
  return new ParDoTransform("FlatMap", plainElementFn(dofn, "flatMap", fn), options, observesContext(fn));
}

/** Keeps the elements for which `predicate` is true. */
export function Filter<T, S extends SideInputs = {}>(
  predicate: (element: T, context: MapContext<S>) => boolean,
  options: ParDoOptions<S> = {},
): ParDoTransform<T, T, S> {
  const dofn: DoFn<T, T, S> = {
    process(element, context) {
      if (predicate(element, context)) context.output(element);
    },
  };
  return new ParDoTransform("Filter", plainElementFn(dofn, "filter", predicate), options, observesContext(predicate));
}

/** A value with an event time, for `Create.timestamped`. */
export interface TimestampedValue<T> {
  readonly value: T;
  readonly timestamp: Timestamp;
}

class CreateTransform<T> extends PTransform<PBegin, PCollection<T>> {
  constructor(
    private readonly values: readonly T[],
    private readonly timestamped: boolean,
  ) {
    super("Create");
  }
  expand(input: PBegin): PCollection<T> {
    const values = this.values;
    const impulse = input.pipeline.apply("Impulse", new Impulse());
    if (!this.timestamped) {
      return impulse.apply("FlatMap", FlatMap<Uint8Array, T>(() => values));
    }
    return impulse.apply(
      "FlatMap",
      ParDo<Uint8Array, T>({
        process(_, ctx) {
          for (const tv of values as readonly unknown[] as readonly TimestampedValue<T>[]) {
            ctx.outputWithTimestamp(tv.value, tv.timestamp);
          }
        },
      }),
    );
  }
}

/** Creates a PCollection from in-memory values (Beam's Create). */
export const Create = {
  /** The given values, in the global window at the minimum timestamp. */
  of<T>(values: Iterable<T>): PTransform<PBegin, PCollection<T>> {
    return new CreateTransform([...values], false);
  },
  /** Values with event timestamps (ms since the epoch), for windowing. */
  timestamped<T>(values: Iterable<TimestampedValue<T>>): PTransform<PBegin, PCollection<T>> {
    return new CreateTransform([...values] as unknown as T[], true);
  },
} as const;

