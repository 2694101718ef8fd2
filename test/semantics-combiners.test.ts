/**
 * Combiner semantics checked against Beam Python 2.73's DirectRunner: Sum, Min, Max and Mean of
 * bigints (Python's exact ints), mixed input, and how CombineFn failures are reported.
 */
import { describe, expect, expectTypeOf, it } from "vitest";
import {
  CombineGlobally,
  CombinePerKey,
  CombineValues,
  type CombineFn,
  Count,
  Create,
  FixedWindows,
  GroupByKey,
  Map,
  Max,
  Mean,
  Min,
  type PCollection,
  ParDo,
  Pipeline,
  PipelineOptions,
  Sum,
  WindowInto,
  WithTimestamps,
} from "sluice";
import { collect, failure, modes } from "./semantics-support.js";

const big = [2n ** 70n, 2n ** 70n + 1n, 3n];

/** A CombineFn over numbers that throws in `method`. */
function throwingIn(method: "addInput" | "extractOutput" | "mergeAccumulators"): CombineFn<number, number, number> {
  return {
    createAccumulator: () => 0,
    addInput: (a, b) => {
      if (method === "addInput") throw new RangeError("boom in addInput");
      return a + b;
    },
    mergeAccumulators: (accs) => {
      if (method === "mergeAccumulators") throw new RangeError("boom in merge");
      let n = 0;
      for (const a of accs) n += a;
      return n;
    },
    extractOutput: (a) => {
      if (method === "extractOutput") throw new RangeError("boom in extractOutput");
      return a;
    },
  };
}

for (const { name, runner } of modes) {
  // Natively the direct runner counts the elements as keys; expanded, it pairs each with 1 and sums.
  describe(`Count.perElement [${name}]`, () => {
    it("counts strings, numbers and structured elements by their encoding", async () => {
      const words = await collect(runner, (p) => p.apply("Words", Create.of(["a", "b", "a", "", "a", ""])).apply("Count", Count.perElement()));
      expect(words.sort()).toEqual([["", 2], ["a", 3], ["b", 1]]);
      const nums = await collect(runner, (p) => p.apply("Nums", Create.of([3, 1.5, 3, 7, 3])).apply("Count", Count.perElement()));
      expect(nums.sort((x, y) => x[0] - y[0])).toEqual([[1.5, 1], [3, 3], [7, 1]]);
      const pairs = await collect(runner, (p) => p.apply("Pairs", Create.of<[string, number]>([["x", 1], ["x", 1], ["x", 2]])).apply("Count", Count.perElement()));
      expect(pairs.sort((x, y) => x[0][1] - y[0][1])).toEqual([[["x", 1], 2], [["x", 2], 1]]);
    });

    it("counts per window", async () => {
      const counts = await collect(runner, (p) =>
        p
          .apply("Events", Create.of<[string, number]>([["a", 1_000], ["a", 2_000], ["b", 3_000], ["a", 61_000]]))
          .apply("Stamp", WithTimestamps(([, t]: [string, number]) => t))
          .apply("Key", Map(([k]: [string, number]) => k))
          .apply("Minutes", WindowInto(FixedWindows(60_000)))
          .apply("Count", Count.perElement())
          .apply("WithWindow", ParDo<[string, number], string>({
            process([k, n], ctx) {
              return [`${k} ${n} ${ctx.window.maxTimestamp()}`];
            },
          })),
      );
      expect(counts.sort()).toEqual(["a 1 119999", "a 2 59999", "b 1 59999"]);
    });
  });

  describe(`Sum, Min, Max, Mean of bigints [${name}]`, () => {
    it("Sum of bigints is an exact bigint, globally and per key", async () => {
      // Beam Python: CombineGlobally(sum) of [2**70, 2**70 + 1, 3] → 2361183241434822606852 (int);
      // of [2**62] * 3 → 13835058055282163712 (no int64 overflow).
      const [total] = await collect(runner, (p) => p.apply("Nums", Create.of(big)).apply("Total", Sum.globally()));
      expect(total).toBe(2361183241434822606852n);
      const [i64] = await collect(runner, (p) => p.apply("Nums", Create.of([2n ** 62n, 2n ** 62n, 2n ** 62n])).apply("Total", Sum.globally()));
      expect(i64).toBe(13835058055282163712n);
      const perKey = await collect(runner, (p) =>
        p.apply("KVs", Create.of<[string, bigint]>([["a", 2n ** 64n], ["b", 1n], ["a", 1n]])).apply("PerKey", Sum.perKey()),
      );
      expect(perKey.sort()).toEqual([["a", 18446744073709551617n], ["b", 1n]]);
    });

    it("Min and Max of bigints, and of mixed input (compared exactly, returned unchanged)", async () => {
      // Beam Python: min → 3, max → 1180591620717411303425; min of [2**70, 1.5] → 1.5.
      const [min] = await collect(runner, (p) => p.apply("Nums", Create.of(big)).apply("Min", Min.globally()));
      const [max] = await collect(runner, (p) => p.apply("Nums", Create.of(big)).apply("Max", Max.globally()));
      expect(min).toBe(3n);
      expect(max).toBe(1180591620717411303425n);
      const [mixedMin] = await collect(runner, (p) => p.apply("Nums", Create.of<number | bigint>([2n ** 70n, 1.5])).apply("Min", Min.globally()));
      expect(mixedMin).toBe(1.5);
    });

    it("Mean of bigints is a float of the exact sum, as Beam Python's Mean", async () => {
      // Beam Python Mean.Globally(): [2**70, 2**70 + 1, 3] → 7.870610804782742e+20;
      // [2**53 + 1, 2**53 + 3] → 9007199254740994.0 (summing as floats would give 9007199254740992);
      // [3, 4] → 3.5; [] → nan.
      const [mean] = await collect(runner, (p) => p.apply("Nums", Create.of(big)).apply("Mean", Mean.globally()));
      expect(mean).toBe(7.870610804782742e20);
      const [odd] = await collect(runner, (p) => p.apply("Nums", Create.of([2n ** 53n + 1n, 2n ** 53n + 3n])).apply("Mean", Mean.globally()));
      expect(odd).toBe(9007199254740994);
      const [small] = await collect(runner, (p) => p.apply("Nums", Create.of([3, 4])).apply("Mean", Mean.globally()));
      expect(small).toBe(3.5);
      const [empty] = await collect(runner, (p) => p.apply("Nums", Create.of<bigint>([])).apply("Mean", Mean.globally()));
      expect(empty).toBeNaN();
      const perKey = await collect(runner, (p) =>
        p.apply("KVs", Create.of<[string, bigint]>([["a", 1n], ["a", 2n]])).apply("PerKey", Mean.perKey()),
      );
      expect(perKey).toEqual([["a", 1.5]]);
    });

    it("an empty Sum is 0, as Beam Python's sum of nothing", async () => {
      expect(await collect(runner, (p) => p.apply("Nums", Create.of<number>([])).apply("Total", Sum.globally()))).toEqual([0]);
    });

    it("mixing numbers and bigints in Sum or Mean fails naming the transform (no silent rounding)", async () => {
      const sum = await failure(runner, (p) => {
        p.apply("Nums", Create.of<number | bigint>([2n ** 70n, 1.5])).apply("Total", Sum.globally());
      });
      expect(sum.code).toBe("INVALID_ARGUMENT");
      expect(sum.message).toMatch(/^Transform 'Total' failed in the CombineFn's (addInput|mergeAccumulators).*Sum got both bigints and numbers/);
      expect(sum.hint).toMatch(/BigInt\(x\)/);
      const mean = await failure(runner, (p) => {
        p.apply("KVs", Create.of<[string, number | bigint]>([["k", 1], ["k", 2n]])).apply("Avg", Mean.perKey());
      });
      expect(mean.code).toBe("INVALID_ARGUMENT");
      expect(mean.message).toMatch(/^Transform 'Avg' failed in the CombineFn's .*Mean got both bigints and numbers/);
    });

    it("Sum of values that are not numbers fails instead of concatenating", async () => {
      const err = await failure(runner, (p) => {
        p.apply("Words", Create.of(["1", "2"])).apply("Total", Sum.globally() as never);
      });
      expect(err.code).toBe("INVALID_ARGUMENT");
      expect(err.message).toMatch(/'Total' failed in the CombineFn's addInput on element "1": Sum adds numbers or bigints, got string "1"/);
    });
  });

  describe(`CombineFn failures [${name}]`, () => {
    it("CombineGlobally: named by the user's label, with the element itself, without the exception-handling hint", async () => {
      const err = await failure(runner, (p) => {
        p.apply("Nums", Create.of([1])).apply("Total", CombineGlobally(throwingIn("addInput")));
      });
      expect(err.code).toBe("USER_CODE_FAILED");
      expect(err.message).toBe("Transform 'Total' failed in the CombineFn's addInput on element 1: boom in addInput");
      expect(err.hint).toMatch(/Fix the CombineFn/);
      expect(err.hint).not.toMatch(/withExceptionHandling/);
      expect(err.cause).toBeInstanceOf(RangeError);
    });

    it("CombineGlobally's extractOutput, also for the default of an empty input", async () => {
      for (const values of [[1], []]) {
        const err = await failure(runner, (p) => {
          p.apply("Nums", Create.of<number>(values)).apply("Total", CombineGlobally(throwingIn("extractOutput")));
        });
        expect(err.message).toBe("Transform 'Total' failed in the CombineFn's extractOutput: boom in extractOutput");
        expect(err.hint).not.toMatch(/withExceptionHandling/);
      }
    });

    it("CombinePerKey and CombineValues name their own label", async () => {
      const perKey = await failure(runner, (p) => {
        p.apply("KVs", Create.of<[string, number]>([["a", 1]])).apply("PerKey", CombinePerKey(throwingIn("addInput")));
      });
      expect(perKey.message).toMatch(/^Transform 'PerKey' failed in the CombineFn's addInput on element \["a",/);
      expect(perKey.hint).not.toMatch(/withExceptionHandling/);
      const values = await failure(runner, (p) => {
        p.apply("KVs", Create.of<[string, number]>([["a", 1]]))
          .apply("Group", GroupByKey())
          .apply("Combine values", CombineValues(throwingIn("extractOutput")));
      });
      expect(values.message).toMatch(/^Transform 'Combine values' failed in the CombineFn's extractOutput on element \["a",\[1\]\]: boom/);
      expect(values.hint).not.toMatch(/withExceptionHandling/);
    });
  });

  describe(`DoFn failure hints [${name}]`, () => {
    it("process failures suggest .withExceptionHandling(); setup and bundle methods do not", async () => {
      const proc = await failure(runner, (p) => {
        p.apply("Nums", Create.of([1])).apply("Boom", Map((): number => {
          throw new Error("no");
        }));
      });
      expect(proc.hint).toMatch(/withExceptionHandling/);
      const fb = await failure(runner, (p) => {
        p.apply("Nums", Create.of([1])).apply(
          "FB",
          ParDo<number, number>({
            process: () => [],
            finishBundle: () => {
              throw new Error("fb");
            },
          }),
        );
      });
      expect(fb.message).toMatch(/'FB' failed in finishBundle: fb/);
      expect(fb.hint).not.toMatch(/withExceptionHandling/);
    });
  });
}

describe("combiner types", () => {
  it("Sum, Min, Max keep bigint; Mean is a number; strings do not compile", () => {
    const p = Pipeline.create(PipelineOptions.create());
    const bigs = p.apply("Bigs", Create.of([1n, 2n]));
    const nums = p.apply("Nums", Create.of([1, 2]));
    const kvs = p.apply("KVs", Create.of<[string, bigint]>([["a", 1n]]));
    expectTypeOf(bigs.apply("Sum", Sum.globally())).toEqualTypeOf<PCollection<bigint>>();
    expectTypeOf(bigs.apply("Min", Min.globally())).toEqualTypeOf<PCollection<bigint>>();
    expectTypeOf(bigs.apply("Max", Max.globally())).toEqualTypeOf<PCollection<bigint>>();
    expectTypeOf(bigs.apply("Mean", Mean.globally())).toEqualTypeOf<PCollection<number>>();
    expectTypeOf(nums.apply("SumN", Sum.globally())).toEqualTypeOf<PCollection<number>>();
    expectTypeOf(kvs.apply("SumK", Sum.perKey())).toEqualTypeOf<PCollection<[string, bigint]>>();
    expectTypeOf(kvs.apply("MeanK", Mean.perKey())).toEqualTypeOf<PCollection<[string, number]>>();
    expectTypeOf(kvs.apply("MaxK", Max.perKey())).toEqualTypeOf<PCollection<[string, bigint]>>();
    const words = p.apply("Words", Create.of(["a"]));
    // @ts-expect-error: Sum needs numbers or bigints
    words.apply("S", Sum.globally());
    // @ts-expect-error: Mean needs numbers or bigints
    words.apply("M", Mean.globally());
    // Construction only: the type assertions are checked by tsc.
    expect(p.hasRun).toBe(false);
  });
});
