/**
 * DoFn: user code run per element by ParDo, with Beam's lifecycle:
 * setup → (startBundle → process* → finishBundle)* → teardown.
 */
import type { SideInputValues, SideInputs } from "./sideinputs.js";
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

/** A DoFn of any types, as the runner holds it. */
// The runner calls DoFns through this erased view; types were checked where the ParDo was built.
export interface AnyDoFn {
  setup?(): MaybePromise<void>;
  startBundle?(context: StartBundleContext): MaybePromise<void>;
  process(element: unknown, context: ProcessContext<unknown, SideInputs, Record<string, unknown>>): MaybePromise<Iterable<unknown> | void>;
  finishBundle?(context: FinishBundleContext<unknown, Record<string, unknown>>): MaybePromise<void>;
  teardown?(): MaybePromise<void>;
}

/** An element that failed in a ParDo with exception handling, and why. */
export interface FailedElement<In> {
  readonly element: In;
  /** Full label of the transform that failed. */
  readonly transform: string;
  readonly error: { readonly name: string; readonly message: string; readonly stack: string };
}
