/**
 * CombineFn: an associative, commutative aggregation split into phases so runners can pre-combine
 * before a shuffle (combiner lifting): createAccumulator, addInput, mergeAccumulators, extractOutput.
 */
import type { Coder } from "../coders/coder.js";

export interface CombineFn<In, Acc, Out> {
  createAccumulator(): Acc;
  /** Adds one input; may mutate and return `accumulator`. */
  addInput(accumulator: Acc, input: In): Acc;
  /** Merges accumulators; may mutate and return the first. */
  mergeAccumulators(accumulators: Iterable<Acc>): Acc;
  extractOutput(accumulator: Acc): Out;
  /** Optionally shrinks an accumulator before it is shipped. */
  compact?(accumulator: Acc): Acc;
  /** The coder for accumulators when they cross a process (default: the JS value coder). */
  readonly accumulatorCoder?: Coder<Acc>;
}

/** A CombineFn of any types, as runners hold it. */
export type AnyCombineFn = CombineFn<unknown, unknown, unknown>;

/** Input type of a CombineFn. */
export type CombineFnInput<F> = F extends CombineFn<infer I, unknown, unknown> ? I : never;
/** Output type of a CombineFn. */
export type CombineFnOutput<F> = F extends CombineFn<never, unknown, infer O> ? O : never;

/** Applies a CombineFn to a whole group of values at once (a non-lifted combine). */
export function combineAll<In, Acc, Out>(fn: CombineFn<In, Acc, Out>, values: Iterable<In>): Out {
  let acc = fn.createAccumulator();
  for (const v of values) acc = fn.addInput(acc, v);
  return fn.extractOutput(acc);
}

function binary<T>(identity: () => T, op: (a: T, b: T) => T): CombineFn<T, T, T> {
  return {
    createAccumulator: identity,
    addInput: op,
    mergeAccumulators(accs) {
      let acc = identity();
      for (const a of accs) acc = op(acc, a);
      return acc;
    },
    extractOutput: (acc) => acc,
  };
}

/** Built-in CombineFns behind Sum, Min, Max, Mean, Count, Top and ToList. */
export const CombineFns = {
  sum: (): CombineFn<number, number, number> => binary(() => 0, (a, b) => a + b),
  sumBigInt: (): CombineFn<bigint, bigint, bigint> => binary(() => 0n, (a, b) => a + b),
  min: (): CombineFn<number, number, number> => binary(() => Infinity, (a, b) => (b < a ? b : a)),
  max: (): CombineFn<number, number, number> => binary(() => -Infinity, (a, b) => (b > a ? b : a)),
  count: (): CombineFn<unknown, number, number> => ({
    createAccumulator: () => 0,
    addInput: (acc) => acc + 1,
    mergeAccumulators(accs) {
      let n = 0;
      for (const a of accs) n += a;
      return n;
    },
    extractOutput: (acc) => acc,
  }),
  mean: (): CombineFn<number, [number, number], number> => ({
    createAccumulator: () => [0, 0],
    addInput(acc, v) {
      acc[0] += v;
      acc[1] += 1;
      return acc;
    },
    mergeAccumulators(accs) {
      const out: [number, number] = [0, 0];
      for (const a of accs) {
        out[0] += a[0];
        out[1] += a[1];
      }
      return out;
    },
    extractOutput: (acc) => (acc[1] === 0 ? NaN : acc[0] / acc[1]),
  }),
  /** The `n` greatest elements by `compare` (descending), like Beam's Top.Of. */
  top: <T>(n: number, compare: (a: T, b: T) => number): CombineFn<T, T[], T[]> => {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`Top needs a non-negative integer count, got ${n}`);
    const desc = (a: T, b: T): number => compare(b, a);
    // Keeps at most 2n items, trimming to n when full: O(1) amortised per input.
    const trim = (acc: T[]): T[] => {
      acc.sort(desc);
      acc.length = Math.min(acc.length, n);
      return acc;
    };
    return {
      createAccumulator: () => [],
      addInput(acc, v) {
        if (n === 0) return acc;
        acc.push(v);
        if (acc.length >= 2 * n) trim(acc);
        return acc;
      },
      mergeAccumulators(accs) {
        const out: T[] = [];
        for (const a of accs) for (const v of a) out.push(v);
        return trim(out);
      },
      extractOutput: (acc) => trim([...acc]),
      compact: trim,
    };
  },
  toList: <T>(): CombineFn<T, T[], T[]> => ({
    createAccumulator: () => [],
    addInput(acc, v) {
      acc.push(v);
      return acc;
    },
    mergeAccumulators(accs) {
      const out: T[] = [];
      for (const a of accs) for (const v of a) out.push(v);
      return out;
    },
    extractOutput: (acc) => acc,
  }),
} as const;

/** Natural order for numbers, bigints and strings (numbers before strings); used by Top.largest. */
export function naturalCompare(a: unknown, b: unknown): number {
  if (typeof a === typeof b && (typeof a === "number" || typeof a === "bigint" || typeof a === "string")) {
    return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
  }
  throw new TypeError(`Top.largest/smallest compare numbers, bigints or strings; got ${typeof a} and ${typeof b}: pass a compare function to Top.of`);
}
