/**
 * The conformance corpus: pipelines with their expected output, written once and run on every
 * runner. Each case writes its result with WriteToText to `io.output`; the harness compares the
 * sorted lines of all shards. Cases use only the public API.
 */
import { gzipSync } from "node:zlib";
import {
  AsDict,
  AsIterable,
  AsList,
  AsMultiMap,
  AsSingleton,
  CoGroupByKey,
  CombineGlobally,
  CombinePerKey,
  CombineValues,
  Count,
  Create,
  Distinct,
  type DoFn,
  Duration,
  Filter,
  FixedWindows,
  FlatMap,
  Flatten,
  GroupByKey,
  type IntervalWindow,
  Keys,
  KvSwap,
  Map,
  Max,
  Mean,
  Metrics,
  Min,
  ParDo,
  Partition,
  PCollectionList,
  PCollectionRecord,
  type Pipeline,
  ReadFromText,
  Reshuffle,
  Sessions,
  SlidingWindows,
  Sum,
  ToList,
  Top,
  Values,
  WindowInto,
  WithKeys,
  WithTimestamps,
  WriteToText,
  type CombineFn,
} from "sluice";

export interface CaseIO {
  /** Output prefix for WriteToText. */
  readonly output: string;
  /** Directory holding the case's input files. */
  readonly inputDir: string;
}

export interface ConformanceCase {
  readonly name: string;
  /** Input files to create (relative to inputDir), as text or raw bytes. */
  readonly inputs?: Readonly<Record<string, string | Uint8Array>>;
  build(p: Pipeline, io: CaseIO): void;
  /** Expected output lines, in any order. */
  readonly expected: readonly string[];
  /** Expected committed counter values, by counter name, where the runner reports metrics. */
  readonly counters?: Readonly<Record<string, number>>;
  /** Expected number of output files (default: not checked). */
  readonly shards?: number;
}

const T0 = Date.UTC(2026, 0, 1);
const iso = (ms: number): string => new Date(ms).toISOString().slice(11, 19);
const win = (w: unknown): string => {
  const iw = w as IntervalWindow;
  return `${iso(iw.start)}-${iso(iw.end)}`;
};
const sortNum = (xs: readonly number[]): number[] => [...xs].sort((a, b) => a - b);

export const corpus: readonly ConformanceCase[] = [
  {
    name: "create-map-filter",
    build(p, io) {
      p.apply("Create", Create.of([1, 2, 3, 4, 5, 6]))
        .apply("Square", Map((x: number) => x * x))
        .apply("Even", Filter((x: number) => x % 2 === 0))
        .apply("Write", WriteToText(io.output));
    },
    expected: ["4", "16", "36"],
  },
  {
    name: "seed-split",
    build(p, io) {
      p.apply("Create words", Create.of(["to be or not to be"]))
        .apply("Split words", FlatMap((w: string) => w.split(" ")))
        .apply("Write to file", WriteToText(io.output));
    },
    expected: ["to", "be", "or", "not", "to", "be"],
  },
  {
    name: "pardo-lifecycle-and-metrics",
    build(p, io) {
      const seen = Metrics.counter("corpus", "seen");
      const sizes = Metrics.distribution("corpus", "sizes");
      class Tagger implements DoFn<string, string> {
        private prefix = "";
        private inBundle = 0;
        setup(): void {
          this.prefix = "t:";
        }
        startBundle(): void {
          this.inBundle = 0;
        }
        process(word: string): string[] {
          seen.inc();
          sizes.update(word.length);
          this.inBundle++;
          return [this.prefix + word];
        }
        finishBundle(ctx: { output(v: string): void }): void {
          ctx.output(`bundle-size-positive:${this.inBundle > 0}`);
        }
      }
      p.apply("Create", Create.of(["a", "bb", "ccc"]))
        .apply("Tag", ParDo(new Tagger()))
        .apply("Distinct", Distinct())
        .apply("Write", WriteToText(io.output));
    },
    expected: ["t:a", "t:bb", "t:ccc", "bundle-size-positive:true"],
    counters: { seen: 3 },
  },
  {
    name: "async-dofn",
    build(p, io) {
      p.apply("Create", Create.of(["x", "y", "z"]))
        .apply(
          "Slow upper",
          ParDo<string, string>({
            async process(s) {
              await new Promise((r) => setTimeout(r, 1));
              return [s.toUpperCase()];
            },
          }),
        )
        .apply("Write", WriteToText(io.output));
    },
    expected: ["X", "Y", "Z"],
  },
  {
    name: "tagged-outputs",
    build(p, io) {
      const outs = p.apply("Create", Create.of([1, 2, 3, 4, 5])).apply(
        "Split",
        ParDo<number, number, {}, { odd: string }>({
          process(x, ctx) {
            if (x % 2 === 0) ctx.output(x);
            else ctx.outputTo("odd", `odd ${x}`);
          },
        }).withOutputs("odd"),
      );
      PCollectionList.of(
        outs.main.apply("Fmt", Map((x: number) => `even ${x}`)),
        outs.odd,
      )
        .apply("Merge", Flatten())
        .apply("Write", WriteToText(io.output));
    },
    expected: ["even 2", "even 4", "odd 1", "odd 3", "odd 5"],
  },
  {
    name: "side-inputs",
    build(p, io) {
      const nums = p.apply("Nums", Create.of([1, 2, 3]));
      const total = nums.apply("Total", Sum.globally());
      const names = p.apply("Names", Create.of<[number, string]>([[1, "one"], [2, "two"], [3, "three"]]));
      const tags = p.apply("Tags", Create.of<[number, string]>([[1, "odd"], [1, "small"], [2, "even"]]));
      nums
        .apply(
          "Describe",
          Map(
            (n: number, c) => {
              const t = [...(c.sideInputs.tags.get(n) ?? [])].sort().join("+") || "none";
              return `${c.sideInputs.names.get(n)} ${n}/${c.sideInputs.total} all=${sortNum([...c.sideInputs.all]).join(",")} list=${c.sideInputs.list.length} tags=${t}`;
            },
            {
              sideInputs: {
                total: AsSingleton(total),
                names: AsDict(names),
                tags: AsMultiMap(tags),
                all: AsIterable(nums),
                list: AsList(nums),
              },
            },
          ),
        )
        .apply("Write", WriteToText(io.output));
    },
    expected: [
      "one 1/6 all=1,2,3 list=3 tags=odd+small",
      "two 2/6 all=1,2,3 list=3 tags=even",
      "three 3/6 all=1,2,3 list=3 tags=none",
    ],
  },
  {
    name: "group-by-key",
    build(p, io) {
      p.apply("Create", Create.of<[string, number]>([["a", 1], ["b", 2], ["a", 3], ["c", 4], ["a", 5]]))
        .apply("Group", GroupByKey())
        .apply("Fmt", Map(([k, vs]: [string, number[]]) => `${k}=${sortNum(vs).join(",")}`))
        .apply("Write", WriteToText(io.output));
    },
    expected: ["a=1,3,5", "b=2", "c=4"],
  },
  {
    name: "group-by-structured-key",
    build(p, io) {
      p.apply(
        "Create",
        Create.of<[{ x: number; y: string }, number]>([
          [{ x: 1, y: "a" }, 1],
          [{ y: "a", x: 1 } as { x: number; y: string }, 2],
          [{ x: 2, y: "a" }, 3],
        ]),
      )
        .apply("Group", GroupByKey())
        .apply("Fmt", Map(([k, vs]: [{ x: number; y: string }, number[]]) => `${k.x}${k.y}=${sortNum(vs).join(",")}`))
        .apply("Write", WriteToText(io.output));
    },
    expected: ["1a=1,2", "2a=3"],
  },
  {
    name: "co-group-by-key",
    build(p, io) {
      const emails = p.apply("Emails", Create.of<[string, string]>([["amy", "amy@x"], ["carl", "carl@x"], ["amy", "amy@y"]]));
      const phones = p.apply("Phones", Create.of<[string, string]>([["amy", "111"], ["julia", "222"]]));
      PCollectionRecord.of({ emails, phones })
        .apply("Join", CoGroupByKey())
        .apply("Fmt", Map(([k, v]: [string, { emails: string[]; phones: string[] }]) => `${k} e=${[...v.emails].sort().join("|")} p=${v.phones.join("|")}`))
        .apply("Write", WriteToText(io.output));
    },
    expected: ["amy e=amy@x|amy@y p=111", "carl e=carl@x p=", "julia e= p=222"],
  },
  {
    name: "combiners",
    build(p, io) {
      const nums = p.apply("Nums", Create.of([5, 1, 4, 2, 3]));
      const kvs = p.apply("KVs", Create.of<[string, number]>([["a", 1], ["b", 10], ["a", 3], ["b", 20], ["c", 7]]));
      const lines = PCollectionList.of(
        nums.apply("Sum", Sum.globally()).apply("F1", Map((x: number) => `sum ${x}`)),
        nums.apply("Min", Min.globally()).apply("F2", Map((x: number) => `min ${x}`)),
        nums.apply("Max", Max.globally()).apply("F3", Map((x: number) => `max ${x}`)),
        nums.apply("Mean", Mean.globally()).apply("F4", Map((x: number) => `mean ${x}`)),
        nums.apply("Count", Count.globally()).apply("F5", Map((x: number) => `count ${x}`)),
        nums.apply("Top", Top.largest(2)).apply("F6", Map((x: number[]) => `top ${x.join(",")}`)),
        nums.apply("Bottom", Top.smallest(2)).apply("F7", Map((x: number[]) => `bottom ${x.join(",")}`)),
        nums.apply("List", ToList()).apply("F8", Map((x: number[]) => `list ${sortNum(x).join(",")}`)),
        kvs.apply("SumPerKey", Sum.perKey()).apply("F9", Map(([k, v]: [string, number]) => `sum ${k} ${v}`)),
        kvs.apply("MeanPerKey", Mean.perKey()).apply("F10", Map(([k, v]: [string, number]) => `mean ${k} ${v}`)),
        kvs.apply("CountPerKey", Count.perKey()).apply("F11", Map(([k, v]: [string, number]) => `count ${k} ${v}`)),
        kvs.apply("TopPerKey", Top.largestPerKey(1)).apply("F12", Map(([k, v]: [string, number[]]) => `top ${k} ${v.join(",")}`)),
        kvs.apply("Keys", Keys()).apply("Distinct keys", Distinct()).apply("F13", Map((k: string) => `key ${k}`)),
        kvs.apply("Values", Values()).apply("Max values", Max.globally()).apply("F14", Map((v: number) => `maxv ${v}`)),
        kvs.apply("Swap", KvSwap()).apply("Only c", Filter(([v]: [number, string]) => v === 7)).apply("F15", Map(([v, k]: [number, string]) => `swap ${v} ${k}`)),
        nums.apply("WithKeys", WithKeys((n: number) => (n % 2 === 0 ? "even" : "odd"))).apply("Count parity", Count.perKey()).apply("F16", Map(([k, n]: [string, number]) => `parity ${k} ${n}`)),
        nums.apply("PerElement", Count.perElement()).apply("Only 5", Filter(([x]: [number, number]) => x === 5)).apply("F17", Map(([x, n]: [number, number]) => `elem ${x} ${n}`)),
      );
      lines.apply("Merge", Flatten()).apply("Write", WriteToText(io.output));
    },
    expected: [
      "sum 15", "min 1", "max 5", "mean 3", "count 5", "top 5,4", "bottom 1,2", "list 1,2,3,4,5",
      "sum a 4", "sum b 30", "sum c 7", "mean a 2", "mean b 15", "mean c 7",
      "count a 2", "count b 2", "count c 1", "top a 3", "top b 20", "top c 7",
      "key a", "key b", "key c", "maxv 20", "swap 7 c", "parity even 2", "parity odd 3", "elem 5 1",
    ],
  },
  {
    name: "custom-combinefn-and-empty-defaults",
    build(p, io) {
      // Longest string per key, with an accumulator that is an object.
      const longest: CombineFn<string, { best: string }, string> = {
        createAccumulator: () => ({ best: "" }),
        addInput: (acc, s) => (s.length > acc.best.length || (s.length === acc.best.length && s < acc.best) ? { best: s } : acc),
        mergeAccumulators: (accs) => {
          let best = "";
          for (const a of accs) if (a.best.length > best.length || (a.best.length === best.length && a.best < best)) best = a.best;
          return { best };
        },
        extractOutput: (acc) => acc.best,
      };
      const kvs = p.apply("KVs", Create.of<[string, string]>([["x", "aa"], ["x", "bbbb"], ["y", "c"], ["x", "dd"]]));
      const empty = p.apply("Empty", Create.of<number>([]));
      PCollectionList.of(
        kvs.apply("Longest", CombinePerKey(longest)).apply("F1", Map(([k, v]: [string, string]) => `longest ${k} ${v}`)),
        kvs.apply("Group", GroupByKey()).apply("CombineValues", CombineValues(longest)).apply("F2", Map(([k, v]: [string, string]) => `cv ${k} ${v}`)),
        empty.apply("SumEmpty", Sum.globally()).apply("F3", Map((x: number) => `empty sum ${x}`)),
        empty.apply("CountEmpty", Count.globally()).apply("F4", Map((x: number) => `empty count ${x}`)),
        empty.apply("NoDefault", Sum.globally().withoutDefaults()).apply("F5", Map((x: number) => `never ${x}`)),
        kvs.apply("Values", Values()).apply("Globally", CombineGlobally(longest)).apply("F6", Map((x: string) => `global ${x}`)),
      )
        .apply("Merge", Flatten())
        .apply("Write", WriteToText(io.output));
    },
    expected: ["longest x bbbb", "longest y c", "cv x bbbb", "cv y c", "empty sum 0", "empty count 0", "global bbbb"],
  },
  {
    name: "flatten-partition-reshuffle",
    build(p, io) {
      const a = p.apply("A", Create.of([1, 2, 3]));
      const b = p.apply("B", Create.of([10, 20]));
      const parts = PCollectionList.of(a, b)
        .apply("Merge", Flatten())
        .apply("Reshuffle", Reshuffle())
        .apply("By size", Partition(3, (x: number) => (x < 3 ? 0 : x < 15 ? 1 : 2)));
      PCollectionList.of(
        parts.get(0).apply("P0", Map((x: number) => `small ${x}`)),
        parts.get(1).apply("P1", Map((x: number) => `medium ${x}`)),
        parts.get(2).apply("P2", Map((x: number) => `large ${x}`)),
      )
        .apply("All", Flatten())
        .apply("Write", WriteToText(io.output));
    },
    expected: ["small 1", "small 2", "medium 3", "medium 10", "large 20"],
  },
  {
    name: "fixed-windows",
    build(p, io) {
      p.apply(
        "Create",
        Create.timestamped([
          { value: "a", timestamp: T0 + 1_000 },
          { value: "b", timestamp: T0 + 59_999 },
          { value: "a", timestamp: T0 + 60_000 },
          { value: "a", timestamp: T0 + 61_000 },
          { value: "c", timestamp: T0 + 180_000 },
        ]),
      )
        .apply("Window", WindowInto(FixedWindows(Duration.minutes(1))))
        .apply("Count", Count.perElement())
        .apply("Fmt", Map(([k, n]: [string, number], c) => `${win(c.window)} ${k}=${n} @${iso(c.timestamp)}`))
        .apply("Write", WriteToText(io.output));
    },
    expected: [
      "00:00:00-00:01:00 a=1 @00:00:59",
      "00:00:00-00:01:00 b=1 @00:00:59",
      "00:01:00-00:02:00 a=2 @00:01:59",
      "00:03:00-00:04:00 c=1 @00:03:59",
    ],
  },
  {
    name: "sliding-windows",
    build(p, io) {
      p.apply(
        "Create",
        Create.timestamped([
          { value: 1, timestamp: T0 + 10_000 },
          { value: 2, timestamp: T0 + 40_000 },
        ]),
      )
        .apply("Window", WindowInto(SlidingWindows(Duration.seconds(60), Duration.seconds(30))))
        .apply("Sum", Sum.globally().withoutDefaults())
        .apply("Fmt", Map((s: number, c) => `${win(c.window)} ${s}`))
        .apply("Write", WriteToText(io.output));
    },
    expected: ["23:59:30-00:00:30 1", "00:00:00-00:01:00 3", "00:00:30-00:01:30 2"],
  },
  {
    name: "sessions",
    build(p, io) {
      p.apply(
        "Create",
        Create.timestamped<[string, number]>([
          { value: ["u1", 1], timestamp: T0 },
          { value: ["u1", 1], timestamp: T0 + 20_000 },
          { value: ["u1", 1], timestamp: T0 + 100_000 },
          { value: ["u2", 1], timestamp: T0 + 5_000 },
          { value: ["u1", 1], timestamp: T0 + 45_000 },
        ]),
      )
        .apply("Window", WindowInto(Sessions(Duration.seconds(30))))
        .apply("Sum", Sum.perKey())
        .apply("Fmt", Map(([k, n]: [string, number], c) => `${k} ${win(c.window)} ${n}`))
        .apply("Write", WriteToText(io.output));
    },
    expected: ["u1 00:00:00-00:01:15 3", "u1 00:01:40-00:02:10 1", "u2 00:00:05-00:00:35 1"],
  },
  {
    name: "timestamps-and-windowed-side-input",
    build(p, io) {
      const events = p
        .apply("Events", Create.of([{ v: 1, t: 5_000 }, { v: 2, t: 65_000 }, { v: 3, t: 70_000 }]))
        .apply("Stamp", WithTimestamps((e: { v: number; t: number }) => T0 + e.t))
        .apply("Window", WindowInto(FixedWindows(Duration.minutes(1))));
      const totals = events.apply("Values", Map((e: { v: number }) => e.v)).apply("Total", Sum.globally().withoutDefaults());
      events
        .apply("Share", Map((e: { v: number }, c) => `${e.v} of ${c.sideInputs.total} in ${win(c.window)}`, { sideInputs: { total: AsSingleton(totals) } }))
        .apply("Write", WriteToText(io.output));
    },
    expected: ["1 of 1 in 00:00:00-00:01:00", "2 of 5 in 00:01:00-00:02:00", "3 of 5 in 00:01:00-00:02:00"],
  },
  {
    name: "read-text-files",
    inputs: {
      "a.txt": "alpha\nbeta\r\ngamma",
      "b.txt": "header\nδέλτα\n\nepsilon\n",
      "c.txt.gz": gzipSync(Buffer.from("zeta\neta\n")),
      "skip.csv": "not matched\n",
    },
    build(p, io) {
      const plain = p.apply("Read", ReadFromText(`${io.inputDir}/*.txt`));
      const gz = p.apply("Read gz", ReadFromText(`${io.inputDir}/*.gz`));
      const headed = p.apply("Read headed", ReadFromText(`${io.inputDir}/b.txt`, { skipHeaderLines: 1 }));
      PCollectionList.of(
        plain.apply("P", Map((l: string) => `plain [${l}]`)),
        gz.apply("G", Map((l: string) => `gz [${l}]`)),
        headed.apply("H", Map((l: string) => `headed [${l}]`)),
      )
        .apply("Merge", Flatten())
        .apply("Write", WriteToText(io.output));
    },
    expected: [
      "plain [alpha]", "plain [beta]", "plain [gamma]", "plain [header]", "plain [δέλτα]", "plain []", "plain [epsilon]",
      "gz [zeta]", "gz [eta]",
      "headed [δέλτα]", "headed []", "headed [epsilon]",
    ],
  },
  {
    name: "write-sharded",
    build(p, io) {
      p.apply("Create", Create.of(Array.from({ length: 20 }, (_, i) => i)))
        .apply("Write", WriteToText(io.output, { numShards: 3, fileNameSuffix: ".txt" }));
    },
    expected: Array.from({ length: 20 }, (_, i) => String(i)),
    shards: 3,
  },
  {
    name: "dead-letter",
    build(p, io) {
      const { good, bad } = p
        .apply("Create", Create.of(["1", "2", "x", "4", "y"]))
        .apply(
          "Parse",
          Map((s: string) => {
            const n = Number(s);
            if (Number.isNaN(n)) throw new Error(`not a number: ${s}`);
            return n * 10;
          }).withExceptionHandling(),
        );
      PCollectionList.of(
        good.apply("G", Map((n: number) => `good ${n}`)),
        bad.apply("B", Map((f: { element: string; error: { message: string } }) => `bad ${f.element}: ${f.error.message}`)),
      )
        .apply("Merge", Flatten())
        .apply("Write", WriteToText(io.output));
    },
    expected: ["good 10", "good 20", "good 40", "bad x: not a number: x", "bad y: not a number: y"],
  },
];
