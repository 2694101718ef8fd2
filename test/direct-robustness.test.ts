/**
 * Direct runner robustness (issue 8), in process: process.exit in user code, progress reports of
 * long calls, Beam semantics of tagged outputs under exception handling and of finishBundle
 * outputs, metrics of promise-returning process, backpressure of exploding elements, the sharded
 * per-key table and the heap guard.
 */
import { failure } from "./support.js";
import { getHeapStatistics } from "node:v8";
import { describe, expect, it } from "vitest";
import {
  Create,
  CombinePerKey,
  DirectRunner,
  FixedWindows,
  FlatMap,
  GroupByKey,
  Map,
  Metrics,
  ParDo,
  Pipeline,
  PipelineOptions,
  SluiceError,
  WindowInto,
  WithTimestamps,
  type BoundedWindow,
  type DoFn,
  type FailedElement,
  type PCollection,
} from "sluice";
import { checkHeap } from "../src/runners/direct/operators.js";
import { KeyTable } from "../src/runners/direct/keytable.js";

const pipeline = (): Pipeline => Pipeline.create(PipelineOptions.create());

/** Collects a PCollection's elements into `into` (in the pipeline's own process). */
function collect<T>(pc: PCollection<T>, label: string, into: T[]): void {
  pc.apply(
    label,
    Map((x: T) => {
      into.push(x);
      return x;
    }),
  );
}

describe("process.exit in user code", () => {
  it("fails the run naming the transform and element instead of ending the host", async () => {
    const original = process.exit;
    const p = pipeline();
    p.apply("Create", Create.of(["fine", "quit now"])).apply(
      "Quitter",
      Map((s: string) => {
        if (s === "quit now") process.exit(3);
        return s;
      }),
    );
    const err = await failure(p.run());
    expect(err.code).toBe("USER_CODE_FAILED");
    expect(err.message).toContain("'Quitter'");
    expect(err.message).toContain('"quit now"');
    expect(err.message).toContain("process.exit(3)");
    // The host's process.exit is its own again, and works outside user code during a run too.
    expect(process.exit).toBe(original);
  });

  it("fails the run even when the DoFn catches it, also after an await", async () => {
    const p = pipeline();
    p.apply("Create", Create.of([1])).apply(
      "Sneaky",
      ParDo<number, number>({
        async process(x) {
          await new Promise((r) => setImmediate(r));
          try {
            process.exit(4);
          } catch {
            // swallowed
          }
          return [x];
        },
      }),
    );
    const err = await failure(p.run());
    expect(err.code).toBe("USER_CODE_FAILED");
    expect(err.message).toContain("'Sneaky' called process.exit(4)");
  });
  it("fails only the run whose DoFn called it, not another run in the same process", async () => {
    const slowOk = pipeline();
    slowOk.apply("Create", Create.of([1, 2, 3])).apply(
      "Patient",
      ParDo<number, number>({
        async process(x) {
          await new Promise((r) => setTimeout(r, 50));
          return [x];
        },
      }),
    );
    const quitter = pipeline();
    quitter.apply("Create", Create.of([1])).apply(
      "Quitter",
      ParDo<number, number>({
        async process(x) {
          await new Promise((r) => setTimeout(r, 10));
          try {
            process.exit(5);
          } catch {
            // swallowed: this run fails all the same
          }
          return [x];
        },
      }),
    );
    const [ok, bad] = await Promise.allSettled([slowOk.run(), quitter.run()]);
    expect(ok.status).toBe("fulfilled");
    expect(bad.status).toBe("rejected");
    expect(String((bad as PromiseRejectedResult).reason)).toContain("'Quitter' called process.exit(5)");
  });
});

describe("the runner leaves its host's process alone", () => {
  it("installs no signal handlers and removes its beforeExit listener", async () => {
    const before = { int: process.listenerCount("SIGINT"), term: process.listenerCount("SIGTERM"), idle: process.listenerCount("beforeExit") };
    const during: number[] = [];
    const p = pipeline();
    p.apply("Create", Create.of([1])).apply(
      "Look",
      Map((x: number) => {
        during.push(process.listenerCount("SIGINT"), process.listenerCount("SIGTERM"));
        return x;
      }),
    );
    await p.run();
    expect(during).toEqual([before.int, before.term]);
    expect(process.listenerCount("beforeExit")).toBe(before.idle);
  });
});

describe("long calls into user code", () => {
  it("are reported periodically with the transform, the call and the element", async () => {
    const lines: string[] = [];
    let reported: (() => void) | undefined;
    const p = pipeline();
    p.apply("Create", Create.of(["slow one"])).apply(
      "Slow",
      ParDo<string, string>({
        async process(x) {
          // Finishes once the runner has reported it twice: no timing assumptions.
          await new Promise<void>((res) => {
            reported = () => {
              if (lines.length >= 2) res();
            };
          });
          return [x];
        },
      }),
    );
    const runner = new DirectRunner({
      progressIntervalMs: 20,
      log: (line) => {
        lines.push(line);
        reported?.();
      },
    });
    await runner.run(p);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines[0]).toMatch(/^sluice: still processing 'Slow' for \d+ s \(process of element "slow one"\)$/);
  });

  it("in startBundle are named as such", async () => {
    const lines: string[] = [];
    let reported: (() => void) | undefined;
    const p = pipeline();
    p.apply("Create", Create.of([1])).apply(
      "Slow start",
      ParDo<number, number>({
        startBundle: () =>
          new Promise<void>((res) => {
            reported = res;
          }),
        process: (x) => [x],
      }),
    );
    await new DirectRunner({
      progressIntervalMs: 20,
      log: (line) => {
        lines.push(line);
        reported?.();
      },
    }).run(p);
    expect(lines[0]).toMatch(/still processing 'Slow start' for \d+ s \(startBundle\)/);
  });
});

describe("tagged outputs with exception handling (Beam Python's with_outputs().with_exception_handling())", () => {
  const fn: DoFn<number, number, {}, { odd: number }> = {
    process(x, ctx) {
      if (x % 2 === 1) ctx.outputTo("odd", x);
      if (x === 3) throw new RangeError("three");
      return [x * 10];
    },
  };

  for (const order of ["withOutputs first", "withExceptionHandling first"] as const) {
    it(`compose, ${order}: good elements' tagged outputs delivered, a failing element's discarded`, async () => {
      const p = pipeline();
      const input = p.apply("Create", Create.of([1, 2, 3, 4]));
      const r =
        order === "withOutputs first"
          ? input.apply("Split", ParDo(fn).withOutputs("odd").withExceptionHandling())
          : input.apply("Split", ParDo(fn).withExceptionHandling().withOutputs("odd"));
      const good: number[] = [];
      const odd: number[] = [];
      const bad: FailedElement<number>[] = [];
      collect(r.good, "Good", good);
      collect(r.odd, "Odd", odd);
      collect(r.bad, "Bad", bad);
      await p.run();
      expect(good.sort()).toEqual([10, 20, 40]);
      expect(odd).toEqual([1]); // 3's odd output is discarded with it
      expect(bad.map((b) => [b.element, b.error.message, b.transform])).toEqual([[3, "three", "Split"]]);
    });
  }

  it("reserve good and bad as tag names under exception handling", () => {
    const f = ParDo<number, number, {}, { bad: number }>({ process: (x) => [x] });
    expect(() => f.withOutputs("bad").withExceptionHandling()).toThrow(/'bad' names an output of exception handling/);
  });
});

describe("finishBundle outputs", () => {
  it("without a window on a windowed input fail naming the transform, as in Beam", async () => {
    const p = pipeline();
    p.apply("Create", Create.of([1, 2]))
      .apply("Stamp", WithTimestamps((x: number) => x * 1000))
      .apply("Window", WindowInto(FixedWindows(60_000)))
      .apply(
        "Batch",
        ParDo<number, number>({
          process() {},
          finishBundle(ctx) {
            ctx.output(42);
          },
        }),
      );
    const err = await failure(p.run());
    expect(err.code).toBe("USER_CODE_FAILED");
    expect(err.message).toContain("'Batch'");
    expect(err.message).toContain("finishBundle without a window");
  });

  it("with an explicit window on a windowed input, and without one in the global window, work", async () => {
    const p = pipeline();
    let seen: BoundedWindow | undefined;
    const windowed = p
      .apply("Create", Create.of([1, 2]))
      .apply("Stamp", WithTimestamps((x: number) => x * 1000))
      .apply("Window", WindowInto(FixedWindows(60_000)))
      .apply(
        "Batch",
        ParDo<number, number>({
          process(_x, ctx) {
            seen = ctx.window;
          },
          finishBundle(ctx) {
            ctx.output(42, 0, seen);
          },
        }),
      );
    const global = p.apply("Global", Create.of([1])).apply(
      "Batch global",
      ParDo<number, number>({
        process() {},
        finishBundle(ctx) {
          ctx.output(7);
        },
      }),
    );
    const a: number[] = [];
    const b: number[] = [];
    collect(windowed, "A", a);
    collect(global, "B", b);
    await p.run();
    expect(a).toEqual([42]);
    expect(b).toEqual([7]);
  });
});

describe("metrics of process returning a promise without being declared async", () => {
  it("are attributed to the step after the await (ParDo and Map with an async function)", async () => {
    const seen = Metrics.counter("robust", "seen");
    const p = pipeline();
    const input = p.apply("Create", Create.of([1, 2, 3]));
    input.apply(
      "Plain",
      ParDo<number, number>({
        process(x) {
          return new Promise<void>((r) => setImmediate(r)).then(() => {
            seen.inc();
            return [x];
          });
        },
      }),
    );
    input.apply(
      "Mapped",
      Map(async (x: number) => {
        await new Promise((r) => setImmediate(r));
        seen.inc(10);
        return x;
      }),
    );
    const result = await p.run();
    expect(result.metrics.counter("seen", { step: "Plain" })).toBe(3);
    expect(result.metrics.counter("seen", { step: "Mapped" })).toBe(30);
  });
});

describe("an element exploding into many outputs", () => {
  it("is pushed downstream incrementally, waiting for async downstream work", async () => {
    const n = 200_000;
    let generated = 0;
    let processed = 0;
    let maxAhead = 0;
    const p = pipeline();
    p.apply("Create", Create.of([n]))
      .apply(
        "Explode",
        FlatMap(function* (count: number) {
          for (let i = 0; i < count; i++) {
            generated++;
            maxAhead = Math.max(maxAhead, generated - processed);
            yield i;
          }
        }),
      )
      .apply(
        "Async sink",
        ParDo<number, number>({
          async process(x) {
            if (x % 1000 === 0) await new Promise((r) => setImmediate(r));
            processed++;
          },
        }),
      );
    await p.run();
    expect(processed).toBe(n);
    // Without backpressure the generator runs to the end before downstream catches up (n ahead).
    expect(maxAhead).toBeLessThanOrEqual(2);
  });

  it("returned as an array is pushed incrementally too", async () => {
    const n = 100_000;
    let processed = 0;
    let maxAhead = 0;
    const p = pipeline();
    p.apply("Create", Create.of([n]))
      .apply(
        "Explode",
        FlatMap((count: number) => {
          // An array that notes when the runner reads each output.
          const values = Array.from({ length: count }, (_, i) => i);
          return new Proxy(values, {
            get(target, prop, receiver) {
              if (typeof prop === "string" && /^\d+$/.test(prop)) maxAhead = Math.max(maxAhead, Number(prop) - processed);
              return Reflect.get(target, prop, receiver) as unknown;
            },
          });
        }),
      )
      .apply(
        "Async sink",
        ParDo<number, number>({
          async process() {
            await null;
            processed++;
          },
        }),
      );
    await p.run();
    expect(processed).toBe(n);
    expect(maxAhead).toBeLessThanOrEqual(2);
  });
});

describe("the per-key table of groupings", () => {
  it("chains Maps past its shard limit and finds every key", () => {
    const t = new KeyTable<number, string>(4);
    for (let i = 0; i < 10; i++) t.add(i, `v${i}`);
    expect(t.shards).toBe(3);
    expect(t.size).toBe(10);
    for (let i = 0; i < 10; i++) expect(t.get(i)).toBe(`v${i}`);
    expect(t.get(10)).toBeUndefined();
    expect([...t.values()]).toEqual(Array.from({ length: 10 }, (_, i) => `v${i}`));
    t.clear();
    expect(t.size).toBe(0);
    expect(t.shards).toBe(1);
  });

  it("keeps short strings in its own table through growth, in insertion order, and the rest in Maps", () => {
    const t = new KeyTable<unknown, number>();
    const keys: unknown[] = [""];
    for (let i = 0; i < 5000; i++) keys.push(`w${i}`, i, "x".repeat(41) + i, `\u00e9\u{1F600}${i}`);
    for (const [i, k] of keys.entries()) {
      expect(t.get(k)).toBeUndefined();
      t.add(k, i);
    }
    expect(t.size).toBe(keys.length);
    for (const [i, k] of keys.entries()) expect(t.get(k)).toBe(i);
    // Equal strings built apart are one key; a number and its string are two.
    expect(t.get(["w", "12"].join(""))).toBe(keys.indexOf("w12"));
    expect(t.get("12")).toBeUndefined();
    const shortStrings = keys.filter((k) => typeof k === "string" && k.length <= 40);
    const rest = keys.filter((k) => !shortStrings.includes(k));
    expect([...t.values()]).toEqual([...shortStrings, ...rest].map((k) => keys.indexOf(k)));
    t.clear();
    expect(t.size).toBe(0);
    expect(t.get("w1")).toBeUndefined();
  });

  it("puts strings past its limit in the Maps and still finds every key", () => {
    const t = new KeyTable<string, number>(3);
    for (let i = 0; i < 10; i++) {
      // A miss on one key, then another key added: the add must not reuse the first miss's slot.
      expect(t.get(`k${i}`)).toBeUndefined();
      expect(t.get(`m${i}`)).toBeUndefined();
      t.add(`k${i}`, i);
    }
    expect(t.size).toBe(10);
    expect(t.shards).toBe(3);
    for (let i = 0; i < 10; i++) {
      expect(t.get(`k${i}`)).toBe(i);
      expect(t.get(`m${i}`)).toBeUndefined();
    }
  });

  it("GroupByKey and CombinePerKey give the same results across many shards", async () => {
    const keys = 1000;
    const input = Array.from({ length: keys * 3 }, (_, i): [string, number] => [`k${i % keys}`, i]);
    const p = pipeline();
    const kvs = p.apply("Create", Create.of(input));
    const grouped: [string, number[]][] = [];
    const summed: [string, number][] = [];
    collect(kvs.apply("Group", GroupByKey<string, number>()), "G", grouped);
    collect(
      kvs.apply(
        "Sum",
        CombinePerKey<string, number, number, number>({
          createAccumulator: () => 0,
          addInput: (a, v) => a + v,
          mergeAccumulators: (as) => [...as].reduce((x, y) => x + y, 0),
          extractOutput: (a) => a,
        }),
      ),
      "S",
      summed,
    );
    await new DirectRunner({ mapShardLimit: 7 }).run(p);
    expect(grouped.length).toBe(keys);
    expect(summed.length).toBe(keys);
    const sums = new globalThis.Map(summed);
    for (const [k, vs] of grouped) {
      const i = Number(k.slice(1));
      expect([...vs].sort((a, b) => a - b)).toEqual([i, i + keys, i + 2 * keys]);
      expect(sums.get(k)).toBe(3 * i + 3 * keys);
    }
  });
});

describe("the heap guard", () => {
  it("fails with RESOURCE_EXHAUSTED naming the stage when live data is over the limit", () => {
    expect(() => checkHeap("Group", 1)).not.toThrow();
    let err: unknown;
    try {
      checkHeap("Group", 0);
    } catch (e) {
      err = e;
    }
    expect(SluiceError.is(err)).toBe(true);
    expect((err as SluiceError).code).toBe("RESOURCE_EXHAUSTED");
    expect((err as SluiceError).message).toMatch(/^Transform 'Group' ran out of memory: the JavaScript heap holds \d+ MB of its \d+ MB limit$/);
    expect((err as SluiceError).hint).toContain("--max-old-space-size");
  });

  it("does not count garbage: a heap over the limit only with uncollected garbage passes", () => {
    const before = getHeapStatistics();
    // Large arrays live in V8's large-object space until a full collection; dropped at once.
    let garbage: number[][] | undefined = Array.from({ length: 40 }, () => new Array<number>(512 * 1024).fill(1.5));
    const held = getHeapStatistics().used_heap_size;
    garbage = undefined;
    expect(garbage).toBeUndefined();
    expect(held - before.used_heap_size).toBeGreaterThan(100 * 1048576);
    // A threshold between the live heap and the heap with the garbage in it.
    const fraction = (before.used_heap_size + (held - before.used_heap_size) / 2) / before.heap_size_limit;
    expect(getHeapStatistics().used_heap_size).toBeGreaterThan(fraction * before.heap_size_limit);
    // Checked twice, as a long grouping is: still only garbage, so still no failure.
    expect(() => {
      checkHeap("Group", fraction);
      checkHeap("Group", fraction);
    }).not.toThrow();
  });
});
