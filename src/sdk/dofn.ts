/**
 * DoFn: user code run per element by ParDo, with Beam's lifecycle:
 * setup → (startBundle → process* → finishBundle)* → teardown.
 */
import type { SideInputValues, SideInputs } from "./sideinputs.js";
import type { StateAccessors, StateSpecData, StateSpecs, TimeDomain, TimerAccessors, TimerSpecData, TimerSpecs } from "./state.js";
import type { Timestamp } from "./time.js";
import type { BoundedWindow, PaneInfo } from "./windowing/window.js";

type MaybePromise<T> = T | Promise<T>;

/** What `process` sees besides the element. One context object is reused across elements. */
export interface ProcessContext<Out, S extends SideInputs = {}, Tagged extends Record<string, unknown> = {}> {
  /** The element's event time (ms since the epoch). */
  readonly timestamp: Timestamp;
  /** The window the element is being processed in. */
  readonly window: BoundedWindow;
  readonly pane: PaneInfo;
  /** Side input values for this element's window. */
  readonly sideInputs: SideInputValues<S>;
  /** Emits to the main output with the element's timestamp and window. */
  output(value: Out): void;
  /** Emits to the main output at another timestamp (not earlier than the element's, in streaming). */
  outputWithTimestamp(value: Out, timestamp: Timestamp): void;
  /** Emits to a tagged output declared with `ParDo(fn).withOutputs(...)`. */
  outputTo<K extends keyof Tagged & string>(tag: K, value: Tagged[K]): void;
  /**
   * Resolves when the outputs emitted so far have been taken downstream. A long-running async
   * `process` (a reader emitting millions of lines) awaits it now and then to bound memory.
   */
  flush(): Promise<void>;
}

/** What `startBundle` sees. */
export interface StartBundleContext {
  /** The transform's full label. */
  readonly transform: string;
}

/**
 * What `finishBundle` sees. Outputs here belong to no element, so they name their window: the
 * default (global window, minimum timestamp) is only allowed when the input is globally windowed;
 * on a windowed input an output without a window fails the run, as in Beam.
 */
export interface FinishBundleContext<Out, Tagged extends Record<string, unknown> = {}> {
  readonly transform: string;
  output(value: Out, timestamp?: Timestamp, window?: BoundedWindow): void;
  outputTo<K extends keyof Tagged & string>(tag: K, value: Tagged[K], timestamp?: Timestamp, window?: BoundedWindow): void;
}

/**
 * User code for ParDo. `process` may return outputs (any iterable: an array, a generator), emit them
 * with `context.output`, or both; it may be async (or return a promise). All methods but `process`
 * are optional. Returned outputs are pushed downstream incrementally, waiting whenever downstream
 * does (async code, disk), so an element may yield millions of outputs from a generator; outputs
 * emitted with `context.output` in a loop are not, unless the loop awaits `context.flush()`.
 * On the direct runner `process.exit` in a DoFn fails the run naming the transform (it shares the
 * process with the program running the pipeline): throw an error instead.
 *
 * ```ts
 * const SplitWords: DoFn<string, string> = {
 *   process(line) { return line.split(/\s+/).filter(Boolean); },
 * };
 * ```
 */
export interface DoFn<In, Out, S extends SideInputs = {}, Tagged extends Record<string, unknown> = {}> {
  /** Once per DoFn instance before its first bundle: open connections, load models. */
  setup?(): MaybePromise<void>;
  startBundle?(context: StartBundleContext): MaybePromise<void>;
  process(element: In, context: ProcessContext<Out, S, Tagged>): MaybePromise<Iterable<Out> | void>;
  finishBundle?(context: FinishBundleContext<Out, Tagged>): MaybePromise<void>;
  /** Once per instance at the end: release what setup acquired. Best effort. */
  teardown?(): MaybePromise<void>;
}

/** What a stateful DoFn's `process` sees: the element's key, and its key's and window's state and timers. */
export interface StatefulProcessContext<K, Out, St, Tm, S extends SideInputs = {}, Tagged extends Record<string, unknown> = {}>
  extends ProcessContext<Out, S, Tagged> {
  /** The key of the element (or timer) being processed. */
  readonly key: K;
  /** The declared state cells, for this key and window. */
  readonly state: StateAccessors<St>;
  /** The declared timers, for this key and window. */
  readonly timers: TimerAccessors<Tm>;
}

/**
 * What a timer callback sees. Its outputs go to the timer's window at the timer's output timestamp
 * (`timestamp`; by default the firing time for event-time timers, as in Beam Java's OnTimerContext).
 */
export interface TimerContext<K, Out, St, Tm, S extends SideInputs = {}, Tagged extends Record<string, unknown> = {}>
  extends StatefulProcessContext<K, Out, St, Tm, S, Tagged> {
  /** The timer's dynamic tag ("" unless it was set with one). */
  readonly tag: string;
  readonly domain: TimeDomain;
  /** The time the timer was set to fire at. */
  readonly fireTimestamp: Timestamp;
}

/** What `onWindowExpiration` sees: the expiring window's state for one key; timers can no longer be set. */
export type WindowExpirationContext<K, Out, St, S extends SideInputs = {}, Tagged extends Record<string, unknown> = {}> = Omit<
  StatefulProcessContext<K, Out, St, {}, S, Tagged>,
  "timers"
>;

/** Callbacks for the declared timers, by name: one per timer, no others. */
export type TimerCallbacks<K, Out, St, Tm, S extends SideInputs, Tagged extends Record<string, unknown>> = {
  readonly [N in keyof Tm]: (context: TimerContext<K, Out, St, Tm, S, Tagged>) => MaybePromise<Iterable<Out> | void>;
};

/**
 * A DoFn with state and timers (Beam's stateful DoFn; see `StateSpec`, `TimerSpec`): over
 * `[key, value]` pairs, with `onTimer` holding one callback per declared timer. Passed to `ParDo`
 * like any DoFn, which infers the types from the declarations:
 *
 * ```ts
 * ParDo({
 *   state: { seen: StateSpec.set<string>() },
 *   process([user, item]: [string, string], ctx) {
 *     if (!ctx.state.seen.has(item)) { ctx.state.seen.add(item); ctx.output(`${user} ${item}`); }
 *   },
 * })
 * ```
 */
export type StatefulDoFn<
  K,
  V,
  Out,
  St extends StateSpecs = {},
  Tm extends TimerSpecs = {},
  S extends SideInputs = {},
  Tagged extends Record<string, unknown> = {},
> = {
  readonly state?: St;
  readonly timers?: Tm;
  setup?(): MaybePromise<void>;
  startBundle?(context: StartBundleContext): MaybePromise<void>;
  process(element: readonly [K, V], context: StatefulProcessContext<K, Out, St, Tm, S, Tagged>): MaybePromise<Iterable<Out> | void>;
  /** Once per key when its window expires (the watermark passed its end plus the allowed lateness), before its state is dropped. */
  onWindowExpiration?(context: WindowExpirationContext<K, Out, St, S, Tagged>): MaybePromise<Iterable<Out> | void>;
  finishBundle?(context: FinishBundleContext<Out, Tagged>): MaybePromise<void>;
  teardown?(): MaybePromise<void>;
} & ({} extends Tm
  ? { readonly onTimer?: Record<never, never> }
  : { readonly onTimer: TimerCallbacks<K, Out, St, NoInfer<Tm>, S, Tagged> });

/** A DoFn of any types, as the runner holds it. */
// The runner calls DoFns through this erased view; types were checked where the ParDo was built.
export interface AnyDoFn {
  readonly state?: Readonly<Record<string, StateSpecData>>;
  readonly timers?: Readonly<Record<string, TimerSpecData>>;
  readonly onTimer?: Readonly<Record<string, (context: AnyTimerContext) => MaybePromise<Iterable<unknown> | void>>>;
  setup?(): MaybePromise<void>;
  startBundle?(context: StartBundleContext): MaybePromise<void>;
  process(element: unknown, context: ProcessContext<unknown, SideInputs, Record<string, unknown>>): MaybePromise<Iterable<unknown> | void>;
  onWindowExpiration?(context: AnyTimerContext): MaybePromise<Iterable<unknown> | void>;
  finishBundle?(context: FinishBundleContext<unknown, Record<string, unknown>>): MaybePromise<void>;
  teardown?(): MaybePromise<void>;
}

/** @internal The erased timer context the runner passes. */
export type AnyTimerContext = TimerContext<unknown, unknown, Record<string, never>, Record<string, never>, SideInputs, Record<string, unknown>>;

/** An element that failed in a ParDo with exception handling, and why. */
export interface FailedElement<In> {
  readonly element: In;
  /** Full label of the transform that failed. */
  readonly transform: string;
  readonly error: { readonly name: string; readonly message: string; readonly stack: string };
}
