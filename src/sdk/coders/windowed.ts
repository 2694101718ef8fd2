/**
 * Window, pane, windowed-value and timer coders: global_window, interval_window, custom_window,
 * windowed_value, param_windowed_value and timer.
 */
import { ByteReader, ByteWriter } from "./bytes.js";
import { encodeToBytes, type Coder } from "./coder.js";
import { AbstractCoder, BytesCoder, StringUtf8Coder, typeName } from "./primitives.js";
import { CoderUrns } from "./urns.js";
import {
  readInt64Flipped,
  readTimestamp,
  readVarInt64,
  timestampWireMillis,
  writeInt64Flipped,
  writeTimestamp,
  writeVarInt64,
  type Int64,
} from "./wire.js";
import { millisToTimestamp, type Timestamp } from "../time.js";
import {
  GLOBAL_WINDOW,
  GlobalWindow,
  IntervalWindow,
  type BoundedWindow,
  type PaneInfo,
  type PaneTiming,
  type WindowedValue,
} from "../windowing/window.js";
import { corruptData, invalidValue } from "./errors.js";

/** beam:coder:global_window:v1 — the global window encodes to zero bytes. */
export class GlobalWindowCoderImpl extends AbstractCoder<GlobalWindow> {
  readonly urn = CoderUrns.GLOBAL_WINDOW;
  encode(value: GlobalWindow, _out: ByteWriter, _nested: boolean): void {
    if (value !== GLOBAL_WINDOW) throw invalidValue(`GlobalWindowCoder: expected the global window, got ${typeName(value)}`);
  }
  decode(_input: ByteReader, _nested: boolean): GlobalWindow {
    return GLOBAL_WINDOW;
  }
  override structuralKey(_value: GlobalWindow): unknown {
    return "";
  }
  toString(): string {
    return "GlobalWindowCoder";
  }
}

/** The GlobalWindowCoder singleton (see GlobalWindowCoderImpl). */
export const GlobalWindowCoder: GlobalWindowCoderImpl = new GlobalWindowCoderImpl();
export type GlobalWindowCoder = GlobalWindowCoderImpl;

function toInt64(v: Int64): bigint {
  return typeof v === "bigint" ? v : BigInt(v);
}

/**
 * beam:coder:interval_window:v1 — the end as a timestamp (sign-flipped big-endian int64 millis),
 * then the span (end - start) as a varint. Exact for Beam's min/max bounds.
 */
export class IntervalWindowCoderImpl extends AbstractCoder<IntervalWindow> {
  readonly urn = CoderUrns.INTERVAL_WINDOW;
  encode(value: IntervalWindow, out: ByteWriter, _nested: boolean): void {
    const start = value.start;
    const end = value.end;
    if (Number.isSafeInteger(start) && Number.isSafeInteger(end) && Number.isSafeInteger(end - start)) {
      writeInt64Flipped(out, end);
      writeVarInt64(out, end - start);
      return;
    }
    const endMillis = timestampWireMillis(end);
    const startMillis = timestampWireMillis(start);
    writeInt64Flipped(out, endMillis);
    writeVarInt64(out, BigInt.asIntN(64, toInt64(endMillis) - toInt64(startMillis)));
  }
  decode(input: ByteReader, _nested: boolean): IntervalWindow {
    const end = readInt64Flipped(input);
    const span = readVarInt64(input);
    if (typeof end === "number" && typeof span === "number") {
      const start = end - span;
      if (Number.isSafeInteger(start)) return new IntervalWindow(start, end);
    }
    const endMillis = toInt64(end);
    return new IntervalWindow(millisToTimestamp(endMillis - toInt64(span)), millisToTimestamp(endMillis));
  }
  toString(): string {
    return "IntervalWindowCoder";
  }
}

/** The IntervalWindowCoder singleton (see IntervalWindowCoderImpl). */
export const IntervalWindowCoder: IntervalWindowCoderImpl = new IntervalWindowCoderImpl();
export type IntervalWindowCoder = IntervalWindowCoderImpl;

/**
 * beam:coder:custom_window:v1 (Java's TimestampPrefixingWindowCoder) — the window's max timestamp,
 * then the window with the component coder. Lets a runner read a custom window's max timestamp.
 */
export class TimestampPrefixingWindowCoder<W extends BoundedWindow> extends AbstractCoder<W> {
  readonly urn = CoderUrns.CUSTOM_WINDOW;
  constructor(readonly windowCoder: Coder<W>) {
    super([windowCoder]);
  }
  encode(value: W, out: ByteWriter, _nested: boolean): void {
    writeInt64Flipped(out, maxTimestampMillis(value));
    this.windowCoder.encode(value, out, true);
  }
  decode(input: ByteReader, _nested: boolean): W {
    readTimestamp(input);
    return this.windowCoder.decode(input, true);
  }
  toString(): string {
    return `TimestampPrefixingWindowCoder(${this.windowCoder.toString()})`;
  }
}

/** A window's max timestamp as exact wire millis (end - 1 for interval windows, exact even beyond 2^53). */
function maxTimestampMillis(w: BoundedWindow): Int64 {
  if (w instanceof IntervalWindow) {
    const end = timestampWireMillis(w.end);
    if (typeof end === "number" && Number.isSafeInteger(end - 1)) return end - 1;
    return toInt64(end) - 1n;
  }
  return timestampWireMillis(w.maxTimestamp());
}

// ---- Pane info -------------------------------------------------------------------------------

const TIMINGS: readonly PaneTiming[] = ["EARLY", "ON_TIME", "LATE", "UNKNOWN"];

function timingOrdinal(t: PaneTiming): number {
  switch (t) {
    case "EARLY":
      return 0;
    case "ON_TIME":
      return 1;
    case "LATE":
      return 2;
    case "UNKNOWN":
      return 3;
    default:
      throw invalidValue(`invalid pane timing ${String(t)}`);
  }
}

/** The panes a lone header byte decodes to (indices 0; the on-time index is -1 for EARLY panes, as in Java). */
const HEADER_PANES: readonly PaneInfo[] = Array.from({ length: 16 }, (_, b) => {
  const timing = TIMINGS[b >> 2]!;
  return Object.freeze({
    isFirst: (b & 1) !== 0,
    isLast: (b & 2) !== 0,
    timing,
    index: 0,
    onTimeIndex: timing === "EARLY" ? -1 : 0,
  });
});

/**
 * Writes Beam's pane encoding: a header byte (isFirst bit 0, isLast bit 1, timing bits 2-3,
 * encoding in the high nibble), then none, one or two varint indices — the same choice as Java's
 * and Python's PaneInfoCoder.
 */
export function encodePaneInfo(pane: PaneInfo, out: ByteWriter): void {
  const timing = timingOrdinal(pane.timing);
  const header = (pane.isFirst ? 1 : 0) | (pane.isLast ? 2 : 0) | (timing << 2);
  const { index, onTimeIndex } = pane;
  if ((index === 0 && onTimeIndex === 0) || timing === 3) {
    out.byte(header);
  } else if (index === onTimeIndex || timing === 0) {
    out.byte(header | 0x10);
    writeVarInt64(out, index);
  } else {
    out.byte(header | 0x20);
    writeVarInt64(out, index);
    writeVarInt64(out, onTimeIndex);
  }
}

function paneIndex(v: Int64): number {
  if (typeof v !== "number") throw corruptData(`pane index ${v}n is out of range`);
  return v;
}

export function decodePaneInfo(input: ByteReader): PaneInfo {
  const b = input.byte();
  const base = HEADER_PANES[b & 0x0f]!;
  switch (b >> 4) {
    case 0:
      return base;
    case 1: {
      const index = paneIndex(readVarInt64(input));
      return {
        isFirst: base.isFirst,
        isLast: base.isLast,
        timing: base.timing,
        index,
        onTimeIndex: base.timing === "EARLY" ? -1 : index,
      };
    }
    case 2: {
      const index = paneIndex(readVarInt64(input));
      const onTimeIndex = paneIndex(readVarInt64(input));
      return { isFirst: base.isFirst, isLast: base.isLast, timing: base.timing, index, onTimeIndex };
    }
    default:
      throw corruptData(`invalid pane info encoding 0x${b.toString(16)}`);
  }
}

function encodeWindows<W extends BoundedWindow>(windowCoder: Coder<W>, windows: readonly BoundedWindow[], out: ByteWriter): void {
  out.int32BE(windows.length);
  for (let i = 0; i < windows.length; i++) windowCoder.encode(windows[i] as W, out, true);
}

function decodeWindows<W extends BoundedWindow>(windowCoder: Coder<W>, input: ByteReader): W[] {
  const n = input.int32BE();
  if (n < 0) throw corruptData(`invalid window count ${n}`);
  const windows = new Array<W>(n);
  for (let i = 0; i < n; i++) windows[i] = windowCoder.decode(input, true);
  return windows;
}

// ---- Windowed values -------------------------------------------------------------------------

/**
 * beam:coder:windowed_value:v1 — timestamp (sign-flipped int64 millis), windows (int32 count +
 * each window), pane info, then the value in the outer context.
 */
export class WindowedValueCoder<T, W extends BoundedWindow = BoundedWindow> extends AbstractCoder<WindowedValue<T>> {
  readonly urn = CoderUrns.WINDOWED_VALUE;
  constructor(
    readonly valueCoder: Coder<T>,
    readonly windowCoder: Coder<W>,
  ) {
    super([valueCoder, windowCoder]);
  }
  encode(value: WindowedValue<T>, out: ByteWriter, nested: boolean): void {
    writeTimestamp(out, value.timestamp);
    encodeWindows(this.windowCoder, value.windows, out);
    encodePaneInfo(value.pane, out);
    this.valueCoder.encode(value.value, out, nested);
  }
  decode(input: ByteReader, nested: boolean): WindowedValue<T> {
    const timestamp = readTimestamp(input);
    const windows = decodeWindows(this.windowCoder, input);
    const pane = decodePaneInfo(input);
    const value = this.valueCoder.decode(input, nested);
    return { value, timestamp, windows, pane };
  }
  toString(): string {
    return `WindowedValueCoder(${this.valueCoder.toString()}, ${this.windowCoder.toString()})`;
  }
}

/** The fixed metadata of a ParamWindowedValueCoder. */
export interface WindowedValueParams {
  readonly timestamp: Timestamp;
  readonly windows: readonly BoundedWindow[];
  readonly pane: PaneInfo;
}

/**
 * beam:coder:param_windowed_value:v1 — only the value goes on the wire; the timestamp, windows and
 * pane are fixed by the payload, which is a windowed_value encoding (value coder: bytes, nested
 * context) of an empty byte string with that metadata, as Java writes it.
 */
export class ParamWindowedValueCoder<T, W extends BoundedWindow = BoundedWindow> extends AbstractCoder<WindowedValue<T>> {
  readonly urn = CoderUrns.PARAM_WINDOWED_VALUE;
  readonly params: WindowedValueParams;
  private readonly payloadBytes: Uint8Array;

  /** Rebuilds the coder from its Runner API payload. */
  constructor(valueCoder: Coder<T>, windowCoder: Coder<W>, payload: Uint8Array);
  /** Builds the coder (and its payload) from fixed metadata. */
  constructor(valueCoder: Coder<T>, windowCoder: Coder<W>, params: WindowedValueParams);
  constructor(
    readonly valueCoder: Coder<T>,
    readonly windowCoder: Coder<W>,
    payloadOrParams: Uint8Array | WindowedValueParams,
  ) {
    super([valueCoder, windowCoder]);
    const metaCoder = new WindowedValueCoder(BytesCoder, windowCoder);
    if (payloadOrParams instanceof Uint8Array) {
      this.payloadBytes = payloadOrParams;
      // Tolerate the value part being absent or written in either context: only the metadata matters.
      const input = new ByteReader(payloadOrParams);
      const timestamp = readTimestamp(input);
      const windows = decodeWindows(windowCoder, input);
      const pane = decodePaneInfo(input);
      this.params = Object.freeze({ timestamp, windows: Object.freeze(windows), pane });
    } else {
      const p = payloadOrParams;
      this.params = Object.freeze({ timestamp: p.timestamp, windows: Object.freeze([...p.windows]), pane: p.pane });
      this.payloadBytes = encodeToBytes(metaCoder, { value: new Uint8Array(0), ...this.params }, true);
    }
  }
  override get payload(): Uint8Array {
    return this.payloadBytes;
  }
  encode(value: WindowedValue<T>, out: ByteWriter, nested: boolean): void {
    this.valueCoder.encode(value.value, out, nested);
  }
  decode(input: ByteReader, nested: boolean): WindowedValue<T> {
    const value = this.valueCoder.decode(input, nested);
    const p = this.params;
    return { value, timestamp: p.timestamp, windows: p.windows, pane: p.pane };
  }
  override structuralKey(value: WindowedValue<T>): unknown {
    return this.valueCoder.structuralKey(value.value);
  }
  toString(): string {
    return `ParamWindowedValueCoder(${this.valueCoder.toString()}, ${this.windowCoder.toString()})`;
  }
}

// ---- Timers ----------------------------------------------------------------------------------

interface TimerBase<K> {
  readonly userKey: K;
  readonly dynamicTimerTag: string;
  readonly windows: readonly BoundedWindow[];
}

/** A timer being set: it fires at `fireTimestamp` and holds the output watermark at `holdTimestamp`. */
export interface SetTimer<K> extends TimerBase<K> {
  readonly clearBit: false;
  readonly fireTimestamp: Timestamp;
  readonly holdTimestamp: Timestamp;
  readonly pane: PaneInfo;
}

/** A timer being cleared: no timestamps or pane on the wire. */
export interface ClearedTimer<K> extends TimerBase<K> {
  readonly clearBit: true;
}

/** Beam's Timer, as beam:coder:timer:v1 carries it between runner and SDK. */
export type Timer<K> = SetTimer<K> | ClearedTimer<K>;

/**
 * beam:coder:timer:v1 — user key (nested), dynamic timer tag (nested string), windows (int32
 * count + each window), clear bit; when not cleared, the fire and hold timestamps and the pane.
 */
export class TimerCoder<K, W extends BoundedWindow = BoundedWindow> extends AbstractCoder<Timer<K>> {
  readonly urn = CoderUrns.TIMER;
  constructor(
    readonly keyCoder: Coder<K>,
    readonly windowCoder: Coder<W>,
  ) {
    super([keyCoder, windowCoder]);
  }
  encode(value: Timer<K>, out: ByteWriter, _nested: boolean): void {
    this.keyCoder.encode(value.userKey, out, true);
    writeLengthPrefixedTag(out, value.dynamicTimerTag);
    encodeWindows(this.windowCoder, value.windows, out);
    if (value.clearBit) {
      out.byte(1);
      return;
    }
    out.byte(0);
    writeTimestamp(out, value.fireTimestamp);
    writeTimestamp(out, value.holdTimestamp);
    encodePaneInfo(value.pane, out);
  }
  decode(input: ByteReader, _nested: boolean): Timer<K> {
    const userKey = this.keyCoder.decode(input, true);
    const dynamicTimerTag = readTag(input);
    const windows = decodeWindows(this.windowCoder, input);
    const clear = input.byte();
    if (clear === 1) return { userKey, dynamicTimerTag, windows, clearBit: true };
    if (clear !== 0) throw corruptData(`${this.toString()}: invalid clear bit ${clear}`);
    const fireTimestamp = readTimestamp(input);
    const holdTimestamp = readTimestamp(input);
    const pane = decodePaneInfo(input);
    return { userKey, dynamicTimerTag, windows, clearBit: false, fireTimestamp, holdTimestamp, pane };
  }
  toString(): string {
    return `TimerCoder(${this.keyCoder.toString()}, ${this.windowCoder.toString()})`;
  }
}

function writeLengthPrefixedTag(out: ByteWriter, tag: string): void {
  StringUtf8Coder.encode(tag, out, true);
}

function readTag(input: ByteReader): string {
  return StringUtf8Coder.decode(input, true);
}
