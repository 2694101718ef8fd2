/**
 * The element-wise core: Impulse, ParDo and the function shorthands built on it (Map, FlatMap,
 * Filter), and Create.
 */
import { BytesCoder, JsValueCoder } from "../coders/index.js";
import type { AnyDoFn, DoFn, FailedElement, ProcessContext } from "../dofn.js";
import { PBegin, PCollection } from "../pvalue.js";
import type { SideInputs } from "../sideinputs.js";
import type { Timestamp } from "../time.js";
import { type ExpandContext, PTransform } from "../transform.js";
import { DEFAULT_WINDOWING } from "../windowing/windowfns.js";

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
}

type TaggedOutputs<Out, Tagged extends Record<string, unknown>, Tags extends keyof Tagged> = {
  readonly main: PCollection<Out>;
} & { readonly [K in Tags]: PCollection<Tagged[K]> };

/** The result of exception handling: what succeeded, and the elements that failed with their errors. */
export type WithFailures<Out, In> = {
  readonly good: PCollection<Out>;
  readonly bad: PCollection<FailedElement<In>>;
};

function observesContext(fn: (...args: never[]) => unknown): boolean {
  return fn.length >= 2;
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
  withOutputs<const Tags extends readonly (keyof Tagged & string)[]>(
    ...tags: Tags
  ): PTransform<PCollection<In>, TaggedOutputs<Out, Tagged, Tags[number]>> {
    for (const t of tags) {
      if (t === "main") throw new RangeError("'main' is the main output's tag; choose another tag name");
    }
    const self = this;
    return new (class extends PTransform<PCollection<In>, TaggedOutputs<Out, Tagged, Tags[number]>> {
      expand(input: PCollection<In>, ctx: ExpandContext): TaggedOutputs<Out, Tagged, Tags[number]> {
        return Object.fromEntries(self.build(input, ctx, tags, false)) as TaggedOutputs<Out, Tagged, Tags[number]>;
      }
    })(this.defaultLabel);
  }

  /**
   * Routes elements whose processing throws to a separate `bad` collection (with the error) instead
   * of failing the run, like Beam Python's `with_exception_handling()`. Outputs of a failing element
   * are discarded, so every input element lands in exactly one of `good` (through its outputs) or `bad`.
   */
  withExceptionHandling(): PTransform<PCollection<In>, WithFailures<Out, In>> {
    const self = this;
    return new (class extends PTransform<PCollection<In>, WithFailures<Out, In>> {
      expand(input: PCollection<In>, ctx: ExpandContext): WithFailures<Out, In> {
        const outs = self.build(input, ctx, [], true);
        return { good: outs.get("main") as PCollection<Out>, bad: outs.get("failed") as PCollection<FailedElement<In>> };
      }
    })(this.defaultLabel);
  }

  private build(
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
    ctx.primitive({
      kind: "pardo",
      fn: this.fn as unknown as AnyDoFn,
      sideInputs,
      taggedOutputs: exceptionHandling ? ["failed", ...tags] : tags,
      observesWindow: this.observesWindow || Object.keys(sideInputs).length > 0,
      exceptionHandling,
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
 */
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
  return new ParDoTransform("Map", dofn, options, observesContext(fn));
}

/** Zero or more outputs per element: `FlatMap((line: string) => line.split(" "))`. */
export function FlatMap<In, Out, S extends SideInputs = {}>(
  fn: (element: In, context: MapContext<S>) => Iterable<Out>,
  options: ParDoOptions<S> = {},
): ParDoTransform<In, Out, S> {
  const dofn: DoFn<In, Out, S> = {
    process(element, context) {
      const out = fn(element, context);
      if (Array.isArray(out)) {
        for (let i = 0; i < out.length; i++) context.output(out[i] as Out);
      } else if (typeof out === "string") {
        throw new TypeError("FlatMap's function returned a string; return an array of outputs (e.g. [s] or s.split(' '))");
      } else {
        for (const v of out) context.output(v);
      }
    },
  };
  return new ParDoTransform("FlatMap", dofn, options, observesContext(fn));
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
  return new ParDoTransform("Filter", dofn, options, observesContext(predicate));
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

