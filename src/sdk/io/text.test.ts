import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ProcessContext } from "../dofn.js";
import { GLOBAL_WINDOW_MAX_TIMESTAMP, MAX_TIMESTAMP, MIN_TIMESTAMP } from "../time.js";
import { GLOBAL_WINDOW, IntervalWindow, PANE_ON_TIME_ONLY, type PaneInfo } from "../windowing/window.js";
import { type FileRange, formatInstant, formatLine, formatPane, formatWindow, matchFiles, rangeBytes, ReadLinesFn, splitFiles, TextSink } from "./text.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "sluice-text-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readLines(path: string | FileRange, skipHeaderLines = 0): Promise<string[]> {
  const out: string[] = [];
  const ctx = { output: (l: string) => void out.push(l), flush: async () => undefined } as unknown as ProcessContext<string>;
  await new ReadLinesFn({ skipHeaderLines }).process(path, ctx);
  return out;
}

/** The lines of `path` read as the ranges cut at `cuts` (ascending offsets), concatenated. */
async function readCut(path: string, cuts: readonly number[], skipHeaderLines = 0): Promise<string[]> {
  const bounds = [0, ...cuts];
  const out: string[] = [];
  for (let i = 0; i < bounds.length; i++) {
    const range: FileRange = i + 1 < bounds.length ? { path, start: bounds[i]!, end: bounds[i + 1]! } : { path, start: bounds[i]! };
    out.push(...(await readLines(range, skipHeaderLines)));
  }
  return out;
}

describe("ReadLinesFn", () => {
  it.each([
    { name: "LF", text: "a\nb\n", want: ["a", "b"] },
    { name: "CRLF", text: "a\r\nb\r\n", want: ["a", "b"] },
    { name: "no final newline", text: "a\nb", want: ["a", "b"] },
    { name: "final CR without LF", text: "a\nb\r", want: ["a", "b"] },
    { name: "empty lines kept", text: "\n\na\n", want: ["", "", "a"] },
    { name: "empty file", text: "", want: [] },
    { name: "BOM dropped", text: "\uFEFFa\n", want: ["a"] },
    { name: "lone CR inside a line stays", text: "a\rb\n", want: ["a\rb"] },
  ])("$name", async ({ text, want }) => {
    const f = join(dir, "f.txt");
    await writeFile(f, text);
    expect(await readLines(f)).toEqual(want);
  });

  it("streams a multi-chunk file with multibyte characters and CRLF split across chunk boundaries", async () => {
    const lines = Array.from({ length: 60_000 }, (_, i) => `${i} δέλτα 🚀 ${"x".repeat(i % 50)}`);
    const f = join(dir, "big.txt");
    await writeFile(f, lines.join("\r\n"));
    expect(await readLines(f)).toEqual(lines);
  });

  it("reads lines around the size decoded at a time (32 KiB) and the read chunk (64 KiB) the same", async () => {
    const sizes = [1, (32 << 10) - 2, (32 << 10) - 1, 32 << 10, (32 << 10) + 1, 5, (64 << 10) - 3, (64 << 10) + 7, 40_000, 3, 100_000, 0, 17];
    const lines = sizes.flatMap((n, i) => [`${i}:${"ab€".repeat(Math.floor(n / 3))}`, "x".repeat(n), `é${i}`]);
    for (const eol of ["\n", "\r\n"]) {
      const f = join(dir, `pieces-${eol.length}.txt`);
      await writeFile(f, lines.join(eol) + eol);
      expect(await readLines(f)).toEqual(lines);
      expect(await readCut(f, [70_000, 200_000, 200_001])).toEqual(lines);
    }
  });

  it("skips header lines per file", async () => {
    const f = join(dir, "h.csv");
    await writeFile(f, "h1\nh2\nrow\n");
    expect(await readLines(f, 2)).toEqual(["row"]);
  });

  it("reads every line exactly once whatever byte ranges the file is cut into", async () => {
    const texts = ["a\nbb\n\nccc\r\nd", "\uFEFFab\r\n\r\nc\n", "\n\n\n", "x", "héllo\nwörld\n🚀\n", "h1\nh2\nr1\nr2\n"];
    for (const [i, text] of texts.entries()) {
      const f = join(dir, `cut${i}.txt`);
      await writeFile(f, text);
      const size = Buffer.byteLength(text);
      for (const skip of [0, 2]) {
        const whole = await readLines(f, skip);
        for (let a = 0; a <= size; a++) {
          expect(await readCut(f, [a], skip), `${JSON.stringify(text)} cut at ${a}, skip ${skip}`).toEqual(whole);
          for (let b = a; b <= size; b += 2) expect(await readCut(f, [a, b], skip), `${JSON.stringify(text)} cut at ${a},${b}`).toEqual(whole);
        }
      }
    }
  });

  it("reads ranges across read chunks and long lines, and splits files into ranges that cover them", async () => {
    let seed = 7;
    const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const lines = Array.from({ length: 40_000 }, (_, i) => `${i} ${"é".repeat(rand(3) === 0 ? rand(400) : rand(20))}`);
    lines[20_000] = "L".repeat(3 << 20); // a line longer than a read chunk and than a range
    const f = join(dir, "ranges.txt");
    await writeFile(f, lines.join("\n") + "\n");
    const size = (await readFile(f)).length;
    const cuts = [...new Set([1 << 20, (1 << 20) + 1, 2_000_000, 3_500_000, 3_500_001, size - 1].filter((c) => c < size))].sort((x, y) => x - y);
    expect(await readCut(f, cuts)).toEqual(lines);
    const ranges = splitFiles([f]);
    expect(ranges.length).toBe(Math.ceil(size / rangeBytes(size)));
    const got: string[] = [];
    for (const r of ranges) got.push(...(await readLines(r)));
    expect(got).toEqual(lines);
    expect(splitFiles([join(dir, "missing.gz")].slice(0, 0))).toEqual([]);
  });

  it("reports a corrupt gzip file naming it", async () => {
    const f = join(dir, "bad.gz");
    await writeFile(f, "not gzip at all");
    await expect(readLines(f)).rejects.toThrow(/Reading .*bad\.gz failed/);
  });
});

describe("matchFiles", () => {
  it("expands globs sorted and names a pattern that matches nothing", async () => {
    await writeFile(join(dir, "b.txt"), "");
    await writeFile(join(dir, "a.txt"), "");
    await writeFile(join(dir, "c.log"), "");
    expect(matchFiles(join(dir, "*.txt"))).toEqual([join(dir, "a.txt"), join(dir, "b.txt")]);
    expect(matchFiles(join(dir, "c.log"))).toEqual([join(dir, "c.log")]);
    expect(() => matchFiles(join(dir, "*.csv"))).toThrow(/No files match/);
  });
});

describe("TextSink", () => {
  it("names shards with Beam's template", () => {
    const s = new TextSink("/out/words", {});
    expect(s.shardName(0, 1)).toBe("/out/words-00000-of-00001");
    const t = new TextSink("/out/w", { shardNameTemplate: "_S_of_NN", fileNameSuffix: ".txt" });
    expect(t.shardName(3, 12)).toBe("/out/w_3_of_12.txt");
  });
  it("rejects a template with two runs of S", () => {
    expect(() => new TextSink("/o", { shardNameTemplate: "-S-S" })).toThrow(/more than one run/);
  });
  it("commits temporary shards to final names, and abort leaves nothing", async () => {
    const sink = new TextSink(join(dir, "out"), { numShards: 2 });
    const staging = sink.prepare();
    const a = sink.openTemp(staging, 0);
    const b = sink.openTemp(staging, 1);
    a.write("x");
    b.write("y");
    await Promise.all([a.close(), b.close()]);
    expect(sink.commit(staging, [a.path, b.path])).toEqual([join(dir, "out-00000-of-00002"), join(dir, "out-00001-of-00002")]);
    expect((await readdir(dir)).sort()).toEqual(["out-00000-of-00002", "out-00001-of-00002"]);
    expect(await readFile(join(dir, "out-00001-of-00002"), "utf8")).toBe("y\n");

    const other = new TextSink(join(dir, "other"), {});
    const t2 = other.prepare();
    const c = other.openTemp(t2, 0);
    c.write("z");
    await c.close();
    other.abort(t2);
    expect((await readdir(dir)).sort()).toEqual(["out-00000-of-00002", "out-00001-of-00002"]);
  });
});

describe("formatLine", () => {
  it("writes strings as they are, scalars by String(), the rest as JSON", () => {
    const cases: [unknown, string][] = [
      ["s", "s"],
      [1.5, "1.5"],
      [10n, "10"],
      [true, "true"],
      [["a", 1], '["a",1]'],
      [{ k: 2n }, '{"k":"2"}'],
    ];
    for (const [v, want] of cases) expect(formatLine(v)).toBe(want);
  });
});

describe("windowed file names (Beam Java's DefaultFilenamePolicy)", () => {
  const pane = (p: Partial<PaneInfo>): PaneInfo => ({ isFirst: false, isLast: false, timing: "EARLY", index: 0, onTimeIndex: -1, ...p });

  it("formats instants as Joda's Instant.toString over Beam's whole range", () => {
    expect(formatInstant(0)).toBe("1970-01-01T00:00:00.000Z");
    expect(formatInstant(Date.UTC(2024, 1, 29, 23, 59, 59, 7))).toBe("2024-02-29T23:59:59.007Z");
    expect(formatInstant(-1)).toBe("1969-12-31T23:59:59.999Z");
    expect(formatInstant(Date.UTC(-1, 11, 31))).toBe("-0001-12-31T00:00:00.000Z");
    expect(formatInstant(Date.UTC(12345, 0, 1))).toBe("12345-01-01T00:00:00.000Z");
    // Beam's bounds, as Beam Java prints BoundedWindow.TIMESTAMP_MIN_VALUE / MAX_VALUE and the global window's end.
    expect(formatInstant(MIN_TIMESTAMP)).toBe("-290308-12-21T19:59:05.225Z");
    expect(formatInstant(MAX_TIMESTAMP)).toBe("294247-01-10T04:00:54.775Z");
    expect(formatInstant(GLOBAL_WINDOW_MAX_TIMESTAMP)).toBe("294247-01-09T04:00:54.775Z");
    for (const t of [Date.UTC(1900, 0, 1), Date.UTC(2000, 2, 1, 12), 951_782_400_000, 4_102_444_800_123]) expect(formatInstant(t)).toBe(new Date(t).toISOString());
  });

  it("formats windows and panes", () => {
    expect(formatWindow(GLOBAL_WINDOW)).toBe("GlobalWindow");
    expect(formatWindow(new IntervalWindow(0, 60_000))).toBe("1970-01-01T00:00:00.000Z-1970-01-01T00:01:00.000Z");
    expect(formatPane(pane({ index: 0 }))).toBe("pane-0");
    expect(formatPane(pane({ index: 1, timing: "ON_TIME" }))).toBe("pane-1");
    expect(formatPane(pane({ index: 2, timing: "LATE" }))).toBe("pane-2-late");
    expect(formatPane(pane({ index: 3, timing: "LATE", isLast: true }))).toBe("pane-3-late-last");
    expect(formatPane(PANE_ON_TIME_ONLY)).toBe("pane-0-last");
  });

  it("names windowed shards with the windowed default template, and user templates in one pass", () => {
    const w = new IntervalWindow(0, 60_000);
    const s = new TextSink("/out/words", { windowedWrites: true });
    expect(s.template).toBe("W-P-SSSSS-of-NNNNN");
    expect(s.windowedShardName(1, 3, w, pane({ index: 2, timing: "LATE" }))).toBe("/out/words1970-01-01T00:00:00.000Z-1970-01-01T00:01:00.000Z-pane-2-late-00001-of-00003");
    expect(s.windowedShardName(0, 1, GLOBAL_WINDOW, PANE_ON_TIME_ONLY)).toBe("/out/wordsGlobalWindow-pane-0-last-00000-of-00001");
    // Every single W and P is replaced, and what replaced them is not scanned again (GlobalWindow has a W, pane strings none).
    const t = new TextSink("/out/w", { windowedWrites: true, shardNameTemplate: "-SS-W-PP", fileNameSuffix: ".txt" });
    expect(t.windowedShardName(4, 5, GLOBAL_WINDOW, pane({ index: 1 }))).toBe("/out/w-04-GlobalWindow-pane-1pane-1.txt");
    // Without windowed writes, W and P stay (Beam Java's unwindowedFilename).
    expect(new TextSink("/out/w", { shardNameTemplate: "-W-P-S" }).shardName(2, 3)).toBe("/out/w-W-P-2");
    expect(new TextSink("/out/w", {}).template).toBe("-SSSSS-of-NNNNN");
  });
});
