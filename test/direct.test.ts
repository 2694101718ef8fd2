/**
 * Direct runner behaviour beyond the conformance corpus: failures, dead letters, sinks that leave
 * nothing half-written, construction errors that name labels, DoFn lifecycle, metrics.
 */
import { failure } from "./support.js";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  AsSingleton,
  Create,
  DirectRunner,
  type DoFn,
  DoubleCoder,
  Filter,
  FlatMap,
  GroupByKey,
  KvCoder,
  Map,
  Metrics,
  ParDo,
  Pipeline,
  PipelineOptions,
  ReadFromText,
  StringUtf8Coder,
  VarIntCoder,
  WriteToText,
} from "sluice";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "sluice-direct-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const pipeline = (): Pipeline => Pipeline.create(PipelineOptions.create());

describe("user code failures", () => {
  it("name the transform, preview the element, and keep the user's error", async () => {
    const p = pipeline();
    const long = "x".repeat(1000);
    p.apply("Create", Create.of(["ok", long]))
      .apply(
        "Explode on long",
        Map((s: string) => {
          if (s.length > 10) throw new RangeError("too long to handle");
          return s;
        }),
      )
      .apply("Write", WriteToText(join(dir, "out")));
    const err = await failure(p.run());
    expect(err.code).toBe("USER_CODE_FAILED");
    expect(err.message).toContain("'Explode on long'");
    expect(err.message).toContain("too long to handle");
    expect(err.message).toContain("xxxx");
    expect(err.message.length).toBeLessThan(500);
    expect(err.cause).toBeInstanceOf(RangeError);
    expect((err.cause as Error).stack).toContain("direct.test.ts");
    // Nothing final-named was written, and the temporary directory is gone.
    expect(await readdir(dir)).toEqual([]);
  });

  it("async failures and failures in finishBundle are reported the same way", async () => {
    const p = pipeline();
    p.apply("Create", Create.of([1]))
      .apply(
        "Async boom",
        ParDo<number, number>({
          async process() {
            await new Promise((r) => setTimeout(r, 1));
            throw new Error("later");
          },
        }),
      );
    const err = await failure(p.run());
    expect(err.message).toMatch(/'Async boom' failed in process on element 1: later/);

    const q = pipeline();
    q.apply("Create", Create.of([1])).apply("FB", ParDo<number, number>({ process: () => [], finishBundle: () => { throw new Error("fb"); } }));
    expect((await failure(q.run())).message).toMatch(/'FB' failed in finishBundle: fb/);
  });

  it("teardown runs even when the run fails", async () => {
    const calls: string[] = [];
    const p = pipeline();
    p.apply("Create", Create.of([1, 2]))
      .apply(
        "Fn",
        ParDo<number, number>({
          setup: () => void calls.push("setup"),
          process: (x) => {
            if (x === 2) throw new Error("no");
            return [x];
          },
          teardown: () => void calls.push("teardown"),
        }),
      );
    await failure(p.run());
    expect(calls).toEqual(["setup", "teardown"]);
  });
});

describe("Map, FlatMap and Filter of plain functions, called without their DoFn past the first 1,000 elements", () => {
  const N = 5000;
  const numbers = Array.from({ length: N }, (_, i) => i);
  const collect = <T>(into: T[]) => ParDo<T, never>({ process: (x) => void into.push(x) });

  it("give the same outputs and metrics as a DoFn", async () => {
    const mapped = Metrics.counter("test", "mapped");
    const out: number[] = [];
    const p = pipeline();
    p.apply("Create", Create.of(numbers))
      .apply("Double", Map((x: number) => (mapped.inc(), x * 2)))
      .apply("Evens of 4", Filter((x: number) => x % 4 === 0))
      .apply("Twice", FlatMap((x: number) => [x, x + 1]))
      .apply("Collect", collect(out));
    const result = await new DirectRunner().run(p);
    const expected = numbers.map((x) => x * 2).filter((x) => x % 4 === 0).flatMap((x) => [x, x + 1]);
    expect(out.sort((a, b) => a - b)).toEqual(expected);
    expect(result.metrics.query({ step: "Double" }).counters[0]?.committed).toBe(N);
  });

  it("fail naming the transform and the element, whichever element throws", async () => {
    const p = pipeline();
    p.apply("Create", Create.of(numbers)).apply(
      "Late boom",
      Map((x: number) => {
        if (x === N - 10) throw new RangeError("too big");
        return x;
      }),
    );
    const err = await failure(p.run());
    expect(err.message).toMatch(new RegExp(`'Late boom' failed in process on element ${N - 10}: too big`));
    expect(err.cause).toBeInstanceOf(RangeError);

    const q = pipeline();
    q.apply("Create", Create.of(numbers)).apply(
      "Late string",
      FlatMap((x: number) => (x === N - 10 ? (String(x) as unknown as number[]) : [x])),
    );
    const err2 = await failure(q.run());
    expect(err2.message).toContain("'Late string'");
    expect(err2.message).toContain("FlatMap's function returned a string");
  });

  it("a Map function that starts returning promises late has their values as outputs", async () => {
    const out: number[] = [];
    const p = pipeline();
    p.apply("Create", Create.of(numbers))
      .apply("Sometimes async", Map((x: number) => (x < N / 2 ? x : (Promise.resolve(-x) as unknown as number))))
      .apply("Collect", collect(out));
    await p.run();
    expect(out.sort((a, b) => a - b)).toEqual(numbers.map((x) => (x < N / 2 ? x : -x)).sort((a, b) => a - b));
  });
});

describe("dead letters", () => {
  it("route every failing element aside with its error: good + bad = input", async () => {
    const p = pipeline();
    const input = Array.from({ length: 100 }, (_, i) => i);
    const { good, bad } = p
      .apply("Create", Create.of(input))
      .apply(
        "Risky",
        FlatMap((x: number) => {
          if (x % 7 === 0) throw new Error(`bad ${x}`);
          return [x, x];
        }).withExceptionHandling(),
      );
    good.apply("Write good", WriteToText(join(dir, "good")));
    bad.apply("Fmt", Map((f: { element: number; transform: string; error: { message: string } }) => `${f.element}|${f.transform}|${f.error.message}`))
      .apply("Write bad", WriteToText(join(dir, "bad")));
    await p.run();
    const goodLines = (await readFile(join(dir, "good-00000-of-00001"), "utf8")).trim().split("\n");
    const badLines = (await readFile(join(dir, "bad-00000-of-00001"), "utf8")).trim().split("\n");
    expect(badLines.sort()).toEqual(input.filter((x) => x % 7 === 0).map((x) => `${x}|Risky|bad ${x}`).sort());
    expect(goodLines.length / 2 + badLines.length).toBe(input.length);
  });
});

describe("WriteToText", () => {
  it("fails before any element is processed when the destination is unwritable", async () => {
    await writeFile(join(dir, "a-file"), "");
    let processed = 0;
    const p = pipeline();
    p.apply("Create", Create.of([1, 2, 3]))
      .apply("Count calls", Map((x: number) => (processed++, x)))
      .apply("Write", WriteToText(join(dir, "a-file", "out")));
    const err = await failure(p.run());
    expect(err.code).toBe("IO_ERROR");
    expect(err.message).toContain(join(dir, "a-file"));
    expect(processed).toBe(0);
  });

  it("writes Beam's shard names with header and suffix", async () => {
    const p = pipeline();
    p.apply("Create", Create.of(["a", "b", "c", "d"]))
      .apply("Write", WriteToText(join(dir, "part"), { numShards: 2, shardNameTemplate: "-SS-NNN", fileNameSuffix: ".csv", header: "letter" }));
    await p.run();
    expect((await readdir(dir)).sort()).toEqual(["part-00-002.csv", "part-01-002.csv"]);
    for (const f of ["part-00-002.csv", "part-01-002.csv"]) {
      const lines = (await readFile(join(dir, f), "utf8")).split("\n");
      expect(lines[0]).toBe("letter");
      expect(lines).toHaveLength(4); // header, two letters, trailing newline
    }
  });
});

describe("ReadFromText", () => {
  it("names a pattern that matches nothing", () => {
    const p = pipeline();
    expect(() => p.apply("Read", ReadFromText(join(dir, "nothing-*.txt")))).toThrow(/Read: No files match '.*nothing-\*\.txt'/);
  });
});

describe("construction errors name the labels involved", () => {
  it("duplicate labels", () => {
    const p = pipeline();
    const c = p.apply("Create", Create.of([1]));
    c.apply("Double", Map((x: number) => x * 2));
    expect(() => c.apply("Double", Map((x: number) => x * 2))).toThrow(/Duplicate label 'Double'/);
  });

  it("a PCollection of another pipeline", () => {
    const p = pipeline();
    const q = pipeline();
    const fromQ = q.apply("Numbers", Create.of([1]));
    const p1 = p.apply("P", Create.of([1]));
    expect(() =>
      p1.apply("Use side", Map((x: number, c) => x + c.sideInputs.n, { sideInputs: { n: AsSingleton(fromQ) } })),
    ).toThrow(/'Use side' was given 'Numbers\/FlatMap', a PCollection of another pipeline/);
  });

  it("a grouping over a non-KV coder, and a non-deterministic key coder", () => {
    const p = pipeline();
    const strings = p.apply("Strings", Create.of(["a"])).withCoder(StringUtf8Coder);
    expect(() => strings.apply("Group", GroupByKey() as never)).toThrow(/Group: GroupByKey needs \[key, value\] pairs, but its input 'Strings\/FlatMap' has coder/);
    const doubles = p
      .apply("Doubles", Create.of<[number, number]>([[1.5, 1]]))
      .withCoder(new KvCoder(DoubleCoder, VarIntCoder) as never);
    expect(() => doubles.apply("Group doubles", GroupByKey())).toThrow(/Group doubles: .*key coder .*Double.* is not deterministic/);
  });

  it("non-KV elements reaching a grouping at run time", async () => {
    const p = pipeline();
    p.apply("Create", Create.of<unknown>(["not a pair"])).apply("Group", GroupByKey() as never);
    expect((await failure(p.run())).message).toMatch(/'Group' needs \[key, value\] pairs but received "not a pair"/);
  });
});

describe("DoFn lifecycle and metrics", () => {
  it("calls setup once, brackets bundles, never overlaps async process calls, tears down", async () => {
    const events: string[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const counter = Metrics.counter("test", "processed");
    const gauge = Metrics.gauge("test", "last");
    const dist = Metrics.distribution("test", "values");
    const fn: DoFn<[string, number[]], number> = {
      setup: () => void events.push("setup"),
      startBundle: () => void events.push("start"),
      async process([, values]) {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setTimeout(r, 0));
        inFlight--;
        counter.inc();
        gauge.set(values.length);
        for (const v of values) dist.update(v);
        return values;
      },
      finishBundle: () => void events.push("finish"),
      teardown: () => void events.push("teardown"),
    };
    const p = pipeline();
    p.apply("Create", Create.of<[string, number]>(Array.from({ length: 10 }, (_, i) => [`k${i}`, i])))
      .apply("Group", GroupByKey())
      .apply("Fn", ParDo(fn));
    const result = await new DirectRunner({ bundleSize: 3 }).run(p);
    expect(maxInFlight).toBe(1);
    expect(events[0]).toBe("setup");
    expect(events.at(-1)).toBe("teardown");
    expect(events.filter((e) => e === "start")).toHaveLength(4); // 10 groups in bundles of 3
    expect(events.filter((e) => e === "finish")).toHaveLength(4);
    expect(result.metrics.counter("processed")).toBe(10);
    expect(result.metrics.distribution("values")).toEqual({ count: 10, sum: 45, min: 0, max: 9 });
    expect(result.metrics.gauge("last")).toBe(1);
    expect(result.metrics.query({ step: "Fn" }).counters[0]?.key).toEqual({ step: "Fn", namespace: "test", name: "processed" });
  });

  it("an AsSingleton side input with several elements fails naming the side input", async () => {
    const p = pipeline();
    const many = p.apply("Many", Create.of([1, 2]));
    p.apply("Main", Create.of([0])).apply("Use", Map((x: number, c) => x + c.sideInputs.one, { sideInputs: { one: AsSingleton(many) } }));
    const err = await failure(p.run());
    expect(err.message).toMatch(/'Use' failed in side input 'one'.*'Many' has 2 elements/);
  });
});
