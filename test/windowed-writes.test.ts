/**
 * Windowed writes: WriteToText of an unbounded collection (or of a bounded one with
 * `windowedWrites: true`) writes a set of shards per window and pane, named as Beam Java's
 * DefaultFilenamePolicy names windowed files (`prefix` + `W-P-SSSSS-of-NNNNN` + suffix), each set
 * published atomically; a failing run leaves no file of a set it had not published.
 */
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  AfterCount,
  AfterProcessingTime,
  AfterWatermark,
  Create,
  DirectRunner,
  FixedWindows,
  GroupByKey,
  Map,
  Pipeline,
  PipelineOptions,
  SlidingWindows,
  TestStream,
  WindowInto,
  WriteToText,
} from "sluice";
import { failure, outputLines, thrown } from "./support.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "sluice-windowed-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const T0 = Date.UTC(2024, 0, 1);
/** The window strings of the first two one-minute windows after T0, as Beam Java formats IntervalWindows. */
const W1 = "2024-01-01T00:00:00.000Z-2024-01-01T00:01:00.000Z";
const W2 = "2024-01-01T00:01:00.000Z-2024-01-01T00:02:00.000Z";

/** Every file in the directory, with its contents. */
async function files(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of (await readdir(dir)).sort()) out[f] = await readFile(join(dir, f), "utf8");
  return out;
}

const format = ([k, vs]: [string, Iterable<string>]): string => `${k}: ${[...vs].sort().join(",")}`;

describe("windowed writes of an unbounded collection", () => {
  it("write a set per window and pane: early, on-time, late and last panes, with Beam Java's names", async () => {
    const p = Pipeline.create(PipelineOptions.create());
    p.apply(
      "Events",
      TestStream.create<[string, string]>()
        .addElements({ value: ["k", "a"], timestamp: T0 + 1000 })
        .advanceProcessingTime(10_000) // early pane of W1
        .addElements({ value: ["k", "b"], timestamp: T0 + 2000 }, { value: ["k", "x"], timestamp: T0 + 61_000 })
        .advanceWatermarkTo(T0 + 60_000) // on-time pane of W1
        .addElements({ value: ["k", "late"], timestamp: T0 + 3000 }) // late, within the allowed lateness; AfterCount(2) waits
        .advanceWatermarkToInfinity(), // W1 expires with its late element pending; W2 fires on time and expires
    )
      .apply(
        "Window",
        WindowInto(FixedWindows(60_000), {
          trigger: AfterWatermark({ early: AfterProcessingTime(10_000), late: AfterCount(2) }),
          accumulationMode: "DISCARDING",
          allowedLateness: 120_000,
        }),
      )
      .apply("Group", GroupByKey<string, string>())
      .apply("Format", Map(format))
      .apply("Write", WriteToText(join(dir, "out"), { fileNameSuffix: ".txt" }));
    await p.run();
    // No separator after the prefix: Beam Java's DEFAULT_WINDOWED_SHARD_TEMPLATE is "W-P-SSSSS-of-NNNNN".
    expect(await files()).toEqual({
      [`out${W1}-pane-0-00000-of-00001.txt`]: "k: a\n",
      [`out${W1}-pane-1-00000-of-00001.txt`]: "k: b\n",
      [`out${W1}-pane-2-late-last-00000-of-00001.txt`]: "k: late\n",
      [`out${W2}-pane-0-last-00000-of-00001.txt`]: "k: x\n",
    });
  });

  it("number a window's sets in the order they are published, so keys firing in different bundles never share a name", async () => {
    const p = Pipeline.create(PipelineOptions.create());
    p.apply(
      "Events",
      TestStream.create<[string, string]>()
        .addElements({ value: ["a", "1"], timestamp: T0 + 1000 })
        .addElements({ value: ["b", "2"], timestamp: T0 + 2000 }, { value: ["c", "3"], timestamp: T0 + 3000 })
        .advanceWatermarkToInfinity(),
    )
      .apply("Window", WindowInto(FixedWindows(60_000), { trigger: AfterWatermark({ early: AfterCount(1) }), accumulationMode: "DISCARDING" }))
      .apply("Group", GroupByKey<string, string>())
      .apply("Format", Map(format))
      .apply("Write", WriteToText(join(dir, "out")));
    await p.run();
    // Each key's early pane is its pane 0; the sink's sets of the window are 0 (a), 1 (b and c,
    // one bundle), and 2, the on-time panes of all three keys, fired together when the watermark
    // passed the window, which also expired it (no allowed lateness): last.
    expect(await files()).toEqual({
      [`out${W1}-pane-0-00000-of-00001`]: "a: 1\n",
      [`out${W1}-pane-1-00000-of-00001`]: "b: 2\nc: 3\n",
      [`out${W1}-pane-2-last-00000-of-00001`]: "a: \nb: \nc: \n",
    });
  });

  it("write an element in several windows to each window's set, spread over numShards shards with the header", async () => {
    const p = Pipeline.create(PipelineOptions.create());
    p.apply(
      "Events",
      TestStream.create<string>()
        .addElements({ value: "p", timestamp: T0 + 30_000 }, { value: "q", timestamp: T0 + 40_000 }, { value: "r", timestamp: T0 + 70_000 })
        .advanceWatermarkToInfinity(),
    )
      .apply("Window", WindowInto(SlidingWindows(60_000, 30_000)))
      .apply("Write", WriteToText(join(dir, "s"), { numShards: 2, header: "h" }));
    await p.run();
    const half = (a: number, b: number): string => `${new Date(T0 + a).toISOString()}-${new Date(T0 + b).toISOString()}`;
    // An ungrouped write: each bundle is a set (pane 0 of each window it touched, the watermark
    // not yet past: not last). Shards that received no line are not written (as Beam Java's
    // windowed writes), the others are named "-of-00002" all the same.
    expect(await files()).toEqual({
      [`s${half(0, 60_000)}-pane-0-00000-of-00002`]: "h\np\n",
      [`s${half(0, 60_000)}-pane-0-00001-of-00002`]: "h\nq\n",
      [`s${half(30_000, 90_000)}-pane-0-00000-of-00002`]: "h\np\nr\n",
      [`s${half(30_000, 90_000)}-pane-0-00001-of-00002`]: "h\nq\n",
      [`s${half(60_000, 120_000)}-pane-0-00000-of-00002`]: "h\nr\n",
    });
  });

  it("drop ungrouped elements behind an expired window, counted as droppedDueToLateness", async () => {
    const p = Pipeline.create(PipelineOptions.create());
    p.apply(
      "Events",
      TestStream.create<string>()
        .addElements({ value: "on-time", timestamp: T0 + 1000 })
        .advanceWatermarkTo(T0 + 120_000)
        .addElements({ value: "too-late", timestamp: T0 + 2000 }, { value: "fine", timestamp: T0 + 121_000 })
        .advanceWatermarkToInfinity(),
    )
      .apply("Window", WindowInto(FixedWindows(60_000)))
      .apply("Write", WriteToText(join(dir, "out")));
    const result = await p.run();
    expect(result.metrics.counter("droppedDueToLateness")).toBe(1);
    expect(await files()).toEqual({
      [`out${W1}-pane-0-00000-of-00001`]: "on-time\n",
      [`out2024-01-01T00:02:00.000Z-2024-01-01T00:03:00.000Z-pane-0-00000-of-00001`]: "fine\n",
    });
  });

  it("fail at construction when windowed writes are turned off for an unbounded collection", () => {
    const p = Pipeline.create(PipelineOptions.create());
    const events = p.apply("Events", TestStream.create<string>().addElements("a"));
    const err = thrown(() => events.apply("Write", WriteToText(join(dir, "out"), { windowedWrites: false })));
    expect(err.code).toBe("INVALID_PIPELINE");
    expect(err.message).toMatch(/unbounded collection needs windowed writes .* windowedWrites is false/);
  });

  it("fail before publishing a name twice when the template has no window or pane", async () => {
    const p = Pipeline.create(PipelineOptions.create());
    p.apply("Events", TestStream.create<string>().addElements({ value: "a", timestamp: T0 }).addElements({ value: "b", timestamp: T0 + 1 }).advanceWatermarkToInfinity())
      .apply("Window", WindowInto(FixedWindows(60_000)))
      .apply("Write", WriteToText(join(dir, "out"), { shardNameTemplate: "-SS" }));
    const err = await failure(p.run());
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.message).toMatch(/'Write' would write .*out-00 twice: for window .*, pane 0 and for window .*, pane 1/);
    // The first set was published before the second failed; nothing else is left.
    expect(await files()).toEqual({ "out-00": "a\n" });
  });
});

describe("a failing windowed run", () => {
  it("keeps the sets it published and leaves no file of the set it was writing", async () => {
    const p = Pipeline.create(PipelineOptions.create());
    p.apply(
      "Events",
      TestStream.create<string>()
        .addElements({ value: "a", timestamp: T0 + 1000 })
        .addElements({ value: "b", timestamp: T0 + 2000 }, { value: "boom", timestamp: T0 + 3000 }, { value: "c", timestamp: T0 + 61_000 })
        .advanceWatermarkToInfinity(),
    )
      .apply("Window", WindowInto(FixedWindows(60_000)))
      .apply(
        "Check",
        Map((x: string) => {
          if (x === "boom") throw new Error("boom");
          return x;
        }),
      )
      .apply("Write", WriteToText(join(dir, "out"), { numShards: 3 }));
    const err = await failure(p.run());
    expect(err.message).toMatch(/'Check' failed .*boom/);
    // "b" had reached its set's shard (in the staging directory) when "boom" failed the bundle.
    expect(await files()).toEqual({ [`out${W1}-pane-0-00000-of-00003`]: "a\n" });
  });
});

describe("windowed writes of a bounded collection", () => {
  const input = [
    { value: "a", timestamp: T0 + 1000 },
    { value: "b", timestamp: T0 + 2000 },
    { value: "c", timestamp: T0 + 61_000 },
  ];

  for (const mode of [
    { name: "native", runner: new DirectRunner() },
    { name: "composites expanded", runner: new DirectRunner({ nativeComposites: false }) },
  ]) {
    it(`with windowedWrites: true write one set per window, pane-0-last (${mode.name})`, async () => {
      const p = Pipeline.create(PipelineOptions.create());
      p.apply("Create", Create.timestamped(input))
        .apply("Window", WindowInto(FixedWindows(60_000)))
        .apply("Write", WriteToText(join(dir, "out"), { windowedWrites: true, fileNameSuffix: ".csv", header: "letter" }));
      await mode.runner.run(p);
      const got = await files();
      for (const [name, text] of Object.entries(got)) got[name] = text.split("\n").sort().join("\n");
      expect(got).toEqual({
        [`out${W1}-pane-0-last-00000-of-00001.csv`]: "\na\nb\nletter",
        [`out${W2}-pane-0-last-00000-of-00001.csv`]: "\nc\nletter",
      });
    });
  }

  it("without windowedWrites write one set for the whole collection, as before", async () => {
    const p = Pipeline.create(PipelineOptions.create());
    p.apply("Create", Create.timestamped(input))
      .apply("Window", WindowInto(FixedWindows(60_000)))
      .apply("Write", WriteToText(join(dir, "out"), { numShards: 2 }));
    await p.run();
    expect(Object.keys(await files())).toEqual(["out-00000-of-00002", "out-00001-of-00002"]);
    expect(await outputLines(join(dir, "out"))).toEqual(["a", "b", "c"]);
  });

  it("keep a bounded number of files open: many windows, each file reopened to append, its header once", async () => {
    const windows = 200;
    const elements = [0, 1].flatMap((round) => Array.from({ length: windows }, (_, w) => ({ value: `w${w}-${round}`, timestamp: T0 + w * 60_000 + round })));
    const p = Pipeline.create(PipelineOptions.create());
    p.apply("Create", Create.timestamped(elements))
      .apply("Window", WindowInto(FixedWindows(60_000)))
      .apply("Write", WriteToText(join(dir, "out"), { windowedWrites: true, header: "h" }));
    await p.run();
    const got = await files();
    expect(Object.keys(got)).toHaveLength(windows);
    const first = `out${W1}-pane-0-last-00000-of-00001`;
    expect(got[first]).toBe("h\nw0-0\nw0-1\n");
    for (const text of Object.values(got)) expect(text).toMatch(/^h\nw(\d+)-0\nw\1-1\n$/);
  });

  /** Groups of one key per bundle (bundleSize 1): a window's lines arrive over several bundles. */
  const grouped = (p: Pipeline, keys: string[]) =>
    p
      .apply("Create", Create.timestamped(keys.map((k, i) => ({ value: [k, `${k}${i}`] as [string, string], timestamp: T0 + 1000 + i }))))
      .apply("Window", WindowInto(FixedWindows(60_000)))
      .apply("Group", GroupByKey<string, string>());

  it("write a window's lines from several bundles into its one set", async () => {
    const p = Pipeline.create(PipelineOptions.create());
    grouped(p, ["a", "b", "c"]).apply("Format", Map(format)).apply("Write", WriteToText(join(dir, "out"), { windowedWrites: true }));
    await new DirectRunner({ bundleSize: 1 }).run(p);
    const got = await files();
    expect(Object.keys(got)).toEqual([`out${W1}-pane-0-last-00000-of-00001`]);
    expect(await outputLines(join(dir, "out"))).toEqual(["a: a0", "b: b1", "c: c2"]);
  });

  it("publish nothing when the run fails, even after bundles of a window were written", async () => {
    const p = Pipeline.create(PipelineOptions.create());
    grouped(p, ["a", "b", "boom"])
      .apply(
        "Check",
        Map(([k, vs]: [string, Iterable<string>]) => {
          if (k === "boom") throw new Error("boom");
          return format([k, vs]);
        }),
      )
      .apply("Write", WriteToText(join(dir, "out"), { windowedWrites: true }));
    const err = await failure(new DirectRunner({ bundleSize: 1 }).run(p));
    expect(err.message).toMatch(/'Check' failed .*boom/);
    expect(await files()).toEqual({});
  });
});
