/**
 * CombineFn: an associative, commutative aggregation split into phases so runners can pre-combine
 * before a shuffle (combiner lifting): createAccumulator, addInput, mergeAccumulators, extractOutput.
 */
import { SluiceError } from "../../internal/errors.js";
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

/** What Sum and Mean add up: numbers, or bigints (exact, like Beam Python's ints). */
export type Summable = number | bigint;

/**
 * Adds two summands of one kind. Mixed number + bigint input is an error, not a promotion:
 * Beam Python promotes `int + float` to a float, but a JS number is as often an integer as a
 * float, and promoting would silently round the bigints; JS itself refuses `1n + 1` for the same
 * reason. Convert first (`Map(BigInt)` or `Map(Number)`). Min and Max accept mixed input: they
 * compare exactly and return one of the inputs unchanged, as Python's min/max do.
 */
function add(what: string, a: Summable, b: Summable): Summable {
  if (typeof a !== typeof b) throw mixed(what, a, b);
  return (a as number) + (b as number);
}

function summand(what: string, v: unknown): Summable {
  if (typeof v === "number" || typeof v === "bigint") return v;
  throw new SluiceError("INVALID_ARGUMENT", `${what} adds numbers or bigints, got ${typeof v} ${preview(v)}`, {
    hint: `Map the elements to numbers (or bigints) before ${what}, e.g. Map((x) => Number(x)).`,
  });
}

function mixed(what: string, a: unknown, b: unknown): SluiceError {
  const [n, big] = typeof a === "bigint" ? [b, a] : [a, b];
  return new SluiceError("INVALID_ARGUMENT", `${what} got both bigints and numbers (e.g. ${preview(big)} and ${preview(n)}); it adds one kind only`, {
    hint: `Convert to one kind first: Map((x) => BigInt(x)) for exact integers, or Map((x) => Number(x)) for floats.`,
  });
}

function preview(v: unknown): string {
  const s = typeof v === "bigint" ? `${v}n` : typeof v === "string" ? JSON.stringify(v) : String(v);
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}

/**
 * Sum of numbers or bigints. The accumulator is `null` until the first input, so a sum of bigints
 * stays a bigint; an empty input sums to 0 (a number: an empty input carries no element type).
 * Beam Python 2.73 DirectRunner, CombineGlobally(sum) of [2**70, 2**70 + 1, 3]:
 * 2361183241434822606852 (an int); of [2**62] * 3: 13835058055282163712 (no int64 overflow);
 * of []: 0.
 */
function sumFn<T extends Summable>(what: string): CombineFn<T, T | null, T> {
  const plus = (a: T | null, b: T | null): T | null => (a === null ? b : b === null ? a : (add(what, a, b) as T));
  return {
    createAccumulator: () => null,
    // Numbers added to a number is the hot path (Count.perElement); everything else is checked.
    addInput: (acc, v) => (typeof v === "number" && typeof acc === "number" ? ((acc + v) as T) : plus(acc, summand(what, v) as T)),
    mergeAccumulators(accs) {
      let acc: T | null = null;
      for (const a of accs) acc = plus(acc, a);
      return acc;
    },
    extractOutput: (acc) => (acc === null ? (0 as T) : acc),
  };
}

/**
 * Mean of numbers or bigints, as a number. Bigints are summed exactly and the sum divided as a
 * float at the end, as Beam Python's MeanCombineFn does (`sum_ / float(count)`, which rounds the
 * int sum to the nearest float first). Beam Python 2.73 DirectRunner, Mean.Globally():
 * [2**70, 2**70 + 1, 3] → 7.870610804782742e+20; [2**53 + 1, 2**53 + 3] → 9007199254740994.0;
 * [3, 4] → 3.5; [] → nan. (A bigint sum beyond ~1.8e308 gives Infinity where Python raises.)
 */
function meanFn<T extends Summable>(): CombineFn<T, [T | 0, number], number> {
  const what = "Mean";
  return {
    createAccumulator: () => [0, 0],
    addInput(acc, v) {
      const x = summand(what, v) as T;
      acc[0] = acc[1] === 0 ? x : (add(what, acc[0], x) as T);
      acc[1] += 1;
      return acc;
    },
    mergeAccumulators(accs) {
      const out: [T | 0, number] = [0, 0];
      for (const a of accs) {
        if (a[1] === 0) continue;
        out[0] = out[1] === 0 ? a[0] : (add(what, out[0], a[0]) as T);
        out[1] += a[1];
      }
      return out;
    },
    extractOutput: (acc) => (acc[1] === 0 ? NaN : Number(acc[0]) / acc[1]),
  };
}

/** Built-in CombineFns behind Sum, Min, Max, Mean, Count, Top and ToList. */
export const CombineFns = {
  /** Sum of numbers, or of bigints (a bigint); mixing them fails (see `add`). */
  sum: <T extends Summable = number>(): CombineFn<T, T | null, T> => sumFn<T>("Sum"),
  sumBigInt: (): CombineFn<bigint, bigint | null, bigint> => sumFn<bigint>("Sum"),
  /** Smallest number or bigint (mixed input compares exactly); Infinity for an empty input. */
  min: <T extends Summable = number>(): CombineFn<T, T, T> => binary<T>(() => Infinity as T, (a, b) => (b < a ? b : a)),
  /** Largest number or bigint (mixed input compares exactly); -Infinity for an empty input. */
  max: <T extends Summable = number>(): CombineFn<T, T, T> => binary<T>(() => -Infinity as T, (a, b) => (b > a ? b : a)),
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
  /** Mean of numbers or bigints, as a number; NaN for an empty input. */
  mean: <T extends Summable = number>(): CombineFn<T, [T | 0, number], number> => meanFn<T>(),
  /** The `n` greatest elements by `compare` (descending), like Beam's Top.Of. */
  top: <T>(n: number, compare: (a: T, b: T) => number): CombineFn<T, T[], T[]> => {
    if (!Number.isInteger(n) || n < 0) {
      throw new SluiceError("INVALID_ARGUMENT", `Top needs a non-negative integer count, got ${n}`, { hint: "Pass how many elements to keep, e.g. Top.largest(10)." });
    }
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
  throw new SluiceError("INVALID_ARGUMENT", `Top.largest/smallest compare numbers, bigints or strings; got ${typeof a} and ${typeof b}`, {
    hint: "Pass a compare function: Top.of(n, (a, b) => ...) or Top.perKey(n, compare).",
  });
}

/**
 * Marks an error thrown by a CombineFn with the combining transform the user applied, so the
 * runner reports it as that transform's CombineFn failure wherever the fn ran (a lifted grouping,
 * a harness phase, CombineValues' Map, CombineGlobally's default), not as the internal step's and
 * without a `.withExceptionHandling()` hint. Read by the runners' `userCodeError` (by this
 * registered symbol, so no import is needed there).
 */
const COMBINE_FN_FAILURE = Symbol.for("sluice.combineFnFailure");
const ATTRIBUTED = Symbol.for("sluice.combineFnAttributed");

export interface CombineFnFailure {
  /** The full label of the combining transform the user applied (e.g. 'Total' for Sum.globally()). */
  readonly transform: string;
  /** The CombineFn method that threw. */
  readonly method: string;
  readonly error: unknown;
  /** The input being added, when the runner's element would be internal (CombineGlobally's [null, v]). */
  readonly element?: { readonly value: unknown } | undefined;
  /** Whether `element` replaces the runner's element (CombineGlobally) even when undefined. */
  readonly replacesElement: boolean;
}

/** The CombineFn failure `err` carries, if it is one. */
export function combineFnFailureOf(err: unknown): CombineFnFailure | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  return (err as Record<symbol, CombineFnFailure | undefined>)[COMBINE_FN_FAILURE];
}

/**
 * `fn` with every method's failures marked as `transform`'s. A fn already attributed (CombineGlobally
 * hands its fn to CombinePerKey) keeps the outer transform.
 */
export function attributeCombineFn<In, Acc, Out>(fn: CombineFn<In, Acc, Out>, transform: string, globally = false): CombineFn<In, Acc, Out> {
  if ((fn as unknown as Record<symbol, unknown>)[ATTRIBUTED] === true) return fn;
  const fail = (method: string, error: unknown, element?: { value: unknown }): never => {
    const marked = new Error(`the CombineFn's ${method} threw`);
    const failure: CombineFnFailure = { transform, method, error, element, replacesElement: globally };
    Object.defineProperty(marked, COMBINE_FN_FAILURE, { value: failure });
    throw marked;
  };
  const out: CombineFn<In, Acc, Out> = {
    createAccumulator() {
      try {
        return fn.createAccumulator();
      } catch (err) {
        return fail("createAccumulator", err);
      }
    },
    addInput(acc, input) {
      try {
        return fn.addInput(acc, input);
      } catch (err) {
        return fail("addInput", err, globally ? { value: input } : undefined);
      }
    },
    mergeAccumulators(accs) {
      try {
        return fn.mergeAccumulators(accs);
      } catch (err) {
        return fail("mergeAccumulators", err);
      }
    },
    extractOutput(acc) {
      try {
        return fn.extractOutput(acc);
      } catch (err) {
        return fail("extractOutput", err);
      }
    },
    ...(fn.compact === undefined
      ? {}
      : {
          compact(acc: Acc) {
            try {
              return fn.compact!(acc);
            } catch (err) {
              return fail("compact", err);
            }
          },
        }),
    ...(fn.accumulatorCoder === undefined ? {} : { accumulatorCoder: fn.accumulatorCoder }),
  };
  Object.defineProperty(out, ATTRIBUTED, { value: true });
  return out;
}
