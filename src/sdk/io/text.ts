/**
 * Text files: ReadFromText (globs, gzip, header lines, CRLF, UTF-8) and WriteToText (Beam's shard
 * naming; all-or-nothing outputs, see shards.ts).
 *
 * Sluice's text dialect, chosen against Beam Java (TextIO/TextSource, LocalFileSystem) and Beam
 * Python 2.73 (textio, LocalFileSystem; checked by running it on the DirectRunner):
 *
 * - Lines end at `\n` or `\r\n` (Python; Java also splits at a bare `\r`). A bare `\r` inside a
 *   line is data and stays (Python). A bare `\r` at the very end of the file (no `\n` after it) is
 *   dropped, as the end of a `\r\n` file that lost its final `\n` (Java drops it too; Python keeps
 *   it). The last line needs no newline; an empty file has no lines; a final `\n` does not make an
 *   empty last line (both).
 * - A UTF-8 BOM (EF BB BF) is dropped at the start of a file only (Java; Python keeps it); a
 *   U+FEFF anywhere else is data.
 * - Invalid UTF-8 is decoded with U+FFFD (Java), counted in the counter
 *   `sluice.io/invalid_utf8_lines` and warned about once per file on stderr. `invalidUtf8: "fail"`
 *   (or the pipeline flag `--invalid_utf8=fail`) makes it an INVALID_DATA error naming file and
 *   line, which is Python's behaviour (UnicodeDecodeError).
 * - A line longer than `maxLineBytes` (default: V8's maximum string length, 2^29-24 on 64-bit) is
 *   an INVALID_DATA error naming the limit, file and line number. Long lines are read in linear
 *   time (chunks are joined once, at the newline).
 * - Globs (both Beams): `*` and `?` stay within one path segment; `**` matches across segments, so
 *   `d/**` is every file under `d` and `d/**\/*.txt` needs at least one directory between (it does
 *   not match `d/a.txt`). `[abc]`/`[!abc]` classes. Braces `{a,b}` are alternatives (Java's glob
 *   supports them; Python matches them literally and finds nothing).
 * - A directory named without a trailing separator (`d`) is an error (both Beams fail reading it,
 *   IsADirectoryError); `d/` means the files directly in `d` (Python). Only files are matched.
 * - Sluice's own staging files and locks (`.sluice-temp-*`, `.sluice-lock-*`) are never matched, so
 *   `out/*` does not read a crashed or running write's temporaries.
 * - `--output dir/` (a prefix ending in a separator) or a prefix naming an existing directory
 *   writes inside it: `dir/-00000-of-00001`, the name Beam Python gives a prefix `dir/` (its shard
 *   template appended to an empty base name). For an existing directory named without the
 *   separator Beam writes `dir-00000-of-00001` beside it; Sluice writes inside instead, so a
 *   directory is always a place to write into and never a sibling name's stem.
 * - A location that cannot be written (`/proc/x/y`, a path through a file) fails before any
 *   element is processed, with IO_ERROR naming the path.
 */
import { randomUUID } from "node:crypto";
import { createReadStream, createWriteStream, readdirSync, statSync, type WriteStream } from "node:fs";
import { open, rename } from "node:fs/promises";
import { isUtf8, constants as bufferConstants } from "node:buffer";
import { basename, dirname, isAbsolute, join, posix as posixPath, relative, resolve, sep } from "node:path";
import { createGunzip } from "node:zlib";
import { globSync, isDynamicPattern } from "tinyglobby";
import { SluiceError } from "../../internal/errors.js";
import type { DoFn } from "../dofn.js";
import { Metrics } from "../metrics.js";
import { PBegin, PCollection } from "../pvalue.js";
import { type ExpandContext, PTransform } from "../transform.js";
import { ToList } from "../transforms/combine.js";
import { FlatMap, Impulse, Map, ParDo } from "../transforms/core.js";
import { GroupByKey } from "../transforms/grouping.js";
import { Reshuffle, WindowInto } from "../transforms/util.js";
import { timestampToMillis, type Timestamp } from "../time.js";
import { type BoundedWindow, GlobalWindow, IntervalWindow, type PaneInfo } from "../windowing/window.js";
import { GlobalWindows } from "../windowing/windowfns.js";
import { DefaultTrigger } from "../windowing/triggers.js";
import { ioError, isSluiceInternal, makeDirs, ShardStaging, TEMP_MARK } from "./shards.js";

export type Compression = "auto" | "gzip" | "uncompressed";

/** What ReadFromText does with bytes that are not UTF-8. */
export type InvalidUtf8 = "replace" | "fail";

/** V8's maximum string length: no line longer than this (in bytes) can be a string. */
export const MAX_LINE_BYTES = bufferConstants.MAX_STRING_LENGTH;

export interface ReadFromTextOptions {
  /** Lines to skip at the start of every file (default 0). */
  readonly skipHeaderLines?: number;
  /** `auto` (default) decompresses files ending in `.gz`. */
  readonly compression?: Compression;
  /**
   * `replace` (default): invalid UTF-8 becomes U+FFFD, counted in `sluice.io/invalid_utf8_lines`
   * and warned about once per file. `fail`: an INVALID_DATA error naming file and line. Default
   * from the pipeline flag `--invalid_utf8`.
   */
  readonly invalidUtf8?: InvalidUtf8;
  /** Longest line accepted, in bytes (default and maximum MAX_LINE_BYTES). */
  readonly maxLineBytes?: number;
}

/** A glob as Beam's file systems match it: `*`, `?` within a segment, `**` across, classes, braces. */
export function globToRegExp(pattern: string): RegExp {
  let re = "";
  let depth = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") {
      if (pattern[i + 1] === "*") {
        re += ".*";
        i++;
      } else {
        re += "[^/]*";
      }
    } else if (c === "?") {
      re += "[^/]";
    } else if (c === "[") {
      const close = pattern.indexOf("]", i + 2);
      if (close === -1) {
        re += "\\[";
      } else {
        let body = pattern.slice(i + 1, close);
        if (body.startsWith("!")) body = `^${body.slice(1)}`;
        re += `[${body.replace(/\\/g, "\\\\")}]`;
        i = close;
      }
    } else if (c === "{") {
      depth++;
      re += "(?:";
    } else if (c === "}" && depth > 0) {
      depth--;
      re += ")";
    } else if (c === "," && depth > 0) {
      re += "|";
    } else {
      re += c.replace(/[.+^${}()|\\]/g, "\\$&");
    }
  }
  return new RegExp(`^${re}$`);
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The files a pattern matches, sorted (the dialect above); Sluice's staging files are skipped. A
 * pattern matching nothing is an error naming it.
 */
export function matchFiles(pattern: string): string[] {
  const abs = resolve(pattern);
  const posix = pattern.replace(/\\/g, "/");
  let files: string[];
  if (isDynamicPattern(posix)) {
    // The dialect's rules apply to what the user wrote: a relative pattern is matched against paths
    // relative to the working directory, whose own name may hold [, {, ? or * literally.
    const rooted = isAbsolute(posix);
    const re = globToRegExp(rooted ? resolve(posix).replace(/\\/g, "/") + (posix.endsWith("/") ? "/" : "") : posixPath.normalize(posix));
    const cwd = process.cwd();
    files = globSync(posix, { absolute: true, onlyFiles: true, expandDirectories: false, dot: true }).filter((f) =>
      re.test((rooted ? f : relative(cwd, f)).replace(/\\/g, "/")),
    );
  } else if (isDirectory(abs)) {
    if (!/[\\/]$/.test(pattern)) {
      throw new SluiceError("INVALID_ARGUMENT", `'${pattern}' is a directory (${abs}), not a file pattern`, {
        hint: `Read the files in it with '${pattern}/' (directly inside), '${pattern}/*' or '${pattern}/**' (every file below).`,
      });
    }
    files = readdirSync(abs)
      .map((n) => join(abs, n))
      .filter((f) => !isDirectory(f));
  } else {
    files = globSync(posix, { absolute: true, onlyFiles: true, expandDirectories: false, dot: true });
  }
  files = files.filter((f) => !f.split(/[\\/]/).some(isSluiceInternal));
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

const invalidUtf8Counter = Metrics.counter("sluice.io", "invalid_utf8_lines");

/** A byte range of a file to read: the lines that start in [start, end) (no end: to the file's end). */
export interface FileRange {
  readonly path: string;
  readonly start: number;
  readonly end?: number;
}

/**
 * The size of the ranges files are read in: about a 32nd of what the pattern matched, from 4 MiB to
 * 64 MiB (Beam's text source splits at 64 MiB), so runners with several workers (Flink's task
 * slots, the direct runner's threads) share even a single file.
 */
export function rangeBytes(totalBytes: number): number {
  return Math.min(64 << 20, Math.max(4 << 20, Math.ceil(totalBytes / 32)));
}

/**
 * The ranges the matched files are read in. Gzip files cannot be split; a range's reader moves its
 * start to the first line starting in it, so ranges cut anywhere.
 */
export function splitFiles(files: readonly string[], compression: Compression = "auto"): FileRange[] {
  const sizes = files.map((f) => (isGzip(f, compression) ? -1 : statSync(f).size));
  const step = rangeBytes(sizes.reduce((a, b) => a + Math.max(0, b), 0));
  const out: FileRange[] = [];
  files.forEach((path, i) => {
    const size = sizes[i]!;
    if (size <= step) out.push({ path, start: 0 });
    else for (let s = 0; s < size; s += step) out.push(s + step >= size ? { path, start: s } : { path, start: s, end: s + step });
  });
  return out;
}

/** The offset after the first `lines` lines of a file (its size if it has fewer). */
async function headerEnd(path: string, lines: number): Promise<number> {
  let at = 0;
  let seen = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 16 }) as AsyncIterable<Buffer>) {
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, nl + 1)) {
      if (++seen === lines) return at + nl + 1;
    }
    at += chunk.length;
  }
  return at;
}

/** The bytes of whole lines decoded into one string at a time (at most 64 KiB of UTF-16). */
const DECODE_PIECE = 32 << 10;

/**
 * A file's bytes from `start`, in chunks of up to 64 KiB (less for a small file). Two buffers take
 * turns: the next chunk is read while the caller works on this one, which stays valid until the
 * one after is asked for. (A read stream's new buffer per chunk is garbage the GC collects late,
 * as external memory.) 64 KiB, not more: with 1 MiB chunks Nexmark q0's and q2's peak RSS was
 * 30-35 MB higher (each chunk's lines go downstream in one synchronous run), at the same speed.
 */
async function* fileChunks(path: string, start: number): AsyncGenerator<Buffer> {
  const file = await open(path, "r");
  let size = 1 << 16;
  try {
    size = Math.max(1 << 12, Math.min(size, (await file.stat()).size - start + 1));
  } catch (err) {
    await file.close();
    throw err;
  }
  const buffers = [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)] as const;
  let at = start;
  const readInto = (buf: Buffer): Promise<Buffer> =>
    file.read(buf, 0, buf.length, at).then(({ bytesRead }) => {
      at += bytesRead;
      return buf.subarray(0, bytesRead);
    });
  let next: Promise<Buffer> | undefined;
  try {
    next = readInto(buffers[0]);
    for (let turn = 1; ; turn ^= 1) {
      const chunk = await next;
      next = undefined;
      if (chunk.length === 0) return;
      next = readInto(buffers[turn]!);
      yield chunk;
    }
  } finally {
    // A read still in flight (the caller stopped early) finishes before the file closes.
    if (next !== undefined) await next.catch(() => undefined);
    await file.close();
  }
}

/** A gzip file's decompressed bytes, in the chunks gunzip yields. */
function gunzipped(path: string): AsyncIterable<Buffer> {
  const raw = createReadStream(path, { highWaterMark: 1 << 20 });
  const out = raw.pipe(createGunzip());
  raw.on("error", (err) => out.destroy(err));
  return out;
}

/** Streams the lines of one file, or of one range of it, in the dialect above. */
export class ReadLinesFn implements DoFn<string | FileRange, string> {
  constructor(
    private readonly options: ReadFromTextOptions = {},
    private readonly label = "ReadFromText",
  ) {}

  async process(input: string | FileRange, ctx: Parameters<DoFn<string | FileRange, string>["process"]>[1]): Promise<void> {
    const path = typeof input === "string" ? input : input.path;
    const gzip = isGzip(path, this.options.compression ?? "auto");
    const limit = Math.min(this.options.maxLineBytes ?? MAX_LINE_BYTES, MAX_LINE_BYTES);
    const failOnInvalid = this.options.invalidUtf8 === "fail";
    let start = typeof input === "string" || gzip ? 0 : input.start;
    const end = typeof input === "string" || gzip ? Infinity : (input.end ?? Infinity);
    if (start >= end) return;
    let skip = this.options.skipHeaderLines ?? 0;
    if (skip > 0 && start > 0) {
      // Header lines are counted from the file's start: a later range begins after them.
      start = Math.max(start, await headerEnd(path, skip));
      skip = 0;
      if (start >= end) return;
    }
    // Lines are numbered from the file's start in its first range; elsewhere, from the range's.
    const where = (n: number): string => (start === 0 ? `Line ${n} of ${path}` : `Line ${n} after byte ${start} of ${path}`);
    // A range owns the lines that start in it: skip to the first line start at or after `start`,
    // and end with the line holding byte end - 1 (the next range starts after its newline).
    let skipping = start > 0;
    let offset = start > 0 ? start - 1 : 0; // file offset of the next chunk's first byte
    const source = gzip ? gunzipped(path) : fileChunks(path, offset);
    // Bytes of the line being read that came in earlier chunks: joined once, at its end.
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let lineNo = 0; // lines finished so far
    let invalid = 0;
    let firstInvalid = 0;
    const atFileStart = start === 0;

    const tooLong = (bytes: number): SluiceError =>
      new SluiceError(
        "INVALID_DATA",
        `${where(lineNo + 1)} is longer than ${limit} bytes (read ${bytes} bytes without a newline) in '${this.label}'`,
        {
          hint:
            limit === MAX_LINE_BYTES
              ? `A line becomes one string and V8 strings hold at most ${MAX_LINE_BYTES} characters: is this a text file with newlines? Split it, or read it another way.`
              : `The limit is ReadFromText's maxLineBytes (${limit}); raise it (up to ${MAX_LINE_BYTES}) or split the file.`,
        },
      );

    const line = (buf: Buffer, start: number, end: number): void => {
      if (end > start && buf[end - 1] === 13) end--; // \r\n, or a \r at the end of the file
      if (lineNo === 0 && atFileStart && end - start >= 3 && buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf) start += 3;
      if (end - start > limit) throw tooLong(end - start);
      const n = ++lineNo;
      if (n <= skip) return;
      const text = buf.toString("utf8", start, end);
      if (text.includes("\uFFFD") && !isUtf8(buf.subarray(start, end))) {
        if (failOnInvalid) {
          throw new SluiceError("INVALID_DATA", `${where(n)} is not valid UTF-8 (in '${this.label}')`, {
            hint: "Convert the file to UTF-8 (e.g. iconv -f latin1 -t utf-8), or read with invalidUtf8: 'replace' to get U+FFFD for bad bytes.",
          });
        }
        if (invalid++ === 0) firstInvalid = n;
      }
      ctx.output(text);
    };

    // The common case: a run of whole lines inside one chunk, decoded at once and split as a string.
    const lineText = (text: string): void => {
      let end = text.length;
      if (end > 0 && text.charCodeAt(end - 1) === 13) end--;
      const start = lineNo === 0 && atFileStart && text.charCodeAt(0) === 0xfeff ? 1 : 0;
      if (end - start > limit / 3 && Buffer.byteLength(text.slice(start, end)) > limit) throw tooLong(Buffer.byteLength(text.slice(start, end)));
      if (++lineNo <= skip) return;
      ctx.output(start === 0 && end === text.length ? text : text.slice(start, end));
    };
    // Decoded a piece at a time (each ending at a newline): a string past 128 KiB goes to V8's
    // large-object space, which only a full collection frees (a 1 MiB string per chunk came to
    // some 40 MB of a Nexmark run's peak); a piece's string dies young.
    const wholeLines = (buf: Buffer, from: number, to: number): void => {
      while (to - from > DECODE_PIECE) {
        let cut = buf.lastIndexOf(10, from + DECODE_PIECE);
        if (cut < from) cut = buf.indexOf(10, from + DECODE_PIECE); // a long line: up to its end
        if (cut === -1 || cut >= to) break;
        piece(buf, from, cut);
        from = cut + 1;
      }
      piece(buf, from, to);
    };
    const piece = (buf: Buffer, from: number, to: number): void => {
      const text = buf.toString("utf8", from, to);
      if (text.includes("\uFFFD") && !isUtf8(buf.subarray(from, to))) {
        // Invalid bytes somewhere: line by line on bytes, to count and name the lines.
        let at = from;
        for (let nl = buf.indexOf(10, at); nl !== -1 && nl < to; nl = buf.indexOf(10, at)) {
          line(buf, at, nl);
          at = nl + 1;
        }
        line(buf, at, to);
        return;
      }
      let at = 0;
      for (let nl = text.indexOf("\n"); nl !== -1; nl = text.indexOf("\n", at)) {
        lineText(text.slice(at, nl));
        at = nl + 1;
      }
      lineText(at === 0 ? text : text.slice(at));
    };

    try {
      for await (const whole of source as AsyncIterable<Buffer>) {
        let chunk = whole;
        let base = offset; // file offset of chunk[0]
        offset += whole.length;
        if (skipping) {
          const nl = chunk.indexOf(10);
          if (nl === -1) continue;
          chunk = chunk.subarray(nl + 1);
          base += nl + 1;
          skipping = false;
          if (base >= end) break; // the first line starting here starts in the next range
        }
        let rangeEnds = false;
        if (base + chunk.length > end - 1) {
          const nl = chunk.indexOf(10, Math.max(0, end - 1 - base));
          if (nl !== -1) {
            chunk = chunk.subarray(0, nl + 1);
            rangeEnds = true;
          }
        }
        let pos = 0;
        const last = chunk.lastIndexOf(10);
        if (last !== -1) {
          if (pendingBytes > 0) {
            const nl = chunk.indexOf(10);
            pending.push(chunk.subarray(0, nl));
            const joined = Buffer.concat(pending, pendingBytes + nl);
            pending = [];
            pendingBytes = 0;
            line(joined, 0, joined.length);
            pos = nl + 1;
          }
          if (pos <= last) wholeLines(chunk, pos, last);
          pos = last + 1;
        }
        if (pos < chunk.length) {
          // A copy: the chunk's memory is read into again.
          pending.push(Buffer.from(chunk.subarray(pos)));
          pendingBytes += chunk.length - pos;
          // One spare byte: a \r before the coming \n is not part of the line.
          if (pendingBytes > limit + 1) throw tooLong(pendingBytes);
        }
        await ctx.flush();
        if (rangeEnds) break;
      }
      if (pendingBytes > 0) {
        const joined = Buffer.concat(pending, pendingBytes);
        pending = [];
        line(joined, 0, joined.length);
      }
    } catch (err) {
      if (SluiceError.is(err)) throw err;
      const zlib = typeof (err as { code?: unknown }).code === "string" && (err as { code: string }).code.startsWith("Z_");
      throw ioError(`Reading (in '${this.label}')`, path, err, zlib ? "Check that the file is gzip-compressed (its name ends in .gz) and not truncated." : undefined);
    } finally {
      if (invalid > 0) {
        invalidUtf8Counter.inc(invalid);
        process.stderr.write(
          `sluice: warning: ${path}: ${invalid} line(s) with invalid UTF-8 (first: line ${firstInvalid}), read with U+FFFD in their place ('${this.label}'; invalidUtf8: 'fail' or --invalid_utf8=fail makes this an error)\n`,
        );
      }
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
    const flag = input.pipeline.options.string("invalid_utf8", undefined);
    const invalidUtf8 = this.options.invalidUtf8 ?? (flag as InvalidUtf8 | undefined);
    if (invalidUtf8 !== undefined && invalidUtf8 !== "replace" && invalidUtf8 !== "fail") {
      ctx.fail(`invalidUtf8 must be 'replace' or 'fail', got '${String(invalidUtf8)}'`, "Pass invalidUtf8: 'fail' (or --invalid_utf8=fail) to make invalid UTF-8 an error.");
    }
    const max = this.options.maxLineBytes;
    if (max !== undefined && (!Number.isInteger(max) || max < 1 || max > MAX_LINE_BYTES)) {
      ctx.fail(`maxLineBytes must be an integer from 1 to ${MAX_LINE_BYTES}, got ${String(max)}`, "Fix the ReadFromText options.");
    }
    try {
      matchFiles(pattern);
    } catch (err) {
      const e = SluiceError.from(err);
      ctx.fail(e.message, e.hint ?? "");
    }
    const options: ReadFromTextOptions = { ...this.options, ...(invalidUtf8 === undefined ? {} : { invalidUtf8 }) };
    return input.pipeline
      .apply("Impulse", new Impulse())
      .apply("ExpandPattern", FlatMap((_: Uint8Array) => splitFiles(matchFiles(pattern), options.compression)))
      .apply("Reshuffle", Reshuffle<FileRange>())
      .apply("ReadLines", ParDo(new ReadLinesFn(options, ctx.node.fullLabel)));
  }
}

/** Lines of the text files matching `pattern` (a path or glob; `.gz` files are decompressed). */
export function ReadFromText(pattern: string, options: ReadFromTextOptions = {}): PTransform<PBegin, PCollection<string>> {
  return new ReadFromTextTransform(pattern, options);
}

export interface WriteToTextOptions {
  /**
   * Number of output files (per window and pane with windowed writes); 0 (default) lets the runner
   * choose (the direct runner writes 1).
   */
  readonly numShards?: number;
  /**
   * Beam's template: S = shard index, N = shard count, zero-padded to the letters' count; with
   * windowed writes also W = the window, P = the pane (Beam Java's DefaultFilenamePolicy). Default
   * `-SSSSS-of-NNNNN`, and `W-P-SSSSS-of-NNNNN` for windowed writes.
   */
  readonly shardNameTemplate?: string;
  /** Appended to every file name, e.g. `.txt`. */
  readonly fileNameSuffix?: string;
  /** A line written at the top of every file. */
  readonly header?: string;
  /**
   * Windowed writes (Beam Java's `withWindowedWrites()`): one set of shards per window and pane
   * instead of one set for the whole collection. Always on for an unbounded collection (passing
   * `false` there is an error); `true` asks for it on a bounded one. Each set is published on its
   * own, atomically, under names from the default template `W-P-SSSSS-of-NNNNN` (no separator
   * after the prefix, as in Beam Java), e.g. for the prefix `out/counts`:
   *
   *     out/counts2024-01-01T00:00:00.000Z-2024-01-01T00:01:00.000Z-pane-0-00000-of-00001
   *     out/countsGlobalWindow-pane-2-late-last-00000-of-00001
   *
   * W is `start-end` of the window in ISO-8601 (UTC, milliseconds), or `GlobalWindow`; P is
   * `pane-<index>`, then `-late` for a late pane and `-last` for the window's last one. On an
   * unbounded collection the direct runner publishes a window's set at the end of each bundle that
   * brought it data (so a set appears as soon as a pane fires), and the sets of a run that fails
   * later stay published, as in Beam; a set being written when the run fails leaves no file. On a
   * bounded one every window gets one set, `pane-0-last`, published when the run succeeds. A set
   * holds only the shards that received lines (Beam's windowed writes add no empty shards).
   * Details: src/runners/direct/windowed_sink.ts.
   */
  readonly windowedWrites?: boolean;
}

/** How elements become lines: strings as they are, numbers and booleans by String(), others as JSON. */
export function formatLine(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") return String(value);
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)) ?? String(value);
}

/**
 * The absolute output prefix: a prefix ending in a separator, or naming an existing directory,
 * writes inside that directory (see the dialect at the top).
 */
export function resolvePrefix(prefix: string): string {
  const abs = resolve(prefix);
  if (/[\\/]$/.test(prefix) || isDirectory(abs)) return abs.endsWith(sep) ? abs : abs + sep;
  return abs;
}

/** Beam Java's DefaultFilenamePolicy.DEFAULT_UNWINDOWED_SHARD_TEMPLATE (ShardNameTemplate.INDEX_OF_MAX). */
export const DEFAULT_SHARD_TEMPLATE = "-SSSSS-of-NNNNN";
/** Beam Java's DefaultFilenamePolicy.DEFAULT_WINDOWED_SHARD_TEMPLATE: "W-P" + the unwindowed one (see windowed_sink.ts). */
export const DEFAULT_WINDOWED_SHARD_TEMPLATE = `W-P${DEFAULT_SHARD_TEMPLATE}`;

/**
 * An instant as Joda-Time's `Instant.toString()` prints it (ISODateTimeFormat.dateTime() in UTC:
 * `yyyy-MM-ddTHH:mm:ss.SSSZ`, the year signed and at least 4 digits, proleptic Gregorian), over
 * Beam's whole time range: `-290308-12-21T19:59:05.225Z` for the minimum timestamp. Exact
 * (bigint) arithmetic: Beam's bounds do not fit a double.
 */
export function formatInstant(ts: Timestamp): string {
  const ms = timestampToMillis(ts);
  const DAY = 86_400_000n;
  let days = ms / DAY;
  let rem = ms % DAY;
  if (rem < 0n) {
    rem += DAY;
    days -= 1n;
  }
  // Days since 1970-01-01 to a civil date (H. Hinnant's days_from_civil inverse).
  const z = days + 719_468n;
  const era = (z >= 0n ? z : z - 146_096n) / 146_097n;
  const doe = z - era * 146_097n;
  const yoe = (doe - doe / 1460n + doe / 36_524n - doe / 146_096n) / 365n;
  const doy = doe - (365n * yoe + yoe / 4n - yoe / 100n);
  const mp = (5n * doy + 2n) / 153n;
  const day = doy - (153n * mp + 2n) / 5n + 1n;
  const month = mp < 10n ? mp + 3n : mp - 9n;
  const year = yoe + era * 400n + (month <= 2n ? 1n : 0n);
  const pad = (n: bigint, w: number): string => n.toString().padStart(w, "0");
  const y = year < 0n ? `-${pad(-year, 4)}` : pad(year, 4);
  const h = rem / 3_600_000n;
  const mi = (rem / 60_000n) % 60n;
  const sec = (rem / 1000n) % 60n;
  const milli = rem % 1000n;
  return `${y}-${pad(month, 2)}-${pad(day, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(sec, 2)}.${pad(milli, 3)}Z`;
}

/** W in a windowed file name: `GlobalWindow`, `start-end` of an interval window, else the window's toString (Beam Java's windowToString). */
export function formatWindow(window: BoundedWindow): string {
  if (window instanceof GlobalWindow) return "GlobalWindow";
  if (window instanceof IntervalWindow) return `${formatInstant(window.start)}-${formatInstant(window.end)}`;
  return String(window);
}

/** P in a windowed file name: `pane-<index>`, then `-late` for a LATE pane, then `-last` for a last one (Beam Java's paneInfoToString). */
export function formatPane(pane: PaneInfo): string {
  let s = `pane-${pane.index}`;
  if (pane.timing === "LATE") s += "-late";
  if (pane.isLast) s += "-last";
  return s;
}

/** Where and how a WriteToText writes; shared by the direct runner's native sinks and the portable expansion. */
export class TextSink {
  readonly prefix: string;
  readonly numShards: number;
  readonly template: string;
  readonly suffix: string;
  readonly header: string | undefined;
  /** A shard set per window and pane (WriteToTextOptions.windowedWrites, always on for an unbounded input). */
  readonly windowed: boolean;

  constructor(prefix: string, options: WriteToTextOptions) {
    this.prefix = resolvePrefix(prefix);
    this.numShards = options.numShards ?? 0;
    this.windowed = options.windowedWrites ?? false;
    this.template = options.shardNameTemplate ?? (this.windowed ? DEFAULT_WINDOWED_SHARD_TEMPLATE : DEFAULT_SHARD_TEMPLATE);
    this.suffix = options.fileNameSuffix ?? "";
    this.header = options.header;
    if (!Number.isInteger(this.numShards) || this.numShards < 0) {
      throw new SluiceError("INVALID_ARGUMENT", `WriteToText numShards must be a non-negative integer, got ${String(options.numShards)}`, { hint: "Pass numShards: 0 (the runner chooses) or a positive integer." });
    }
    if ((this.template.match(/S+/g) ?? []).length > 1 || (this.template.match(/N+/g) ?? []).length > 1) {
      throw new SluiceError("INVALID_ARGUMENT", `shardNameTemplate '${this.template}' has more than one run of S or N`, { hint: "Use one run of S (shard number) and one of N (shard count), e.g. '-SSSSS-of-NNNNN'." });
    }
  }

  /** The final name of shard `index` of `count`: `prefix-00000-of-00003.suffix`. W and P stay as they are (as in Beam Java). */
  shardName(index: number, count: number): string {
    return this.render(index, count, undefined, undefined);
  }

  /**
   * The final name of shard `index` of `count` of the set of `window` and `pane`:
   * `prefix2024-01-01T00:00:00.000Z-2024-01-01T00:01:00.000Z-pane-0-last-00000-of-00001.suffix`
   * with the default template (Beam Java's DefaultFilenamePolicy.windowedFilename).
   */
  windowedShardName(index: number, count: number, window: BoundedWindow, pane: PaneInfo): string {
    return this.render(index, count, formatWindow(window), formatPane(pane));
  }

  /** One pass over the template, as Beam Java's constructName: a replaced part is not scanned again. */
  private render(index: number, count: number, window: string | undefined, pane: string | undefined): string {
    const name = this.template.replace(/S+|N+|W|P/g, (m) => {
      if (m[0] === "S") return String(index).padStart(m.length, "0");
      if (m[0] === "N") return String(count).padStart(m.length, "0");
      if (m === "W") return window ?? m;
      return pane ?? m;
    });
    return `${this.prefix}${name}${this.suffix}`;
  }

  /**
   * Locks the prefix, cleans up after crashed runs and creates a fresh staging directory beside
   * the outputs; fails (naming the path) when it cannot.
   */
  prepare(label = "WriteToText"): ShardStaging {
    return ShardStaging.create(this.prefix, label);
  }

  /** Opens a temporary shard file and writes the header. */
  openTemp(staging: ShardStaging, index: number): ShardWriter {
    return new ShardWriter(staging.path(`shard-${index}`), this.header);
  }

  /** Publishes the finished temporary shards under their final names (all or none), then releases the prefix. */
  commit(staging: ShardStaging, temps: readonly string[]): string[] {
    const pairs = temps.map((temp, i) => ({ temp, final: this.shardName(i, temps.length) }));
    try {
      staging.commitSet(pairs);
    } catch (err) {
      staging.abortSync();
      throw err;
    }
    staging.finish();
    return pairs.map((p) => p.final);
  }

  abort(staging: ShardStaging): void {
    staging.abortSync();
  }
}

/**
 * Buffered writes of lines to one file, honouring the stream's backpressure. Failures surface at
 * close(). `append` continues a file an earlier writer closed (windowed writes reopen shards).
 */
export class ShardWriter {
  private readonly stream: WriteStream;
  private buffer = "";
  private failure: Error | undefined;
  private draining: Promise<void> | undefined;

  constructor(
    readonly path: string,
    header: string | undefined,
    append = false,
  ) {
    // Lines are written 64 KiB at a time. With the default 16 KiB high-water mark every write
    // waits for the disk, and the pipeline waits with it; 4 MiB keeps the writes in flight while
    // lines are made (Nexmark q0, 1 M events on one thread: 6.0 s -> 3.5 s). The memory is used
    // only while the disk lags behind.
    this.stream = createWriteStream(path, { highWaterMark: 1 << 22, ...(append ? { flags: "a" } : {}) });
    this.stream.on("error", (err) => {
      this.failure ??= err;
    });
    if (header !== undefined) this.buffer = `${header}\n`;
  }

  /** Whether a write failed (the error is thrown by close()). */
  get failed(): boolean {
    return this.failure !== undefined;
  }

  /**
   * Adds a line; returns a promise only when the caller should wait for the disk. Never throws:
   * the caller is another transform's output call, which must not be blamed for a disk error.
   */
  write(line: string): Promise<void> | undefined {
    if (this.failure) return undefined;
    this.buffer += line;
    this.buffer += "\n";
    if (this.buffer.length < 1 << 16) return undefined;
    return this.drain();
  }

  private drain(): Promise<void> | undefined {
    const ok = this.stream.write(this.buffer);
    this.buffer = "";
    if (ok) return undefined;
    // One wait per full stream, shared by every writer that arrives meanwhile (a context.output
    // loop that never awaits): no listener per write.
    this.draining ??= new Promise((res) => {
      const done = (): void => {
        this.stream.off("drain", done);
        this.stream.off("error", done);
        this.draining = undefined;
        res();
      };
      this.stream.once("drain", done);
      this.stream.once("error", done);
    });
    return this.draining;
  }

  /** Flushes and closes; rejects with an IO_ERROR naming the file and the OS error. */
  async close(): Promise<void> {
    if (this.buffer.length > 0 && !this.failure) await this.drain();
    await new Promise<void>((res, rej) => {
      if (this.failure) {
        this.stream.destroy();
        rej(this.failure);
        return;
      }
      this.stream.end((err?: Error | null) => (err ? rej(err) : res()));
    }).catch((err: unknown) => {
      throw ioError("Writing", this.path, this.failure ?? err);
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
    const asked = this.options.windowedWrites;
    if (asked !== undefined && typeof asked !== "boolean") {
      ctx.fail(`windowedWrites must be true or false, got ${String(asked)}`, "Pass windowedWrites: true to write a set of shards per window and pane.");
    }
    if (asked === false && !input.isBounded) {
      ctx.fail(
        "WriteToText of an unbounded collection needs windowed writes (a set of shards per window and pane), but windowedWrites is false",
        "Leave windowedWrites out (it is on for unbounded collections), or write a bounded collection.",
      );
    }
    let sink: TextSink;
    try {
      sink = new TextSink(this.prefix, { ...this.options, windowedWrites: asked ?? !input.isBounded });
    } catch (err) {
      ctx.fail((err as Error).message, "Fix the WriteToText options.");
    }
    ctx.composite({ kind: "write_text", sink });
    const shards = sink.numShards || 1;
    if (sink.windowed) {
      // Runners that do not write natively: shard → group per window and pane (the input's
      // windowing and trigger, as Beam Java's WriteFiles groups) → each shard written to a hidden
      // temporary file and renamed to its windowed name. Panes are numbered per shard and window,
      // as in Beam Java; a shard that received no lines is not written.
      input
        .apply("Shard", Map((v: unknown): [number, string] => [nextShard(shards), formatLine(v)]))
        .apply("GroupByShard", GroupByKey<number, string>())
        .apply(
          "WriteWindowedShards",
          ParDo<[number, string[]], never>({
            async process([shard, lines], c) {
              // An empty pane writes nothing (it would replace a pane of the same name: Beam 2.62's
              // Flink runner fires a window with allowed lateness a second time, empty, with the
              // same pane info, once the watermark has passed its end of lateness; observed).
              if (isEmpty(lines)) return;
              const final = sink.windowedShardName(shard, shards, c.window, c.pane);
              const temp = join(dirname(final), `${TEMP_MARK}${basename(final)}-${randomUUID()}`);
              makeDirs(dirname(temp), `WriteToText('${sink.prefix}')`);
              const w = new ShardWriter(temp, sink.header);
              for (const l of lines) await w.write(l);
              await w.close();
              await rename(temp, final);
            },
          }),
        );
      return;
    }
    // Runners that do not write natively: shard → group → write temp files → rename all at the end.
    const written = input
      // As Beam Java's WriteFiles: the global window with the default trigger, discarding, so a
      // triggered input is written once, when it ends.
      .apply("Unwindow", WindowInto(GlobalWindows(), { trigger: DefaultTrigger(), accumulationMode: "DISCARDING" }))
      .apply("Shard", Map((v: unknown): [number, string] => [nextShard(shards), formatLine(v)]))
      .apply("GroupByShard", GroupByKey<number, string>())
      .apply(
        "WriteShards",
        ParDo<[number, string[]], [number, string]>({
          async process([shard, lines]) {
            // Hidden beside the final name (workers may not share a staging directory); readers skip it.
            const final = sink.shardName(shard, shards);
            const temp = join(dirname(final), `${TEMP_MARK}${basename(final)}-${randomUUID()}`);
            makeDirs(dirname(temp), `WriteToText('${sink.prefix}')`);
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

function isEmpty(values: Iterable<unknown>): boolean {
  for (const _ of values) return false;
  return true;
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
 *
 * An unbounded collection (downstream of a TestStream or PeriodicImpulse), or any collection with
 * `windowedWrites: true`, is written as a set of shards per window and pane instead, named
 * `prefix<window>-<pane>-SSSSS-of-NNNNN<suffix>` as Beam Java names windowed writes, each set
 * published atomically on its own (see WriteToTextOptions.windowedWrites).
 */
export function WriteToText(prefix: string, options: WriteToTextOptions = {}): PTransform<PCollection<unknown>, void> {
  return new WriteToTextTransform(prefix, options);
}

