/**
 * Event time in-process: the grouping of unbounded collections, driven by the watermark,
 * processing time and bundle ends, with Beam's triggers (triggers.ts), accumulation modes,
 * allowed lateness and pane info; and the driver that plays a TestStream's script into the plan.
 *
 * The runner's duties, as Beam Python's and Prism's runners keep them on the runner side:
 * - A (key, window) cell buffers its values and runs a TriggerMachine. Triggers are checked at
 *   the end of each bundle (so a bundle's elements land in one pane, as Beam does), when the
 *   watermark advances and when processing time advances.
 * - An element whose window expired (the watermark passed its end plus the allowed lateness), or
 *   whose window's trigger finished, is dropped and counted (`droppedDueToLateness`,
 *   `droppedDueToClosedWindow`, as Beam Java names them) in the grouping's metrics.
 * - Panes carry Beam's pane info: first/last, timing (EARLY before the watermark passes the end of
 *   the window, ON_TIME for the first pane after, LATE after that), index and on-time index.
 *   DISCARDING panes hold what arrived since the last pane, ACCUMULATING ones everything so far.
 *   The on-time pane fires even when empty (Beam's default on-time behaviour, FIRE_ALWAYS); when
 *   a window expires, a pane fires only for elements no pane has held yet.
 * - Watermarks per stage: the runner advances each grouping (and stateful DoFn) in plan
 *   (topological) order to the watermark of its input, which is the source's held back by every
 *   grouping and timer upstream. A cell whose values arrived on time holds the grouping's output
 *   watermark at its next pane's timestamp until that pane fires (the end of the window, or the
 *   earliest element with the EARLIEST timestamp combiner), so panes are never behind downstream.
 */
import { SluiceError } from "../../internal/errors.js";
import type { Coder } from "../../sdk/coders/coder.js";
import { MetricsContainer, setCurrentMetricsContainer } from "../../sdk/metrics.js";
import { MAX_TIMESTAMP, type Timestamp } from "../../sdk/time.js";
import type { AnyCombineFn } from "../../sdk/transforms/combinefn.js";
import { type BoundedWindow, IntervalWindow, type PaneInfo } from "../../sdk/windowing/window.js";
import type { WindowingStrategy } from "../../sdk/windowing/windowfns.js";
import { countSpilled, type Meta, type Outputs, type Pending, type Receiver, type StepMetrics, userCodeError } from "./operators.js";
import { collectGarbage, estimateBytes, type FileSegment, type MemoryBudget, type Part, SpillLog } from "./spill.js";
import { paneTiming, TriggerMachine, type TriggerTime } from "./triggers.js";

/** The plan's clocks: the source's watermark, and processing time (virtual under TestStream). */
export class RunClock {
  watermark: Timestamp = -Infinity;
  processingTime = 0;
}

/** An operator the runner advances with the clocks: groupings of unbounded input, stateful DoFns. */
export interface Clocked {
  /** The input watermark and processing time moved: fire what is due, then flush downstream. */
  advance(time: TriggerTime, epoch: number): Promise<void>;
  /** The watermark of its output: its input's, held back by what it has yet to emit. */
  outputWatermark(): Timestamp;
  /** The earliest processing time something becomes due (for a real clock to wake at). */
  nextDeadline(): number | undefined;
}

interface Cell {
  /** Key, window and trigger change when a session grows in place (extendSession). */
  key: unknown;
  /** Its id in the table, set as it is put there: cellId, or for merging windows a number of its own (the window changes as it grows). */
  id: string | number;
  /** The key's structural key. */
  readonly sk: unknown;
  window: BoundedWindow;
  machine: TriggerMachine;
  /** Values a pane has not held yet. */
  fresh: PaneValues;
  /** Values earlier panes held (kept only when accumulating). */
  held: PaneValues;
  panes: number;
  onTimePanes: number;
  onTimeFired: boolean;
  /** The output watermark hold of values that arrived on time, until the next pane. */
  hold: Timestamp | undefined;
}

/**
 * Values of a cell for its panes: GroupByKey's values (those past the memory budget in the
 * grouping's SpillLog, the rest in memory after them), or CombinePerKey's accumulator (values are
 * added as they arrive, as Beam's runners combine); their count and timestamps' range (all the
 * timestamp combiners need).
 */
interface PaneValues {
  spilled: FileSegment[];
  memory: unknown[];
  /** Estimated bytes of `memory` (counted in the budget). */
  bytes: number;
  acc: unknown;
  count: number;
  minTs: Timestamp;
  maxTs: Timestamp;
}

export interface StreamingGroupConfig {
  readonly step: string;
  readonly keyCoder: Coder<unknown>;
  readonly windowing: WindowingStrategy;
  readonly out: Outputs;
  readonly inputs: number;
  readonly metrics: StepMetrics;
  /** A bounded input (its watermark is the end of time once it has ended), not the plan's stream. */
  readonly bounded?: boolean;
  /** Set for a CombinePerKey: each pane's values are combined (Beam's combining after grouping). */
  readonly combineFn?: AnyCombineFn;
  /** The run's memory budget and the value coder: GroupByKey values past it go to disk (SpillLog). */
  readonly budget?: { readonly budget: MemoryBudget; readonly valueCoder: Coder<unknown> };
}

/** Appends `from` to `to` element by element: a pane may hold more values than a call takes arguments. */
function append<T>(to: T[], from: readonly T[]): void {
  for (const x of from) to.push(x);
}

const LATE_KEY = MetricsContainer.cellKey("sluice", "droppedDueToLateness");
const CLOSED_KEY = MetricsContainer.cellKey("sluice", "droppedDueToClosedWindow");
const SESSIONS_URN = "beam:window_fn:session_windows:v1";

/** GroupByKey (and CombinePerKey) of an unbounded collection, or of a bounded one with a non-default trigger. */
export class StreamingGroupOperator implements Receiver, Clocked {
  private readonly cells = new Map<string | number, Cell>();
  /** The next id of a merging window's cell. */
  private nextCellId = 0;
  /** Merging windowing: each key's live cells (disjoint windows, by start), the ones a new window may merge with. */
  private readonly byKey = new Map<unknown, Cell[]>();
  /** Cells the current bundle touched: only their triggers are checked at its end. */
  private readonly touched = new Set<Cell>();
  /** The cell extendSession just grew, for receive to take without looking it up. */
  private extended: Cell | undefined;
  private readonly fn;
  private remaining: number;
  /** GroupByKey values past the memory budget, when there is one. */
  private readonly log: SpillLog | undefined;
  /** Bytes the cells' values in memory hold, by estimate (counted in the budget). */
  private held = 0;
  private readonly sample = { n: 0, avg: 0 };

  constructor(private readonly config: StreamingGroupConfig) {
    this.fn = config.windowing.windowFn;
    this.remaining = config.inputs;
    this.log = config.budget !== undefined && config.combineFn === undefined ? new SpillLog(config.budget.budget, config.budget.valueCoder) : undefined;
  }

  /** Calls the CombineFn (user code) with this step's metrics, its failures named. */
  private combining<T>(key: unknown, f: (fn: AnyCombineFn) => T): T {
    const prev = setCurrentMetricsContainer(this.config.metrics.bundle);
    try {
      return f(this.config.combineFn!);
    } catch (err) {
      throw userCodeError(this.config.step, "the CombineFn", err, { value: key });
    } finally {
      setCurrentMetricsContainer(prev);
    }
  }

  /**
   * No values yet; `withAcc`: a CombinePerKey's accumulator too. Held values need none when
   * DISCARDING: they are never merged (held takes fresh values only when ACCUMULATING, and cells
   * merge only in merging windows, where CombinePerKey runs as GroupByKey and CombineValues).
   */
  private noValues(key: unknown, withAcc = true): PaneValues {
    const acc = this.config.combineFn === undefined || !withAcc ? undefined : this.combining(key, (fn) => fn.createAccumulator());
    return { spilled: [], memory: [], bytes: 0, acc, count: 0, minTs: Infinity, maxTs: -Infinity };
  }

  private addValue(cell: Cell, value: unknown, ts: Timestamp): void {
    const v = cell.fresh;
    v.count++;
    if (ts < v.minTs) v.minTs = ts;
    if (ts > v.maxTs) v.maxTs = ts;
    if (this.config.combineFn !== undefined) {
      v.acc = this.combining(cell.key, (fn) => fn.addInput(v.acc, value));
      return;
    }
    v.memory.push(value);
    if (this.log === undefined) return;
    const bytes = 8 + estimateBytes(value, this.config.budget!.valueCoder, this.sample);
    v.bytes += bytes;
    this.held += bytes;
    if (this.config.budget!.budget.add(bytes, this.held)) this.spillCells();
  }

  /** Past the budget: every cell's values in memory go to the log. */
  private spillCells(): void {
    const log = this.log!;
    const before = this.config.budget!.budget.spilledBytes;
    for (const c of this.cells.values()) {
      for (const v of [c.held, c.fresh]) {
        if (v.memory.length === 0) continue;
        v.spilled.push(log.append(v.memory));
        v.memory = [];
        v.bytes = 0;
      }
    }
    log.flush();
    this.config.budget!.budget.release(this.held);
    this.held = 0;
    countSpilled(this.config.metrics, this.config.budget!.budget.spilledBytes - before);
    // What was spilled is garbage now (as the batch grouping's tables are, spillTables).
    collectGarbage();
  }

  /** `from`'s values appended to `into`'s (merging windows, or a pane moving fresh values to held). */
  private mergeValues(key: unknown, into: PaneValues, from: PaneValues): void {
    into.spilled.push(...from.spilled);
    append(into.memory, from.memory);
    into.bytes += from.bytes;
    into.count += from.count;
    if (from.minTs < into.minTs) into.minTs = from.minTs;
    if (from.maxTs > into.maxTs) into.maxTs = from.maxTs;
    if (this.config.combineFn !== undefined) into.acc = this.combining(key, (fn) => fn.mergeAccumulators([into.acc, from.acc]));
  }

  /** Values no cell holds any more: their memory and their segments released. */
  private forget(v: PaneValues): void {
    if (v.bytes > 0) {
      this.config.budget!.budget.release(v.bytes);
      this.held -= v.bytes;
    }
    for (const seg of v.spilled) this.log!.release(seg);
  }

  /**
   * The clocks this grouping sees: the plan's, except that a bounded input's watermark is at the
   * end of time once all of it has arrived (before that, nothing is late: it arrives in no order).
   */
  private time(): TriggerTime {
    const t = this.now;
    return this.inputDone ? { watermark: MAX_TIMESTAMP, processingTime: t.processingTime } : t;
  }
  private inputDone = false;
  private now: TriggerTime = { watermark: -Infinity, processingTime: 0 };
  /**
   * The output watermark when the clocks last advanced, before anything fired: a window it has
   * passed can have no on-time pane any more (its first pane is LATE, as Beam Java's
   * PaneInfoTracker decides: "late for output"). Between advances it only rises (holds are
   * released as panes fire), so using it at bundle ends errs towards ON_TIME, never towards LATE.
   */
  private outputWatermarkBeforeFiring = -Infinity;

  private cellId(window: BoundedWindow, sk: unknown): string {
    return `${this.fn.windowKey(window)}\u0000${typeof sk === "string" ? sk : String(sk)}`;
  }

  /** The cell of `window` and key: by id, or for merging windows among the key's live cells (by start). */
  private findCell(window: BoundedWindow, sk: unknown): Cell | undefined {
    if (!this.fn.isMerging) return this.cells.get(this.cellId(window, sk));
    const live = this.byKey.get(sk);
    if (live === undefined) return undefined;
    if (window instanceof IntervalWindow) {
      for (let i = this.positionOf(live, window.start); i < live.length; i++) {
        const w = live[i]!.window as IntervalWindow;
        if (w.start !== window.start) break;
        if (w.end === window.end) return live[i];
      }
      return undefined;
    }
    const key = this.fn.windowKey(window);
    return live.find((c) => this.fn.windowKey(c.window) === key);
  }

  private newCell(key: unknown, sk: unknown, window: BoundedWindow, machine: TriggerMachine, values?: { fresh: PaneValues; held: PaneValues }): Cell {
    const fresh = values?.fresh ?? this.noValues(key);
    const held = values?.held ?? this.noValues(key, this.config.windowing.accumulationMode === "ACCUMULATING");
    return { key, id: "", sk, window, machine, fresh, held, panes: 0, onTimePanes: 0, onTimeFired: false, hold: undefined };
  }

  /**
   * Merging windows (Sessions): the element's window merges with the key's live windows it
   * overlaps. The merged window's cell takes their values and trigger states (TriggerMachine.merge)
   * and whether an on-time pane fired; its panes are numbered afresh, as a new window's are in Beam.
   * The largest cell's value lists move into the merged cell (a session that grows by one element
   * at a time costs O(1) per element, not a copy of all it holds).
   */
  private mergedWindow(key: unknown, sk: unknown, w: BoundedWindow): BoundedWindow {
    const live = this.byKey.get(sk);
    if (live === undefined || live.length === 0) return w;
    const wk = this.fn.windowKey(w);
    // Only the key's windows that overlap the new one can merge with it; they are disjoint and
    // sorted by start, so they are found by a binary search (a hot key has many sessions).
    const windows: BoundedWindow[] = [];
    if (w instanceof IntervalWindow) {
      let lo = 0;
      let hi = live.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((live[mid]!.window as IntervalWindow).end <= w.start) lo = mid + 1;
        else hi = mid;
      }
      for (let i = lo; i < live.length && (live[i]!.window as IntervalWindow).start < w.end; i++) windows.push(live[i]!.window);
      // The common case, a session growing by an element: done in place.
      if (windows.length === 1 && this.fn.urn === SESSIONS_URN) return this.extendSession(live[lo]!, key, sk, w);
    } else {
      for (const c of live) windows.push(c.window);
    }
    if (windows.length === 0) return w;
    // A window equal to a live one is that window, not a second one to merge with it.
    if (!windows.some((x) => this.fn.windowKey(x) === wk)) windows.push(w);
    let target = w;
    for (const m of this.fn.mergeWindows(windows)) {
      const fromCells = [...new Set(m.from.map((fw) => this.findCell(fw, sk)).filter((c): c is Cell => c !== undefined))];
      if (fromCells.length === 0) continue;
      const includesNew = m.from.some((fw) => this.fn.windowKey(fw) === wk);
      const machines = fromCells.map((c) => c.machine);
      if (includesNew && !fromCells.some((c) => this.fn.windowKey(c.window) === wk)) {
        machines.push(TriggerMachine.create(this.config.windowing.trigger));
      }
      const size = (c: Cell): number => c.fresh.count + c.held.count;
      const base = fromCells.reduce((a, c) => (size(c) > size(a) ? c : a));
      const merged = this.newCell(key, sk, m.into, TriggerMachine.merge(machines, m.into, this.time()), { fresh: base.fresh, held: base.held });
      for (const c of fromCells) {
        if (c !== base) {
          this.mergeValues(key, merged.fresh, c.fresh);
          this.mergeValues(key, merged.held, c.held);
        }
        merged.onTimeFired ||= c.onTimeFired;
        if (c.hold !== undefined && (merged.hold === undefined || c.hold < merged.hold)) merged.hold = c.hold;
        this.dropCell(c.id, c);
        this.touched.delete(c);
      }
      this.touched.add(merged);
      this.putCell(this.nextCellId++, merged);
      if (includesNew) target = m.into;
    }
    return target;
  }

  /**
   * Sessions: the element's window `w` overlaps one live session, `c`. What the general merge
   * does (a merged cell for the span, with the two trigger states merged, its panes numbered
   * afresh, the values moved), done to `c` itself: no new cell, no copies. Its place among the
   * key's live cells holds (the span overlaps no other of them).
   */
  private extendSession(c: Cell, key: unknown, sk: unknown, w: IntervalWindow): BoundedWindow {
    const cw = c.window as IntervalWindow;
    if (cw.start === w.start && cw.end === w.end) return w;
    const into = cw.span(w);
    c.machine = TriggerMachine.merge([c.machine, TriggerMachine.create(this.config.windowing.trigger)], into, this.time());
    c.key = key;
    c.window = into;
    c.panes = 0;
    c.onTimePanes = 0;
    // Touched already or not, once (moving it to the end would only reorder its pane among this bundle's).
    this.touched.add(c);
    this.extended = c;
    return into;
  }

  /** Adds a cell to the table (and, for merging windows, to its key's live cells, by start). */
  private putCell(id: string | number, cell: Cell): void {
    cell.id = id;
    this.cells.set(id, cell);
    if (!this.fn.isMerging) return;
    let live = this.byKey.get(cell.sk);
    if (live === undefined) this.byKey.set(cell.sk, (live = []));
    live.splice(this.position(live, cell), 0, cell);
  }

  private dropCell(id: string | number, cell: Cell): void {
    this.cells.delete(id);
    const live = this.byKey.get(cell.sk);
    if (live === undefined) return;
    let i = this.position(live, cell);
    if (live[i] !== cell) i = live.indexOf(cell);
    if (i !== -1) live.splice(i, 1);
    if (live.length === 0) this.byKey.delete(cell.sk);
  }

  /** Where `cell` goes in a key's live cells (ordered by window start). */
  private position(live: readonly Cell[], cell: Cell): number {
    return this.positionOf(live, cell.window instanceof IntervalWindow ? cell.window.start : 0);
  }

  /** The first of a key's live cells starting at or after `start`. */
  private positionOf(live: readonly Cell[], start: Timestamp): number {
    let lo = 0;
    let hi = live.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const w = live[mid]!.window;
      if ((w instanceof IntervalWindow ? w.start : 0) < start) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private expired(w: BoundedWindow, watermark: Timestamp): boolean {
    return w.maxTimestamp() + this.config.windowing.allowedLateness < watermark;
  }

  receive(value: unknown, meta: Meta): Pending {
    if (!Array.isArray(value) || value.length !== 2) {
      throw new SluiceError("INVALID_PIPELINE", `Transform '${this.config.step}' groups by key, but got ${typeof value} elements`, { hint: "Group [key, value] pairs." });
    }
    const { metrics } = this.config;
    const sk = this.config.keyCoder.structuralKey(value[0]);
    for (const assigned of meta.windows) {
      if (this.expired(assigned, this.time().watermark)) {
        metrics.bundle.inc(LATE_KEY, 1);
        continue;
      }
      const w = this.fn.isMerging ? this.mergedWindow(value[0], sk, assigned) : assigned;
      // A session grown in place is the cell (no id to build and look up again).
      let cell = this.extended !== undefined && this.extended.window === w ? this.extended : undefined;
      this.extended = undefined;
      if (cell === undefined) {
        cell = this.findCell(w, sk);
        if (cell === undefined) {
          cell = this.newCell(value[0], sk, w, TriggerMachine.create(this.config.windowing.trigger));
          this.putCell(this.fn.isMerging ? this.nextCellId++ : this.cellId(w, sk), cell);
        }
      }
      if (cell.machine.isFinished) {
        metrics.bundle.inc(CLOSED_KEY, 1);
        continue;
      }
      this.addValue(cell, value[1], meta.timestamp);
      // On-time values hold the output watermark at their pane's timestamp; late ones cannot.
      const hold = this.config.windowing.timestampCombiner === "END_OF_WINDOW" ? w.maxTimestamp() : meta.timestamp;
      if (hold >= this.now.watermark && (cell.hold === undefined || hold < cell.hold)) cell.hold = hold;
      cell.machine.onElement(meta.timestamp, w, this.time());
      this.touched.add(cell);
    }
    return undefined;
  }

  /** Bundle end: triggers of the cells this bundle touched. */
  async flush(epoch: number): Promise<void> {
    const due: Cell[] = [];
    for (const cell of this.touched) {
      // A cell merged away meanwhile is no longer in the table; its successor was touched too.
      if (this.cells.get(cell.id) !== cell) continue;
      if (cell.machine.shouldFire(cell.window, this.time())) due.push(cell);
    }
    this.touched.clear();
    for (const cell of due) await this.fire(cell);
    this.config.metrics.commit();
    await this.config.out.flush(epoch);
  }

  /** The input watermark or processing time advanced: due panes fire, expired windows close. */
  async advance(to: TriggerTime, epoch: number): Promise<void> {
    this.now = { watermark: Math.max(this.now.watermark, to.watermark), processingTime: Math.max(this.now.processingTime, to.processingTime) };
    await this.advanceNow(epoch);
  }

  outputWatermark(): Timestamp {
    let w = this.time().watermark;
    for (const c of this.cells.values()) if (c.hold !== undefined && c.hold < w) w = c.hold;
    return w;
  }

  private async advanceNow(epoch: number): Promise<void> {
    this.outputWatermarkBeforeFiring = this.outputWatermark();
    const time = this.time();
    for (const [id, cell] of [...this.cells]) {
      if (!cell.machine.isFinished && cell.machine.shouldFire(cell.window, time)) await this.fire(cell);
      if (this.expired(cell.window, time.watermark)) {
        // Closing: elements no pane has held yet get a last pane (Beam's FIRE_IF_NON_EMPTY).
        if (cell.fresh.count > 0 && !cell.machine.isFinished) await this.fire(cell, true);
        this.dropCell(id, cell);
        if (this.log !== undefined) {
          this.forget(cell.fresh);
          this.forget(cell.held);
        }
      }
    }
    this.config.metrics.commit();
    await this.config.out.flush(epoch);
  }

  /** The earliest processing time at which a pane may become due (for a real clock to wake at). */
  nextDeadline(): number | undefined {
    const time = this.time();
    let next: number | undefined;
    for (const c of this.cells.values()) {
      const d = c.machine.isFinished ? undefined : c.machine.nextProcessingTimeDeadline(c.window, time);
      if (d !== undefined && (next === undefined || d < next)) next = d;
    }
    return next;
  }

  private async fire(cell: Cell, closing = false): Promise<void> {
    const { windowing } = this.config;
    const accumulating = windowing.accumulationMode === "ACCUMULATING";
    let timing = paneTiming(cell.window, this.time().watermark, cell.onTimeFired);
    if (timing === "ON_TIME" && this.outputWatermarkBeforeFiring > cell.window.maxTimestamp()) timing = "LATE";
    if (!closing) cell.machine.onFire(cell.window, this.time());
    const { fresh, held } = cell;
    const pane: PaneInfo = {
      isFirst: cell.panes === 0,
      isLast: closing || cell.machine.isFinished,
      timing,
      index: cell.panes,
      onTimeIndex: timing === "EARLY" ? -1 : cell.onTimePanes,
    };
    cell.panes++;
    if (timing !== "EARLY") cell.onTimePanes++;
    if (timing === "ON_TIME") cell.onTimeFired = true;
    // After an early pane the window's end holds the watermark, so its on-time pane is on time
    // (Beam Java's end-of-window hold); after the on-time pane nothing does.
    cell.hold = timing === "EARLY" && !cell.machine.isFinished ? cell.window.maxTimestamp() : undefined;
    const count = fresh.count + (accumulating ? held.count : 0);
    const minTs = accumulating ? Math.min(held.minTs, fresh.minTs) : fresh.minTs;
    const maxTs = accumulating ? Math.max(held.maxTs, fresh.maxTs) : fresh.maxTs;
    const combiner = windowing.timestampCombiner;
    let timestamp = cell.window.maxTimestamp();
    if (combiner !== "END_OF_WINDOW" && count > 0) timestamp = combiner === "EARLIEST" ? minTs : maxTs;
    let out: unknown;
    if (this.config.combineFn !== undefined) {
      if (accumulating) {
        this.mergeValues(cell.key, held, fresh);
        out = this.combining(cell.key, (fn) => fn.extractOutput(held.acc));
      } else {
        out = this.combining(cell.key, (fn) => fn.extractOutput(fresh.acc));
      }
    } else {
      // (A copy of held's memory: held takes fresh's values below.)
      const parts: Part[] = accumulating ? [...held.spilled, held.memory.slice(), ...fresh.spilled, fresh.memory] : [...fresh.spilled, fresh.memory];
      const spilled = fresh.spilled.length > 0 || (accumulating && held.spilled.length > 0);
      // In memory, one array as before; spilled, an iterable reading the log (re-iterable).
      out = spilled ? this.log!.values(parts) : accumulating ? [...held.memory, ...fresh.memory] : fresh.memory;
      if (accumulating) this.mergeValues(cell.key, held, fresh);
    }
    cell.fresh = this.noValues(cell.key);
    const pending: Promise<void>[] = [];
    this.config.out.emit([cell.key, out], { timestamp: Math.min(timestamp, MAX_TIMESTAMP), windows: [cell.window], pane }, pending);
    await Promise.all(pending);
    // Downstream is done with the pane: DISCARDING forgets its values (their segments too).
    if (!accumulating && this.log !== undefined) this.forget(fresh);
  }

  finishInput(): Pending {
    if (--this.remaining > 0) return undefined;
    // The input has ended: its watermark is at the end of time, closing every window (a
    // TestStream's script ends there already; an unbounded source gets there when it is done).
    this.inputDone = true;
    return this.advanceNow(-1).then(() => {
      this.log?.close();
      return this.config.out.finish();
    });
  }
}
