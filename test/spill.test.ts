/**
 * The direct runner's memory budget (`--max_memory_mb`, src/runners/direct/spill.ts): batch
 * groupings past it spill sorted runs to disk and merge them at the end. The results are the same
 * as in memory; a single key holding many times the budget is grouped, its values an iterable
 * read from disk as often as the DoFn iterates it; nothing is left in the temporary folder.
 */
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryBudget, SpillLog } from "../src/runners/direct/spill.js";
import {
  AfterCount,
  AfterWatermark,
  AsSingleton,
  Count,
  Create,
  FixedWindows,
  GroupByKey,
  Map,
  Pipeline,
  PipelineOptions,
  Sessions,
  StringUtf8Coder,
  Sum,
  TestStream,
  WindowInto,
  type PipelineResult,
} from "sluice";

let temp: string;
beforeAll(async () => {
  temp = await mkdtemp(join(tmpdir(), "sluice-spill-test-"));
});
afterAll(async () => {
  await rm(temp, { recursive: true, force: true });
});

const options = (budgetMb?: number): PipelineOptions =>
  PipelineOptions.fromArgs([...(budgetMb === undefined ? [] : [`--max_memory_mb=${budgetMb}`]), `--temp_location=${temp}`]);

const spilled = (r: PipelineResult): number => r.metrics.counter("spilledBytes") ?? 0;

/** A group's values ("value <n> …"), iterated twice: "<count> <count the second time> <sum of n>". */
const tally = (vs: Iterable<string>): string => {
  let count = 0;
  let sum = 0;
  for (const v of vs) {
    count++;
    sum += Number(v.split(" ")[1]);
  }
  let again = 0;
  for (const _ of vs) again++;
  return `${count} ${again} ${sum}`;
};

describe("groupings past the memory budget", () => {
  it("groups one key holding ten times the budget, its values re-iterable", async () => {
    const n = 200_000;
    const line = (i: number): string => `value ${i} ${"x".repeat(40)}`; // ~55 bytes: ~11 MB in all for a 1 MB budget
    const got: string[] = [];
    const p = Pipeline.create(options(1));
    p.apply("Create", Create.of(Array.from({ length: n }, (_, i) => i)))
      .apply("Key", Map((i: number): [string, string] => [i % 1000 === 0 ? "small" : "big", line(i)]))
      .apply("Group", GroupByKey<string, string>())
      .apply("Check", Map(([k, vs]: [string, Iterable<string>]) => void got.push(`${k} ${tally(vs)}`)));
    const r = await p.run();
    const small = Array.from({ length: n / 1000 }, (_, j) => j * 1000);
    const total = (n * (n - 1)) / 2;
    const smallSum = small.reduce((a, b) => a + b, 0);
    expect(got.sort()).toEqual([`big ${n - small.length} ${n - small.length} ${total - smallSum}`, `small ${small.length} ${small.length} ${smallSum}`]);
    expect(spilled(r)).toBeGreaterThan(5 * 1048576);
    expect(await readdir(temp)).toEqual([]);
  }, 120_000);

  it("gives the in-memory result for many keys in fixed windows, with EARLIEST timestamps", async () => {
    const run = async (budget?: number): Promise<{ lines: string[]; spilled: number }> => {
      const lines: string[] = [];
      const p = Pipeline.create(options(budget));
      p.apply("Create", Create.timestamped(Array.from({ length: 60_000 }, (_, i) => ({ value: [`k${(i * 7919) % 5000}`, i] as [string, number], timestamp: (i % 600) * 1000 }))))
        .apply("Window", WindowInto(FixedWindows(60_000), { timestampCombiner: "EARLIEST" }))
        .apply("Group", GroupByKey<string, number>())
        .apply("Record", Map(([k, vs]: [string, Iterable<number>], c) => void lines.push(`${k} ${[...vs].sort((a, b) => a - b).join(",")} @${c.timestamp}`)));
      const r = await p.run();
      return { lines: lines.sort(), spilled: spilled(r) };
    };
    const [memory, disk] = [await run(), await run(1)];
    expect(memory.spilled).toBe(0);
    expect(disk.spilled).toBeGreaterThan(0);
    expect(disk.lines).toEqual(memory.lines);
  }, 120_000);

  it("gives the in-memory result for sessions (merging windows), merging each key's windows from its spilled parts", async () => {
    const run = async (budget?: number): Promise<{ lines: string[]; spilled: number }> => {
      const lines: string[] = [];
      const p = Pipeline.create(options(budget));
      // 3,000 keys; a key's elements 0-9 s apart, with gaps past the 10 s gap now and then.
      p.apply("Create", Create.timestamped(Array.from({ length: 80_000 }, (_, i) => ({ value: [`k${i % 3000}`, `v${i} ${"y".repeat(30)}`] as [string, string], timestamp: Math.floor(i / 3000) * (i % 7 === 0 ? 25_000 : 9_000) }))))
        .apply("Window", WindowInto(Sessions(10_000)))
        .apply("Group", GroupByKey<string, string>())
        .apply("Record", Map(([k, vs]: [string, Iterable<string>], c) => void lines.push(`${k} ${String(c.window)} ${[...vs].sort().join(",")} @${c.timestamp}`)));
      const r = await p.run();
      return { lines: lines.sort(), spilled: spilled(r) };
    };
    const [memory, disk] = [await run(), await run(1)];
    expect(memory.spilled).toBe(0);
    expect(disk.spilled).toBeGreaterThan(1048576);
    expect(disk.lines.length).toBeGreaterThan(3000);
    expect(disk.lines).toEqual(memory.lines);
    expect(await readdir(temp)).toEqual([]);
  }, 120_000);

  it("merges a lifted combine's spilled accumulators", async () => {
    const counts: string[] = [];
    const p = Pipeline.create(options(1));
    p.apply("Create", Create.of(Array.from({ length: 150_000 }, (_, i) => `word${i % 40_000}`)))
      .apply("Count", Count.perElement())
      .apply("Record", Map(([w, n]: [string, number]) => void counts.push(`${w}:${n}`)));
    const r = await p.run();
    expect(counts.length).toBe(40_000);
    const want = (i: number): number => (i < 150_000 % 40_000 ? 4 : 3);
    expect(counts.every((c) => Number(c.split(":")[1]) === want(Number(c.slice(4, c.indexOf(":")))))).toBe(true);
    expect(spilled(r)).toBeGreaterThan(0);
  }, 120_000);
});

describe("event-time groupings past the memory budget", () => {
  // The same unbounded grouping (panes, by the watermark and the trigger), with and without a budget.
  const panes = async (mode: "ACCUMULATING" | "DISCARDING", windowFn: "fixed" | "sessions", budget?: number): Promise<{ lines: string[]; spilled: number }> => {
    const lines: string[] = [];
    const p = Pipeline.create(options(budget));
    const n = 150_000;
    // One key with nearly all of it (~9 MB of values against a 1 MB budget), and 200 small ones.
    const key = (i: number): string => (i % 50 === 0 ? `k${i % 200}` : "big");
    const timestamp = (i: number): number => (windowFn === "fixed" ? (i % 4) * 60_000 + (i % 1000) : Math.floor(i / 1000) * 1000);
    // A TestStream adding 10,000 at a time (a bundle each): a window has several early panes.
    let stream = TestStream.create<[string, string]>();
    for (let at = 0; at < n; at += 10_000) {
      stream = stream.addElements(...Array.from({ length: 10_000 }, (_, j) => ({ value: [key(at + j), `value ${at + j} ${"z".repeat(34)}`] as [string, string], timestamp: timestamp(at + j) })));
    }
    p.apply("Events", stream.advanceWatermarkToInfinity())
      .apply("Window", WindowInto(windowFn === "fixed" ? FixedWindows(60_000) : Sessions(5_000), { trigger: AfterWatermark({ early: AfterCount(windowFn === "fixed" ? 5_000 : 40_000) }), accumulationMode: mode, timestampCombiner: "LATEST" }))
      .apply("Group", GroupByKey<string, string>())
      .apply("Record", Map(([k, vs]: [string, Iterable<string>], c) => void lines.push(`${k} ${String(c.window)} ${c.pane.index} ${c.pane.timing} ${tally(vs)} @${c.timestamp}`)));
    const r = await p.run();
    return { lines: lines.sort(), spilled: r.metrics.query({ step: "Group", name: "spilledBytes" }).counters.reduce((a, c) => a + c.committed, 0) };
  };

  for (const mode of ["ACCUMULATING", "DISCARDING"] as const) {
    for (const windowFn of ["fixed", "sessions"] as const) {
      it(`gives the in-memory panes, ${mode}, in ${windowFn} windows, one key holding many times the budget`, async () => {
        const [memory, disk] = [await panes(mode, windowFn), await panes(mode, windowFn, 1)];
        expect(memory.spilled).toBe(0);
        expect(disk.spilled).toBeGreaterThan(2 * 1048576);
        expect(disk.lines.filter((l) => l.startsWith("big ") && l.includes(" EARLY ")).length).toBeGreaterThan(windowFn === "fixed" ? 12 : 2);
        expect(disk.lines).toEqual(memory.lines);
        expect(await readdir(temp)).toEqual([]);
      }, 120_000);
    }
  }

  it("combines as values arrive, holding accumulators, not values", async () => {
    const sums: string[] = [];
    const p = Pipeline.create(options(1));
    p.apply("Create", Create.timestamped(Array.from({ length: 100_000 }, (_, i) => ({ value: ["k", i] as [string, number], timestamp: i }))))
      .apply("Window", WindowInto(FixedWindows(50_000), { trigger: AfterWatermark({ early: AfterCount(30_000) }), accumulationMode: "ACCUMULATING" }))
      .apply("Sum", Sum.perKey<string>())
      .apply("Record", Map(([k, s]: [string, number], c) => void sums.push(`${k} ${String(c.window)} ${c.pane.timing} ${s}`)));
    const r = await p.run();
    const total = (from: number, to: number): number => ((to - from) * (from + to - 1)) / 2;
    const onTime = sums.filter((l) => l.includes(" ON_TIME "));
    expect(onTime.map((l) => Number(l.split(" ").at(-1))).sort((a, b) => a - b)).toEqual([total(0, 50_000), total(50_000, 100_000)].sort((a, b) => a - b));
    expect(sums.some((l) => l.includes(" EARLY "))).toBe(true);
    expect(spilled(r)).toBe(0);
  }, 120_000);
});

describe("the memory budget", () => {
  it("asks a holder to spill past it only when it holds a share of it (not a small holder beside a large one)", () => {
    const b = new MemoryBudget(1 << 20, temp);
    expect(b.add(900_000, 900_000)).toBe(false); // within the budget
    expect(b.add(100, 100)).toBe(false); // past it, but this holder's 100 bytes would not help
    expect(b.add(200_000, 200_000)).toBe(true); // past it, holding more than an eighth
    b.release(900_000);
    expect(b.add(10, 200_010)).toBe(false); // within it again
  });

  it("counts held bytes at what the heap really grew by when its estimates fall short", () => {
    const b = new MemoryBudget(8 << 20, temp);
    const held: string[] = [];
    let asked = -1;
    // Strings built piece by piece (a tree of pieces in V8, some 200 bytes each) estimated at 20
    // bytes: 400,000 of them are 8 MB by the estimate, about ten times that on the heap.
    for (let i = 0; i < 400_000 && asked < 0; i++) {
      held.push(`value ${i} ${"v".repeat(40)}`);
      if (b.add(20, 20 * held.length)) asked = held.length;
    }
    expect(asked).toBeGreaterThan(0);
    expect(asked).toBeLessThan(200_000); // far below what the estimate alone would allow
  });
});

describe("the log of an event-time grouping's spilled values", () => {
  it("reads segments back in order, as often as asked, and removes a file once none of its segments is live", async () => {
    const log = new SpillLog(new MemoryBudget(1 << 20, temp), StringUtf8Coder as never, 1000);
    const part = (from: number): string[] => Array.from({ length: 100 }, (_, i) => `s${from + i}`.padEnd(5, "-"));
    const segs = [0, 100, 200].map((from) => log.append(part(from))); // ~600 bytes each: a file per two
    expect(log.fileCount).toBe(2);
    const values = log.values([segs[1]!, ["mem"], segs[0]!]);
    const want = [...part(100), "mem", ...part(0)];
    expect([...values]).toEqual(want);
    expect([...values]).toEqual(want);
    log.release(segs[0]!);
    expect(log.fileCount).toBe(2); // segs[1] is still live in the first file
    log.release(segs[1]!);
    expect(log.fileCount).toBe(1);
    log.release(segs[2]!);
    expect(log.fileCount).toBe(1); // the current file stays for the next appends
    expect([...log.values([log.append(["again"])])]).toEqual(["again"]);
    log.close();
    expect(log.fileCount).toBe(0);
    expect(await readdir(temp)).toEqual([]);
  });
});

describe("main input held for side inputs, past the memory budget", () => {
  it("spills it and processes every element in arrival order once the side input is complete", async () => {
    const n = 200_000;
    const run = async (budget?: number): Promise<{ lines: string[]; spilled: number }> => {
      const lines: string[] = [];
      const p = Pipeline.create(options(budget));
      // The side input is computed from the same elements, so the main input waits for all of them.
      const numbers = p.apply("Create", Create.of(Array.from({ length: n }, (_, i) => i)));
      const total = numbers.apply("Sum", Sum.globally());
      numbers
        .apply("Pad", Map((i: number) => ({ i, text: `value ${i} ${"x".repeat(40)}` })))
        .apply(
          "Share",
          Map((e: { i: number; text: string }, c) => void lines.push(`${e.i} ${e.text.length} ${(e.i / (c.sideInputs as { total: number }).total).toFixed(12)}`), {
            sideInputs: { total: AsSingleton(total) },
          }),
        );
      const r = await p.run();
      return { lines, spilled: spilled(r) };
    };
    const [memory, disk] = [await run(), await run(1)];
    expect(memory.spilled).toBe(0);
    expect(disk.spilled).toBeGreaterThan(5 * 1048576);
    expect(disk.lines.length).toBe(n);
    // Arrival order kept, and the same elements as in memory.
    expect(disk.lines).toEqual(memory.lines);
    expect(await readdir(temp)).toEqual([]);
  }, 120_000);

  it("removes the spilled elements when a DoFn fails on one of them", async () => {
    const p = Pipeline.create(options(1));
    const numbers = p.apply("Create", Create.of(Array.from({ length: 100_000 }, (_, i) => i)));
    const total = numbers.apply("Sum", Sum.globally());
    numbers
      .apply("Pad", Map((i: number) => `value ${i} ${"x".repeat(60)}`))
      .apply(
        "Fail",
        Map((line: string, c) => {
          if (line.startsWith("value 90000 ")) throw new Error(`no good: ${(c.sideInputs as { total: number }).total}`);
          return line;
        }, { sideInputs: { total: AsSingleton(total) } }),
      );
    await expect(p.run()).rejects.toThrow(/Fail[\s\S]*no good/);
    expect(await readdir(temp)).toEqual([]);
  }, 120_000);
});
