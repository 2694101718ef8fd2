/**
 * Text files: ReadFromText (globs, gzip, header lines, CRLF, UTF-8) and WriteToText (Beam's shard
 * naming; written to temporary files and renamed only when the run succeeds).
 */
import { randomUUID } from "node:crypto";
import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { StringDecoder } from "node:string_decoder";
import { createGunzip } from "node:zlib";
import { globSync, isDynamicPattern } from "tinyglobby";
import { SluiceError } from "../../internal/errors.js";
import type { DoFn } from "../dofn.js";
import { PBegin, PCollection } from "../pvalue.js";
import { type ExpandContext, PTransform } from "../transform.js";
import { ToList } from "../transforms/combine.js";
import { FlatMap, Impulse, Map, ParDo } from "../transforms/core.js";
import { GroupByKey } from "../transforms/grouping.js";
import { Reshuffle, WindowInto } from "../transforms/util.js";
import { GlobalWindows } from "../windowing/windowfns.js";

export type Compression = "auto" | "gzip" | "uncompressed";

export interface ReadFromTextOptions {
  /** Lines to skip at the start of every file (default 0). */
  readonly skipHeaderLines?: number;
  /** `auto` (default) decompresses files ending in `.gz`. */
  readonly compression?: Compression;
}

/** The files a pattern matches, sorted; a pattern matching nothing is an error naming it. */
export function matchFiles(pattern: string): string[] {
  const abs = resolve(pattern);
  const files = isDynamicPattern(pattern)
    ? globSync(pattern, { absolute: true, onlyFiles: true, expandDirectories: false, dot: true })
    : globSync(pattern.replace(/\\/g, "/"), { absolute: true, onlyFiles: true, expandDirectories: false, dot: true });
  if (files.length === 0) {
    throw new SluiceError("NOT_FOUND", `No files match '${pattern}' (resolved to ${abs})`, {
      hint: "Check the path and glob (*, **, ?, [abc], {a,b}); patterns are relative to the working directory.",
    });
  }
  return files.sort();
}

function isGzip(path: string, compression: Compression): boolean {
  return compression === "gzip" || (compression === "auto" && path.endsWith(".gz"));
}

/** Streams the lines of one file: `\n` and `\r\n` end lines; a last line without newline counts. */
export class ReadLinesFn implements DoFn<string, string> {
  constructor(private readonly options: ReadFromTextOptions = {}) {}

  async process(path: string, ctx: Parameters<DoFn<string, string>["process"]>[1]): Promise<void> {
    const skip = this.options.skipHeaderLines ?? 0;
    const raw = createReadStream(path, { highWaterMark: 1 << 20 });
    const source = isGzip(path, this.options.compression ?? "auto") ? raw.pipe(createGunzip()) : raw;
    raw.on("error", (err) => source.destroy(err));
    const decoder = new StringDecoder("utf8");
    let rest = "";
    let lineNo = 0;
    let first = true;
    try {
      for await (const chunk of source as AsyncIterable<Buffer>) {
        let text = rest + decoder.write(chunk);
        if (first && text.length > 0) {
          if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
          first = false;
        }
        let start = 0;
        let nl = text.indexOf("\n", start);
        while (nl !== -1) {
          const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
          if (lineNo++ >= skip) ctx.output(text.slice(start, end));
          start = nl + 1;
          nl = text.indexOf("\n", start);
        }
        rest = start === 0 ? text : text.slice(start);
        await ctx.flush();
      }
    } catch (err) {
      throw new SluiceError("IO_ERROR", `Reading ${path} failed: ${(err as Error).message}`, {
        hint: isGzip(path, this.options.compression ?? "auto")
          ? "Check that the file is gzip-compressed (its name ends in .gz) and readable."
          : "Check that the file exists and is readable.",
        cause: err,
      });
    }
    rest += decoder.end();
    if (rest.length > 0) {
      const line = rest.endsWith("\r") ? rest.slice(0, -1) : rest;
      if (lineNo++ >= skip) ctx.output(line);
    }
  }
}

class ReadFromTextTransform extends PTransform<PBegin, PCollection<string>> {
  constructor(
    private readonly pattern: string,
    private readonly options: ReadFromTextOptions,
  ) {
    super("ReadFromText");
  }
  expand(input: PBegin, ctx: ExpandContext): PCollection<string> {
    const pattern = this.pattern;
    if (typeof pattern !== "string" || pattern === "") {
      ctx.fail("ReadFromText needs a file pattern", "Pass a path or glob, e.g. ReadFromText('data/*.txt').");
    }
    try {
      matchFiles(pattern);
    } catch (err) {
      const e = SluiceError.from(err);
      ctx.fail(e.message, e.hint ?? "");
    }
    return input.pipeline
      .apply("Impulse", new Impulse())
      .apply("ExpandPattern", FlatMap((_: Uint8Array) => matchFiles(pattern)))
      .apply("Reshuffle", Reshuffle<string>())
      .apply("ReadLines", ParDo(new ReadLinesFn(this.options)));
  }
}

/** Lines of the text files matching `pattern` (a path or glob; `.gz` files are decompressed). */
export function ReadFromText(pattern: string, options: ReadFromTextOptions = {}): PTransform<PBegin, PCollection<string>> {
  return new ReadFromTextTransform(pattern, options);
}

export interface WriteToTextOptions {
  /** Number of output files; 0 (default) lets the runner choose (the direct runner writes 1). */
  readonly numShards?: number;
  /** Beam's template: S = shard index, N = shard count, zero-padded to the letters' count. Default `-SSSSS-of-NNNNN`. */
  readonly shardNameTemplate?: string;
  /** Appended to every file name, e.g. `.txt`. */
  readonly fileNameSuffix?: string;
  /** A line written at the top of every file. */
  readonly header?: string;
}

/** How elements become lines: strings as they are, numbers and booleans by String(), others as JSON. */
export function formatLine(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") return String(value);
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)) ?? String(value);
}

/** Where and how a WriteToText writes; shared by the direct runner's native sink and the portable expansion. */
export class TextSink {
  readonly prefix: string;
  readonly numShards: number;
  readonly template: string;
  readonly suffix: string;
  readonly header: string | undefined;

  constructor(prefix: string, options: WriteToTextOptions) {
    this.prefix = resolve(prefix);
    this.numShards = options.numShards ?? 0;
    this.template = options.shardNameTemplate ?? "-SSSSS-of-NNNNN";
    this.suffix = options.fileNameSuffix ?? "";
    this.header = options.header;
    if (!Number.isInteger(this.numShards) || this.numShards < 0) {
      throw new RangeError(`WriteToText numShards must be a non-negative integer, got ${String(options.numShards)}`);
    }
    if ((this.template.match(/S+/g) ?? []).length > 1 || (this.template.match(/N+/g) ?? []).length > 1) {
      throw new RangeError(`shardNameTemplate '${this.template}' has more than one run of S or N`);
    }
  }

  /** The final name of shard `index` of `count`: `prefix-00000-of-00003.suffix`. */
  shardName(index: number, count: number): string {
    const name = this.template
      .replace(/S+/, (m) => String(index).padStart(m.length, "0"))
      .replace(/N+/, (m) => String(count).padStart(m.length, "0"));
    return `${this.prefix}${name}${this.suffix}`;
  }

  /** A fresh temporary directory beside the outputs; fails (naming the path) when it cannot be created. */
  async prepare(): Promise<string> {
    const dir = dirname(this.prefix);
    const temp = join(dir, `.sluice-temp-${basename(this.prefix)}-${randomUUID()}`);
    try {
      await mkdir(temp, { recursive: true });
    } catch (err) {
      throw new SluiceError("IO_ERROR", `Cannot write to '${dir}' for WriteToText('${this.prefix}'): ${(err as Error).message}`, {
        hint: "Choose an output prefix in a writable directory (--output).",
        cause: err,
      });
    }
    return temp;
  }

  /** Opens a temporary shard file and writes the header. */
  openTemp(tempDir: string, index: number): ShardWriter {
    return new ShardWriter(join(tempDir, `shard-${index}`), this.header);
  }

  /** Renames finished temporary shards to their final names and removes the temporary directory. */
  async commit(tempDir: string, temps: readonly string[]): Promise<string[]> {
    const finals: string[] = [];
    for (let i = 0; i < temps.length; i++) {
      const final = this.shardName(i, temps.length);
      await rename(temps[i]!, final);
      finals.push(final);
    }
    await rm(tempDir, { recursive: true, force: true });
    return finals;
  }

  async abort(tempDir: string): Promise<void> {
    await rm(tempDir, { recursive: true, force: true });
  }
}

/** Buffered writes of lines to one file, honouring the stream's backpressure. */
export class ShardWriter {
  private readonly stream: WriteStream;
  private buffer = "";
  private failure: Error | undefined;

  constructor(
    readonly path: string,
    header: string | undefined,
  ) {
    this.stream = createWriteStream(path);
    this.stream.on("error", (err) => {
      this.failure = err;
    });
    if (header !== undefined) this.buffer = `${header}\n`;
  }

  /** Adds a line; returns a promise only when the caller should wait for the disk. */
  write(line: string): Promise<void> | undefined {
    this.buffer += line;
    this.buffer += "\n";
    if (this.buffer.length < 1 << 16) return undefined;
    return this.drain();
  }

  private drain(): Promise<void> | undefined {
    if (this.failure) throw this.failure;
    const ok = this.stream.write(this.buffer);
    this.buffer = "";
    if (ok) return undefined;
    return new Promise((res, rej) => {
      const onDrain = (): void => {
        this.stream.off("error", onError);
        res();
      };
      const onError = (err: Error): void => {
        this.stream.off("drain", onDrain);
        rej(err);
      };
      this.stream.once("drain", onDrain);
      this.stream.once("error", onError);
    });
  }

  async close(): Promise<void> {
    if (this.buffer.length > 0) await this.drain();
    await new Promise<void>((res, rej) => {
      if (this.failure) {
        rej(this.failure);
        return;
      }
      this.stream.end((err?: Error | null) => (err ? rej(err) : res()));
    });
  }
}

class WriteToTextTransform extends PTransform<PCollection<unknown>, void> {
  constructor(
    private readonly prefix: string,
    private readonly options: WriteToTextOptions,
  ) {
    super("WriteToText");
  }
  expand(input: PCollection<unknown>, ctx: ExpandContext): void {
    if (typeof this.prefix !== "string" || this.prefix === "") {
      ctx.fail("WriteToText needs an output prefix", "Pass a path prefix, e.g. WriteToText('out/words') or from --output.");
    }
    let sink: TextSink;
    try {
      sink = new TextSink(this.prefix, this.options);
    } catch (err) {
      ctx.fail((err as Error).message, "Fix the WriteToText options.");
    }
    ctx.composite({ kind: "write_text", sink });
    // Runners that do not write natively: shard → group → write temp files → rename all at the end.
    const shards = sink.numShards || 1;
    const written = input
      .apply("Unwindow", WindowInto(GlobalWindows()))
      .apply("Shard", Map((v: unknown): [number, string] => [nextShard(shards), formatLine(v)]))
      .apply("GroupByShard", GroupByKey<number, string>())
      .apply(
        "WriteShards",
        ParDo<[number, string[]], [number, string]>({
          async process([shard, lines]) {
            const temp = `${sink.shardName(shard, shards)}.sluice-temp-${randomUUID()}`;
            await mkdir(dirname(temp), { recursive: true });
            const w = new ShardWriter(temp, sink.header);
            for (const l of lines) await w.write(l);
            await w.close();
            return [[shard, temp]];
          },
        }),
      )
      .apply("CollectShards", ToList<[number, string]>());
    written.apply(
      "Finalize",
      ParDo<[number, string][], never>({
        async process(temps) {
          const byShard = new globalThis.Map(temps);
          for (let i = 0; i < shards; i++) {
            const final = sink.shardName(i, shards);
            const temp = byShard.get(i);
            if (temp === undefined) {
              const w = new ShardWriter(final, sink.header);
              await w.close();
            } else {
              await rename(temp, final);
            }
          }
        },
      }),
    );
  }
}

let roundRobin = 0;
/** Spreads elements over shards in turn. */
function nextShard(shards: number): number {
  roundRobin = (roundRobin + 1) % shards;
  return roundRobin;
}

/**
 * Writes elements as lines to `prefix-SSSSS-of-NNNNN<suffix>` files. Files appear only when the
 * run succeeds; a failed run leaves no final-named files.
 */
export function WriteToText(prefix: string, options: WriteToTextOptions = {}): PTransform<PCollection<unknown>, void> {
  return new WriteToTextTransform(prefix, options);
}

