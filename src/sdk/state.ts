/**
 * State and timers: Beam's stateful DoFn. A DoFn over `[key, value]` pairs declares named state
 * cells and timers; the runner keeps them per key and window, so `process` and the timer callbacks
 * see only the current key's and window's.
 *
 * ```ts
 * pairs.apply("Thresholds", ParDo({
 *   state: { total: StateSpec.value<number>() },
 *   timers: { flush: TimerSpec.eventTime() },
 *   process([team, score]: [string, number], ctx) {
 *     ctx.state.total.write((ctx.state.total.read() ?? 0) + score);
 *     ctx.timers.flush.set(ctx.window.maxTimestamp());
 *   },
 *   onTimer: {
 *     flush(ctx) { return [`${ctx.key}: ${ctx.state.total.read()}`]; },
 *   },
 * }));
 * ```
 *
 * State is read and written synchronously. It holds copies: a value is encoded with its coder when
 * written (objects; numbers, strings, booleans and bigints are kept as they are), so mutating an
 * object after writing it, or one that was read, does not change the state, as on every runner.
 * When the watermark passes the end of a window plus the allowed lateness, the window expires:
 * `onWindowExpiration` (if declared) runs with the window's state, then the state and timers of
 * every key in it are dropped; elements arriving for an expired window are dropped and counted
 * (`sluice/droppedDueToLateness`). Stateful DoFns need non-merging windows (not Sessions).
 */
import type { Coder } from "./coders/coder.js";
import { JsValueCoder, KvCoder } from "./coders/index.js";
import type { Timestamp } from "./time.js";
import type { CombineFn } from "./transforms/combinefn.js";

/** A single value (Beam's ValueState; Python's ReadModifyWriteState). */
export interface ValueState<T> {
  /** The value, or undefined when none was written (or it was cleared). */
  read(): T | undefined;
  write(value: T): void;
  clear(): void;
}

/** An unordered collection that values are added to (Beam's BagState). */
export interface BagState<T> {
  /** The values added so far, in the order they were added (a snapshot). */
  read(): T[];
  add(value: T): void;
  isEmpty(): boolean;
  clear(): void;
}

/** Values folded by a CombineFn as they are added (Beam's CombiningState). */
export interface CombiningState<In, Out> {
  /** The combined output of the values added so far (the CombineFn's output of no inputs when empty). */
  read(): Out;
  add(value: In): void;
  isEmpty(): boolean;
  clear(): void;
}

/** A set of values, compared by their encoding (Beam's SetState). */
export interface SetState<T> {
  /** The members (a snapshot, in the order they were first added). */
  read(): T[];
  add(value: T): void;
  has(value: T): boolean;
  delete(value: T): void;
  readonly size: number;
  clear(): void;
}

/** A map, keys compared by their encoding (Beam Java's MapState), with JavaScript Map's names. */
export interface MapState<K, V> {
  get(key: K): V | undefined;
  set(key: K, value: V): void;
  has(key: K): boolean;
  delete(key: K): void;
  keys(): K[];
  values(): V[];
  entries(): [K, V][];
  readonly size: number;
  clear(): void;
}

/** @internal The data of a state declaration, as the runner reads it. */
export type StateSpecData =
  | { readonly kind: "value"; readonly coder?: Coder<unknown> }
  | { readonly kind: "bag"; readonly coder?: Coder<unknown> }
  | { readonly kind: "combining"; readonly combineFn: CombineFn<unknown, unknown, unknown>; readonly coder?: Coder<unknown> }
  | { readonly kind: "set"; readonly coder?: Coder<unknown> }
  | { readonly kind: "map"; readonly keyCoder?: Coder<unknown>; readonly coder?: Coder<unknown> };

declare const accessorType: unique symbol;

/** A state declaration: `StateSpec.value<number>()` and the like. `A` is what the DoFn reads it as. */
export type StateSpec<A> = StateSpecData & { readonly [accessorType]?: A };

/** Declares state cells (Beam's StateSpecs). Coders default to the JS value coder. */
export const StateSpec = {
  /** One value per key and window. */
  value<T>(coder?: Coder<T>): StateSpec<ValueState<T>> {
    return { kind: "value", ...(coder ? { coder: coder as Coder<unknown> } : {}) };
  },
  /** A bag of values per key and window. */
  bag<T>(coder?: Coder<T>): StateSpec<BagState<T>> {
    return { kind: "bag", ...(coder ? { coder: coder as Coder<unknown> } : {}) };
  },
  /** Values combined by `combineFn` as they are added (`accumulatorCoder` encodes the accumulator). */
  combining<In, Acc, Out>(combineFn: CombineFn<In, Acc, Out>, accumulatorCoder?: Coder<Acc>): StateSpec<CombiningState<In, Out>> {
    const coder = accumulatorCoder ?? combineFn.accumulatorCoder;
    return { kind: "combining", combineFn: combineFn as CombineFn<unknown, unknown, unknown>, ...(coder ? { coder: coder as Coder<unknown> } : {}) };
  },
  /** A set of values; the coder must be deterministic. */
  set<T>(coder?: Coder<T>): StateSpec<SetState<T>> {
    return { kind: "set", ...(coder ? { coder: coder as Coder<unknown> } : {}) };
  },
  /** A map; the key coder must be deterministic. */
  map<K, V>(keyCoder?: Coder<K>, valueCoder?: Coder<V>): StateSpec<MapState<K, V>> {
    return { kind: "map", ...(keyCoder ? { keyCoder: keyCoder as Coder<unknown> } : {}), ...(valueCoder ? { coder: valueCoder as Coder<unknown> } : {}) };
  },
} as const;

/** Beam's time domains: event time (the watermark) and processing time (the clock). */
export type TimeDomain = "EVENT_TIME" | "PROCESSING_TIME";

/** @internal The data of a timer declaration. */
export interface TimerSpecData {
  readonly domain: TimeDomain;
}

/** A timer declaration: `TimerSpec.eventTime()` or `TimerSpec.processingTime()`. */
export interface TimerSpec<D extends TimeDomain = TimeDomain> extends TimerSpecData {
  readonly domain: D;
}

/** Declares timers (Beam's TimerSpecs). */
export const TimerSpec = {
  /** Fires when the watermark reaches the time it is set for (as in Beam Python and Flink). */
  eventTime(): TimerSpec<"EVENT_TIME"> {
    return { domain: "EVENT_TIME" };
  },
  /** Fires when processing time (the clock; virtual under TestStream) reaches the time it is set for. */
  processingTime(): TimerSpec<"PROCESSING_TIME"> {
    return { domain: "PROCESSING_TIME" };
  },
} as const;

export interface TimerSetOptions {
  /**
   * Dynamic timer tag (Beam's timer families): each tag of a timer is set and cleared on its own;
   * the callback sees it as `ctx.tag`. Default "".
   */
  readonly tag?: string;
  /**
   * The timestamp of the callback's outputs, which holds this DoFn's output watermark until the
   * timer fires. Default: the firing time for event-time timers, the timestamp of the element (or
   * timer) that set it for processing-time timers. Not before that timestamp, nor after the window's end.
   */
  readonly outputTimestamp?: Timestamp;
}

/** A declared timer, for the current key and window. Setting it again moves it (per tag). */
export interface Timer {
  /** Sets the timer to fire at `time` (event time or processing time, per its domain). */
  set(time: Timestamp, options?: TimerSetOptions): void;
  /** Removes the timer (of `tag`, default ""), if set. */
  clear(tag?: string): void;
}

/** A processing-time timer: also settable relative to the current processing time. */
export interface ProcessingTimer extends Timer {
  /** Sets the timer to fire `delayMs` after the current processing time. */
  setRelative(delayMs: number, options?: TimerSetOptions): void;
}

/** The state declarations of a DoFn, by name. */
export type StateSpecs = Readonly<Record<string, StateSpec<unknown>>>;
/** The timer declarations of a DoFn, by name. */
export type TimerSpecs = Readonly<Record<string, TimerSpec>>;

/** What `ctx.state` holds for declarations `St`. */
export type StateAccessors<St> = { readonly [N in keyof St]: St[N] extends { readonly [accessorType]?: infer A } ? Exclude<A, undefined> : never };
/** What `ctx.timers` holds for declarations `Tm`. */
export type TimerAccessors<Tm> = { readonly [N in keyof Tm]: Tm[N] extends TimerSpec<"PROCESSING_TIME"> ? ProcessingTimer : Timer };

/**
 * @internal How a state cell travels as Beam's bag user state (the one kind every portable
 * runner serves; Flink's runner serves no other): the coder of its bag's elements. A value is a
 * bag of at most one value, a combining cell a bag of accumulators, a set a bag of its members, a
 * map a bag of [key, value] entries; Beam Python builds its state kinds on bag state the same way.
 */
export function stateBagCoder(spec: StateSpecData): Coder<unknown> {
  if (spec.kind === "map") return new KvCoder(spec.keyCoder ?? JsValueCoder, spec.coder ?? JsValueCoder) as Coder<unknown>;
  if (spec.kind === "combining") return spec.coder ?? spec.combineFn.accumulatorCoder ?? JsValueCoder;
  return spec.coder ?? JsValueCoder;
}

/**
 * @internal The timer family a portable run uses for `onWindowExpiration`: an event-time timer
 * per key and window at its expiry (portable runners differ in whether they serve Beam's
 * on-window-expiration family; an ordinary timer works on all).
 */
export const EXPIRY_TIMER_FAMILY = "__sluice_window_expiry";

/**
 * @internal Whether a stateful DoFn's timers are scheduled by a remote runner (through the Fn
 * API harness) rather than by the direct runner's own runtime: a property of every stateful
 * process and timer context, under this key. ReadFromUnbounded reads it to choose how it drives
 * itself (io/unbounded.ts).
 */
export const REMOTE_TIMERS: unique symbol = Symbol.for("sluice.remoteTimers");
