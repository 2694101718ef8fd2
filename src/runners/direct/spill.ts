/**
 * A memory budget for the direct runner's batch groupings (`--max_memory_mb`): a GroupByKey or
 * lifted CombinePerKey whose tables grow past its share writes them to disk as a sorted *run*
 * and starts again; at the end the runs and what is still in memory are merged by window and
 * key. A group's values are then an iterable over their places in the runs (read in blocks, as
 * often as the DoFn iterates them), so one key may hold many times the budget.
 *
 * A run file is a sequence of records in (window, key) order, each
 *
 *   u32 header length | header | values
 *   header: sort key (window key, NUL, key's encoding: latin1), window, key (each length-
 *           prefixed), min and max timestamps and the values' byte length (f64s)
 *   values: blocks of u32 byte length | u32 count | that many values (the value coder, nested)
 *
 * Accumulators of a lifted combine are one value per record (the accumulator coder).
 *
 * Values that are not sorted (an event-time grouping's cells, a ParDo's main input held for its
 * side inputs) go to a SpillLog instead: appended value blocks, each append a segment its holder
 * reads back in order.
 */
import { closeSync, openSync, readSync, unlinkSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getHeapStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { ByteReader, ByteWriter, type Coder, encodedKey } from "../../sdk/coders/index.js";
import type { Timestamp } from "../../sdk/time.js";
import type { BoundedWindow } from "../../sdk/windowing/window.js";
import { makeScratchDir, removeScratchDir } from "../../internal/scratch.js";

let fullGc: (() => void) | undefined;
/**
 * A full garbage collection, on demand. V8 exposes `gc` only behind --expose-gc; the flag is set
 * the first time one is needed (a heap near its limit, a spill, a budget's calibration: a host
 * process whose pipelines fit is never touched) and the function is taken from a fresh context,
 * which sees the flag.
 */
export function collectGarbage(): void {
  if (fullGc === undefined) {
    try {
      setFlagsFromString("--expose-gc");
      fullGc = runInNewContext("gc") as () => void;
    } catch {
      fullGc = () => undefined;
    }
  }
  fullGc();
}

/** The budget shared by a run's groupings, in bytes (estimated from their values' sizes). */
export class MemoryBudget {
  private held = 0;
  /** Bytes spilled so far (for metrics and the bench). */
  spilledBytes = 0;
  /**
   * What the heap really holds per estimated byte (at least 1): estimates count a string by its
   * length, but a string built by concatenation is a tree of pieces in V8 (a template literal of
   * 52 characters: 242 bytes, not 76), and objects are sampled. Measured (calibrate).
   */
  private scale = 1;
  private sinceCheck = 0;
  /**
   * The heap in use besides what the holders hold: what they add is measured above it. Taken at
   * the first check, and lowered when a collection shows it counted garbage.
   */
  private baseHeap: number | undefined;
  constructor(
    readonly limitBytes: number,
    readonly tempDir: string = tmpdir(),
  ) {}
  /** The default: a quarter of V8's heap limit, at most 1 GiB. */
  static defaultLimitMb(): number {
    return Math.min(1024, Math.floor(getHeapStatistics().heap_size_limit / 4 / 1048576));
  }
  /**
   * Counts `n` more bytes held by a holder that now holds `holding`: whether it should spill. Past
   * the budget, a holder spills only what is a share of it (an eighth, at most 8 MiB): a small
   * holder beside a large one would otherwise spill at every value it adds.
   */
  add(n: number, holding: number): boolean {
    this.held += n;
    if (++this.sinceCheck === 4096) {
      this.sinceCheck = 0;
      this.calibrate();
    }
    return this.held * this.scale > this.limitBytes && holding * this.scale >= Math.min(this.limitBytes / 8, 8 << 20);
  }

  /**
   * Checks the estimates against the heap (every 4096 additions): once it has grown by more than
   * the budget over its base (garbage included), a full collection says what is live, and the
   * live growth over the estimated bytes held becomes the scale estimates are counted at.
   */
  private calibrate(): void {
    if (this.held <= 0 || this.held * this.scale > this.limitBytes) return; // spilling anyway
    const used = getHeapStatistics().used_heap_size;
    this.baseHeap ??= used - this.held;
    if (used - this.baseHeap <= this.limitBytes) return;
    collectGarbage();
    const live = getHeapStatistics().used_heap_size - this.baseHeap;
    if (live < this.held) {
      // The base counted garbage: the next check measures from here.
      this.baseHeap -= this.held - live;
      return;
    }
    this.scale = Math.max(1, live / this.held);
  }
  release(n: number): void {
    this.held -= n;
  }
}

/** What a grouping keeps per key and window, as spilled and merged. */
export interface SpillableGroup {
  readonly key: unknown;
  readonly window: BoundedWindow;
  readonly minTs: Timestamp;
  readonly maxTs: Timestamp;
  /** The values (GroupByKey; ignored for a lifted combine, whose `acc` is its state). */
  readonly values: readonly unknown[];
  readonly acc: unknown;
}

/** A merged group: its values wherever they are. */
export interface MergedGroup {
  readonly key: unknown;
  readonly window: BoundedWindow;
  readonly minTs: Timestamp;
  readonly maxTs: Timestamp;
  /** GroupByKey: the values, re-iterable. */
  readonly values: Iterable<unknown>;
  /** Lifted combine: each part's accumulator. */
  readonly accs: unknown[];
}

const BLOCK_BYTES = 1 << 18;

/**
 * Appends `values` to `out` as value blocks (u32 byte length | u32 count | that many values, the
 * coder nested; `block` is the scratch writer one block is encoded in), calling `flush` whenever
 * `out` passes 1 MiB. Returns the bytes appended.
 */
function writeBlocks(values: Iterable<unknown>, coder: Coder<unknown>, block: ByteWriter, out: ByteWriter, flush: () => void): number {
  let bytes = 0;
  let n = 0;
  const endBlock = (): void => {
    if (n === 0) return;
    out.int32BE(block.length);
    out.int32BE(n);
    out.bytes(block.view_().subarray(0, block.length));
    bytes += 8 + block.length;
    block.reset();
    n = 0;
    if (out.length >= 1 << 20) flush();
  };
  for (const v of values) {
    coder.encode(v, block, true);
    n++;
    if (block.length >= BLOCK_BYTES) endBlock();
  }
  endBlock();
  return bytes;
}

/** Where a part of a group's values is in a file. */
export interface FileSegment {
  readonly run: Run;
  readonly at: number;
  readonly bytes: number;
}

/** Where a part of a group's values is: in a file, or (small parts) read already. */
type Segment = FileSegment | { readonly data: Buffer };

/** A part of a group's values: on disk, or in memory. */
export type Part = Segment | readonly unknown[];

const inMemory = (p: Part): p is readonly unknown[] => Array.isArray(p);

/** Parts up to this size are read with their header (the read-ahead has them) instead of again later. */
const INLINE_BYTES = 1 << 16;

class Run {
  fd: number;
  constructor(readonly path: string) {
    this.fd = openSync(path, "w+");
  }
  read(at: number, n: number): Buffer {
    return this.readInto(Buffer.allocUnsafe(n), at, n);
  }
  /** The `n` bytes at `at`, read into the start of `b`. */
  readInto(b: Buffer, at: number, n: number): Buffer {
    let got = 0;
    while (got < n) {
      const r = readSync(this.fd, b, got, n - got, at + got);
      if (r === 0) throw new Error(`spill file ${this.path} ended early`);
      got += r;
    }
    return b.subarray(0, n);
  }
}

/** The values of one group, spread over runs and memory; each iteration reads them again. */
class SpilledValues implements Iterable<unknown> {
  constructor(
    /** In order. */
    private readonly parts: readonly Part[],
    private readonly coder: Coder<unknown>,
  ) {}
  *[Symbol.iterator](): Iterator<unknown> {
    for (const p of this.parts) {
      if (inMemory(p)) {
        yield* p;
        continue;
      }
      const s = p;
      const read = "data" in s ? (at: number, n: number): Buffer => s.data.subarray(at, at + n) : (at: number, n: number): Buffer => s.run.read(at, n);
      let at = "data" in s ? 0 : s.at;
      const end = "data" in s ? s.data.length : s.at + s.bytes;
      while (at < end) {
        const head = read(at, 8);
        const len = head.readUInt32BE(0);
        const count = head.readUInt32BE(4);
        const block = read(at + 8, len);
        const r = new ByteReader(new Uint8Array(block.buffer, block.byteOffset, block.length));
        for (let i = 0; i < count; i++) yield this.coder.decode(r, true);
        at += 8 + len;
      }
    }
  }
}

/**
 * Reads a run ahead in large pieces, for a cursor's many small header reads, into one buffer of
 * its own: what it returns is valid until the next read. (A new buffer per piece is garbage V8
 * collects late, as external memory: merging a hundred thousand keys' runs came to some 100 MB of
 * dead read-ahead.)
 */
class ReadAhead {
  private buf: Buffer = Buffer.alloc(0);
  private own: Buffer = Buffer.alloc(0);
  private start = 0;
  constructor(
    private readonly run: Run,
    private readonly size: number,
  ) {}
  read(at: number, n: number): Buffer {
    if (at < this.start || at + n > this.start + this.buf.length) {
      this.start = at;
      const want = Math.min(Math.max(n, 1 << 18), this.size - at);
      if (this.own.length < want) this.own = Buffer.allocUnsafe(Math.max(want, 1 << 18));
      this.buf = this.run.readInto(this.own, at, want);
    }
    return this.buf.subarray(at - this.start, at - this.start + n);
  }
}

/** A read position in a run: its next record's header. */
class Cursor {
  private at = 0;
  private readonly reader: ReadAhead;
  head: { sortKey: string; window: BoundedWindow; key: unknown; minTs: number; maxTs: number; valuesAt: number; valuesBytes: number } | undefined;
  constructor(
    readonly run: Run,
    private readonly size: number,
    private readonly keyCoder: Coder<unknown>,
    private readonly windowCoder: Coder<BoundedWindow>,
  ) {
    this.reader = new ReadAhead(run, size);
    this.next();
  }
  /** A record's values, through the read-ahead (for small ones). */
  readValues(at: number, n: number): Buffer {
    return this.reader.read(at, n);
  }

  next(): void {
    if (this.at >= this.size) {
      this.head = undefined;
      return;
    }
    const len = this.reader.read(this.at, 4).readUInt32BE(0);
    // A copy: the read-ahead's buffer is read into again, and a decoded key may view its bytes.
    const r = new ByteReader(Uint8Array.from(this.reader.read(this.at + 4, len)));
    const sortKey = Buffer.from(r.bytes(r.varUint())).toString("latin1");
    const window = this.windowCoder.decode(new ByteReader(r.bytes(r.varUint())), false);
    const key = this.keyCoder.decode(new ByteReader(r.bytes(r.varUint())), false);
    const nums = Buffer.from(r.bytes(24));
    const valuesAt = this.at + 4 + len;
    const valuesBytes = nums.readDoubleBE(16);
    this.head = { sortKey, window, key, minTs: nums.readDoubleBE(0), maxTs: nums.readDoubleBE(8), valuesAt, valuesBytes };
    this.at = valuesAt + valuesBytes;
  }
}

/** The runs of one grouping. */
export class Spill {
  private readonly runs: { run: Run; size: number }[] = [];
  private dir: string | undefined;

  constructor(
    private readonly budget: MemoryBudget,
    private readonly keyCoder: Coder<unknown>,
    private readonly windowCoder: Coder<BoundedWindow>,
    /** The value coder (GroupByKey) or the accumulator coder (lifted combine). */
    private readonly valueCoder: Coder<unknown>,
    private readonly windowKey: (w: BoundedWindow) => string | number,
  ) {}

  get spilled(): boolean {
    return this.runs.length > 0;
  }

  private sortKey(g: SpillableGroup): string {
    return `${String(this.windowKey(g.window))}\u0000${encodedKey(this.keyCoder, g.key)}`;
  }

  /** Writes `groups` as one sorted run. */
  write(groups: Iterable<SpillableGroup>): void {
    if (this.dir === undefined) {
      this.dir = makeScratchDir(this.budget.tempDir, "sluice-spill-");
    }
    const sorted = [...groups].map((g) => ({ k: this.sortKey(g), g })).sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
    const run = new Run(join(this.dir, `run-${this.runs.length}`));
    // Buffered writes at explicit offsets; a record's values length is patched into its header
    // once they are written (in the buffer, or in the file if it was flushed meanwhile).
    let pos = 0; // file offset of out's first byte
    const out = new ByteWriter(1 << 21);
    const flush = (): void => {
      const bytes = out.view_();
      let done = 0;
      while (done < out.length) done += writeSync(run.fd, bytes, done, out.length - done, pos + done);
      pos += out.length;
      out.reset();
    };
    const f64 = Buffer.alloc(8);
    const header = new ByteWriter(256);
    const part = new ByteWriter(64);
    const block = new ByteWriter(BLOCK_BYTES + (1 << 16));
    const lengthPrefixed = (c: Coder<unknown>, v: unknown): void => {
      part.reset();
      c.encode(v, part, false);
      header.varUint(part.length);
      header.bytes(part.view_().subarray(0, part.length));
    };
    for (const { k, g } of sorted) {
      header.reset();
      const kb = Buffer.from(k, "latin1");
      header.varUint(kb.length);
      header.bytes(kb);
      lengthPrefixed(this.windowCoder as Coder<unknown>, g.window);
      lengthPrefixed(this.keyCoder, g.key);
      f64.writeDoubleBE(g.minTs, 0);
      header.bytes(f64);
      f64.writeDoubleBE(g.maxTs, 0);
      header.bytes(f64);
      f64.writeDoubleBE(0, 0); // the values' length, patched below
      header.bytes(f64);
      out.int32BE(header.length);
      out.bytes(header.view_().subarray(0, header.length));
      const lengthAt = pos + out.length - 8;
      const valuesBytes = writeBlocks(this.accumulators ? [g.acc] : g.values, this.valueCoder, block, out, flush);
      f64.writeDoubleBE(valuesBytes, 0);
      if (lengthAt >= pos) out.view_().set(f64, lengthAt - pos);
      else writeSync(run.fd, f64, 0, 8, lengthAt);
      if (out.length >= 1 << 20) flush();
    }
    flush();
    this.budget.spilledBytes += pos;
    this.runs.push({ run, size: pos });
  }

  /**
   * Every group, in (window, key) order: the runs' and `memory`'s (what the table still holds)
   * merged. Values stay on disk until iterated.
   */
  *merge(memory: Iterable<SpillableGroup>): Generator<MergedGroup> {
    const cursors = this.runs.map((r) => new Cursor(r.run, r.size, this.keyCoder, this.windowCoder));
    const mem = [...memory].map((g) => ({ k: this.sortKey(g), g })).sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
    let mi = 0;
    for (;;) {
      let least: string | undefined;
      for (const c of cursors) if (c.head !== undefined && (least === undefined || c.head.sortKey < least)) least = c.head.sortKey;
      const m = mi < mem.length ? mem[mi]! : undefined;
      if (m !== undefined && (least === undefined || m.k < least)) least = m.k;
      if (least === undefined) return;
      let key: unknown;
      let window: BoundedWindow | undefined;
      let minTs = Infinity;
      let maxTs = -Infinity;
      const segments: Segment[] = [];
      const accs: unknown[] = [];
      const inMemory: (readonly unknown[])[] = [];
      for (const c of cursors) {
        const h = c.head;
        if (h === undefined || h.sortKey !== least) continue;
        key ??= h.key;
        window ??= h.window;
        minTs = Math.min(minTs, h.minTs);
        maxTs = Math.max(maxTs, h.maxTs);
        segments.push(h.valuesBytes <= INLINE_BYTES ? { data: Buffer.from(c.readValues(h.valuesAt, h.valuesBytes)) } : { run: c.run, at: h.valuesAt, bytes: h.valuesBytes });
        c.next();
      }
      if (m !== undefined && m.k === least) {
        key ??= m.g.key;
        window ??= m.g.window;
        minTs = Math.min(minTs, m.g.minTs);
        maxTs = Math.max(maxTs, m.g.maxTs);
        if (this.accumulators) accs.push(m.g.acc);
        else inMemory.push(m.g.values);
        mi++;
      }
      if (this.accumulators) {
        const spilled: unknown[] = [];
        for (const seg of segments) spilled.push(...new SpilledValues([seg], this.valueCoder));
        yield { key, window: window!, minTs, maxTs, values: [], accs: [...spilled, ...accs] };
      } else {
        yield { key, window: window!, minTs, maxTs, values: new SpilledValues([...segments, ...inMemory], this.valueCoder), accs };
      }
    }
  }

  /** Set by a lifted combine's grouping: records hold accumulators. */
  accumulators = false;

  /** Removes the runs (after the drain, or when the run fails). */
  close(): void {
    for (const r of this.runs) {
      try {
        closeSync(r.run.fd);
      } catch {
        // already closed
      }
    }
    this.runs.length = 0;
    if (this.dir !== undefined) removeScratchDir(this.dir);
    this.dir = undefined;
  }
}

/** A rough size in memory of a value a grouping holds, in bytes. */
export function estimateBytes(v: unknown, coder: Coder<unknown>, sample: { n: number; avg: number }): number {
  switch (typeof v) {
    case "string":
      return v.length + 24;
    case "number":
    case "boolean":
    case "undefined":
      return 16;
    case "bigint":
      return 32;
    default:
      // Objects: their encoded size, sampled (one in 32), times two for the heap's overhead.
      if (sample.n++ % 32 === 0) {
        const w = new ByteWriter(64);
        coder.encode(v, w, true);
        sample.avg = sample.avg === 0 ? w.length : sample.avg * 0.9 + w.length * 0.1;
      }
      return 2 * sample.avg + 32;
  }
}

/**
 * Elements waiting in arrival order (a ParDo's main input held until its side inputs are
 * complete), within the run's memory budget when there is one: past it, those held are appended
 * to a SpillLog, and `drain` yields the log's, then memory's, in arrival order.
 */
export class SpillableQueue<T> {
  private memory: T[] = [];
  private held = 0;
  private log: SpillLog | undefined;
  private segments: FileSegment[] = [];
  private readonly sample = { n: 0, avg: 0 };

  /** No `within`: everything stays in memory. */
  constructor(private readonly within?: { readonly budget: MemoryBudget; readonly coder: Coder<T> }) {}

  push(e: T): void {
    this.memory.push(e);
    const w = this.within;
    if (w === undefined) return;
    const bytes = 16 + estimateBytes(e, w.coder as Coder<unknown>, this.sample);
    this.held += bytes;
    if (w.budget.add(bytes, this.held)) this.spill(w.budget, w.coder);
  }

  private spill(budget: MemoryBudget, coder: Coder<T>): void {
    this.log ??= new SpillLog(budget, coder as Coder<unknown>);
    this.segments.push(this.log.append(this.memory));
    this.log.flush();
    this.memory = [];
    budget.release(this.held);
    this.held = 0;
  }

  /** Every element, in arrival order, then the queue is empty (its files removed). */
  *drain(): Generator<T> {
    const log = this.log;
    const parts: Part[] = [...this.segments, this.memory];
    const memory = this.memory;
    this.memory = [];
    try {
      if (log === undefined) yield* memory;
      else yield* log.values(parts) as Iterable<T>;
    } finally {
      this.close();
    }
  }

  /** Forgets the elements and removes the files (after the drain, or when the run fails). */
  close(): void {
    this.within?.budget.release(this.held);
    this.held = 0;
    this.memory = [];
    this.segments = [];
    this.log?.close();
    this.log = undefined;
  }
}

/** A log file grows to about this size before the next one starts. */
const LOG_FILE_BYTES = 64 << 20;

interface LogFile {
  readonly run: Run;
  /** Its bytes, those still in the log's buffer included. */
  size: number;
  /** Its bytes written so far. */
  written: number;
  /** Bytes of its segments still in use. */
  live: number;
}

/**
 * Values appended to scratch files in blocks, as a run's values are, each append a segment its
 * holder keeps: an event-time grouping's cell until its pane has fired (DISCARDING) or its window
 * has closed, a SpillableQueue until it is drained. Released segments free their bytes, and a
 * file none of whose segments is live any more is removed (once the next file has started): the
 * disk holds what the holders hold, not everything that ever passed.
 */
export class SpillLog {
  private dir: string | undefined;
  private current: LogFile | undefined;
  private readonly files = new Map<Run, LogFile>();
  /** Files made so far (their names' numbers). */
  private opened = 0;
  /** One value block being encoded, and the appends not yet written (one write per MiB or spill). */
  private readonly block = new ByteWriter(BLOCK_BYTES + (1 << 16));
  private readonly out = new ByteWriter(1 << 21);

  constructor(
    private readonly budget: MemoryBudget,
    private readonly coder: Coder<unknown>,
    /** The size past which the next file starts (tests lower it). */
    private readonly fileBytes = LOG_FILE_BYTES,
  ) {}

  /** Appends `values` (in order) and says where they are (written by the next `flush`). */
  append(values: readonly unknown[]): FileSegment {
    if (this.current === undefined || this.current.size >= this.fileBytes) {
      this.flush();
      this.dir ??= makeScratchDir(this.budget.tempDir, "sluice-log-");
      const previous = this.current;
      this.current = { run: new Run(join(this.dir, `log-${this.opened++}`)), size: 0, written: 0, live: 0 };
      this.files.set(this.current.run, this.current);
      if (previous !== undefined && previous.live === 0) this.remove(previous);
    }
    const f = this.current;
    const at = f.size;
    const bytes = writeBlocks(values, this.coder, this.block, this.out, () => this.flush());
    f.size += bytes;
    f.live += bytes;
    this.budget.spilledBytes += bytes;
    return { run: f.run, at, bytes };
  }

  /** Writes what `append` buffered, to the current file. */
  flush(): void {
    const f = this.current;
    if (f === undefined || this.out.length === 0) return;
    const bytes = this.out.view_();
    let done = 0;
    while (done < this.out.length) done += writeSync(f.run.fd, bytes, done, this.out.length - done, f.written + done);
    f.written += this.out.length;
    this.out.reset();
  }

  /** The values of `parts` (segments of this log, arrays in memory) in order; re-iterable. */
  values(parts: readonly Part[]): Iterable<unknown> {
    this.flush();
    return new SpilledValues(parts, this.coder);
  }

  /** A segment no cell holds any more. */
  release(seg: FileSegment): void {
    const f = this.files.get(seg.run);
    if (f === undefined) return;
    f.live -= seg.bytes;
    if (f.live === 0 && f !== this.current) this.remove(f);
  }

  /** How many files the log has (for tests). */
  get fileCount(): number {
    return this.files.size;
  }

  private remove(f: LogFile): void {
    this.files.delete(f.run);
    try {
      closeSync(f.run.fd);
      unlinkSync(f.run.path);
    } catch {
      // gone already
    }
  }

  /** Removes every file (the grouping is done, or the run failed). */
  close(): void {
    this.out.reset();
    for (const f of [...this.files.values()]) this.remove(f);
    this.current = undefined;
    if (this.dir !== undefined) removeScratchDir(this.dir);
    this.dir = undefined;
  }
}
