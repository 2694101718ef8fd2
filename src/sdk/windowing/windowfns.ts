/**
 * Window functions (Beam's WindowFn): how elements are assigned to windows and, for sessions, how
 * windows merge. Batch semantics: the default trigger fires once per window at the end of input.
 */
import { type AccumulationMode, DefaultTrigger, type Trigger } from "./triggers.js";
import { SluiceError } from "../../internal/errors.js";
import type { Coder } from "../coders/coder.js";
import { GlobalWindowCoder, IntervalWindowCoder } from "../coders/index.js";
import type { Timestamp } from "../time.js";
import { GLOBAL_WINDOW, type BoundedWindow, type GlobalWindow, IntervalWindow } from "./window.js";

/** A merge produced by a merging WindowFn: `from` windows become `into`. */
export interface WindowMerge<W extends BoundedWindow> {
  readonly from: readonly W[];
  readonly into: W;
}

/** The standard window fns. */
export type WindowFnKind = "global" | "fixed" | "sliding" | "sessions";

export interface WindowFn<W extends BoundedWindow = BoundedWindow> {
  readonly kind: WindowFnKind;
  /** Standard URN of this window fn (`beam:window_fn:…:v1`); a test checks it against the protos' annotations. */
  readonly urn: string;
  /** Parameters, for translation to the Runner API and for display. */
  readonly params: Readonly<Record<string, number>>;
  readonly windowCoder: Coder<W>;
  readonly isMerging: boolean;
  assignWindows(timestamp: Timestamp): W[];
  /** Merges windows of one key (merging fns only). Windows not mentioned stay as they are. */
  mergeWindows(windows: readonly W[]): WindowMerge<W>[];
  /** The window of this fn that a main-input window reads from a side input windowed by this fn. */
  sideInputWindow(mainWindow: BoundedWindow): W;
  /** A stable key for a window, so windows can key maps. */
  windowKey(window: W): string | number;
  toString(): string;
}

function positive(what: string, value: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new SluiceError("INVALID_ARGUMENT", `${what} must be a positive number of milliseconds, got ${String(value)}`, {
      hint: "Pass milliseconds, e.g. Duration.minutes(1) or 60_000.",
    });
  }
  return value;
}

function mod(a: number, b: number): number {
  return ((a % b) + b) % b;
}

class GlobalWindowsFn implements WindowFn<GlobalWindow> {
  readonly kind = "global";
  readonly urn = "beam:window_fn:global_windows:v1";
  readonly params = {};
  readonly windowCoder = GlobalWindowCoder as Coder<GlobalWindow>;
  readonly isMerging = false;
  private readonly assigned: GlobalWindow[] = [GLOBAL_WINDOW];
  assignWindows(): GlobalWindow[] {
    return this.assigned;
  }
  mergeWindows(): WindowMerge<GlobalWindow>[] {
    return [];
  }
  sideInputWindow(): GlobalWindow {
    return GLOBAL_WINDOW;
  }
  windowKey(): number {
    return 0;
  }
  toString(): string {
    return "GlobalWindows()";
  }
}

const GLOBAL_WINDOWS = new GlobalWindowsFn();

/** The single global window: the default for every PCollection. */
export function GlobalWindows(): WindowFn<GlobalWindow> {
  return GLOBAL_WINDOWS;
}

/**
 * A main window whose end lies in no window of the side input's fn (sliding windows with gaps,
 * period > size). Beam Python fails too (an IndexError in the mapping); an empty side input would
 * hide the misconfiguration.
 */
function noSideWindow(fn: WindowFn, mainWindow: BoundedWindow): SluiceError {
  return new SluiceError(
    "INVALID_PIPELINE",
    `the main input window ${mainWindow.toString()} ends in no window of the side input's ${fn.toString()}`,
    { hint: "Window the side input so that every instant is in some window (a SlidingWindows period no longer than its size)." },
  );
}

abstract class IntervalWindowFn implements WindowFn<IntervalWindow> {
  abstract readonly kind: WindowFnKind;
  abstract readonly urn: string;
  abstract readonly params: Readonly<Record<string, number>>;
  readonly windowCoder = IntervalWindowCoder as Coder<IntervalWindow>;
  readonly isMerging: boolean = false;
  abstract assignWindows(timestamp: Timestamp): IntervalWindow[];
  mergeWindows(_windows: readonly IntervalWindow[]): WindowMerge<IntervalWindow>[] {
    return [];
  }
  /**
   * Beam's default window mapping ("map via end"): the side window is one this fn assigns to the
   * main window's max timestamp. When it assigns several (sliding windows), Beam Python takes the
   * last one `assign` lists (`sideinputs.default_window_mapping_fn`: `assign(...)[-1]`), and
   * Python's SlidingWindows.assign lists windows latest-starting first: so the *earliest*-starting
   * window containing the main window's end, the one that ends with the main window. Beam Java's
   * SlidingWindows.getDefaultWindowMappingFn takes the latest-starting one instead ("the last window
   * that contains the end of the main input window", [lastStart, lastStart + size)).
   *
   * Sluice follows Beam Python, its reference: a main window [20s, 30s) reading a
   * SlidingWindows(30s, 10s) side input sees the side window [0s, 30s) (Java: [20s, 50s)).
   * Beam Python 2.73 DirectRunner, side elements at 1, 11, 21, 31 s, main FixedWindows(10s):
   *   main 5 in [0,10) sees [1]; main 25 in [20,30) sees [1, 11, 21]; main 35 in [30,40) sees [11, 21, 31]
   * A global main window maps via its max timestamp too (Python); Java rejects it.
   * The direct runner (SideInputCollector) and the harness (StateSideInput) both map through here.
   */
  sideInputWindow(mainWindow: BoundedWindow): IntervalWindow {
    const windows = this.assignWindows(mainWindow.maxTimestamp());
    if (windows.length === 0) throw noSideWindow(this, mainWindow);
    return windows[windows.length - 1]!;
  }
  windowKey(window: IntervalWindow): string | number {
    return `${window.start}:${window.end}`;
  }
}

class FixedWindowsFn extends IntervalWindowFn {
  readonly kind = "fixed";
  readonly urn = "beam:window_fn:fixed_windows:v1";
  readonly params: Readonly<Record<string, number>>;
  constructor(
    readonly size: number,
    readonly offset: number,
  ) {
    super();
    this.params = { size, offset };
  }
  assignWindows(ts: Timestamp): IntervalWindow[] {
    const start = ts - mod(ts - this.offset, this.size);
    return [new IntervalWindow(start, start + this.size)];
  }
  /** Its windows all have its size, so the start alone tells them apart (no string per call). */
  override windowKey(window: IntervalWindow): number {
    return window.start;
  }
  override toString(): string {
    return `FixedWindows(${this.size}ms${this.offset ? `, offset ${this.offset}ms` : ""})`;
  }
}

/** Non-overlapping windows of `size` ms, aligned to `offset` ms past the epoch. */
export function FixedWindows(size: number, offset = 0): WindowFn<IntervalWindow> {
  positive("FixedWindows size", size);
  return new FixedWindowsFn(size, mod(offset, size));
}

class SlidingWindowsFn extends IntervalWindowFn {
  readonly kind = "sliding";
  readonly urn = "beam:window_fn:sliding_windows:v1";
  readonly params: Readonly<Record<string, number>>;
  constructor(
    readonly size: number,
    readonly period: number,
    readonly offset: number,
  ) {
    super();
    this.params = { size, period, offset };
  }
  assignWindows(ts: Timestamp): IntervalWindow[] {
    const windows: IntervalWindow[] = [];
    const lastStart = ts - mod(ts - this.offset, this.period);
    for (let start = lastStart; start > ts - this.size; start -= this.period) {
      windows.push(new IntervalWindow(start, start + this.size));
    }
    return windows;
  }
  /** Its windows all have its size, so the start alone tells them apart (no string per call). */
  override windowKey(window: IntervalWindow): number {
    return window.start;
  }
  /** The earliest-starting window containing the main window's end (see IntervalWindowFn), without allocating them all. */
  override sideInputWindow(mainWindow: BoundedWindow): IntervalWindow {
    const ts = mainWindow.maxTimestamp();
    const lastStart = ts - mod(ts - this.offset, this.period);
    // Starts are lastStart - k * period for k >= 0 while start > ts - size: the last such k.
    const k = Math.ceil((lastStart - ts + this.size) / this.period) - 1;
    if (k < 0) throw noSideWindow(this, mainWindow);
    const start = lastStart - k * this.period;
    return new IntervalWindow(start, start + this.size);
  }
  override toString(): string {
    return `SlidingWindows(${this.size}ms every ${this.period}ms)`;
  }
}

/** Overlapping windows of `size` ms starting every `period` ms; an element lands in size/period windows. */
export function SlidingWindows(size: number, period: number, offset = 0): WindowFn<IntervalWindow> {
  positive("SlidingWindows size", size);
  positive("SlidingWindows period", period);
  return new SlidingWindowsFn(size, period, mod(offset, period));
}

class SessionsFn extends IntervalWindowFn {
  readonly kind = "sessions";
  readonly urn = "beam:window_fn:session_windows:v1";
  override readonly isMerging = true;
  readonly params: Readonly<Record<string, number>>;
  constructor(readonly gap: number) {
    super();
    this.params = { gap };
  }
  assignWindows(ts: Timestamp): IntervalWindow[] {
    return [new IntervalWindow(ts, ts + this.gap)];
  }
  override mergeWindows(windows: readonly IntervalWindow[]): WindowMerge<IntervalWindow>[] {
    const sorted = [...windows].sort((a, b) => a.start - b.start || a.end - b.end);
    const merges: WindowMerge<IntervalWindow>[] = [];
    let group: IntervalWindow[] = [];
    let span: IntervalWindow | undefined;
    const close = (): void => {
      if (span && group.length > 1) merges.push({ from: group, into: span });
    };
    for (const w of sorted) {
      if (span && w.start < span.end) {
        group.push(w);
        span = span.span(w);
      } else {
        close();
        group = [w];
        span = w;
      }
    }
    close();
    return merges;
  }
  override sideInputWindow(): IntervalWindow {
    // Beam Python: "Sessions is not allowed in side inputs" (a merging fn has no window mapping).
    throw new SluiceError("UNSUPPORTED", `Sessions windowing cannot be used for side inputs (the side input is windowed by ${this.toString()})`, {
      hint: "Re-window the side input first, e.g. WindowInto(FixedWindows(...)) or WindowInto(GlobalWindows()).",
    });
  }
  override toString(): string {
    return `Sessions(gap ${this.gap}ms)`;
  }
}

/** Per-key sessions: windows that merge while elements arrive less than `gap` ms apart. */
export function Sessions(gap: number): WindowFn<IntervalWindow> {
  positive("Sessions gap", gap);
  return new SessionsFn(gap);
}

/** How outputs of a grouping are timestamped within a window. */
export type TimestampCombiner = "END_OF_WINDOW" | "EARLIEST" | "LATEST";

/** A PCollection's windowing: window fn plus how groupings treat it. */
export interface WindowingStrategy {
  readonly windowFn: WindowFn;
  readonly timestampCombiner: TimestampCombiner;
  /** How long after the end of a window (ms of event time) late data is still accepted. */
  readonly allowedLateness: number;
  /** When a grouping emits a window's panes (default: on time, then once per late element). */
  readonly trigger: Trigger;
  /** Whether successive panes of a window repeat its earlier elements (default DISCARDING). */
  readonly accumulationMode: AccumulationMode;
}

export const DEFAULT_WINDOWING: WindowingStrategy = Object.freeze({
  windowFn: GLOBAL_WINDOWS,
  timestampCombiner: "END_OF_WINDOW",
  allowedLateness: 0,
  trigger: DefaultTrigger(),
  accumulationMode: "DISCARDING",
});
