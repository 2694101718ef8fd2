/**
 * Type tests: how PCollection<T> flows through the API, and misuse that must not compile.
 * `tsc --noEmit` (part of `npm test`) fails if an `@ts-expect-error` line stops being an error.
 */
import { describe, expectTypeOf, it } from "vitest";
import {
  AsDict,
  AsSingleton,
  CoGroupByKey,
  CombinePerKey,
  Count,
  Create,
  type DoFn,
  FlatMap,
  Flatten,
  GroupByKey,
  Keys,
  KvSwap,
  Map,
  ParDo,
  Partition,
  type PCollection,
  PCollectionList,
  PCollectionRecord,
  Pipeline,
  PipelineOptions,
  Sum,
  Top,
  Values,
  WriteToText,
  type CombineFn,
} from "sluice";

const p = Pipeline.create(PipelineOptions.create());

describe("types flow through apply", () => {
  it("element-wise transforms infer their output", () => {
    const words = p.apply("Words", Create.of(["a", "b"]));
    expectTypeOf(words).toEqualTypeOf<PCollection<string>>();
    const lengths = words.apply("Len", Map((w) => w.length));
    expectTypeOf(lengths).toEqualTypeOf<PCollection<number>>();
    const chars = words.apply("Chars", FlatMap((w) => w.split("")));
    expectTypeOf(chars).toEqualTypeOf<PCollection<string>>();
    const withCtx = words.apply("Ctx", Map((w, c) => `${w}@${c.timestamp}`));
    expectTypeOf(withCtx).toEqualTypeOf<PCollection<string>>();
  });

  it("groupings and combiners keep key and value types", () => {
    const kvs = p.apply("KVs", Create.of<[string, number]>([["a", 1]]));
    expectTypeOf(kvs.apply("G", GroupByKey())).toEqualTypeOf<PCollection<[string, number[]]>>();
    expectTypeOf(kvs.apply("S", Sum.perKey())).toEqualTypeOf<PCollection<[string, number]>>();
    expectTypeOf(kvs.apply("K", Keys())).toEqualTypeOf<PCollection<string>>();
    expectTypeOf(kvs.apply("V", Values())).toEqualTypeOf<PCollection<number>>();
    expectTypeOf(kvs.apply("Sw", KvSwap())).toEqualTypeOf<PCollection<[number, string]>>();
    expectTypeOf(kvs.apply("Top", Top.largestPerKey(2))).toEqualTypeOf<PCollection<[string, number[]]>>();
    const words = p.apply("W2", Create.of(["a"]));
    expectTypeOf(words.apply("C", Count.perElement())).toEqualTypeOf<PCollection<[string, number]>>();
    const longest: CombineFn<string, string, number> = {
      createAccumulator: () => "",
      addInput: (a, s) => (s.length > a.length ? s : a),
      mergeAccumulators: (as) => [...as].reduce((a, b) => (b.length > a.length ? b : a), ""),
      extractOutput: (a) => a.length,
    };
    const keyed = p.apply("KS", Create.of<[number, string]>([[1, "x"]]));
    expectTypeOf(keyed.apply("L", CombinePerKey(longest))).toEqualTypeOf<PCollection<[number, number]>>();
  });

  it("CoGroupByKey, Flatten, Partition and tagged outputs", () => {
    const a = p.apply("A", Create.of<[string, number]>([["k", 1]]));
    const b = p.apply("B", Create.of<[string, boolean]>([["k", true]]));
    const joined = PCollectionRecord.of({ a, b }).apply("Join", CoGroupByKey());
    expectTypeOf(joined).toEqualTypeOf<PCollection<[string, { a: number[]; b: boolean[] }]>>();
    const n1 = p.apply("N1", Create.of([1]));
    const n2 = p.apply("N2", Create.of([2]));
    expectTypeOf(PCollectionList.of(n1, n2).apply("F", Flatten())).toEqualTypeOf<PCollection<number>>();
    const parts = n1.apply("P", Partition(2, (x: number) => x % 2));
    expectTypeOf(parts.get(0)).toEqualTypeOf<PCollection<number>>();
    const fn: DoFn<number, string, {}, { big: number }> = {
      process(x, ctx) {
        ctx.outputTo("big", x);
        // @ts-expect-error: tagged output value must match the declared type
        ctx.outputTo("big", "nope");
        // @ts-expect-error: undeclared tag
        ctx.outputTo("small", 1);
        return [String(x)];
      },
    };
    const outs = n1.apply("T", ParDo(fn).withOutputs("big"));
    expectTypeOf(outs.main).toEqualTypeOf<PCollection<string>>();
    expectTypeOf(outs.big).toEqualTypeOf<PCollection<number>>();
  });

  it("side inputs are typed", () => {
    const total = p.apply("Nums", Create.of([1, 2])).apply("Total", Sum.globally());
    const dict = p.apply("D", Create.of<[string, number]>([["a", 1]]));
    p.apply("X", Create.of(["a"])).apply(
      "Use",
      Map(
        (w, c) => {
          expectTypeOf(c.sideInputs.total).toEqualTypeOf<number>();
          expectTypeOf(c.sideInputs.dict).toEqualTypeOf<ReadonlyMap<string, number>>();
          return w;
        },
        { sideInputs: { total: AsSingleton(total), dict: AsDict(dict) } },
      ),
    );
  });
});

// Never called: each line below must fail to compile, which `tsc --noEmit` checks.
export function misuseIsACompileError(): void {
  {
    const words = p.apply("Words2", Create.of(["a"]));
    // @ts-expect-error: GroupByKey needs [key, value] pairs
    words.apply("G", GroupByKey());
    // @ts-expect-error: Sum needs numbers
    words.apply("S", Sum.globally());
    // @ts-expect-error: the function's parameter type does not match the elements
    words.apply("M", Map((n: number) => n + 1));
    // @ts-expect-error: a root transform cannot be applied to a PCollection
    words.apply("C", Create.of([1]));
    // @ts-expect-error: an element-wise transform cannot be applied to the pipeline
    p.apply("M2", Map((x: string) => x));
    words.apply("Out", WriteToText("/tmp/x"));
  }
}

describe("async Map", () => {
  it("outputs the awaited value", async () => {
    const { DirectRunner, Map: M, Create: C, Pipeline: P, PipelineOptions: O, ToList } = await import("sluice");
    const q = P.create(O.create());
    const out = q.apply("C", C.of([1, 2])).apply("Async", M(async (x: number) => x * 10));
    expectTypeOf(out).toEqualTypeOf<PCollection<number>>();
    let seen: number[] = [];
    out.apply("All", ToList()).apply("Keep", M((xs: number[]) => void (seen = [...xs].sort())));
    await new DirectRunner().run(q);
    expectTypeOf(seen).toEqualTypeOf<number[]>();
    if (JSON.stringify(seen) !== "[10,20]") throw new Error(`async Map gave ${JSON.stringify(seen)}`);
  });
});
