/**
 * Window functions (Beam's WindowFn): how elements are assigned to windows and, for sessions, how
 * windows merge. Batch semantics: the default trigger fires once per window at the end of input.
 */
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
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${what} must be a positive number of milliseconds, got ${value}`);
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
  sideInputWindow(mainWindow: BoundedWindow): IntervalWindow {
    const windows = this.assignWindows(mainWindow.maxTimestamp());
    // For sliding windows the latest-starting window containing the end of the main window.
    return windows[0]!;
  }
  windowKey(window: IntervalWindow): string {
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
    throw new RangeError("Sessions windowing cannot be used for side inputs");
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

/** A PCollection's windowing: window fn plus how groupings treat it (batch defaults). */
export interface WindowingStrategy {
  readonly windowFn: WindowFn;
  readonly timestampCombiner: TimestampCombiner;
  readonly allowedLateness: number;
}

export const DEFAULT_WINDOWING: WindowingStrategy = Object.freeze({
  windowFn: GLOBAL_WINDOWS,
  timestampCombiner: "END_OF_WINDOW",
  allowedLateness: 0,
});
