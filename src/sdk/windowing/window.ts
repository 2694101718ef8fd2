/**
 * Windows and panes: the values that travel beside every element (Beam's WindowedValue).
 */
import { GLOBAL_WINDOW_MAX_TIMESTAMP, type Timestamp } from "../time.js";

/** A window an element belongs to. `maxTimestamp` is the last instant inside it. */
export interface BoundedWindow {
  maxTimestamp(): Timestamp;
}

/** The single window of the global windowing strategy. Use the `GLOBAL_WINDOW` singleton. */
export class GlobalWindow implements BoundedWindow {
  static readonly INSTANCE = new GlobalWindow();
  private constructor() {}
  maxTimestamp(): Timestamp {
    return GLOBAL_WINDOW_MAX_TIMESTAMP;
  }
  toString(): string {
    return "GlobalWindow";
  }
}

export const GLOBAL_WINDOW: GlobalWindow = GlobalWindow.INSTANCE;

/** A half-open window [start, end) in event time, as produced by fixed, sliding and session windows. */
export class IntervalWindow implements BoundedWindow {
  constructor(
    readonly start: Timestamp,
    readonly end: Timestamp,
  ) {}
  maxTimestamp(): Timestamp {
    return this.end - 1;
  }
  contains(ts: Timestamp): boolean {
    return ts >= this.start && ts < this.end;
  }
  intersects(other: IntervalWindow): boolean {
    return this.start < other.end && other.start < this.end;
  }
  span(other: IntervalWindow): IntervalWindow {
    return new IntervalWindow(Math.min(this.start, other.start), Math.max(this.end, other.end));
  }
  equals(other: BoundedWindow): boolean {
    return other instanceof IntervalWindow && other.start === this.start && other.end === this.end;
  }
  toString(): string {
    return `[${new Date(this.start).toISOString()}, ${new Date(this.end).toISOString()})`;
  }
}

/** When a pane fired relative to the watermark (Beam's PaneInfo.Timing). */
export type PaneTiming = "EARLY" | "ON_TIME" | "LATE" | "UNKNOWN";

/** Which firing of a window produced an element (Beam's PaneInfo). */
export interface PaneInfo {
  readonly isFirst: boolean;
  readonly isLast: boolean;
  readonly timing: PaneTiming;
  /** Index of this pane among all panes of the window. */
  readonly index: number;
  /** Index among non-speculative (ON_TIME and LATE) panes; -1 for EARLY panes. */
  readonly onTimeIndex: number;
}

/** The pane of an element that no trigger has fired on yet (Beam's PaneInfo.NO_FIRING). */
export const PANE_NO_FIRING: PaneInfo = Object.freeze({
  isFirst: true,
  isLast: true,
  timing: "UNKNOWN",
  index: 0,
  onTimeIndex: 0,
});

/** The one pane a batch grouping emits per window (first, last, on time). */
export const PANE_ON_TIME_ONLY: PaneInfo = Object.freeze({
  isFirst: true,
  isLast: true,
  timing: "ON_TIME",
  index: 0,
  onTimeIndex: 0,
});

/** A value with its event time, windows and pane: Beam's WindowedValue. */
export interface WindowedValue<T> {
  readonly value: T;
  readonly timestamp: Timestamp;
  readonly windows: readonly BoundedWindow[];
  readonly pane: PaneInfo;
}
