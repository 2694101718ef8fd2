/**
 * ReadFromText's dialect (see the doc comment of src/sdk/io/text.ts), invalid UTF-8, long lines and
 * IO errors, through real pipelines on the direct runner.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Create, DirectRunner, Map, Pipeline, PipelineOptions, ReadFromText, type ReadFromTextOptions, SluiceError } from "sluice";
import { ReadLinesFn } from "../src/sdk/io/text.js";
import type { ProcessContext } from "../src/sdk/dofn.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "sluice-textio-read-"));
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

/** Runs ReadFromText(pattern) and returns the lines it read (sorted) and the run's metrics. */
async function read(pattern: string, options: ReadFromTextOptions = {}, flags: string[] = []) {
  const p = Pipeline.create(PipelineOptions.fromArgs(flags));
  const lines: string[] = [];
  p.apply("Read", ReadFromText(pattern, options)).apply("Collect", Map((l: string) => void lines.push(l)));
  const result = await new DirectRunner().run(p);
  return { lines: lines.sort(), result };
}

async function failure(run: Promise<unknown>): Promise<SluiceError> {
  const err = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeDefined();
  return SluiceError.from(err);
}

/** The first SluiceError in err's cause chain with `code`. */
function withCode(err: unknown, code: string): SluiceError | undefined {
  for (let e = err; e !== undefined; e = (e as Error).cause) {
    if (SluiceError.is(e) && e.code === code) return e;
    if (!(e instanceof Error)) break;
  }
  return undefined;
}

describe("dialect", () => {
  it.each([
    { name: "BOM dropped at file start only", bytes: "\uFEFFbom\nx\uFEFFy\n", want: ["bom", "x\uFEFFy"] },
    { name: "bare CR inside a line is data", bytes: "a\rb\nc\r\n", want: ["a\rb", "c"] },
    { name: "bare CR at end of file dropped", bytes: "a\r\nb\r", want: ["a", "b"] },
    { name: "CR CR LF keeps one CR", bytes: "a\r\r\n", want: ["a\r"] },
    { name: "final LF makes no empty line", bytes: "a\n\n", want: ["", "a"] },
  ])("$name", async ({ bytes, want }) => {
    const f = join(dir, "f.txt");
    await writeFile(f, bytes);
    expect((await read(f)).lines).toEqual([...want].sort());
  });

  it("globs like Beam: * within a segment, ** across, braces, and d/**/x needs a directory between", async () => {
    await mkdir(join(dir, "d", "sub", "deep"), { recursive: true });
    await writeFile(join(dir, "d", "top.txt"), "top\n");
    await writeFile(join(dir, "d", "other.log"), "log\n");
    await writeFile(join(dir, "d", "sub", "s.txt"), "sub\n");
    await writeFile(join(dir, "d", "sub", "deep", "x.txt"), "deep\n");
    const d = join(dir, "d");
    expect((await read(`${d}/*`)).lines).toEqual(["log", "top"]);
    expect((await read(`${d}/**`)).lines).toEqual(["deep", "log", "sub", "top"]);
    expect((await read(`${d}/**/*.txt`)).lines).toEqual(["deep", "sub"]);
    expect((await read(`${d}/{top,other}.*`)).lines).toEqual(["log", "top"]);
    expect((await read(`${d}/s?b/*.txt`)).lines).toEqual(["sub"]);
    expect((await read(`${d}/[!o]*`)).lines).toEqual(["top"]);
  });

  it("a directory without a trailing separator is an error; with one it means the files directly in it", async () => {
    await mkdir(join(dir, "d", "sub"), { recursive: true });
    await writeFile(join(dir, "d", "a.txt"), "a\n");
    await writeFile(join(dir, "d", "sub", "b.txt"), "b\n");
    const err = await failure(read(join(dir, "d")));
    expect(err.code).toBe("INVALID_PIPELINE");
    expect(err.message).toMatch(/is a directory/);
    expect(err.hint).toMatch(/\/\*\*/);
    expect((await read(`${join(dir, "d")}/`)).lines).toEqual(["a"]);
  });

  it("relative patterns glob only what the user wrote: the working directory's name may hold [ { ? * literally", async () => {
    const odd = join(dir, "proj[old]{x}?*");
    await mkdir(join(odd, "data"), { recursive: true });
    await writeFile(join(odd, "data", "a.txt"), "a\n");
    await writeFile(join(odd, "data", "b.log"), "b\n");
    const was = process.cwd();
    process.chdir(odd);
    try {
      expect((await read("data/*.txt")).lines).toEqual(["a"]);
      expect((await read("./data/{a,b}.*")).lines).toEqual(["a", "b"]);
      expect((await read("data/**")).lines).toEqual(["a", "b"]);
    } finally {
      process.chdir(was);
    }
  });

  it("never reads Sluice's staging directories, staging files or locks", async () => {
    const out = join(dir, "out");
    await mkdir(join(out, ".sluice-temp-words.1-2-abc"), { recursive: true });
    await writeFile(join(out, ".sluice-temp-words.1-2-abc", "shard-0"), "staged\n");
    await writeFile(join(out, ".sluice-temp-words-00000-of-00001-0f0e"), "expansion temp\n");
    await writeFile(join(out, ".sluice-lock-words"), '{"pid":1}\n');
    await writeFile(join(out, "words-00000-of-00001"), "final\n");
    expect((await read(`${out}/*`)).lines).toEqual(["final"]);
    expect((await read(`${out}/**`)).lines).toEqual(["final"]);
    expect((await read(`${out}/`)).lines).toEqual(["final"]);
  });
});

describe("invalid UTF-8", () => {
  const bad = Buffer.concat([Buffer.from("ok\n"), Buffer.from([0xff, 0xfe, 0x61, 0x0a]), Buffer.from("fine \uFFFD real replacement char\n"), Buffer.from([0x62, 0xc3, 0x0a])]);

  it("is replaced, counted in sluice.io/invalid_utf8_lines and warned about once per file", async () => {
    await writeFile(join(dir, "a.txt"), bad);
    await writeFile(join(dir, "b.txt"), bad);
    await writeFile(join(dir, "c.txt"), "clean\n");
    const warnings: string[] = [];
    vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      warnings.push(String(chunk));
      return true;
    });
    const { lines, result } = await read(join(dir, "*.txt"));
    expect(lines.filter((l) => l === "\uFFFD\uFFFDa")).toHaveLength(2);
    expect(lines.filter((l) => l === "b\uFFFD")).toHaveLength(2);
    expect(lines).toContain("fine \uFFFD real replacement char");
    // Two bad lines per file; a real U+FFFD in valid UTF-8 is not counted.
    expect(result.metrics.counter("invalid_utf8_lines", { namespace: "sluice.io" })).toBe(4);
    const utf8Warnings = warnings.filter((w) => w.includes("invalid UTF-8"));
    expect(utf8Warnings).toHaveLength(2);
    expect(utf8Warnings.some((w) => w.includes(join(dir, "a.txt")) && w.includes("2 line(s)") && w.includes("line 2"))).toBe(true);
    expect(utf8Warnings.some((w) => w.includes(join(dir, "c.txt")))).toBe(false);
  });

  it("is an INVALID_DATA error naming file and line with invalidUtf8: 'fail' or --invalid_utf8=fail", async () => {
    const f = join(dir, "a.txt");
    await writeFile(f, bad);
    // One run at a time: a second run started at once could fail before anything awaits it.
    for (const run of [() => read(f, { invalidUtf8: "fail" }), () => read(f, {}, ["--invalid_utf8=fail"])]) {
      const err = withCode(await run().catch((e: unknown) => e), "INVALID_DATA");
      expect(err?.message).toContain(`Line 2 of ${f} is not valid UTF-8`);
      expect(err?.hint).toMatch(/UTF-8/);
    }
  });
});

describe("long lines", () => {
  it("a line over the limit is an error naming the limit, file and line number", async () => {
    const f = join(dir, "long.txt");
    await writeFile(f, `short\n${"x".repeat(5000)}\nafter\n`);
    const err = withCode(await read(f, { maxLineBytes: 1000 }).catch((e: unknown) => e), "INVALID_DATA");
    expect(err?.message).toContain(`Line 2 of ${f} is longer than 1000 bytes`);
    expect(err?.hint).toMatch(/maxLineBytes/);
    // Exactly at the limit is fine, with or without CRLF.
    await writeFile(f, `${"y".repeat(1000)}\r\n${"z".repeat(1000)}`);
    expect((await read(f, { maxLineBytes: 1000 })).lines).toEqual(["y".repeat(1000), "z".repeat(1000)]);
  });

  it("the limit is detected while the line is still streaming in (multi-chunk line)", async () => {
    const f = join(dir, "huge.txt");
    await writeFile(f, "a".repeat(3 << 20));
    const out: string[] = [];
    const ctx = { output: (l: string) => void out.push(l), flush: async () => undefined } as unknown as ProcessContext<string>;
    const err = await new ReadLinesFn({ maxLineBytes: 1 << 20 }, "R").process(f, ctx).catch((e: unknown) => e);
    expect(SluiceError.is(err, "INVALID_DATA")).toBe(true);
    expect((err as Error).message).toMatch(/Line 1 of .*huge\.txt is longer than 1048576 bytes/);
    expect(out).toEqual([]);
  });

  it("reads a ~50 MB single line (with multibyte characters across chunk boundaries) intact", async () => {
    const unit = "abcdefghi\u00e9\u20ac\u{1F680}"; // 1-, 2-, 3- and 4-byte characters
    const long = unit.repeat(Math.ceil((50 << 20) / Buffer.byteLength(unit)));
    const f = join(dir, "one-line.txt");
    await writeFile(f, `${long}\r\nend`);
    const out: string[] = [];
    const ctx = { output: (l: string) => void out.push(l), flush: async () => undefined } as unknown as ProcessContext<string>;
    await new ReadLinesFn().process(f, ctx);
    expect(out).toHaveLength(2);
    expect(out[0]!.length).toBe(long.length);
    expect(out[0] === long).toBe(true);
    expect(out[1]).toBe("end");
  }, 60_000);
});

describe("IO errors", () => {
  it("a file that cannot be read is an IO_ERROR naming the file and the OS error, with an IO hint", async () => {
    await mkdir(join(dir, "looks-like-a-file.txt"));
    const out: string[] = [];
    const ctx = { output: (l: string) => void out.push(l), flush: async () => undefined } as unknown as ProcessContext<string>;
    const err = await new ReadLinesFn({}, "Read/ReadLines").process(join(dir, "looks-like-a-file.txt"), ctx).catch((e: unknown) => e);
    expect(SluiceError.is(err, "IO_ERROR")).toBe(true);
    expect((err as SluiceError).message).toContain(`${join(dir, "looks-like-a-file.txt")} failed: EISDIR`);
    expect((err as SluiceError).message).toContain("Read/ReadLines");
    expect((err as SluiceError).hint).toMatch(/is a directory/);
    expect((err as SluiceError).hint).not.toMatch(/transform's code/);
  });

  it("in a pipeline, the read's IO_ERROR (OS error, file, hint) is kept", async () => {
    // /proc/self/mem is a regular file whose reads fail with EIO.
    const p = Pipeline.create(PipelineOptions.create());
    p.apply("Read", ReadFromText("/proc/self/mem")).apply("Collect", Map((l: string) => l));
    const err = await p.run().catch((e: unknown) => e);
    const io = withCode(err, "IO_ERROR");
    expect(io?.message).toContain("/proc/self/mem failed: EIO");
    expect(io?.message).toContain("Read/ReadLines");
    expect(io?.hint).toMatch(/I\/O error/);
  });

  it("Create + Read of gzip garbage reports the gzip hint", async () => {
    const f = join(dir, "bad.gz");
    await writeFile(f, "not gzip at all");
    const p = Pipeline.create(PipelineOptions.create());
    p.apply("Read", ReadFromText(f)).apply("Collect", Map((l: string) => l));
    p.apply("Other", Create.of([1]));
    const io = withCode(await p.run().catch((e: unknown) => e), "IO_ERROR");
    expect(io?.message).toMatch(/bad\.gz failed: Z_DATA_ERROR/);
    expect(io?.hint).toMatch(/gzip/);
  });
});
