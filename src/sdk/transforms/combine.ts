/**
 * Combining transforms: CombinePerKey (runners lift it: partial aggregation before the shuffle),
 * CombineGlobally, CombineValues, and the usual combiners (Count, Sum, Min, Max, Mean, Top,
 * ToList, Distinct).
 */
import type { Coder } from "../coders/coder.js";
import { JsValueCoder, KvCoder } from "../coders/index.js";
import type { PCollection } from "../pvalue.js";
import { AsList } from "../sideinputs.js";
import { type ExpandContext, PTransform } from "../transform.js";
import { type CombineFn, CombineFns, type Summable, attributeCombineFn, combineAll, naturalCompare } from "./combinefn.js";
import { FlatMap, Impulse, Map } from "./core.js";
import { GroupByKey } from "./grouping.js";
import { keyValueCoders } from "./kv.js";

export type { CombineFn, Summable } from "./combinefn.js";
export { CombineFns } from "./combinefn.js";

class CombineValuesTransform<K, In, Out> extends PTransform<PCollection<readonly [K, Iterable<In>]>, PCollection<[K, Out]>> {
  constructor(private readonly fn: CombineFn<In, unknown, Out>) {
    super("CombineValues");
  }
  expand(input: PCollection<readonly [K, Iterable<In>]>, ctx: ExpandContext): PCollection<[K, Out]> {
    const fn = attributeCombineFn(this.fn, ctx.node.fullLabel);
    return input.apply("Combine", Map(([k, vs]: readonly [K, Iterable<In>]): [K, Out] => [k, combineAll(fn, vs)]));
  }
}

/** Combines the values of already-grouped `[key, values]` pairs. */
export function CombineValues<K, In, Acc, Out>(
  fn: CombineFn<In, Acc, Out>,
): PTransform<PCollection<readonly [K, Iterable<In>]>, PCollection<[K, Out]>> {
  return new CombineValuesTransform<K, In, Out>(fn as CombineFn<In, unknown, Out>);
}

class CombinePerKeyTransform<K, In, Out> extends PTransform<PCollection<readonly [K, In]>, PCollection<[K, Out]>> {
  constructor(private readonly fn: CombineFn<In, unknown, Out>) {
    super("CombinePerKey");
  }
  expand(input: PCollection<readonly [K, In]>, ctx: ExpandContext): PCollection<[K, Out]> {
    const { key } = keyValueCoders(input as PCollection<unknown>, ctx, "CombinePerKey");
    const fn = attributeCombineFn(this.fn, ctx.node.fullLabel);
    ctx.composite({ kind: "combine_per_key", combineFn: fn as CombineFn<unknown, unknown, unknown> });
    const out = input
      .apply("GroupByKey", GroupByKey<K, In>())
      .apply("Combine", CombineValues<K, In, unknown, Out>(fn));
    out.setInferredCoder(new KvCoder(key, JsValueCoder) as unknown as Coder<[K, Out]>);
    return out;
  }
}

/** Combines all values of each key (and window) with `fn`; runners pre-combine before the shuffle. */
export function CombinePerKey<K, In, Acc, Out>(fn: CombineFn<In, Acc, Out>): PTransform<PCollection<readonly [K, In]>, PCollection<[K, Out]>> {
  return new CombinePerKeyTransform<K, In, Out>(fn as CombineFn<In, unknown, Out>);
}

class CombineGloballyTransform<In, Out> extends PTransform<PCollection<In>, PCollection<Out>> {
  constructor(
    private readonly fn: CombineFn<In, unknown, Out>,
    private readonly withDefaults: boolean,
  ) {
    super("CombineGlobally");
  }

  /** Emits nothing for an empty input instead of the combine of no values (needed outside the global window). */
  withoutDefaults(): PTransform<PCollection<In>, PCollection<Out>> {
    return new CombineGloballyTransform(this.fn, false);
  }

  expand(input: PCollection<In>, ctx: ExpandContext): PCollection<Out> {
    // Failures of the fn are reported as this transform's, with the element (not [null, element]).
    const fn = attributeCombineFn(this.fn, ctx.node.fullLabel, true);
    const combined = input
      .apply("KeyWithVoid", Map((v: In): [null, In] => [null, v]))
      .apply("CombinePerKey", CombinePerKey<null, In, unknown, Out>(fn))
      .apply("UnKey", Map(([, v]: [null, Out]) => v));
    if (!this.withDefaults) return combined;
    if (input.windowing.windowFn.urn !== "beam:window_fn:global_windows:v1") {
      ctx.fail(
        `CombineGlobally emits a default for empty input, which needs the global window; '${input.displayName}' is windowed by ${input.windowing.windowFn.toString()}`,
        "Use CombineGlobally(fn).withoutDefaults() (or Sum.globally().withoutDefaults(), …) for windowed input.",
      );
    }
    return input.pipeline
      .apply("DoOnce", new Impulse())
      .apply(
        "InjectDefault",
        FlatMap((_: Uint8Array, c) => (c.sideInputs.combined.length > 0 ? c.sideInputs.combined : [combineAll(fn, [])]), {
          sideInputs: { combined: AsList(combined) },
        }),
      );
  }
}

/** Combines all elements (per window) into one value; an empty input yields the combine of no values. */
export function CombineGlobally<In, Acc, Out>(fn: CombineFn<In, Acc, Out>): CombineGloballyTransform<In, Out> {
  return new CombineGloballyTransform<In, Out>(fn as CombineFn<In, unknown, Out>, true);
}

/**
 * Sums numbers or bigints: `Sum.globally()`, `Sum.perKey()`. A sum of bigints is a bigint, exact
 * like Beam Python's ints; mixing numbers and bigints fails naming the transform (convert first).
 * An empty input sums to 0, a number even for bigint collections (an empty input has no element
 * type at run time): use `.withoutDefaults()` or check `typeof` if that matters.
 */
export const Sum = {
  globally: <T extends Summable = number>(): CombineGloballyTransform<T, T> => CombineGlobally(CombineFns.sum<T>()),
  perKey: <K, V extends Summable = number>(): PTransform<PCollection<readonly [K, V]>, PCollection<[K, V]>> =>
    CombinePerKey<K, V, unknown, V>(CombineFns.sum<V>()),
} as const;
/** Smallest number or bigint: `Min.globally()`, `Min.perKey()` (Infinity for an empty input). Mixed input compares exactly. */
export const Min = {
  globally: <T extends Summable = number>(): CombineGloballyTransform<T, T> => CombineGlobally(CombineFns.min<T>()),
  perKey: <K, V extends Summable = number>(): PTransform<PCollection<readonly [K, V]>, PCollection<[K, V]>> =>
    CombinePerKey<K, V, unknown, V>(CombineFns.min<V>()),
} as const;
/** Largest number or bigint: `Max.globally()`, `Max.perKey()` (-Infinity for an empty input). Mixed input compares exactly. */
export const Max = {
  globally: <T extends Summable = number>(): CombineGloballyTransform<T, T> => CombineGlobally(CombineFns.max<T>()),
  perKey: <K, V extends Summable = number>(): PTransform<PCollection<readonly [K, V]>, PCollection<[K, V]>> =>
    CombinePerKey<K, V, unknown, V>(CombineFns.max<V>()),
} as const;
/**
 * Arithmetic mean of numbers or bigints, always a number (bigints summed exactly, divided as a
 * float, as Beam Python's Mean returns a float): `Mean.globally()`, `Mean.perKey()` (NaN for an
 * empty input).
 */
export const Mean = {
  globally: <T extends Summable = number>(): CombineGloballyTransform<T, number> => CombineGlobally(CombineFns.mean<T>()),
  perKey: <K, V extends Summable = number>(): PTransform<PCollection<readonly [K, V]>, PCollection<[K, number]>> =>
    CombinePerKey<K, V, unknown, number>(CombineFns.mean<V>()),
} as const;

/** Counting: `Count.globally()`, `Count.perKey()`, `Count.perElement()`. */
export const Count = {
  globally: <T>(): CombineGloballyTransform<T, number> => CombineGlobally<T, number, number>(CombineFns.count()),
  perKey: <K, V>(): PTransform<PCollection<readonly [K, V]>, PCollection<[K, number]>> =>
    CombinePerKey<K, V, number, number>(CombineFns.count()),
  /** `[element, occurrences]` for each distinct element. */
  perElement: <T>(): PTransform<PCollection<T>, PCollection<[T, number]>> =>
    new (class extends PTransform<PCollection<T>, PCollection<[T, number]>> {
      expand(input: PCollection<T>, ctx: ExpandContext): PCollection<[T, number]> {
        // The direct runner counts the elements themselves (no pair per element); other runners
        // run the expansion, a lifted CombinePerKey as Beam Python's Count.PerElement is.
        ctx.composite({ kind: "count_per_element", combineFn: attributeCombineFn(CombineFns.sum<number>(), ctx.node.fullLabel) as CombineFn<unknown, unknown, unknown> });
        return input
          .apply("PairWithOne", Map((v: T): [T, number] => [v, 1]))
          .apply("CombinePerKey", CombinePerKey<T, number, unknown, number>(CombineFns.sum<number>()));
      }
    })("Count.perElement"),
} as const;

/** The n largest or smallest elements, as one sorted array per window (or per key). */
export const Top = {
  /** The `n` greatest by `compare` (greatest first). */
  of: <T>(n: number, compare: (a: T, b: T) => number): CombineGloballyTransform<T, T[]> =>
    CombineGlobally<T, T[], T[]>(CombineFns.top(n, compare)),
  largest: <T extends number | bigint | string>(n: number): CombineGloballyTransform<T, T[]> =>
    CombineGlobally<T, T[], T[]>(CombineFns.top<T>(n, naturalCompare)),
  smallest: <T extends number | bigint | string>(n: number): CombineGloballyTransform<T, T[]> =>
    CombineGlobally<T, T[], T[]>(CombineFns.top<T>(n, (a, b) => naturalCompare(b, a))),
  perKey: <K, V>(n: number, compare: (a: V, b: V) => number): PTransform<PCollection<readonly [K, V]>, PCollection<[K, V[]]>> =>
    CombinePerKey<K, V, V[], V[]>(CombineFns.top(n, compare)),
  largestPerKey: <K, V extends number | bigint | string>(n: number): PTransform<PCollection<readonly [K, V]>, PCollection<[K, V[]]>> =>
    CombinePerKey<K, V, V[], V[]>(CombineFns.top<V>(n, naturalCompare)),
  smallestPerKey: <K, V extends number | bigint | string>(n: number): PTransform<PCollection<readonly [K, V]>, PCollection<[K, V[]]>> =>
    CombinePerKey<K, V, V[], V[]>(CombineFns.top<V>(n, (a, b) => naturalCompare(b, a))),
} as const;

/** All elements (per window) as one array. */
export function ToList<T>(): CombineGloballyTransform<T, T[]> {
  return CombineGlobally<T, T[], T[]>(CombineFns.toList<T>());
}

class DistinctTransform<T> extends PTransform<PCollection<T>, PCollection<T>> {
  constructor() {
    super("Distinct");
  }
  expand(input: PCollection<T>): PCollection<T> {
    const first: CombineFn<null, null, null> = {
      createAccumulator: () => null,
      addInput: () => null,
      mergeAccumulators: () => null,
      extractOutput: () => null,
    };
    return input
      .apply("ToPairs", Map((v: T): [T, null] => [v, null]))
      .apply("Group", CombinePerKey<T, null, null, null>(first))
      .apply("Keys", Map(([k]: [T, null]) => k));
  }
}

/** Each distinct element once (per window); elements compare by encoded bytes. */
export function Distinct<T>(): PTransform<PCollection<T>, PCollection<T>> {
  return new DistinctTransform<T>();
}
