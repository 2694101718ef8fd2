/**
 * The conformance corpus: pipelines with their expected output, written once and run on every
 * runner. Each case writes its result with WriteToText to `io.output`; the harness compares the
 * sorted lines of all shards. Cases use only the public API.
 */
import { gzipSync } from "node:zlib";
import {
  type AccumulationMode,
  AfterCount,
  AfterProcessingTime,
  AfterWatermark,
  AsDict,
  AsIterable,
  AsList,
  AsMultiMap,
  AsSingleton,
  CoGroupByKey,
  CombineGlobally,
  CombinePerKey,
  type Coder,
  CombineFns,
  CombineValues,
  Count,
  Create,
  DefaultTrigger,
  Distinct,
  type DoFn,
  Duration,
  Filter,
  FixedWindows,
  FlatMap,
  Flatten,
  GlobalWindows,
  GroupByKey,
  IntervalWindow,
  Keys,
  KvCoder,
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
  type PaneInfo,
  type Pipeline,
  ReadFromText,
  Reshuffle,
  Sessions,
  SlidingWindows,
  StateSpec,
  StringUtf8Coder,
  Sum,
  TestStream,
  TimerSpec,
  ToList,
  Top,
  Values,
  VarIntCoder,
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
  /** Portable runners that cannot run the case as written, each with the reason (the direct runner runs every case). */
  readonly excludedOn?: Readonly<Partial<Record<PortableRunnerName, Exclusion>>>;
  /** A known deviation of the direct runner from `expected`, to be fixed there (see DirectDeviation). */
  readonly directDeviation?: DirectDeviation;
}

/** The two ways direct.test.ts runs the corpus: native composites, and composites expanded (as portable runners run them). */
export type DirectMode = "native" | "expanded";

/**
 * A known deviation of Sluice's direct runner from a case's expected output, which stays Beam's:
 * in the modes listed (default both) the direct suite checks that the run still fails or writes
 * other lines, so the entry has to go with the fix.
 */
export interface DirectDeviation {
  readonly reason: string;
  readonly modes?: readonly DirectMode[];
}

/** The portable runners the corpus runs on: prism.test.ts, flink.test.ts, external.test.ts. */
export type PortableRunnerName = "prism" | "flink";

/**
 * Why a runner cannot run a case. With `refuses`, the runner fails the pipeline with an error whose
 * message matches it, and the suites check that it still does (so the exclusion has to go once the
 * runner can run the case); with `uncounted`, only the counters go unchecked; otherwise the case is
 * skipped on that runner. The reason is in the test's title.
 */
export interface Exclusion {
  readonly reason: string;
  readonly refuses?: RegExp;
  /** The case runs and its output is checked there; only its counters are not, as the runner does not report them. */
  readonly uncounted?: true;
}


const T0 = Date.UTC(2026, 0, 1);
const iso = (ms: number): string => new Date(ms).toISOString().slice(11, 19);
const win = (w: unknown): string => {
  const iw = w as IntervalWindow;
  return `${iso(iw.start)}-${iso(iw.end)}`;
};
const sortNum = (xs: readonly number[]): number[] => [...xs].sort((a, b) => a - b);
/**
 * TestStreams' element coders: Beam's standard coders, which a Java runner can decode (Flink's
 * TestStream translation decodes the script's elements; it cannot decode the JS value coder).
 */
const KV_STRING_INT = new KvCoder(StringUtf8Coder, VarIntCoder) as unknown as Coder<[string, number]>;
const KV_STRING_STRING = new KvCoder(StringUtf8Coder, StringUtf8Coder) as unknown as Coder<[string, string]>;
/** T0 plus `s` seconds. */
const at = (s: number): number => T0 + s * 1000;
/** Seconds after T0, to the millisecond: "59.999". */
const sec = (ms: number): string => String((ms - T0) / 1000);
/** A window in seconds after T0, `[0,60)`, or `global`. */
const wsec = (w: unknown): string => (w instanceof IntervalWindow ? `[${sec(w.start)},${sec(w.end)})` : "global");
/** Appends the output timestamp each line arrives with, in seconds after T0. */
const stamp = () => Map((line: unknown, c) => `${String(line)} @${sec(c.timestamp)}`);
/** Pane info as `TIMING #index/onTimeIndex`, then `first` and `last` where they hold. */
const pane = (p: PaneInfo): string => `${p.timing} #${p.index}/${p.onTimeIndex}${p.isFirst ? " first" : ""}${p.isLast ? " last" : ""}`;
/** A grouping's panes as lines: `key window [sorted values] pane @timestamp`. */
const paneLines = () => Map(([k, vs]: [string, number[]], c) => `${k} ${wsec(c.window)} [${sortNum(vs).join(",")}] ${pane(c.pane)} @${sec(c.timestamp)}`);

/** Panes of AfterWatermark({ early: AfterCount(1) }) over a bounded input, one element per key and window. */
function earlyPanesBounded(p: Pipeline, io: CaseIO, mode: AccumulationMode): void {
  p.apply(
    "Events",
    Create.timestamped<[string, number]>([
      { value: ["a", 1], timestamp: at(10) },
      { value: ["b", 2], timestamp: at(20) },
      { value: ["a", 3], timestamp: at(70) },
    ]),
  )
    .apply("Window", WindowInto(FixedWindows(Duration.minutes(1)), { trigger: AfterWatermark({ early: AfterCount(1) }), accumulationMode: mode }))
    .apply("Group", GroupByKey<string, number>())
    .apply("Panes", paneLines())
    // Beam's way into one unwindowed write: the global window, the default trigger, discarding
    // (what Beam Java's WriteFiles does itself; Sluice's expansion keeps the trigger, see
    // write-after-trigger-bounded).
    .apply("Unwindow", WindowInto(GlobalWindows(), { trigger: DefaultTrigger(), accumulationMode: "DISCARDING" }))
    .apply("Write", WriteToText(io.output));
}

/** The TestStream of Beam Python's streaming trigger fixtures 09/10 (beam-python-panes.json): one key, values 1-5. */
const lateScript = (): TestStream<[string, number]> =>
  TestStream.create(KV_STRING_INT)
    .addElements({ value: ["k", 1], timestamp: at(10) })
    .addElements({ value: ["k", 2], timestamp: at(20) })
    .addElements({ value: ["k", 3], timestamp: at(30) })
    .advanceWatermarkTo(at(70))
    .addElements({ value: ["k", 4], timestamp: at(40) })
    .advanceWatermarkTo(at(200))
    .addElements({ value: ["k", 5], timestamp: at(50) })
    .advanceWatermarkToInfinity();

/** lateScript's panes under AfterWatermark({ early: AfterCount(2), late: AfterCount(1) }), two minutes of allowed lateness. */
function earlyLatePanes(p: Pipeline, io: CaseIO, mode: AccumulationMode): void {
  p.apply("Events", lateScript())
    .apply(
      "Window",
      WindowInto(FixedWindows(Duration.minutes(1)), {
        trigger: AfterWatermark({ early: AfterCount(2), late: AfterCount(1) }),
        accumulationMode: mode,
        allowedLateness: Duration.minutes(2),
      }),
    )
    .apply("Group", GroupByKey<string, number>())
    .apply("Panes", paneLines())
    // Each pane's line once: WriteToText's expansion (portable runners) groups the lines again per
    // window and pane with its input's strategy, which would accumulate them again (as Beam Java's
    // WriteFiles would); discarding from here on, the lines are written as they fired.
    .apply("Discarding", WindowInto(FixedWindows(Duration.minutes(1)), { accumulationMode: "DISCARDING" }))
    .apply("Write", WriteToText(io.output));
}

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
  // ---- Triggers, state and timers. Expectations are derived by hand from Beam's semantics (the
  // derivation beside each); where Beam Python 2.73 recorded the same pipeline
  // (test/fixtures/beam-python-panes.json, beam-python-state.json) the case says which fixture case
  // agrees, and where Sluice deliberately follows Beam Java instead, why.
  {
    name: "trigger-early-panes-discarding-bounded",
    build: (p, io) => earlyPanesBounded(p, io, "DISCARDING"),
    // One element per key and window, so the panes do not depend on how a runner bundles the
    // input. Each element fills the early AfterCount(1): an EARLY pane (index 0, on-time index -1,
    // first). When the input ends the watermark passes the end of every window: the ON_TIME pane
    // fires even when empty (Beam's default on-time behaviour, FIRE_ALWAYS), index 1, on-time index
    // 0, and it is the last (the trigger is done, and with no allowed lateness the window expires at
    // the same time). DISCARDING: it holds nothing new. Timestamps are the end of the window
    // (END_OF_WINDOW). Beam Python 2.73 batch agrees (beam-python-panes.json 05: [1..5] EARLY
    // #0/-1 first, then [] ON_TIME #1/0 last).
    expected: [
      "a [0,60) [1] EARLY #0/-1 first @59.999",
      "a [0,60) [] ON_TIME #1/0 last @59.999",
      "b [0,60) [2] EARLY #0/-1 first @59.999",
      "b [0,60) [] ON_TIME #1/0 last @59.999",
      "a [60,120) [3] EARLY #0/-1 first @119.999",
      "a [60,120) [] ON_TIME #1/0 last @119.999",
    ],
    excludedOn: {
      prism: { reason: "Prism 2.73 emits no empty ON_TIME pane after early panes (Beam's on-time behaviour FIRE_ALWAYS, which the strategy says, gives one)" },
      flink: { reason: "Beam's Flink runner runs a bounded pipeline in batch mode, which ignores triggers: one pane per key and window, with no pane info (UNKNOWN #0/0)" },
    },
  },
  {
    name: "trigger-early-panes-accumulating-bounded",
    build: (p, io) => earlyPanesBounded(p, io, "ACCUMULATING"),
    // As the discarding case, but the ON_TIME pane holds everything the window has seen.
    expected: [
      "a [0,60) [1] EARLY #0/-1 first @59.999",
      "a [0,60) [1] ON_TIME #1/0 last @59.999",
      "b [0,60) [2] EARLY #0/-1 first @59.999",
      "b [0,60) [2] ON_TIME #1/0 last @59.999",
      "a [60,120) [3] EARLY #0/-1 first @119.999",
      "a [60,120) [3] ON_TIME #1/0 last @119.999",
    ],
    excludedOn: { flink: { reason: "Beam's Flink runner runs a bounded pipeline in batch mode, which ignores triggers: one pane per key and window, with no pane info (UNKNOWN #0/0)" } },
  },
  {
    name: "write-after-trigger-bounded",
    build(p, io) {
      p.apply("Events", Create.timestamped([{ value: "a", timestamp: at(10) }, { value: "b", timestamp: at(20) }, { value: "c", timestamp: at(70) }]))
        .apply("Window", WindowInto(FixedWindows(Duration.minutes(1)), { trigger: AfterWatermark({ early: AfterCount(1) }), accumulationMode: "ACCUMULATING" }))
        .apply("Write", WriteToText(io.output));
    },
    // A bounded collection is written as one set of shards whatever its windowing: Beam Java's
    // WriteFiles first re-windows it into the global window with the default trigger, discarding,
    // so every element is written once, whichever trigger and accumulation mode it came with.
    expected: ["a", "b", "c"],
  },
  {
    name: "state-all-kinds-bounded",
    build(p, io) {
      p.apply(
        "Events",
        Create.timestamped<[string, number]>(
          ([["a", 1, 1], ["a", 2, 2], ["a", 2, 3], ["a", 3, 4], ["a", 3, 5], ["a", 3, 6], ["b", 7, 1], ["b", 7, 2], ["a", 5, 11]] as const).map(([k, v, s]) => ({
            value: [k, v] as [string, number],
            timestamp: at(s),
          })),
        ),
      )
        .apply("Fixed", WindowInto(FixedWindows(Duration.seconds(10))))
        .apply(
          "AllKinds",
          ParDo({
            state: {
              count: StateSpec.value<number>(),
              values: StateSpec.bag<number>(),
              sum: StateSpec.combining(CombineFns.sum()),
              distinct: StateSpec.set<number>(),
              occurrences: StateSpec.map<number, number>(),
              unwritten: StateSpec.value<string>(),
            },
            timers: { end: TimerSpec.eventTime() },
            process([key, n]: readonly [string, number], ctx) {
              const st = ctx.state;
              st.count.write((st.count.read() ?? 0) + 1);
              st.values.add(n);
              st.sum.add(n);
              st.distinct.add(n);
              st.occurrences.set(n, (st.occurrences.get(n) ?? 0) + 1);
              ctx.timers.end.set(ctx.window.maxTimestamp());
              return [`${key} ${wsec(ctx.window)} got ${n}`];
            },
            onTimer: {
              end(ctx) {
                const st = ctx.state;
                const occurrences = st.occurrences.entries().sort(([a], [b]) => a - b).map(([v, n]) => `${v}:${n}`).join(",");
                const seen =
                  `count=${st.count.read()} values=${sortNum(st.values.read()).join(",")} sum=${st.sum.read()} ` +
                  `distinct=${sortNum(st.distinct.read()).join(",")} (${st.distinct.size}) occurrences=${occurrences} unwritten=${st.unwritten.read() ?? "none"}`;
                st.count.clear();
                st.values.clear();
                st.sum.clear();
                st.distinct.clear();
                st.occurrences.clear();
                const cleared = `count=${st.count.read() ?? "none"} values=${st.values.read().length} sum=${st.sum.read()} distinct=${st.distinct.size} occurrences=${st.occurrences.size}`;
                return [`${ctx.key} ${wsec(ctx.window)} end ${seen}; cleared ${cleared}`];
              },
            },
          }),
        )
        .apply("Stamp", stamp())
        .apply("Write", WriteToText(io.output));
    },
    // State is per key and window: a's elements at 1-6 s and b's share the window [0,10), a's at
    // 11 s is alone in [10,20). Each process call adds its value to every cell and (re)sets the
    // timer to the window's last instant; outputs of process keep the element's timestamp. The
    // timer fires when the watermark reaches it (here when the bounded input ends), its output at
    // the firing time, the end of the window (9.999 s). Value: the count; bag: every value; sum;
    // set: the distinct values; map: value -> occurrences; a cell never written reads as unset;
    // after clear, combining state reads as the sum of nothing (0), the others as empty. Beam
    // Python 2.73 agrees on the sums, counts, distinct sets, empty reads and reads after clear
    // (beam-python-state.json 03a: a [0,10) sum 14 count 6 distinct [1,2,3]; b 14, 2, [7]; a
    // [10,20) 5, 1, [5]) and on the timestamps (02: process at the element's, timer at 9999).
    expected: [
      "a [0,10) got 1 @1",
      "a [0,10) got 2 @2",
      "a [0,10) got 2 @3",
      "a [0,10) got 3 @4",
      "a [0,10) got 3 @5",
      "a [0,10) got 3 @6",
      "b [0,10) got 7 @1",
      "b [0,10) got 7 @2",
      "a [10,20) got 5 @11",
      "a [0,10) end count=6 values=1,2,2,3,3,3 sum=14 distinct=1,2,3 (3) occurrences=1:1,2:2,3:3 unwritten=none; cleared count=none values=0 sum=0 distinct=0 occurrences=0 @9.999",
      "b [0,10) end count=2 values=7,7 sum=14 distinct=7 (1) occurrences=7:2 unwritten=none; cleared count=none values=0 sum=0 distinct=0 occurrences=0 @9.999",
      "a [10,20) end count=1 values=5 sum=5 distinct=5 (1) occurrences=5:1 unwritten=none; cleared count=none values=0 sum=0 distinct=0 occurrences=0 @19.999",
    ],
  },
  {
    name: "timers-loop-tags-processing-time-bounded",
    build(p, io) {
      p.apply(
        "Events",
        Create.timestamped<[string, number]>([
          { value: ["loop", 0], timestamp: at(1) },
          { value: ["proc", 0], timestamp: at(3) },
          { value: ["tags", 0], timestamp: at(10) },
        ]),
      )
        .apply(
          "Timers",
          ParDo({
            state: { fired: StateSpec.value<number>() },
            timers: { loop: TimerSpec.eventTime(), dyn: TimerSpec.eventTime(), proc: TimerSpec.processingTime() },
            process([key]: readonly [string, number], ctx) {
              const ts = ctx.timestamp;
              if (key === "loop") ctx.timers.loop.set(ts + 5000);
              if (key === "tags") {
                const dyn = ctx.timers.dyn;
                dyn.set(ts + 1000, { tag: "a" });
                dyn.set(ts + 2000, { tag: "b" });
                dyn.set(ts + 3000, { tag: "c" });
                dyn.clear("c");
                dyn.set(ts + 4000);
                dyn.set(ts + 5000, { tag: "d" });
                dyn.set(ts + 7000, { tag: "d" });
              }
              if (key === "proc") ctx.timers.proc.setRelative(Duration.minutes(1));
              return [`${key} set`];
            },
            onTimer: {
              loop(ctx) {
                const n = (ctx.state.fired.read() ?? 0) + 1;
                ctx.state.fired.write(n);
                if (n < 3) ctx.timers.loop.set(ctx.fireTimestamp + 5000);
                return [`loop firing ${n} at ${sec(ctx.fireTimestamp)}`];
              },
              dyn(ctx) {
                return [`dyn tag '${ctx.tag}' at ${sec(ctx.fireTimestamp)}`];
              },
              proc(ctx) {
                return [`proc fired ${ctx.domain}`];
              },
            },
          }),
        )
        .apply("Stamp", stamp())
        .apply("Write", WriteToText(io.output));
    },
    // Global window. loop: set for 1 s + 5 s; each firing re-sets it 5 s after its firing time
    // until it has fired three times: 6, 11, 16 s. tags: one timer, each dynamic tag its own: a at
    // 11 s, b at 12 s, c cleared, the default tag '' at 14 s, d set twice (the last wins) at 17 s.
    // Event-time timers output at their firing time. Beam Python 2.73 agrees (beam-python-state.json
    // 04a: 6000, 11000, 16000; 04c: a 11000, b 12000, '' 14000, d 17000). proc: a processing-time
    // timer a minute ahead, still pending when the bounded input ends: it fires once (Sluice's rule;
    // of Beam Python's runners the FnApiRunner fires it, the BundleBasedDirectRunner does not, 06c)
    // and its output takes the timestamp of the element that set it (Beam Java's default for
    // processing-time timers; Python has none to compare).
    expected: [
      "loop set @1",
      "loop firing 1 at 6 @6",
      "loop firing 2 at 11 @11",
      "loop firing 3 at 16 @16",
      "tags set @10",
      "dyn tag 'a' at 11 @11",
      "dyn tag 'b' at 12 @12",
      "dyn tag '' at 14 @14",
      "dyn tag 'd' at 17 @17",
      "proc set @3",
      "proc fired PROCESSING_TIME @3",
    ],
  },
  {
    name: "timers-clear-bounded",
    build(p, io) {
      p.apply("Events", Create.timestamped<[string, number]>([{ value: ["k", 0], timestamp: at(1) }]))
        .apply(
          "Clears",
          ParDo({
            timers: { keep: TimerSpec.eventTime(), dropped: TimerSpec.eventTime(), killer: TimerSpec.eventTime(), victim: TimerSpec.eventTime(), reset: TimerSpec.eventTime() },
            process(_kv: readonly [string, number], ctx) {
              const t = ctx.timers;
              const ts = ctx.timestamp;
              t.keep.set(ts + 1000);
              t.dropped.set(ts + 2000);
              t.dropped.clear();
              t.killer.set(ts + 3000);
              t.victim.set(ts + 4000);
              t.reset.set(ts + 5000);
              t.reset.clear();
              t.reset.set(ts + 6000);
            },
            onTimer: {
              keep: () => ["keep"],
              dropped: () => ["dropped"],
              killer(ctx) {
                ctx.timers.victim.clear();
                return ["killer cleared victim"];
              },
              victim: () => ["victim"],
              reset: () => ["reset"],
            },
          }),
        )
        .apply("Stamp", stamp())
        .apply("Write", WriteToText(io.output));
    },
    // keep fires at 2 s; dropped was cleared before it could fire; killer fires at 4 s and clears
    // victim (due at 5 s), which then does not fire; reset, cleared and set again, fires once at
    // its last time, 7 s. Beam Python 2.73 agrees except on victim (beam-python-state.json 05a):
    // its batch runners collect every due timer before calling any callback, so victim fires there
    // although it was cleared; on a TestStream whose watermark passes killer and victim in separate
    // steps it does not fire (05b, key k), which is what clearing a timer means.
    expected: ["keep @2", "killer cleared victim @4", "reset @7"],
    excludedOn: {
      flink: {
        reason:
          "Beam's Flink runner (2.62, batch) fires every timer due when the input ends, a timer cleared by another's callback included (observed: victim fires), as Beam Python's batch runners do",
      },
    },
  },
  // ---- Unbounded input (TestStream): WriteToText writes a shard set per window and pane.
  {
    name: "stream-early-late-panes-discarding",
    build: (p, io) => earlyLatePanes(p, io, "DISCARDING"),
    // Window [0,60), each element its own bundle. 1 and 2 fill the early AfterCount(2): EARLY #0/-1
    // first [1,2]. 3 waits (the early count restarts) until the watermark passes 60 s: ON_TIME #1/0
    // [3], not last (two minutes of lateness to go). 4 (40 s) arrives late, within the lateness: the
    // late AfterCount(1) fires LATE #2/1 [4]. The watermark passes 180 s, the end plus the lateness,
    // before 5 (50 s) arrives: the window has expired, 5 is dropped and counted; expiry itself fires
    // nothing, as nothing was pending. Beam Python 2.73 agrees pane for pane (beam-python-panes.json 10).
    expected: ["k [0,60) [1,2] EARLY #0/-1 first @59.999", "k [0,60) [3] ON_TIME #1/0 @59.999", "k [0,60) [4] LATE #2/1 @59.999"],
    counters: { droppedDueToLateness: 1 },
    excludedOn: {
      prism: { reason: "Prism 2.73 does not report droppedDueToLateness (it drops the element all the same)", uncounted: true },
      flink: { reason: "on Beam's Flink runner (2.62 job server, embedded Flink) the TestStream's script does not take effect in order; observed here: its panes held other elements ([2,4], then [1,3]), the element behind the expired window was not dropped, and an extra empty ON_TIME pane appeared" },
    },
  },
  {
    name: "stream-early-late-panes-accumulating",
    build: (p, io) => earlyLatePanes(p, io, "ACCUMULATING"),
    // As the discarding case, but each pane holds everything the window has seen so far. Beam
    // Python 2.73 agrees pane for pane (beam-python-panes.json 09).
    expected: ["k [0,60) [1,2] EARLY #0/-1 first @59.999", "k [0,60) [1,2,3] ON_TIME #1/0 @59.999", "k [0,60) [1,2,3,4] LATE #2/1 @59.999"],
    counters: { droppedDueToLateness: 1 },
    excludedOn: {
      prism: {
        reason:
          "Prism 2.73 answers the late element after the on-time pane with EARLY #2 and ON_TIME #3 panes again (Beam: one LATE pane), then adds a LATE last pane when the window expires",
      },
      flink: { reason: "on Beam's Flink runner (2.62 job server, embedded Flink) the TestStream's script does not take effect in order; observed here: its panes held other elements ([1,3], [1,2,3,5]), the element behind the expired window was not dropped, and an extra empty ON_TIME pane appeared" },
    },
  },
  {
    name: "stream-late-data-default-trigger",
    build(p, io) {
      p.apply(
        "Events",
        TestStream.create(KV_STRING_INT)
          .addElements({ value: ["k", 1], timestamp: at(10) })
          .advanceWatermarkTo(at(70))
          .addElements({ value: ["k", 2], timestamp: at(20) })
          .advanceWatermarkTo(at(200))
          .addElements({ value: ["k", 3], timestamp: at(30) })
          .advanceWatermarkToInfinity(),
      )
        .apply("Window", WindowInto(FixedWindows(Duration.minutes(1)), { allowedLateness: Duration.minutes(1) }))
        .apply("Group", GroupByKey<string, number>())
        .apply("Panes", paneLines())
        .apply("Write", WriteToText(io.output));
    },
    // The default trigger (repeatedly at the watermark, and at once for late data) with a minute
    // of allowed lateness. 1 fires ON_TIME #0/0 first when the watermark passes 60 s; 2 (20 s)
    // comes late but within the lateness: LATE #1/1 at once. The watermark passes 120 s, so the
    // window expires (nothing pending: no pane, none is last); 3 (30 s) is dropped and counted.
    // Beam Python 2.73 agrees (beam-python-panes.json 12; 11 for the drop without lateness).
    expected: ["k [0,60) [1] ON_TIME #0/0 first @59.999", "k [0,60) [2] LATE #1/1 @59.999"],
    counters: { droppedDueToLateness: 1 },
    excludedOn: {
      prism: { reason: "Prism 2.73 does not report droppedDueToLateness (it drops the element all the same)", uncounted: true },
      flink: { reason: "on Beam's Flink runner (2.62 job server, embedded Flink) the TestStream's script does not take effect in order; observed here: the job wrote no line at all" },
    },
  },
  {
    name: "stream-late-first-pane",
    build(p, io) {
      p.apply(
        "Events",
        TestStream.create(KV_STRING_INT)
          .advanceWatermarkTo(at(200))
          .addElements({ value: ["k", 4], timestamp: at(130) })
          .addElements({ value: ["k", 5], timestamp: at(140) })
          .advanceWatermarkToInfinity(),
      )
        .apply("Window", WindowInto(FixedWindows(Duration.minutes(1)), { allowedLateness: Duration.minutes(1) }))
        .apply("Group", GroupByKey<string, number>())
        .apply("Panes", paneLines())
        .apply("Write", WriteToText(io.output));
    },
    // The watermark is at 200 s before [120,180) sees any data, so no on-time pane ever fires for
    // it. 4 (130 s) is behind the watermark but within the lateness (the window expires after
    // 240 s): the default trigger fires at once, and the pane is LATE although it is the window's
    // first (Beam Java: the output watermark has passed the window, PaneInfoTracker makes it
    // LATE; Beam Python: a firing on arrival is never ON_TIME): LATE #0/0 first. 5 (140 s), the
    // next bundle: LATE #1/1. Beam Python 2.73 gives a first pane LATE #0/0 the same way
    // (beam-python-panes.json 15a, a session that late data created).
    expected: ["k [120,180) [4] LATE #0/0 first @179.999", "k [120,180) [5] LATE #1/1 @179.999"],
    excludedOn: {
      prism: { reason: "Prism 2.73 gives a window's first pane, when LATE, on-time index 1 (LATE #0/1, then #1/2; Beam: #0/0, #1/1)" },
      flink: { reason: "on Beam's Flink runner (2.62 job server, embedded Flink) the TestStream's script does not take effect in order; observed here: the two late elements, added in order in two bundles, reached the grouping the other way round" },
    },
  },
  {
    name: "stream-processing-time-early-panes",
    build(p, io) {
      p.apply(
        "Events",
        TestStream.create(KV_STRING_INT)
          .addElements({ value: ["k", 1], timestamp: at(1) })
          .advanceProcessingTime(Duration.seconds(5))
          .addElements({ value: ["k", 2], timestamp: at(2) })
          .advanceProcessingTime(Duration.seconds(6))
          .addElements({ value: ["k", 3], timestamp: at(3) })
          .advanceWatermarkTo(at(60))
          .advanceWatermarkToInfinity(),
      )
        .apply(
          "Window",
          WindowInto(FixedWindows(Duration.minutes(1)), { trigger: AfterWatermark({ early: AfterProcessingTime(Duration.seconds(10)) }), accumulationMode: "DISCARDING" }),
        )
        .apply("Group", GroupByKey<string, number>())
        .apply("Panes", paneLines())
        .apply("Write", WriteToText(io.output));
    },
    // Processing time starts at 0. The early AfterProcessingTime(10 s) counts from the first
    // element of a pane: 1 arrives at 0 s, 2 at 5 s; the clock reaches 11 s: EARLY #0/-1 first
    // [1,2]. 3 arrives at 11 s (its early firing would be at 21 s, never reached). The watermark
    // passes 60 s: ON_TIME #1/0 [3], the last (AfterWatermark without late firings is done, and
    // with no allowed lateness the window expires). Beam Python 2.73 counts processing-time
    // delays the same way (beam-python-panes.json 13: [1,2] at 11 s, then [3]).
    expected: ["k [0,60) [1,2] EARLY #0/-1 first @59.999", "k [0,60) [3] ON_TIME #1/0 last @59.999"],
    excludedOn: {
      prism: { reason: "Prism 2.73 fails the job when an AfterProcessingTime trigger fires on a TestStream's processing time (panic: assignment to entry in nil map, in aggregateStageKind.buildProcessingTimeBundle)" },
      flink: { reason: "the Flink runner fails the job: 'Advancing Processing time is not supported by the Flink Runner' (a TestStream processing-time event)" },
    },
  },
  {
    name: "stream-state-late-data-and-expiry",
    build(p, io) {
      p.apply(
        "Events",
        TestStream.create(KV_STRING_INT)
          .addElements({ value: ["a", 1], timestamp: at(1) }, { value: ["a", 2], timestamp: at(2) })
          .advanceWatermarkTo(at(12))
          .addElements({ value: ["a", 3], timestamp: at(4) })
          .advanceWatermarkTo(at(16))
          .addElements({ value: ["a", 4], timestamp: at(5) }, { value: ["a", 10], timestamp: at(12) })
          .advanceWatermarkToInfinity(),
      )
        .apply("Fixed", WindowInto(FixedWindows(Duration.seconds(10)), { allowedLateness: Duration.seconds(5) }))
        .apply(
          "Total",
          ParDo({
            state: { total: StateSpec.combining(CombineFns.sum()), seen: StateSpec.bag<number>() },
            process([key, n]: readonly [string, number], ctx) {
              ctx.state.total.add(n);
              ctx.state.seen.add(n);
              return [`${key} ${wsec(ctx.window)} got ${n}, total ${ctx.state.total.read()}`];
            },
            onWindowExpiration(ctx) {
              return [`${ctx.key} ${wsec(ctx.window)} expired: total ${ctx.state.total.read()} of ${sortNum(ctx.state.seen.read()).join(",")}`];
            },
          }),
        )
        .apply("Stamp", stamp())
        .apply("Write", WriteToText(io.output));
    },
    // Windows of 10 s, 5 s of allowed lateness: [0,10) expires once the watermark passes 15 s.
    // 1 and 2 are on time; 3 (4 s) comes with the watermark at 12 s, late but within the lateness:
    // processed, the total 6. At 16 s the window expires: onWindowExpiration sees its state (at the
    // window's last instant, 9.999 s), then the state goes. 4 (5 s) is for the expired window:
    // dropped and counted (a stateful DoFn drops data behind an expired window, as Beam Java's
    // runners do; Beam Python's BundleBasedDirectRunner processes it against the old state,
    // beam-python-state.json 07b, 09d). 10 (12 s) starts [10,20)'s state; the end of the stream
    // expires that window too.
    expected: [
      "a [0,10) got 1, total 1 @1",
      "a [0,10) got 2, total 3 @2",
      "a [0,10) got 3, total 6 @4",
      "a [0,10) expired: total 6 of 1,2,3 @9.999",
      "a [10,20) got 10, total 10 @12",
      "a [10,20) expired: total 10 of 10 @19.999",
    ],
    counters: { droppedDueToLateness: 1 },
    excludedOn: {
      prism: { reason: "Prism drops the late element itself (the runner's duty on portable runners) and reports no droppedDueToLateness", uncounted: true },
      flink: { reason: "on Beam's Flink runner (2.62 job server, embedded Flink) this TestStream with a stateful DoFn wrote no output (observed); its TestStream support is partial (see the trigger cases)" },
    },
  },
  {
    name: "stream-timer-output-timestamp-hold",
    build(p, io) {
      p.apply(
        "Events",
        TestStream.create(KV_STRING_STRING)
          .addElements({ value: ["a", "x"], timestamp: at(5) }, { value: ["h", "x"], timestamp: at(1) })
          .advanceWatermarkTo(at(30))
          .advanceWatermarkToInfinity(),
      )
        .apply(
          "Delay",
          ParDo({
            timers: { later: TimerSpec.eventTime() },
            process([key]: readonly [string, string], ctx) {
              if (key === "a") ctx.timers.later.set(at(25), { outputTimestamp: ctx.timestamp });
              else ctx.timers.later.set(at(15));
            },
            onTimer: {
              later(ctx) {
                return [`${ctx.key} fired at ${sec(ctx.fireTimestamp)}`];
              },
            },
          }),
        )
        .apply("Fixed", WindowInto(FixedWindows(Duration.seconds(10))))
        .apply("Count", Count.perElement())
        .apply("Fmt", Map(([line, n]: [unknown, number], c) => `${String(line)}: ${n} in ${wsec(c.window)} ${c.pane.timing} #${c.pane.index} @${sec(c.timestamp)}`))
        .apply("Write", WriteToText(io.output));
    },
    // a's timer fires at 25 s but outputs at 5 s (its output timestamp); h's fires and outputs at
    // 15 s (an event-time timer's default). A pending timer holds its DoFn's output watermark at
    // its output timestamp, so although the input watermark jumps to 30 s, the output watermark
    // stays at 5 s, then 15 s, until the timers fired: both outputs reach the counting (fixed 10 s,
    // no allowed lateness) on time, in [0,10) and [10,20), and nothing is dropped. Without the
    // holds both would be behind the watermark and dropped: Beam Python 2.73, whose timers hold
    // nothing (and take no output timestamp), drops h's output so (beam-python-state.json 08b).
    // Only timing and index are shown: with no allowed lateness Beam Java marks the on-time pane
    // last, Beam Python does not.
    expected: ["a fired at 25: 1 in [0,10) ON_TIME #0 @9.999", "h fired at 15: 1 in [10,20) ON_TIME #0 @19.999"],
    counters: { droppedDueToLateness: 0 },
  },
  {
    name: "stream-processing-time-timers",
    build(p, io) {
      p.apply(
        "Events",
        TestStream.create(KV_STRING_INT)
          .addElements({ value: ["a", 1], timestamp: at(1) })
          .advanceProcessingTime(500)
          .addElements({ value: ["a", 2], timestamp: at(1.5) })
          .advanceProcessingTime(600)
          .addElements({ value: ["a", 3], timestamp: at(2) })
          .advanceProcessingTime(5000)
          .addElements({ value: ["b", 4], timestamp: at(3) })
          .advanceWatermarkToInfinity(),
      )
        .apply(
          "Batch",
          ParDo({
            state: { buf: StateSpec.bag<number>(), armed: StateSpec.value<boolean>() },
            timers: { flush: TimerSpec.processingTime() },
            process([, n]: readonly [string, number], ctx) {
              ctx.state.buf.add(n);
              if (!ctx.state.armed.read()) {
                ctx.state.armed.write(true);
                ctx.timers.flush.setRelative(1000);
              }
            },
            onTimer: {
              flush(ctx) {
                const values = ctx.state.buf.read();
                ctx.state.buf.clear();
                ctx.state.armed.clear();
                return [`${ctx.key} ${values.join(",")} at processing time ${ctx.fireTimestamp}`];
              },
            },
          }),
        )
        .apply("Stamp", stamp())
        .apply("Write", WriteToText(io.output));
    },
    // The TestStream's processing time starts at 0. a: 1 arms the timer for 1000; 2 arrives at
    // 500; the clock reaches 1100: it fires with 1,2. 3 arrives at 1100 and arms it for 2100; the
    // clock reaches 6100: it fires with 3. b: 4 arrives at 6100 and arms it for 7100, which the
    // clock never reaches: pending when the stream ends, it fires once (Sluice's rule, the clock
    // moved to it; Beam Python's BundleBasedDirectRunner never fires such a timer,
    // beam-python-state.json 06e). Each firing outputs at the timestamp of the element that set
    // the timer (Beam Java's default for processing-time timers; Beam Python uses the firing time,
    // 06d). Python agrees that a timer fires when the clock reaches it, between elements (06d).
    expected: ["a 1,2 at processing time 1000 @1", "a 3 at processing time 2100 @2", "b 4 at processing time 7100 @3"],
    excludedOn: {
      prism: {
        reason:
          "processing time on a TestStream is Prism's own virtual clock (observed: it starts near the stream's first event time), which the SDK cannot read: timers set relative to the worker's clock fire whenever Prism's passes them",
      },
      flink: { reason: "the Flink runner fails the job: 'Advancing Processing time is not supported by the Flink Runner' (a TestStream processing-time event)" },
    },
  },
  {
    name: "stream-timers-tags-and-clear",
    build(p, io) {
      p.apply(
        "Events",
        TestStream.create(KV_STRING_STRING)
          .addElements({ value: ["c", "c1 set=50"], timestamp: at(1) }, { value: ["r", "r1 set=50"], timestamp: at(1) }, { value: ["tags", "t1 tags"], timestamp: at(10) })
          .advanceWatermarkTo(at(10))
          .addElements({ value: ["c", "c2 clear"], timestamp: at(11) }, { value: ["r", "r2 set=60"], timestamp: at(11) })
          .advanceWatermarkTo(at(12))
          .advanceWatermarkTo(at(15))
          .advanceWatermarkTo(at(55))
          .addElements({ value: ["c", "c3"], timestamp: at(56) }, { value: ["r", "r3"], timestamp: at(56) })
          .advanceWatermarkToInfinity(),
      )
        .apply(
          "Probe",
          ParDo({
            state: { buf: StateSpec.bag<string>() },
            timers: { t: TimerSpec.eventTime(), dyn: TimerSpec.eventTime() },
            process([, command]: readonly [string, string], ctx) {
              const [id, op] = command.split(" ");
              ctx.state.buf.add(id!);
              if (op === "clear") ctx.timers.t.clear();
              else if (op?.startsWith("set=")) ctx.timers.t.set(at(Number(op.slice(4))));
              else if (op === "tags") {
                const ts = ctx.timestamp;
                ctx.timers.dyn.set(ts + 1000, { tag: "a" });
                ctx.timers.dyn.set(ts + 2000, { tag: "b" });
                ctx.timers.dyn.set(ts + 3000, { tag: "c" });
                ctx.timers.dyn.clear("c");
                ctx.timers.dyn.set(ts + 4000);
                ctx.timers.dyn.set(ts + 5000, { tag: "d" });
                ctx.timers.dyn.set(ts + 7000, { tag: "d" });
              }
            },
            onTimer: {
              t(ctx) {
                return [`${ctx.key} t fired at ${sec(ctx.fireTimestamp)} after ${ctx.state.buf.read().sort().join(",")}`];
              },
              dyn(ctx) {
                return [`${ctx.key} dyn '${ctx.tag}' fired at ${sec(ctx.fireTimestamp)}`];
              },
            },
          }),
        )
        .apply("Stamp", stamp())
        .apply("Write", WriteToText(io.output));
    },
    // Global window, one event-time timer t per key. c: set for 50 s by c1, cleared by c2 before
    // the watermark got there: it never fires. r: set for 50 s by r1, moved to 60 s by r2: it does
    // not fire when the watermark passes 50 s (at 55 s) and fires once at 60 s, when the stream
    // ends, having seen r3. tags: one timer with dynamic tags, each set and cleared on its own, the
    // watermark stepping through them: a (11 s) and b (12 s) fire at the step to 12 s, '' (14 s)
    // at the step to 15 s, d (set to 15 s, then moved to 17 s) at 55 s; c was cleared. Event-time
    // timers output at their firing time. Beam Python 2.73 agrees (beam-python-state.json 05c:
    // only r fires, at 60 s, after r1,r2,r3; 04d: a, b, '', d at 11, 12, 14, 17 s).
    expected: [
      "tags dyn 'a' fired at 11 @11",
      "tags dyn 'b' fired at 12 @12",
      "tags dyn '' fired at 14 @14",
      "tags dyn 'd' fired at 17 @17",
      "r t fired at 60 after r1,r2,r3 @60",
    ],
  },
];
