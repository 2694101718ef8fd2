/**
 * The runtime of stateful DoFns: state cells and timers per key and window, kept by the ParDo
 * operator that runs the DoFn (operators.ts), the timers scheduled here on the runner's side.
 *
 * - A cell per (key, window) holds the declared state's contents. Values are stored as copies:
 *   objects encoded with the declared coder (so later mutation of what was written or read does not
 *   change the state, as on a runner that keeps state outside the process), primitives as they are.
 * - Timers are per (key, window, timer, tag); setting one again moves it. Event-time timers fire
 *   when the input watermark reaches their time, processing-time ones when the clock does,
 *   in time order (ties in the order they were set). A pending timer holds the operator's output
 *   watermark at its output timestamp, so what its callback emits is never behind downstream.
 * - A window expires when the input watermark passes its end plus the allowed lateness: its
 *   cells are dropped with their timers (after `onWindowExpiration`).
 */
import { SluiceError } from "../../internal/errors.js";
import type { Coder } from "../../sdk/coders/coder.js";
import { decodeFromBytes, encodeToBytes } from "../../sdk/coders/coder.js";
import { JsValueCoder } from "../../sdk/coders/index.js";
import type { StatefulSpec } from "../../sdk/graph.js";
import type { StateSpecData, TimeDomain, TimerSetOptions } from "../../sdk/state.js";
import type { Timestamp } from "../../sdk/time.js";
import type { AnyCombineFn } from "../../sdk/transforms/combinefn.js";
import { type BoundedWindow, GLOBAL_WINDOW } from "../../sdk/windowing/window.js";
import type { WindowFn } from "../../sdk/windowing/windowfns.js";

/** A value kept encoded (an object), so the state holds a copy. */
class Encoded {
  constructor(readonly bytes: Uint8Array) {}
}

function isImmutable(v: unknown): boolean {
  return v === null || (typeof v !== "object" && typeof v !== "function");
}

function keep(coder: Coder<unknown>, v: unknown): unknown {
  return isImmutable(v) ? v : new Encoded(encodeToBytes(coder, v));
}

function give(coder: Coder<unknown>, x: unknown): unknown {
  return x instanceof Encoded ? decodeFromBytes(coder, x.bytes) : x;
}

/** One key's state and timers in one window. */
export interface StateCell {
  readonly key: unknown;
  readonly window: BoundedWindow;
  readonly id: string;
  /** Contents by state name (absent: empty). */
  readonly contents: Map<string, unknown>;
  /** Live timers by `name\0tag`. */
  readonly timers: Map<string, TimerEntry>;
  accessors?: Record<string, unknown>;
  timerAccessors?: Record<string, unknown>;
  /** With a backend: the state names written since the cell was loaded. */
  readonly dirty: Set<string>;
  /** With a backend: timers cleared in this bundle (a firing of one the runner sends then is stale). */
  readonly cleared: Set<string>;
  /** With a backend: resolves once the runner's state for the cell is in `contents`. */
  loading?: Promise<void> | undefined;
}

/**
 * Where state and timers live when the runner keeps them (the SDK harness: the Fn API's bag user
 * state and timer streams). Cells are loaded before use and written back at the bundle's end;
 * timers are sent to the runner, which fires them back.
 */
export interface StateBackend {
  /** Loads the runner's state of a new cell into its contents (see contentsFromBag). */
  load(cell: StateCell): Promise<void> | undefined;
  /** A timer set, or (clear) removed. */
  timer(cell: StateCell, name: string, tag: string, t: { fireTime: Timestamp; outputTimestamp: Timestamp } | "clear"): void;
}

export interface TimerEntry {
  readonly cell: StateCell;
  readonly name: string;
  readonly tag: string;
  readonly domain: TimeDomain;
  readonly fireTime: Timestamp;
  readonly outputTimestamp: Timestamp;
  readonly seq: number;
  live: boolean;
}

/** A binary min-heap of timer entries, removed lazily (dead entries are skipped when popped). */
class TimerHeap {
  private readonly items: TimerEntry[] = [];
  constructor(private readonly before: (a: TimerEntry, b: TimerEntry) => boolean) {}
  push(e: TimerEntry): void {
    const a = this.items;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(a[i]!, a[parent]!)) break;
      [a[i], a[parent]] = [a[parent]!, a[i]!];
      i = parent;
    }
  }
  /** The first live entry, dropping dead ones above it. */
  peek(): TimerEntry | undefined {
    while (this.items.length > 0 && !this.items[0]!.live) this.pop();
    return this.items[0];
  }
  /** The latest time of a live entry. */
  latest(): Timestamp | undefined {
    let m: Timestamp | undefined;
    for (const e of this.items) if (e.live && (m === undefined || e.fireTime > m)) m = e.fireTime;
    return m;
  }
  pop(): TimerEntry | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.before(a[l]!, a[m]!)) m = l;
        if (r < a.length && this.before(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

const byFireTime = (a: TimerEntry, b: TimerEntry): boolean => a.fireTime < b.fireTime || (a.fireTime === b.fireTime && a.seq < b.seq);
const byOutputTimestamp = (a: TimerEntry, b: TimerEntry): boolean => a.outputTimestamp < b.outputTimestamp || (a.outputTimestamp === b.outputTimestamp && a.seq < b.seq);

export interface StatefulRuntimeConfig {
  readonly step: string;
  readonly spec: StatefulSpec;
  readonly windowFn: WindowFn;
  readonly allowedLateness: number;
  /** The DoFn has onWindowExpiration: windows with state hold the output watermark at their end until it ran. */
  readonly expiryHolds?: boolean;
  /** Where state and timers live, when not here (the harness). */
  readonly backend?: StateBackend;
}

/** What the runtime needs to know about the call in progress (element or timer). */
export interface CurrentCall {
  /** The element's timestamp, or the firing timer's output timestamp. */
  timestamp: Timestamp;
  /** The clock's processing time. */
  processingTime: number;
}

export class StatefulRuntime {
  private readonly cells = new Map<string, StateCell>();
  private readonly eventTimers = new TimerHeap(byFireTime);
  private readonly processingTimers = new TimerHeap(byFireTime);
  private readonly holds = new TimerHeap(byOutputTimestamp);
  private seq = 0;
  private expiredUpTo = -Infinity;
  /** Windows that have cells, with how many. */
  private readonly liveWindows = new Map<string | number, { window: BoundedWindow; cells: number }>();
  readonly current: CurrentCall = { timestamp: 0, processingTime: 0 };
  private readonly stateNames: [string, StateSpecData][];

  constructor(private readonly config: StatefulRuntimeConfig) {
    this.stateNames = Object.entries(config.spec.state);
  }

  /** When a window's state is dropped: the end of the window plus the allowed lateness. */
  expiry(w: BoundedWindow): Timestamp {
    return w.maxTimestamp() + this.config.allowedLateness;
  }

  cell(key: unknown, window: BoundedWindow): StateCell {
    const sk = this.config.spec.keyCoder.structuralKey(key);
    const id = `${this.config.windowFn.windowKey(window)}\u0000${typeof sk === "string" ? sk : String(sk)}`;
    let c = this.cells.get(id);
    if (c === undefined) {
      c = { key, window, id, contents: new Map(), timers: new Map(), dirty: new Set(), cleared: new Set() };
      this.cells.set(id, c);
      const backend = this.config.backend;
      if (backend !== undefined) {
        const loading = backend.load(c);
        if (loading !== undefined) {
          const cell = c;
          cell.loading = loading.then(() => void (cell.loading = undefined));
        }
      }
      const wk = this.config.windowFn.windowKey(window);
      const w = this.liveWindows.get(wk);
      if (w === undefined) this.liveWindows.set(wk, { window, cells: 1 });
      else w.cells++;
    }
    return c;
  }

  /** The DoFn's `ctx.state` for a cell (made once per cell). */
  state(cell: StateCell): Record<string, unknown> {
    if (cell.accessors === undefined) {
      const acc: Record<string, unknown> = {};
      for (const [name, spec] of this.stateNames) acc[name] = tracked(accessor(cell, name, spec) as Record<string, unknown>, cell, name);
      cell.accessors = Object.freeze(acc);
    }
    return cell.accessors;
  }

  /** The DoFn's `ctx.timers` for a cell (made once per cell; reads the call in progress). */
  timers(cell: StateCell): Record<string, unknown> {
    if (cell.timerAccessors === undefined) {
      const acc: Record<string, unknown> = {};
      for (const [name, spec] of Object.entries(this.config.spec.timers)) {
        const set = (time: Timestamp, options?: TimerSetOptions): void => this.setTimer(cell, name, spec.domain, time, options);
        const timer: Record<string, unknown> = {
          set,
          clear: (tag = ""): void => this.clearTimer(cell, name, tag),
        };
        if (spec.domain === "PROCESSING_TIME") timer.setRelative = (delay: number, options?: TimerSetOptions): void => set(this.current.processingTime + delay, options);
        acc[name] = Object.freeze(timer);
      }
      cell.timerAccessors = Object.freeze(acc);
    }
    return cell.timerAccessors;
  }

  private fail(message: string, hint: string): never {
    throw new SluiceError("USER_CODE_FAILED", `Transform '${this.config.step}' ${message}`, { hint });
  }

  private setTimer(cell: StateCell, name: string, domain: TimeDomain, time: Timestamp, options: TimerSetOptions | undefined): void {
    if (typeof time !== "number" || Number.isNaN(time)) this.fail(`set timer '${name}' to ${String(time)}`, "Pass a timestamp in milliseconds since the epoch.");
    const tag = options?.tag ?? "";
    const inputTs = this.current.timestamp;
    const expiry = this.expiry(cell.window);
    if (domain === "EVENT_TIME" && time > expiry) {
      this.fail(
        `set event-time timer '${name}' for ${time}, after its window ${cell.window.toString()} expires (${expiry})`,
        "Set event-time timers no later than the window's end plus the allowed lateness (ctx.window.maxTimestamp()).",
      );
    }
    const outputTimestamp = options?.outputTimestamp ?? (domain === "EVENT_TIME" ? time : inputTs);
    // An explicit output timestamp is checked as Beam Java checks it; the default one of a timer
    // set in the past may be earlier than the input (Beam Python allows such timers; they fire at once).
    if (options?.outputTimestamp !== undefined && outputTimestamp < inputTs) {
      this.fail(
        `set timer '${name}' with output timestamp ${outputTimestamp}, before the timestamp of the current input (${inputTs})`,
        "A timer's output timestamp may not be earlier than the element (or timer) that sets it: that would move the watermark back.",
      );
    }
    if (domain === "EVENT_TIME" && outputTimestamp > time) {
      this.fail(`set event-time timer '${name}' for ${time} with a later output timestamp (${outputTimestamp})`, "An event-time timer's output timestamp may not be after its firing time.");
    }
    if (outputTimestamp > cell.window.maxTimestamp()) {
      this.fail(
        `set timer '${name}' with output timestamp ${outputTimestamp}, after the end of its window ${cell.window.toString()}`,
        "Outputs belong to the timer's window: keep the output timestamp within it.",
      );
    }
    const backend = this.config.backend;
    if (backend !== undefined) {
      // Kept per cell for the bundle: the timers the runner has yet to fire (see the expiry).
      cell.timers.set(`${name}\u0000${tag}`, { cell, name, tag, domain, fireTime: time, outputTimestamp, seq: this.seq++, live: false });
      return backend.timer(cell, name, tag, { fireTime: time, outputTimestamp });
    }
    const id = `${name}\u0000${tag}`;
    const old = cell.timers.get(id);
    if (old) old.live = false;
    const e: TimerEntry = { cell, name, tag, domain, fireTime: time, outputTimestamp, seq: this.seq++, live: true };
    cell.timers.set(id, e);
    (domain === "EVENT_TIME" ? this.eventTimers : this.processingTimers).push(e);
    this.holds.push(e);
  }

  private clearTimer(cell: StateCell, name: string, tag: string): void {
    if (this.config.backend !== undefined) {
      cell.timers.delete(`${name}\u0000${tag}`);
      cell.cleared.add(`${name}\u0000${tag}`);
      return this.config.backend.timer(cell, name, tag, "clear");
    }
    const id = `${name}\u0000${tag}`;
    const old = cell.timers.get(id);
    if (old) {
      old.live = false;
      cell.timers.delete(id);
    }
  }

  /**
   * The next timer due at these clocks, removed: event-time timers first (time at or before the
   * watermark, as Beam Python and Flink fire them; Beam Java's in-memory timers wait until the
   * watermark is past), then processing-time ones (time at or before the clock).
   */
  nextDue(watermark: Timestamp, processingTime: number): TimerEntry | undefined {
    const e = this.eventTimers.peek();
    const take = (heap: TimerHeap, t: TimerEntry): TimerEntry => {
      heap.pop();
      // Its hold stays until its callback has run (fired): what the callback emits is held.
      t.cell.timers.delete(`${t.name}\u0000${t.tag}`);
      return t;
    };
    if (e !== undefined && e.fireTime <= watermark) return take(this.eventTimers, e);
    const p = this.processingTimers.peek();
    if (p !== undefined && p.fireTime <= processingTime) return take(this.processingTimers, p);
    return undefined;
  }

  /** A timer's callback has run: its hold goes. */
  fired(t: TimerEntry): void {
    t.live = false;
  }

  /**
   * The output watermark's hold: the earliest output timestamp of a pending (or firing) timer;
   * with an expiry callback, also the end of every window with state, until it expired and the
   * callback ran (Beam Java's garbage-collection hold), so what the callback emits is on time.
   */
  hold(): Timestamp {
    let h = this.holds.peek()?.outputTimestamp ?? Infinity;
    if (this.config.expiryHolds) for (const w of this.liveWindows.values()) if (w.window.maxTimestamp() < h) h = w.window.maxTimestamp();
    return h;
  }

  /** Expired cells whose expiry callback has run: their windows' holds go. */
  released(cells: readonly StateCell[]): void {
    for (const c of cells) {
      const k = this.config.windowFn.windowKey(c.window);
      const w = this.liveWindows.get(k);
      if (w !== undefined && --w.cells === 0) this.liveWindows.delete(k);
    }
  }

  /**
   * The processing time the end of input advances to: the latest pending processing-time timer's,
   * so each fires once, and one a callback sets then (relative to it) does not.
   */
  endProcessingTime(now: number): number {
    return Math.max(now, this.processingTimers.latest() ?? now);
  }

  /** The earliest processing time a timer is due at. */
  nextProcessingTime(): number | undefined {
    return this.processingTimers.peek()?.fireTime;
  }

  /** The cells in memory (with a backend: those of the current bundle). */
  allCells(): IterableIterator<StateCell> {
    return this.cells.values();
  }

  /** Forgets every cell (with a backend, after the bundle's writes: the runner has the state). */
  forgetAll(): void {
    this.cells.clear();
    this.liveWindows.clear();
  }

  /**
   * Whether a timer the runner fires in this bundle was set again or cleared earlier in it (by a
   * callback of a timer fired before it): that firing is stale. A runner fires every timer due at
   * its watermark in one bundle, and learns of changes only when the bundle ends.
   */
  isStale(cell: StateCell, name: string, tag: string): boolean {
    const id = `${name}\u0000${tag}`;
    return cell.timers.has(id) || cell.cleared.has(id);
  }

  /** A firing timer, for the cell of its key and window (the harness: the runner fired it). */
  remoteTimer(cell: StateCell, name: string, tag: string, domain: TimeDomain, fireTime: Timestamp, outputTimestamp: Timestamp): TimerEntry {
    return { cell, name, tag, domain, fireTime, outputTimestamp, seq: this.seq++, live: false };
  }

  /** Cells whose window expired at this watermark (all of them at the end of input), removed. */
  takeExpired(watermark: Timestamp, all: boolean): StateCell[] {
    // Only a watermark that moved can expire windows (cells of expired windows are never made).
    if (!all && watermark <= this.expiredUpTo) return [];
    this.expiredUpTo = watermark;
    const out: StateCell[] = [];
    for (const [id, c] of this.cells) {
      // The global window's state lasts until the end (Beam skips its garbage collection).
      if (all || (c.window !== GLOBAL_WINDOW && this.expiry(c.window) < watermark)) {
        for (const t of c.timers.values()) t.live = false;
        c.timers.clear();
        this.cells.delete(id);
        out.push(c);
      }
    }
    return out;
  }
}

/** The accessor object of one declared state cell. */
function accessor(cell: StateCell, name: string, spec: StateSpecData): unknown {
  const c = cell.contents;
  const coder = spec.coder ?? JsValueCoder;
  switch (spec.kind) {
    case "value":
      return Object.freeze({
        read: () => give(coder, c.get(name)),
        write: (v: unknown) => {
          if (v === undefined) c.delete(name);
          else c.set(name, keep(coder, v));
        },
        clear: () => c.delete(name),
      });
    case "bag": {
      const bag = (): unknown[] => {
        let b = c.get(name) as unknown[] | undefined;
        if (b === undefined) c.set(name, (b = []));
        return b;
      };
      return Object.freeze({
        read: () => ((c.get(name) as unknown[] | undefined) ?? []).map((x) => give(coder, x)),
        add: (v: unknown) => void bag().push(keep(coder, v)),
        isEmpty: () => ((c.get(name) as unknown[] | undefined) ?? []).length === 0,
        clear: () => c.delete(name),
      });
    }
    case "combining": {
      const fn: AnyCombineFn = spec.combineFn;
      const acc = (): unknown => (c.has(name) ? give(coder, c.get(name)) : fn.createAccumulator());
      return Object.freeze({
        read: () => fn.extractOutput(acc()),
        add: (v: unknown) => c.set(name, keep(coder, fn.addInput(acc(), v))),
        isEmpty: () => !c.has(name),
        clear: () => c.delete(name),
      });
    }
    case "set": {
      const members = (): Map<unknown, unknown> => {
        let m = c.get(name) as Map<unknown, unknown> | undefined;
        if (m === undefined) c.set(name, (m = new Map()));
        return m;
      };
      const current = (): Map<unknown, unknown> => (c.get(name) as Map<unknown, unknown> | undefined) ?? new Map();
      return Object.freeze({
        read: () => [...current().values()].map((x) => give(coder, x)),
        add: (v: unknown) => {
          const k = coder.structuralKey(v);
          const m = members();
          if (!m.has(k)) m.set(k, keep(coder, v));
        },
        has: (v: unknown) => current().has(coder.structuralKey(v)),
        delete: (v: unknown) => void current().delete(coder.structuralKey(v)),
        get size() {
          return current().size;
        },
        clear: () => c.delete(name),
      });
    }
    case "map": {
      const keyCoder = spec.keyCoder ?? JsValueCoder;
      const entries = (): Map<unknown, [unknown, unknown]> => {
        let m = c.get(name) as Map<unknown, [unknown, unknown]> | undefined;
        if (m === undefined) c.set(name, (m = new Map()));
        return m;
      };
      const current = (): Map<unknown, [unknown, unknown]> => (c.get(name) as Map<unknown, [unknown, unknown]> | undefined) ?? new Map();
      return Object.freeze({
        get: (k: unknown) => {
          const e = current().get(keyCoder.structuralKey(k));
          return e === undefined ? undefined : give(coder, e[1]);
        },
        set: (k: unknown, v: unknown) => void entries().set(keyCoder.structuralKey(k), [keep(keyCoder, k), keep(coder, v)]),
        has: (k: unknown) => current().has(keyCoder.structuralKey(k)),
        delete: (k: unknown) => void current().delete(keyCoder.structuralKey(k)),
        keys: () => [...current().values()].map((e) => give(keyCoder, e[0])),
        values: () => [...current().values()].map((e) => give(coder, e[1])),
        entries: () => [...current().values()].map((e) => [give(keyCoder, e[0]), give(coder, e[1])] as [unknown, unknown]),
        get size() {
          return current().size;
        },
        clear: () => c.delete(name),
      });
    }
  }
}

const MUTATORS = ["write", "add", "clear", "set", "delete"];

/** The accessor with its mutating methods marking the cell's state dirty (for a backend to write back). */
function tracked(acc: Record<string, unknown>, cell: StateCell, name: string): Record<string, unknown> {
  const descriptors = Object.getOwnPropertyDescriptors(acc);
  for (const m of MUTATORS) {
    const f = descriptors[m]?.value as ((...a: unknown[]) => unknown) | undefined;
    if (f !== undefined) {
      descriptors[m] = {
        enumerable: true,
        value: (...a: unknown[]) => {
          cell.dirty.add(name);
          return f(...a);
        },
      };
    }
  }
  return Object.freeze(Object.defineProperties({}, descriptors));
}

/**
 * A cell's contents from the elements of its bag user state (decoded with stateBagCoder): the
 * last value, the bag, the accumulators merged, the set's members, the map's entries (later
 * ones win). Undefined: empty.
 */
export function contentsFromBag(spec: StateSpecData, elements: readonly unknown[]): unknown {
  if (elements.length === 0) return undefined;
  const coder = spec.coder ?? JsValueCoder;
  switch (spec.kind) {
    case "value":
      return keep(coder, elements[elements.length - 1]);
    case "bag":
      return elements.map((e) => keep(coder, e));
    case "combining":
      return keep(coder, elements.length === 1 ? elements[0] : spec.combineFn.mergeAccumulators(elements));
    case "set": {
      const m = new Map<unknown, unknown>();
      for (const e of elements) m.set(coder.structuralKey(e), keep(coder, e));
      return m;
    }
    case "map": {
      const keyCoder = spec.keyCoder ?? JsValueCoder;
      const m = new Map<unknown, [unknown, unknown]>();
      for (const e of elements as [unknown, unknown][]) m.set(keyCoder.structuralKey(e[0]), [keep(keyCoder, e[0]), keep(coder, e[1])]);
      return m;
    }
  }
}

/** The elements of a cell's bag user state for its contents (the inverse of contentsFromBag). */
export function bagFromContents(spec: StateSpecData, content: unknown): unknown[] {
  if (content === undefined) return [];
  const coder = spec.coder ?? JsValueCoder;
  switch (spec.kind) {
    case "value":
    case "combining":
      return [give(coder, content)];
    case "bag":
      return (content as unknown[]).map((x) => give(coder, x));
    case "set":
      return [...(content as Map<unknown, unknown>).values()].map((x) => give(coder, x));
    case "map": {
      const keyCoder = spec.keyCoder ?? JsValueCoder;
      return [...(content as Map<unknown, [unknown, unknown]>).values()].map((e) => [give(keyCoder, e[0]), give(coder, e[1])]);
    }
  }
}
