/**
 * The direct runner's operators. Elements are pushed through fused chains as plain values with a
 * shared `Meta` (timestamp, windows, pane): nothing is encoded except grouping keys, which become
 * structural keys. A receiver returns a promise only when it needs the caller to wait (async user
 * code, disk backpressure), so the synchronous path allocates no promises.
 */
import { join } from "node:path";
import { getHeapStatistics } from "node:v8";
import { SluiceError } from "../../internal/errors.js";
import type { Coder } from "../../sdk/coders/coder.js";
import { JsValueCoder } from "../../sdk/coders/js_value.js";
import { WindowedValueCoder } from "../../sdk/coders/windowed.js";
import type { AnyDoFn, FailedElement, FinishBundleContext, ProcessContext } from "../../sdk/dofn.js";
import type { StatefulSpec } from "../../sdk/graph.js";
import type { TimeDomain } from "../../sdk/state.js";
import { type TextSink, ShardWriter, formatLine } from "../../sdk/io/text.js";
import { MetricsContainer, callUserCode, runWithAsyncMetricsContainer, setCurrentMetricsContainer } from "../../sdk/metrics.js";
import type { SideInput, SideInputs } from "../../sdk/sideinputs.js";
import { MAX_TIMESTAMP, MIN_TIMESTAMP, type Timestamp } from "../../sdk/time.js";
import type { AnyCombineFn } from "../../sdk/transforms/combinefn.js";
import { ELEMENT_FN, type ElementFn, flatMapOutputs } from "../../sdk/transforms/element_fn.js";
import { GLOBAL_WINDOW, type BoundedWindow, PANE_NO_FIRING, PANE_ON_TIME_ONLY, type PaneInfo, type WindowedValue } from "../../sdk/windowing/window.js";
import type { WindowFn, WindowingStrategy } from "../../sdk/windowing/windowfns.js";
import { type StateBackend, type StateCell, StatefulRuntime, type TimerEntry } from "./state.js";
import { EXPIRY_TIMER_FAMILY, REMOTE_TIMERS } from "../../sdk/state.js";
import { collectGarbage, estimateBytes, type MemoryBudget, Spill, type SpillableGroup, SpillableQueue } from "./spill.js";
import type { TriggerTime } from "./triggers.js";
import { KeyTable } from "./keytable.js";

/** Everything about an element but its value. Shared between an input and its outputs when unchanged. */
export interface Meta {
  readonly timestamp: Timestamp;
  readonly windows: readonly BoundedWindow[];
  readonly pane: PaneInfo;
}

export const GLOBAL_META: Meta = Object.freeze({ timestamp: MIN_TIMESTAMP, windows: [GLOBAL_WINDOW], pane: PANE_NO_FIRING });

export type Pending = void | Promise<void>;

/** Something elements flow into. */
export interface Receiver {
  receive(value: unknown, meta: Meta): Pending;
  /** One upstream edge has no more elements. */
  finishInput(): Pending;
  /** Ends the current bundle (from the driver), then passes it on. `epoch` dedupes diamonds. */
  flush(epoch: number): Pending;
}

/** Waits for `promises` in order; undefined when there is nothing to wait for. */
function settle(promises: Promise<void>[]): Pending {
  if (promises.length === 0) return undefined;
  if (promises.length === 1) return promises[0];
  return Promise.all(promises).then(() => undefined);
}

/** Fan-out to the consumers of one PCollection. */
export class Outputs {
  readonly receivers: Receiver[] = [];

  emit(value: unknown, meta: Meta, pending: Promise<void>[]): void {
    const rs = this.receivers;
    for (let i = 0; i < rs.length; i++) {
      const p = rs[i]!.receive(value, meta);
      if (p !== undefined) pending.push(p);
    }
  }

  finish(): Pending {
    return sequence(this.receivers.map((r) => () => r.finishInput()));
  }

  flush(epoch: number): Pending {
    return sequence(this.receivers.map((r) => () => r.flush(epoch)));
  }
}

/** Runs steps one after another, staying synchronous until one returns a promise. */
export function sequence(steps: readonly (() => Pending)[]): Pending {
  for (let i = 0; i < steps.length; i++) {
    const p = steps[i]!();
    if (p !== undefined) {
      return p.then(async () => {
        for (let j = i + 1; j < steps.length; j++) await steps[j]!();
      });
    }
  }
  return undefined;
}

/** Per-step metrics: what successful bundles committed and what every attempt reported. */
export class StepMetrics {
  readonly committed: MetricsContainer;
  readonly attempted: MetricsContainer;
  readonly bundle: MetricsContainer;
  constructor(step: string) {
    this.committed = new MetricsContainer(step);
    this.attempted = new MetricsContainer(step);
    this.bundle = new MetricsContainer(step);
  }
  commit(): void {
    if (this.bundle.isEmpty()) return;
    this.committed.mergeFrom(this.bundle);
    this.attempted.mergeFrom(this.bundle);
    this.bundle.clear();
  }
  abandon(): void {
    this.attempted.mergeFrom(this.bundle);
    this.bundle.clear();
  }
}

/** A call into user code that returned a promise and has not settled yet. */
export interface InFlight {
  readonly step: string;
  /** process, startBundle, finishBundle, setup, teardown. */
  readonly what: string;
  readonly element: { value: unknown } | undefined;
  /** Date.now() when the call started. */
  readonly since: number;
}

/**
 * What asynchronous user code a run is waiting for: the runner reports long calls from it ("still
 * processing …") and names them when the event loop empties while the run is pending (a promise
 * that never settles). Only async calls are tracked, so the synchronous hot path pays nothing.
 */
export class RunMonitor {
  readonly inFlight = new Set<InFlight>();

  track<T>(p: Promise<T>, step: string, what: string, element: { value: unknown } | undefined): Promise<T> {
    const entry: InFlight = { step, what, element, since: Date.now() };
    this.inFlight.add(entry);
    return p.then(
      (v) => {
        this.inFlight.delete(entry);
        return v;
      },
      (err: unknown) => {
        this.inFlight.delete(entry);
        throw err;
      },
    );
  }
}

/** Describes one in-flight call: "process of element \"x\"". */
export function describeCall(c: Pick<InFlight, "what" | "element">): string {
  return c.element === undefined ? c.what : `${c.what} of element ${preview(c.element.value, 120)}`;
}


/**
 * The fraction of V8's heap limit at which a stage fails with RESOURCE_EXHAUSTED instead of letting
 * V8 abort the process ("JavaScript heap out of memory") with no word about the pipeline. Checked at
 * bundle boundaries and every 16,384 elements a grouping takes. The heap in use counts garbage not
 * yet collected (V8 lets the old generation grow to several times its live size before a full
 * collection), so a check above the fraction runs a full collection and judges what is live after
 * it: only live data fails a run. Why 70%: measured on Node 20, a grouping's Map dies near 75% of
 * `heap_size_limit` (the limit counts the young generation, and a growing Map or array allocates
 * its doubled backing store in one piece).
 */
export const HEAP_LIMIT_FRACTION = 0.7;

const RUNNER_FAILURE = Symbol("sluice.runnerFailure");

/** Marks an error the runner raised about a stage itself, so upstream DoFns do not claim it. */
function runnerFailure(err: SluiceError): SluiceError {
  Object.defineProperty(err, RUNNER_FAILURE, { value: true });
  return err;
}

function isRunnerFailure(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as Record<symbol, unknown>)[RUNNER_FAILURE] === true;
}

/** Fails `step` when the heap stays above HEAP_LIMIT_FRACTION of its limit. */
export function checkHeap(step: string, fraction = HEAP_LIMIT_FRACTION): void {
  if (getHeapStatistics().used_heap_size < fraction * getHeapStatistics().heap_size_limit) return;
  collectGarbage();
  const h = getHeapStatistics();
  if (h.used_heap_size < fraction * h.heap_size_limit) return;
  const mb = (n: number): number => Math.round(n / 1048576);
  throw runnerFailure(new SluiceError(
    "RESOURCE_EXHAUSTED",
    `Transform '${step}' ran out of memory: the JavaScript heap holds ${mb(h.used_heap_size)} MB of its ${mb(h.heap_size_limit)} MB limit`,
    {
      hint:
        "Give Node a larger heap (NODE_OPTIONS=--max-old-space-size=<MB>, e.g. 8192), or run on a smaller input. " +
        "On the direct runner a GroupByKey or CombinePerKey holds every key (GroupByKey also every value) in memory until its input ends.",
    },
  ));
}

/** A short, safe rendering of an element for error messages. */
export function preview(value: unknown, max = 200): string {
  let s: string;
  try {
    s =
      typeof value === "string"
        ? JSON.stringify(value)
        : value instanceof Uint8Array
          ? `Uint8Array(${value.length})`
          : (JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v)) ?? String(value));
  } catch {
    s = String(value);
  }
  return s.length > max ? `${s.slice(0, max)}… (${s.length} chars)` : s;
}

/** Wraps an error thrown by user code so it names the transform and the element. */
export function userCodeError(step: string, what: string, err: unknown, element?: { value: unknown }): SluiceError {
  // Already attributed to a transform (a fused downstream step, a side input, an undeclared output): keep it.
  const attributedTo = Symbol.for("sluice.attributedTo");
  if (
    SluiceError.is(err) &&
    ((err as unknown as Record<symbol, unknown>)[attributedTo] !== undefined || (err.code === "USER_CODE_FAILED" && err.message.startsWith("Transform '")))
  ) {
    return err;
  }
  // A CombineFn's failure, marked by attributeCombineFn (sdk/transforms/combinefn.ts) with the
  // combining transform the user applied ('Total', not 'Total/CombinePerKey'), wherever it ran.
  const failure =
    typeof err === "object" && err !== null
      ? (err as Record<symbol, { transform: string; method: string; error: unknown; element?: { value: unknown }; replacesElement: boolean } | undefined>)[
          Symbol.for("sluice.combineFnFailure")
        ]
      : undefined;
  if (failure !== undefined) {
    step = failure.transform;
    what = `the CombineFn's ${failure.method}`;
    err = failure.error;
    if (failure.replacesElement) element = failure.element;
  }
  const inner = SluiceError.is(err) ? err : undefined;
  const message = err instanceof Error ? err.message : String(err);
  const on = element ? ` on element ${preview(element.value)}` : "";
  // .withExceptionHandling() routes failures of process only: not a CombineFn's, not setup/bundle methods'.
  const hint =
    inner?.hint ??
    (failure !== undefined || what === "the CombineFn"
      ? "Fix the CombineFn (createAccumulator, addInput, mergeAccumulators, extractOutput); the stack trace shows where."
      : what === "process"
        ? "Fix the transform's code, or route failing elements aside with .withExceptionHandling()."
        : `Fix the DoFn's ${what}; the stack trace shows where.`);
  // An SDK error raised inside user code (e.g. Sum of mixed numbers and bigints: INVALID_ARGUMENT) keeps its code.
  const out = new SluiceError(inner?.code ?? "USER_CODE_FAILED", `Transform '${step}' failed in ${what}${on}: ${message}`, { hint, cause: err });
  Object.defineProperty(out, attributedTo, { value: step });
  return out;
}

/** Where a ParDo reads a side input's elements per window from. */
export interface SideInputSource {
  /** Whether all elements are known (a ParDo holds its main input until then). */
  readonly ready: boolean;
  /** The elements of the side input's window that `mainWindow` maps to (after `prefetch`). */
  elementsFor(mainWindow: BoundedWindow): { key: string | number; values: readonly unknown[] };
  onReady(callback: () => Pending): void;
  /** Loads what `elementsFor(mainWindow)` needs; a promise when the caller must wait (state reads). */
  prefetch?(mainWindow: BoundedWindow): Pending;
  /**
   * A side input of an unbounded collection: whether the window `mainWindow` maps to is ready
   * (a pane of it arrived, or the side input's watermark passed its end), so main input in that
   * window need not wait for the whole side input to end.
   */
  readyFor?(mainWindow: BoundedWindow): boolean;
}

/** Collects a side input's elements per window; ParDos wait for it to be complete. */
export class SideInputCollector implements Receiver, SideInputSource {
  private readonly byWindow = new Map<string | number, unknown[]>();
  private remaining: number;
  private readonly waiters: (() => Pending)[] = [];
  ready = false;

  constructor(
    readonly windowing: WindowingStrategy,
    inputs: number,
    /** The side input's watermark, for a side input of an unbounded collection (see readyFor). */
    watermark?: () => Timestamp,
  ) {
    this.remaining = inputs;
    if (watermark !== undefined) {
      this.readyFor = (mainWindow: BoundedWindow): boolean => {
        if (this.ready) return true;
        const fn = this.windowing.windowFn;
        const w = fn.sideInputWindow(mainWindow);
        return this.byWindow.has(fn.windowKey(w)) || watermark() > w.maxTimestamp();
      };
    }
  }

  readonly readyFor?: (mainWindow: BoundedWindow) => boolean;

  receive(value: unknown, meta: Meta): Pending {
    const fn = this.windowing.windowFn;
    for (const w of meta.windows) {
      const key = fn.windowKey(w);
      const list = this.byWindow.get(key);
      if (list) list.push(value);
      else this.byWindow.set(key, [value]);
    }
  }

  /** The elements of the side input's window that `mainWindow` maps to. */
  elementsFor(mainWindow: BoundedWindow): { key: string | number; values: readonly unknown[] } {
    const fn = this.windowing.windowFn;
    const key = fn.windowKey(fn.sideInputWindow(mainWindow));
    return { key, values: this.byWindow.get(key) ?? [] };
  }

  onReady(callback: () => Pending): void {
    this.waiters.push(callback);
  }

  finishInput(): Pending {
    if (--this.remaining > 0) return undefined;
    this.ready = true;
    return sequence(this.waiters);
  }

  flush(): Pending {
    return undefined;
  }
}

export interface SideInputBinding {
  readonly name: string;
  readonly view: SideInput<unknown>;
  readonly collector: SideInputSource;
}

/** The mutable context object a ParDo hands to its DoFn; one per operator, reused per element. */
class Context implements ProcessContext<unknown, SideInputs, Record<string, unknown>> {
  meta: Meta = GLOBAL_META;
  window: BoundedWindow = GLOBAL_WINDOW;
  windowMeta: Meta = GLOBAL_META;
  readonly sideInputs: Record<string, unknown>;
  // A stateful DoFn's: the current key, its state and timers, and the firing timer's details.
  key: unknown = undefined;
  state: Record<string, unknown> | undefined;
  timers: Record<string, unknown> | undefined;
  tag = "";
  domain: TimeDomain = "EVENT_TIME";
  fireTimestamp: Timestamp = MIN_TIMESTAMP;

  /** Timers are scheduled by a remote runner (the harness's backend), not by this process. */
  get [REMOTE_TIMERS](): boolean {
    return this.op.remoteTimers;
  }

  constructor(private readonly op: ParDoOperator) {
    const sides: Record<string, unknown> = {};
    for (const b of op.sides) {
      Object.defineProperty(sides, b.name, { enumerable: true, get: () => op.sideValue(b, this.window) });
    }
    this.sideInputs = sides;
  }
  get timestamp(): Timestamp {
    return this.meta.timestamp;
  }
  get pane(): PaneInfo {
    return this.meta.pane;
  }
  output(value: unknown): void {
    this.op.emit("main", value, this.windowMeta);
  }
  outputWithTimestamp(value: unknown, timestamp: Timestamp): void {
    this.op.emit("main", value, { timestamp, windows: this.windowMeta.windows, pane: this.meta.pane });
  }
  outputTo(tag: string, value: unknown): void {
    this.op.emit(tag, value, this.windowMeta);
  }
  flush(): Promise<void> {
    const pending = Promise.resolve(this.op.takePending());
    if (performance.now() - lastTurn < TURN_MS) return pending;
    // A long process (the text reader's, a range at a time) lets the event loop run now and then:
    // its awaits of finished reads resolve as microtasks, so without this no thread's message (an
    // idle thread asking for work), timer or signal is handled until the whole element is done.
    return pending.then(() => new Promise<void>((resolve) => setImmediate(() => {
      lastTurn = performance.now();
      resolve();
    })));
  }
}

/** How long a process's context.flush() lets pass before it gives the event loop a turn. */
const TURN_MS = 10;
let lastTurn = 0;

export interface ParDoConfig {
  readonly step: string;
  readonly fn: AnyDoFn;
  readonly outputs: ReadonlyMap<string, Outputs>;
  readonly sides: readonly SideInputBinding[];
  readonly observesWindow: boolean;
  readonly exceptionHandling: boolean;
  readonly inputs: number;
  readonly metrics: StepMetrics;
  /** Whether the main input is in non-global windows: finishBundle outputs must then name a window. */
  readonly windowedInput?: boolean;
  /** Tracks async user code for progress reports and stall detection (the direct runner's). */
  readonly monitor?: RunMonitor;
  /**
   * The run's memory budget and the main input's element coder: main input held while the side
   * inputs are incomplete spills to disk past the budget. None: it is held in memory.
   */
  readonly waitSpill?: { readonly budget: MemoryBudget; readonly coder: Coder<WindowedValue<unknown>> };
  /** A stateful DoFn: its declarations and its input's windowing (state is per key and window). */
  readonly stateful?: {
    readonly spec: StatefulSpec;
    readonly windowing: WindowingStrategy;
    /**
     * Processing time is this clock's (the wall clock of a streaming run): when the input ends,
     * pending processing-time timers keep firing as it reaches them, and the operator finishes
     * once none is left. Without it, they fire once at the end of input (a batch or TestStream run).
     */
    readonly wallClock?: () => number;
    /** The runner keeps state and timers (the harness): cells load from it, timers go to it and come back. */
    readonly backend?: StateBackend;
  };
}

const LATE_KEY = MetricsContainer.cellKey("sluice", "droppedDueToLateness");

/** How many first calls of a process not declared async run with async context (see invokeProcess). */
const PROBE_CALLS = 1000;

/** Runs a DoFn: lifecycle, per-window explosion, side inputs, tagged outputs, dead letters. */
export class ParDoOperator implements Receiver {
  readonly sides: readonly SideInputBinding[];
  private readonly fn: AnyDoFn;
  /** Whether a remote runner schedules this DoFn's timers (a harness StateBackend). */
  get remoteTimers(): boolean {
    return this.config.stateful?.backend !== undefined;
  }
  private readonly step: string;
  private readonly outputs: ReadonlyMap<string, Outputs>;
  private readonly main: Outputs | undefined;
  private readonly ctx: Context;
  private readonly metrics: StepMetrics;
  private pending: Promise<void>[] = [];
  private remainingInputs: number;
  private setUp = false;
  private inBundle = false;
  private lastFlush = -1;
  private tail: Promise<void> | undefined;
  /** Elements waiting for side inputs (within the memory budget: see ParDoConfig.waitSpill). */
  private blocked: SpillableQueue<WindowedValue<unknown>> | undefined;
  /** Whether a side input is of an unbounded collection: main input waits per window. */
  private readonly streamingSides: boolean;
  /** Elements waiting for their windows of such side inputs (they hold the output watermark). */
  private waiting: { value: unknown; meta: Meta }[] = [];
  private finishPending = false;
  private inputDone = false;
  private readonly sideCache = new Map<string, unknown>();
  /** Outputs of the element being processed, when exception handling holds them back. */
  private held: { tag: string; value: unknown; meta: Meta }[] | undefined;
  private readonly bundleCtx: FinishBundleContext<unknown, Record<string, unknown>>;
  /** Whether user code is async, so metric updates after awaits need async context. */
  private asyncUserCode: boolean;
  /** Calls still made with async context while finding out whether process returns promises. */
  private probeCalls = PROBE_CALLS;
  /** Whether a side input must be loaded per window before processing (the harness's state reads). */
  private readonly prefetching: boolean;
  /** A stateful DoFn's state and timers, and the clocks it last saw. */
  private readonly runtime: StatefulRuntime | undefined;
  private now: TriggerTime = { watermark: -Infinity, processingTime: 0 };
  /**
   * A Map, FlatMap or Filter of a plain function with nothing else to do per element (no side
   * inputs, state, windows observed or dead letters): once the probe calls found it synchronous,
   * receive calls the function itself, without the DoFn and context around it (receivePlain).
   */
  private readonly plain: ElementFn | undefined;

  constructor(private readonly config: ParDoConfig) {
    this.fn = config.fn;
    const isAsync = (f: unknown): boolean => typeof f === "function" && f.constructor.name === "AsyncFunction";
    this.asyncUserCode = isAsync(config.fn.process);
    this.step = config.step;
    this.outputs = config.outputs;
    this.main = config.outputs.get("main");
    this.sides = config.sides;
    this.metrics = config.metrics;
    this.remainingInputs = config.inputs;
    this.ctx = new Context(this);
    this.streamingSides = this.sides.some((s) => s.collector.readyFor !== undefined);
    if (this.streamingSides) {
      // Side inputs of unbounded collections: main input waits per window (see receive).
      for (const s of this.sides) s.collector.onReady(() => this.releaseWaiting());
    } else if (this.sides.some((s) => !s.collector.ready)) {
      this.blocked = new SpillableQueue(config.waitSpill);
      for (const s of this.sides) s.collector.onReady(() => this.sideInputReady());
    }
    this.prefetching = this.sides.some((s) => s.collector.prefetch !== undefined);
    const plain = (config.fn as { [ELEMENT_FN]?: ElementFn })[ELEMENT_FN];
    const simple = this.sides.length === 0 && config.stateful === undefined && !config.exceptionHandling && !config.observesWindow;
    this.plain = plain !== undefined && simple && this.main !== undefined ? plain : undefined;
    const st = config.stateful;
    this.runtime =
      st === undefined
        ? undefined
        : new StatefulRuntime({
            step: this.step,
            spec: st.spec,
            windowFn: st.windowing.windowFn,
            allowedLateness: st.windowing.allowedLateness,
            expiryHolds: config.fn.onWindowExpiration !== undefined,
            ...(st.backend ? { backend: st.backend } : {}),
          });
    const meta = (timestamp?: Timestamp, window?: BoundedWindow): Meta => {
      if (window === undefined && config.windowedInput) {
        // Beam has no default window for bundle outputs (Python: "Finish Bundle should only output
        // WindowedValue"); the global default is only right when the input is globally windowed.
        throw new SluiceError(
          "USER_CODE_FAILED",
          `Transform '${this.step}' output from finishBundle without a window, but its input is in non-global windows`,
          {
            hint: "Pass the window (and timestamp) explicitly: context.output(value, timestamp, window), e.g. remembering the window seen in process.",
          },
        );
      }
      return { timestamp: timestamp ?? MIN_TIMESTAMP, windows: [window ?? GLOBAL_WINDOW], pane: PANE_NO_FIRING };
    };
    this.bundleCtx = {
      transform: this.step,
      output: (value, timestamp, window) => this.emit("main", value, meta(timestamp, window)),
      outputTo: (tag, value, timestamp, window) => this.emit(tag, value, meta(timestamp, window)),
    };
  }

  get hasSetUp(): boolean {
    return this.setUp;
  }

  /** Called by the Context: routes one output. */
  emit(tag: string, value: unknown, meta: Meta): void {
    if (this.held) {
      this.held.push({ tag, value, meta });
      return;
    }
    const out = tag === "main" ? this.main : this.outputs.get(tag);
    if (out === undefined) {
      throw new SluiceError("USER_CODE_FAILED", `Transform '${this.step}' emitted to undeclared output '${tag}'`, {
        hint: `Declare it with ParDo(fn).withOutputs(${JSON.stringify(tag)}).`,
      });
    }
    out.emit(value, meta, this.pending);
  }

  /** Promises of downstream work started by outputs so far. */
  takePending(): Pending {
    if (this.pending.length === 0) return undefined;
    const p = this.pending;
    this.pending = [];
    return settle(p);
  }

  sideValue(binding: SideInputBinding, window: BoundedWindow): unknown {
    let v: unknown;
    try {
      const { key, values } = binding.collector.elementsFor(window);
      const cacheKey = `${binding.name}\u0000${key}`;
      if (this.sideCache.has(cacheKey)) return this.sideCache.get(cacheKey);
      v = binding.view.materialize(values);
      this.sideCache.set(cacheKey, v);
    } catch (err) {
      // The side input does not fit its view (sdk/sideinputs.ts: FAILED_PRECONDITION, with its own
      // hint) or has no window for this one: about the side input's data, not this DoFn's code, so
      // no .withExceptionHandling() hint; named by the reading transform and the user's labels.
      if (SluiceError.is(err, "INTERNAL")) throw err;
      const inner = SluiceError.is(err) ? err : undefined;
      const where = window === GLOBAL_WINDOW ? "" : ` for window ${window.toString()}`;
      const e = new SluiceError(
        inner?.code ?? "USER_CODE_FAILED",
        `Transform '${this.step}' failed in side input '${binding.name}'${where}: ${err instanceof Error ? err.message : String(err)}`,
        { hint: inner?.hint ?? "Fix the side input's view; the stack trace shows where.", cause: err },
      );
      Object.defineProperty(e, Symbol.for("sluice.attributedTo"), { value: this.step });
      throw e;
    }
    return v;
  }

  private call<T>(what: string, f: () => T, element?: { value: unknown }): T {
    const prev = setCurrentMetricsContainer(this.metrics.bundle);
    try {
      return runWithAsyncMetricsContainer(this.metrics.bundle, f);
    } catch (err) {
      throw this.failure(what, err, element);
    } finally {
      setCurrentMetricsContainer(prev);
    }
  }

  /**
   * Calls process with this step's metrics container current. Carrying it across awaits (async
   * context) costs on the hot path, so it is done for async code: process declared async, or one
   * that returned a promise before, and for the first PROBE_CALLS calls, since a process may return
   * a promise without being declared async (a Map of an async function, a helper's promise).
   */
  private invokeProcess(value: unknown): unknown {
    if (this.asyncUserCode || this.probeCalls > 0) {
      if (this.probeCalls > 0) this.probeCalls--;
      return callUserCode(this.metrics.bundle, this.fn.process, this.fn, value, this.ctx);
    }
    const prev = setCurrentMetricsContainer(this.metrics.bundle);
    try {
      return this.fn.process(value, this.ctx);
    } finally {
      setCurrentMetricsContainer(prev);
    }
  }

  /** An error thrown through user code: named after this step, unless the runner raised it downstream. */
  private failure(what: string, err: unknown, element?: { value: unknown }): unknown {
    return isRunnerFailure(err) ? err : userCodeError(this.step, what, err, element);
  }

  /** A promise user code returned: tracked by the run's monitor, its failure named. */
  private watch<T>(what: string, p: Promise<T>, element?: { value: unknown }): Promise<T> {
    const m = this.config.monitor;
    return m === undefined ? p : m.track(p, this.step, what, element);
  }

  private async callAsync(what: string, p: Promise<unknown>, element?: { value: unknown }): Promise<unknown> {
    try {
      return await this.watch(what, p, element);
    } catch (err) {
      throw this.failure(what, err, element);
    }
  }

  private startBundle(): Pending {
    this.inBundle = true;
    const steps: (() => Pending)[] = [];
    if (!this.setUp) {
      this.setUp = true;
      if (this.fn.setup) steps.push(() => this.awaitMaybe("setup", this.call("setup", () => this.fn.setup!())));
    }
    if (this.fn.startBundle) {
      steps.push(() => this.awaitMaybe("startBundle", this.call("startBundle", () => this.fn.startBundle!({ transform: this.step }))));
    }
    return sequence(steps);
  }

  private awaitMaybe(what: string, r: unknown): Pending {
    if (r instanceof Promise) return this.callAsync(what, r).then(() => undefined);
    return undefined;
  }

  receive(value: unknown, meta: Meta): Pending {
    if (this.plain !== undefined && this.probeCalls === 0 && !this.asyncUserCode && this.inBundle && this.tail === undefined) {
      const r = this.receivePlain(this.plain, value, meta);
      if (r !== undefined) this.track(r);
      return r;
    }
    if (this.blocked) {
      const budget = this.config.waitSpill?.budget;
      const before = budget?.spilledBytes ?? 0;
      this.blocked.push({ value, timestamp: meta.timestamp, windows: meta.windows, pane: meta.pane });
      if (budget !== undefined) countSpilled(this.metrics, budget.spilledBytes - before);
      return undefined;
    }
    if (this.streamingSides && (this.waiting.length > 0 || !this.sidesReadyFor(meta))) {
      this.waiting.push({ value, meta });
      return undefined;
    }
    // Async user code: later elements queue behind the one in flight, so process calls never overlap.
    if (this.tail === undefined) {
      // Nothing in flight (the common case): no closure per element.
      const r = this.receiveNow(value, meta);
      if (r !== undefined) this.track(r);
      return r;
    }
    return this.queue(() => this.receiveNow(value, meta));
  }

  /** What processOne does for a plain Map, FlatMap or Filter (see `plain`), minus the DoFn and its context. */
  private receivePlain(e: ElementFn, value: unknown, meta: Meta): Pending {
    const prev = setCurrentMetricsContainer(this.metrics.bundle);
    let out: unknown;
    try {
      out = e.fn(value);
      if (e.kind === "flatMap") out = flatMapOutputs(out as Iterable<unknown>);
    } catch (err) {
      throw this.failure("process", err, { value });
    } finally {
      setCurrentMetricsContainer(prev);
    }
    if (e.kind === "map") {
      if (out instanceof Promise) {
        // Not declared async, yet it returned a promise: from now on, as async code.
        this.asyncUserCode = true;
        const element = { value };
        return this.callAsync("process", out, element).then((v) => this.emitReturned([v], meta, element));
      }
      this.main!.emit(out, meta, this.pending);
    } else if (e.kind === "filter") {
      if (out) this.main!.emit(value, meta, this.pending);
    } else {
      return this.emitReturned(out, meta, { value });
    }
    return this.pending.length === 0 ? undefined : this.takePending();
  }

  /** Makes `r` the call in flight until it settles. */
  private track(r: Promise<void>): void {
    this.tail = r;
    void r.then(
      () => {
        if (this.tail === r) this.tail = undefined;
      },
      () => undefined,
    );
  }

  /** Runs `step` after the user call in flight, if any (calls never overlap); the tail clears once it settles. */
  private queue(step: () => Pending): Pending {
    const r = this.tail !== undefined ? this.tail.then(step) : step();
    if (r !== undefined) this.track(r);
    return r;
  }

  private receiveNow(value: unknown, meta: Meta): Pending {
    if (!this.inBundle) {
      const started = this.startBundle();
      if (started !== undefined) return started.then(() => this.processWindows(value, meta));
    }
    return this.processWindows(value, meta);
  }

  private processWindows(value: unknown, meta: Meta): Pending {
    if (this.prefetching) {
      const loads: Promise<void>[] = [];
      for (const w of meta.windows) {
        for (const s of this.sides) {
          const p = s.collector.prefetch?.(w);
          if (p !== undefined) loads.push(p);
        }
      }
      if (loads.length > 0) return Promise.all(loads).then(() => this.processLoaded(value, meta));
    }
    return this.processLoaded(value, meta);
  }

  private processLoaded(value: unknown, meta: Meta): Pending {
    if (this.runtime !== undefined) return this.processStateful(this.runtime, value, meta);
    const windows = meta.windows;
    if (windows.length === 1 || !this.config.observesWindow) {
      this.ctx.window = windows[0] ?? GLOBAL_WINDOW;
      this.ctx.meta = meta;
      this.ctx.windowMeta = meta;
      return this.processOne(value);
    }
    return sequence(
      windows.map((w) => () => {
        this.ctx.window = w;
        this.ctx.meta = meta;
        this.ctx.windowMeta = { timestamp: meta.timestamp, windows: [w], pane: meta.pane };
        return this.processOne(value);
      }),
    );
  }

  private sidesReadyFor(meta: Meta): boolean {
    for (const s of this.sides) {
      const readyFor = s.collector.readyFor;
      if (readyFor === undefined) {
        if (!s.collector.ready) return false;
        continue;
      }
      for (const w of meta.windows) if (!readyFor(w)) return false;
    }
    return true;
  }

  /** Processes the waiting elements whose side-input windows are ready now, in arrival order. */
  private releaseWaiting(): Pending {
    if (this.waiting.length === 0) return undefined;
    const ready: { value: unknown; meta: Meta }[] = [];
    const still: { value: unknown; meta: Meta }[] = [];
    for (const e of this.waiting) (this.sidesReadyFor(e.meta) ? ready : still).push(e);
    if (ready.length === 0) return undefined;
    this.waiting = [];
    const steps: (() => Pending)[] = ready.map((e) => () => this.receive(e.value, e.meta));
    steps.push(() => {
      // Elements that arrived meanwhile queue behind the ones still waiting.
      this.waiting = [...still, ...this.waiting];
      return undefined;
    });
    steps.push(() => this.flush(-1));
    steps.push(() => {
      if (!this.finishPending || this.waiting.length > 0) return undefined;
      this.finishPending = false;
      return this.finishNow();
    });
    return sequence(steps);
  }

  /** A stateful DoFn's element: per window, with its key's state and timers; late data dropped. */
  private processStateful(rt: StatefulRuntime, value: unknown, meta: Meta): Pending {
    if (!Array.isArray(value) || value.length !== 2) {
      throw new SluiceError("INVALID_PIPELINE", `Transform '${this.step}' has state, but got ${typeof value} elements`, {
        hint: "A stateful DoFn keeps state per key: give it [key, value] pairs.",
      });
    }
    const key = value[0];
    const steps: (() => Pending)[] = [];
    for (const w of meta.windows) {
      if (rt.expiry(w) < this.now.watermark) {
        this.metrics.bundle.inc(LATE_KEY, 1);
        continue;
      }
      steps.push(() => {
        const cell = rt.cell(key, w);
        const go = (): Pending => {
          this.armExpiry(rt, cell);
          this.enterCell(rt, cell, meta.timestamp);
          this.ctx.meta = meta;
          this.ctx.windowMeta = meta.windows.length === 1 ? meta : { timestamp: meta.timestamp, windows: [w], pane: meta.pane };
          return this.processOne(value);
        };
        return cell.loading !== undefined ? cell.loading.then(go) : go();
      });
    }
    return steps.length === 1 ? steps[0]!() : sequence(steps);
  }

  /** With a backend, the runner expires windows: a timer per key and window runs onWindowExpiration. */
  private armExpiry(rt: StatefulRuntime, cell: StateCell): void {
    if (this.config.stateful?.backend === undefined || this.fn.onWindowExpiration === undefined || this.armed.has(cell)) return;
    this.armed.add(cell);
    this.config.stateful.backend.timer(cell, EXPIRY_TIMER_FAMILY, "", { fireTime: rt.expiry(cell.window), outputTimestamp: cell.window.maxTimestamp() });
  }
  private readonly armed = new WeakSet<StateCell>();

  /** The stateful runtime (the harness writes its cells back at a bundle's end). */
  get stateRuntime(): StatefulRuntime | undefined {
    return this.runtime;
  }

  /**
   * A timer the runner fired (the harness): its callback runs with its key's and window's state,
   * in a bundle; the expiry family runs onWindowExpiration and clears the cell's state.
   */
  fireRemoteTimer(key: unknown, window: BoundedWindow, name: string, tag: string, fireTime: Timestamp, outputTimestamp: Timestamp, domain: TimeDomain): Pending {
    const rt = this.runtime;
    if (rt === undefined) throw new SluiceError("INTERNAL", `Transform '${this.step}' got a timer but has no state`, { hint: "" });
    const run = async (): Promise<void> => {
      if (!this.inBundle) await this.startBundle();
      const cell = rt.cell(key, window);
      if (cell.loading !== undefined) await cell.loading;
      if (name === EXPIRY_TIMER_FAMILY) {
        // A runner fires the timers due at its watermark in one bundle: one set in this bundle
        // (by a callback) comes in a later one. The window expires after those: try again then.
        if (cell.timers.size > 0) {
          this.config.stateful!.backend!.timer(cell, EXPIRY_TIMER_FAMILY, "", { fireTime, outputTimestamp });
          return;
        }
        this.enterCell(rt, cell, outputTimestamp);
        this.ctx.timers = undefined;
        this.ctx.meta = this.ctx.windowMeta = { timestamp: outputTimestamp, windows: [window], pane: PANE_NO_FIRING };
        await this.invokeCallback("onWindowExpiration", () => this.fn.onWindowExpiration!(this.ctx as never), key);
        for (const n of Object.keys(this.config.stateful!.spec.state)) cell.dirty.add(n);
        cell.contents.clear();
        return;
      }
      if (rt.isStale(cell, name, tag)) return;
      await this.fireTimer(rt, rt.remoteTimer(cell, name, tag, domain, fireTime, outputTimestamp));
    };
    return this.queue(run) as Promise<void>;
  }

  private enterCell(rt: StatefulRuntime, cell: StateCell, timestamp: Timestamp): void {
    rt.current.timestamp = timestamp;
    rt.current.processingTime = this.config.stateful?.wallClock?.() ?? this.now.processingTime;
    this.ctx.window = cell.window;
    this.ctx.key = cell.key;
    this.ctx.state = rt.state(cell);
    this.ctx.timers = rt.timers(cell);
  }

  /**
   * The clocks advanced (the runner's input watermark for this operator, processing time): due
   * timers fire, in order, then expired windows close (onWindowExpiration, state dropped); one
   * bundle, flushed downstream.
   */
  async advance(time: TriggerTime, epoch: number): Promise<void> {
    if (time.watermark > this.now.watermark || time.processingTime > this.now.processingTime) {
      this.now = { watermark: Math.max(time.watermark, this.now.watermark), processingTime: Math.max(time.processingTime, this.now.processingTime) };
    }
    if (this.streamingSides) await this.releaseWaiting();
    if (this.runtime === undefined) return;
    await this.fireDue(this.runtime, false);
    await this.flush(epoch);
    if (this.draining && this.runtime.nextProcessingTime() === undefined) {
      this.draining = false;
      await this.finishOutputs(this.runtime);
    }
  }

  /** A wall-clock run's input ended while processing-time timers are pending: outputs stay open. */
  private draining = false;

  /** The end: every window closes, the last bundle ends, downstream finishes. */
  private finishOutputs(rt: StatefulRuntime): Pending {
    return sequence([() => this.fireDue(rt, true), () => this.finishBundle(), ...[...this.outputs.values()].map((out) => () => out.finish())]);
  }

  /** The watermark of this operator's output: its input's, held back by pending timers. */
  outputWatermark(): Timestamp {
    let w = this.runtime === undefined ? this.now.watermark : Math.min(this.now.watermark, this.runtime.hold());
    for (const e of this.waiting) if (e.meta.timestamp < w) w = e.meta.timestamp;
    return w;
  }

  /** The earliest processing time a timer is due at (for a real clock to wake at). */
  nextDeadline(): number | undefined {
    return this.runtime?.nextProcessingTime();
  }

  /** Fires the timers due at the current clocks, then closes expired windows (all of them at the end). */
  private async fireDue(rt: StatefulRuntime, end: boolean): Promise<void> {
    if (this.tail) await this.tail;
    for (;;) {
      const t = rt.nextDue(this.now.watermark, this.now.processingTime);
      if (t === undefined) break;
      if (!this.inBundle) await this.startBundle();
      try {
        await this.fireTimer(rt, t);
      } finally {
        rt.fired(t);
      }
    }
    const expired = rt.takeExpired(this.now.watermark, end);
    if (expired.length === 0) return;
    if (this.fn.onWindowExpiration === undefined) return rt.released(expired);
    for (const cell of expired) {
      if (!this.inBundle) await this.startBundle();
      const timestamp = cell.window.maxTimestamp();
      this.enterCell(rt, cell, timestamp);
      this.ctx.timers = undefined;
      this.ctx.meta = this.ctx.windowMeta = { timestamp, windows: [cell.window], pane: PANE_NO_FIRING };
      await this.invokeCallback("onWindowExpiration", () => this.fn.onWindowExpiration!(this.ctx as never), cell.key);
    }
    rt.released(expired);
  }

  private fireTimer(rt: StatefulRuntime, t: TimerEntry): Pending {
    this.enterCell(rt, t.cell, t.outputTimestamp);
    const ctx = this.ctx;
    ctx.meta = ctx.windowMeta = { timestamp: t.outputTimestamp, windows: [t.cell.window], pane: PANE_NO_FIRING };
    ctx.tag = t.tag;
    ctx.domain = t.domain;
    ctx.fireTimestamp = t.fireTime;
    const callback = this.fn.onTimer![t.name]!;
    return this.invokeCallback(`onTimer '${t.name}'`, () => callback.call(this.fn.onTimer, ctx as never), t.cell.key);
  }

  /** Calls a timer or expiry callback with this step's metrics; emits what it returns. */
  private invokeCallback(what: string, f: () => unknown, key: unknown): Pending {
    const element = { value: key };
    const meta = this.ctx.windowMeta;
    const result = this.call(what, f, element);
    if (result instanceof Promise) return this.callAsync(what, result, element).then((r) => this.emitReturned(r, meta, element));
    return this.emitReturned(result, meta, element);
  }

  private processOne(value: unknown): Pending {
    if (this.config.exceptionHandling) return this.processGuarded(value);
    // The hot path: no closures, no allocation besides what user code does.
    let result: unknown;
    try {
      result = this.invokeProcess(value);
    } catch (err) {
      throw this.failure("process", err, { value });
    }
    if (result === undefined) return this.pending.length === 0 ? undefined : this.takePending();
    if (result instanceof Promise) {
      this.asyncUserCode = true;
      const meta = this.ctx.windowMeta;
      const element = { value };
      return this.callAsync("process", result, element).then((r) => this.emitReturned(r, meta, element));
    }
    return this.emitReturned(result, this.ctx.windowMeta, { value });
  }

  /**
   * Emits what process returned. When downstream asks to wait (async code, disk), the rest waits:
   * an element exploding into millions of outputs (a generator, a huge array) is pushed through
   * incrementally instead of queueing work for all of them.
   */
  private emitReturned(result: unknown, meta: Meta, element: { value: unknown }): Pending {
    if (result === undefined || result === null) return this.takePending();
    if (typeof result === "string" || typeof (result as Iterable<unknown>)[Symbol.iterator] !== "function") {
      throw userCodeError(
        this.step,
        "process",
        new TypeError(`process returned ${typeof result === "string" ? "a string" : typeof result}; return an iterable of outputs (e.g. an array) or call context.output`),
        element,
      );
    }
    const prev = setCurrentMetricsContainer(this.metrics.bundle);
    try {
      if (Array.isArray(result)) {
        const n = result.length;
        for (let i = 0; i < n; i++) {
          this.emit("main", result[i], meta);
          if (this.pending.length !== 0 && i + 1 < n) return this.emitRest(result[Symbol.iterator](), i + 1, meta, element);
        }
      } else {
        const it = (result as Iterable<unknown>)[Symbol.iterator]();
        for (let r = it.next(); r.done !== true; r = it.next()) {
          this.emit("main", r.value, meta);
          if (this.pending.length !== 0) return this.emitRest(it, 0, meta, element);
        }
      }
    } catch (err) {
      throw this.failure("process", err, element);
    } finally {
      setCurrentMetricsContainer(prev);
    }
    return this.takePending();
  }

  /** The rest of a returned iterable, after downstream's pending work (skipping `skip` items). */
  private async emitRest(it: Iterator<unknown>, skip: number, meta: Meta, element: { value: unknown }): Promise<void> {
    for (let i = 0; i < skip; i++) it.next();
    for (;;) {
      await this.takePending();
      const prev = setCurrentMetricsContainer(this.metrics.bundle);
      try {
        for (let r = it.next(); ; r = it.next()) {
          if (r.done === true) return;
          this.emit("main", r.value, meta);
          if (this.pending.length !== 0) break;
        }
      } catch (err) {
        throw this.failure("process", err, element);
      } finally {
        setCurrentMetricsContainer(prev);
      }
    }
  }

  /** Exception handling: hold the element's outputs; release them on success, dead-letter it on failure. */
  private processGuarded(value: unknown): Pending {
    const meta = this.ctx.windowMeta;
    const held: { tag: string; value: unknown; meta: Meta }[] = [];
    const fail = (err: unknown): Pending => {
      this.held = undefined;
      const e = err instanceof SluiceError && err.cause !== undefined ? err.cause : err;
      const error =
        e instanceof Error
          ? { name: e.name, message: e.message, stack: e.stack ?? "" }
          : { name: "Error", message: String(e), stack: "" };
      const failed: FailedElement<unknown> = { element: value, transform: this.step, error };
      this.emit("failed", failed, meta);
      return this.takePending();
    };
    const release = (result: unknown): Pending => {
      this.held = undefined;
      try {
        if (result !== undefined && result !== null) {
          if (typeof result === "string" || typeof (result as Iterable<unknown>)[Symbol.iterator] !== "function") {
            throw new TypeError("process returned a non-iterable; return an array of outputs or call context.output");
          }
          for (const v of result as Iterable<unknown>) held.push({ tag: "main", value: v, meta });
        }
      } catch (err) {
        return fail(err);
      }
      for (const h of held) this.emit(h.tag, h.value, h.meta);
      return this.takePending();
    };
    this.held = held;
    let result: unknown;
    try {
      result = this.invokeProcess(value);
    } catch (err) {
      return fail(err);
    }
    if (result instanceof Promise) {
      this.asyncUserCode = true;
      // Outputs emitted after an await are held too: `held` stays set until the promise settles.
      return this.watch("process", result, { value }).then(release, fail);
    }
    return release(result);
  }

  private sideInputReady(): Pending {
    if (!this.sides.every((s) => s.collector.ready) || this.blocked === undefined) return undefined;
    const waiting = this.blocked.drain();
    this.blocked = undefined;
    // A failure ends the drain, which removes a spill file at once (not only at exit).
    const stop = (err: unknown): never => {
      waiting.return(undefined);
      throw err;
    };
    const release = (): Pending => {
      try {
        for (let e = waiting.next(); !e.done; e = waiting.next()) {
          const wv = e.value;
          const p = this.receive(wv.value, { timestamp: wv.timestamp, windows: wv.windows, pane: wv.pane });
          if (p !== undefined) return p.then(release, stop);
        }
      } catch (err) {
        stop(err);
      }
      return undefined;
    };
    return sequence([release, () => this.flush(-1), () => (this.inputDone ? this.finishNow() : undefined)]);
  }

  flush(epoch: number): Pending {
    if (epoch !== -1 && epoch === this.lastFlush) return undefined;
    if (epoch !== -1) this.lastFlush = epoch;
    const steps: (() => Pending)[] = [];
    if (this.tail) {
      const t = this.tail;
      steps.push(() => t);
    }
    // Timers set behind the clocks during the bundle fire in it, before it ends.
    const rt = this.runtime;
    if (rt !== undefined && this.config.stateful?.backend === undefined) steps.push(() => this.fireDue(rt, false));
    steps.push(() => this.finishBundle());
    for (const out of this.outputs.values()) steps.push(() => out.flush(epoch));
    return sequence(steps);
  }

  private finishBundle(): Pending {
    if (!this.inBundle) return undefined;
    this.inBundle = false;
    const done = (): Pending => {
      this.metrics.commit();
      checkHeap(this.step);
      return this.takePending();
    };
    if (!this.fn.finishBundle) return done();
    const r = this.call("finishBundle", () => this.fn.finishBundle!(this.bundleCtx));
    if (r instanceof Promise) return this.callAsync("finishBundle", r).then(done);
    return done();
  }

  finishInput(): Pending {
    if (--this.remainingInputs > 0) return undefined;
    this.inputDone = true;
    if (this.blocked) return undefined; // finishes once side inputs arrive
    if (this.waiting.length > 0) {
      // Finishes once the last waiting element is released (at the latest when the side inputs end).
      this.finishPending = true;
      return this.releaseWaiting();
    }
    return this.finishNow();
  }

  private finishNow(): Pending {
    // Re-arm: the harness reuses operators for the next bundle of the same descriptor.
    this.remainingInputs = this.config.inputs;
    this.inputDone = false;
    const steps: (() => Pending)[] = [];
    if (this.tail) {
      const t = this.tail;
      steps.push(() => t);
    }
    const rt = this.config.stateful?.backend === undefined ? this.runtime : undefined;
    const wallClock = this.config.stateful?.wallClock;
    if (rt !== undefined && wallClock !== undefined) {
      // The input ended on the wall clock: its watermark is at the end of time (event-time timers
      // fire, windows but the global one close); processing-time timers fire when they are due.
      this.now = { watermark: MAX_TIMESTAMP, processingTime: wallClock() };
      steps.push(() => this.fireDue(rt, false));
      steps.push(() => this.finishBundle());
      steps.push(() => {
        if (rt.nextProcessingTime() === undefined) return this.finishOutputs(rt);
        this.draining = true;
        return undefined;
      });
      return sequence(steps);
    }
    if (rt !== undefined) {
      // The input ended: its watermark is at the end of time; every timer fires, every window closes.
      steps.push(() => {
        this.now = { watermark: MAX_TIMESTAMP, processingTime: rt.endProcessingTime(this.now.processingTime) };
        return this.fireDue(rt, true);
      });
    }
    steps.push(() => this.finishBundle());
    for (const out of this.outputs.values()) steps.push(() => out.finish());
    return sequence(steps);
  }

  /** Called once at the end of the run, successful or not. */
  async teardown(): Promise<void> {
    if (this.inBundle) this.metrics.abandon();
    // Elements still held (the run failed first): their spill file goes.
    this.blocked?.close();
    if (!this.setUp || !this.fn.teardown) return;
    this.setUp = false;
    await this.call("teardown", () => this.fn.teardown!());
  }
}

/** Passes elements through unchanged: Flatten, and Reshuffle in a single process. */
export class ForwardOperator implements Receiver {
  private remaining: number;
  constructor(
    private readonly out: Outputs,
    private readonly inputs: number,
  ) {
    this.remaining = inputs;
  }
  /** The meta an element leaves with (unchanged here). */
  protected meta(meta: Meta): Meta {
    return meta;
  }
  receive(value: unknown, meta: Meta): Pending {
    const pending: Promise<void>[] = [];
    this.out.emit(value, this.meta(meta), pending);
    return settle(pending);
  }
  finishInput(): Pending {
    if (--this.remaining > 0) return undefined;
    this.remaining = this.inputs;
    return this.out.finish();
  }
  flush(epoch: number): Pending {
    return this.out.flush(epoch);
  }
}

/** WindowInto: re-assigns windows from each element's timestamp. */
export class AssignWindowsOperator extends ForwardOperator {
  constructor(
    private readonly windowFn: WindowFn,
    out: Outputs,
    inputs: number,
  ) {
    super(out, inputs);
  }
  protected override meta(meta: Meta): Meta {
    return { timestamp: meta.timestamp, windows: this.windowFn.assignWindows(meta.timestamp), pane: meta.pane };
  }
}

/** Emits the elements a barrier produced in bundles, then finishes downstream. */
async function drain(out: Outputs, items: Iterable<{ value: unknown; meta: Meta }>, nextEpoch: () => number, bundleSize: number): Promise<void> {
  let n = 0;
  let pending: Promise<void>[] = [];
  let turn = performance.now();
  for (const item of items) {
    out.emit(item.value, item.meta, pending);
    if (pending.length > 0) {
      await settle(pending);
      pending = [];
    }
    if (++n % bundleSize === 0) await out.flush(nextEpoch());
    // A turn of the event loop every 50 ms or so: signals (Ctrl-C), timers and I/O are not held
    // off while a large grouping drains through synchronous DoFns.
    if ((n & 63) === 0 && performance.now() - turn > 50) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      turn = performance.now();
    }
  }
  await out.flush(nextEpoch());
  await out.finish();
}

/** Bytes a grouping wrote to disk past the memory budget (`--max_memory_mb`). */
const SPILLED_KEY = MetricsContainer.cellKey("sluice", "spilledBytes");

/** Counts bytes a step wrote past the memory budget (committed at once: spilling is not retried). */
export function countSpilled(metrics: StepMetrics, bytes: number): void {
  if (bytes === 0) return;
  metrics.committed.inc(SPILLED_KEY, bytes);
  metrics.attempted.inc(SPILLED_KEY, bytes);
}

/** One key's group of a lifted combine in one window, as partials() gives it. */
export interface PartialGroup {
  readonly key: unknown;
  readonly window: BoundedWindow;
  readonly minTs: Timestamp;
  readonly maxTs: Timestamp;
  readonly acc: unknown;
}

/** One key's state in one window: its values, or its accumulator when combining. */
class Group {
  acc: unknown = undefined;
  constructor(
    readonly key: unknown,
    readonly window: BoundedWindow,
    public minTs: Timestamp,
    public maxTs: Timestamp,
    /** Shared and never written when combining (an accumulator per key, no value list). */
    readonly values: unknown[] = [],
  ) {}
}

const NO_VALUES: unknown[] = Object.freeze([]) as unknown as unknown[];

function notKv(step: string, value: unknown): SluiceError {
  return new SluiceError("USER_CODE_FAILED", `Transform '${step}' needs [key, value] pairs but received ${preview(value)}`, {
    hint: "Produce two-element [key, value] arrays before grouping, e.g. with Map((x) => [key, x]).",
  });
}

function outputTimestamp(strategy: WindowingStrategy, window: BoundedWindow, minTs: Timestamp, maxTs: Timestamp): Timestamp {
  switch (strategy.timestampCombiner) {
    case "EARLIEST":
      return minTs;
    case "LATEST":
      return maxTs;
    default:
      return window.maxTimestamp();
  }
}

export interface GroupConfig {
  readonly step: string;
  readonly keyCoder: Coder<unknown>;
  readonly windowing: WindowingStrategy;
  readonly out: Outputs;
  readonly inputs: number;
  readonly nextEpoch: () => number;
  readonly bundleSize: number;
  /** Set for a lifted CombinePerKey: values are folded into one accumulator per key and window. */
  readonly combineFn?: AnyCombineFn;
  readonly metrics: StepMetrics;
  /** Keys per Map of the per-key tables (tests lower it; default MAP_SHARD_LIMIT). */
  readonly shardLimit?: number;
  /** The run's memory budget: past it, the tables spill to disk (spill.ts); none: all in memory. */
  readonly budget?: MemoryBudget;
  /** The input's value coder (for spilled values). */
  readonly valueCoder?: Coder<unknown>;
  /**
   * Count.perElement run natively: each element is its own key and adds 1 (no `[element, 1]`
   * pair, no ParDo before the combine); `combineFn` is the sum.
   */
  readonly elementKeys?: boolean;
}

/** A value of a grouping in merging windows, with its window and timestamp. */
interface SessionEntry {
  readonly window: BoundedWindow;
  readonly value: unknown;
  readonly ts: Timestamp;
}

/** Encodes session entries as windowed values (one window each): how a merging grouping spills. */
function sessionEntryCoder(valueCoder: Coder<unknown>, windowCoder: Coder<BoundedWindow>): Coder<SessionEntry> {
  const wv = new WindowedValueCoder(valueCoder, windowCoder);
  return {
    urn: "sluice:coder:session_entry:v1",
    components: [valueCoder, windowCoder as Coder<unknown>],
    payload: new Uint8Array(0),
    deterministic: false,
    encode: (e, out, nested) => wv.encode({ value: e.value, timestamp: e.ts, windows: [e.window], pane: PANE_NO_FIRING }, out, nested),
    decode: (input, nested) => {
      const v = wv.decode(input, nested);
      return { window: v.windows[0]!, value: v.value, ts: v.timestamp };
    },
    structuralKey: (e) => e,
    toString: () => `SessionEntryCoder(${valueCoder.toString()}, ${windowCoder.toString()})`,
  };
}

/**
 * GroupByKey and lifted CombinePerKey: a barrier keyed by (window, structural key). With a
 * CombineFn it keeps one accumulator per key instead of the values. Merging windows (sessions)
 * collect per key, and merge windows at the end.
 */
export class GroupOperator implements Receiver {
  /** Groups by window key; non-global, non-merging windowing only. */
  private readonly byWindow: KeyTable<string | number, KeyTable<unknown, Group>>;
  /** Groups of the global window, or per key for merging windowing. */
  private readonly single: KeyTable<unknown, Group>;
  private readonly shardLimit: number | undefined;
  /** Elements since the last heap check. */
  private sinceHeapCheck = 0;
  private readonly windowed: boolean;
  private readonly merging: boolean;
  private readonly step: string;
  private readonly keyCoder: Coder<unknown>;
  private readonly combineFn: AnyCombineFn | undefined;
  private readonly windowFn: WindowFn;
  /** Only EARLIEST and LATEST timestamp combiners need the input timestamps (it costs on the hot path). */
  private readonly trackTimestamps: boolean;
  private readonly elementKeys: boolean;
  private remaining: number;
  /** Spilled runs, when the budget was exceeded; bytes held now by its estimate. */
  private readonly spill: Spill | undefined;
  private held = 0;
  private readonly sample = { n: 0, avg: 0 };

  constructor(private readonly config: GroupConfig) {
    this.windowFn = config.windowing.windowFn;
    this.trackTimestamps = config.windowing.timestampCombiner !== "END_OF_WINDOW";
    this.merging = this.windowFn.isMerging;
    this.windowed = !this.merging && this.windowFn.urn !== "beam:window_fn:global_windows:v1";
    this.remaining = config.inputs;
    this.step = config.step;
    this.keyCoder = config.keyCoder;
    this.combineFn = config.combineFn;
    this.elementKeys = config.elementKeys === true;
    if (this.elementKeys && config.combineFn === undefined) {
      throw new SluiceError("INTERNAL", `a grouping keyed by its elements needs a CombineFn (${config.step})`, { hint: "This is a bug in the direct runner; please report it." });
    }
    this.shardLimit = config.shardLimit;
    this.byWindow = new KeyTable(this.shardLimit);
    this.single = new KeyTable(this.shardLimit);
    if (this.merging && config.combineFn) {
      throw new SluiceError("INTERNAL", `combiner lifting with merging windows is not supported (${config.step})`, { hint: "" });
    }
    if (config.budget !== undefined) {
      const windowCoder = this.windowFn.windowCoder as Coder<BoundedWindow>;
      const valueCoder = config.combineFn ? ((config.combineFn.accumulatorCoder ?? JsValueCoder) as Coder<unknown>) : (config.valueCoder ?? JsValueCoder);
      // Merging windows (sessions) group per key, each value with its own window: a key's record
      // holds those, and its windows merge once its parts are read back (mergedGroups).
      this.spill = this.merging
        ? new Spill(config.budget, config.keyCoder, windowCoder, sessionEntryCoder(valueCoder, windowCoder) as Coder<unknown>, () => 0)
        : new Spill(config.budget, config.keyCoder, windowCoder, valueCoder, (w) => this.windowFn.windowKey(w));
      this.spill.accumulators = config.combineFn !== undefined;
    }
  }

  /** What the tables hold, as they are (a Group is a SpillableGroup: no copy while memory is short). */
  private *tableGroups(): Generator<SpillableGroup> {
    const all = this.windowed ? this.byWindow.values() : [this.single];
    for (const groups of all) yield* groups.values();
  }

  /** Past the budget: the tables go to disk as one sorted run. */
  private spillTables(): void {
    const before = this.config.budget!.spilledBytes;
    this.spill!.write(this.tableGroups());
    countSpilled(this.config.metrics, this.config.budget!.spilledBytes - before);
    this.byWindow.clear();
    this.single.clear();
    this.config.budget!.release(this.held);
    this.held = 0;
    // What was spilled is garbage now; V8 would let the heap grow far past the budget before
    // collecting it while the input keeps allocating.
    collectGarbage();
  }

  /** Counts `bytes` more held; spills when the run's groupings passed the budget. */
  private hold(bytes: number): void {
    this.held += bytes;
    if (this.config.budget!.add(bytes, this.held)) this.spillTables();
  }

  receive(value: unknown, meta: Meta): Pending {
    let key: unknown;
    let input: unknown;
    if (this.elementKeys) {
      key = value;
      input = 1;
    } else {
      if (!Array.isArray(value) || value.length !== 2) throw notKv(this.step, value);
      key = value[0];
      input = value[1];
    }
    const sk = this.keyCoder.structuralKey(key);
    const windows = meta.windows;
    const ts = meta.timestamp;
    if (++this.sinceHeapCheck === 16_384) {
      this.sinceHeapCheck = 0;
      checkHeap(this.step);
    }
    const combineFn = this.combineFn;
    // One metrics-container switch per element: only a CombineFn's calls are user code here.
    const prev = combineFn ? setCurrentMetricsContainer(this.config.metrics.bundle) : undefined;
    try {
      for (let i = 0; i < windows.length; i++) {
        const w = windows[i]!;
        let groups = this.single;
        if (this.windowed) {
          const wk = this.windowFn.windowKey(w);
          const found = this.byWindow.get(wk);
          if (found === undefined) {
            groups = new KeyTable(this.shardLimit);
            this.byWindow.add(wk, groups);
          } else {
            groups = found;
          }
        }
        let g = groups.get(sk);
        let bytes = 0;
        if (g === undefined) {
          g = new Group(key, w, ts, ts, combineFn ? NO_VALUES : []);
          groups.add(sk, g);
          if (combineFn) g.acc = combineFn.createAccumulator();
          // A group costs its key, the Group, its Map entry and (GroupByKey) a value array's first
          // backing store of 17 slots: about 300 bytes besides the key.
          if (this.spill !== undefined) bytes = (combineFn ? 160 : 300) + estimateBytes(key, this.keyCoder, this.sample);
        } else if (this.trackTimestamps) {
          if (ts < g.minTs) g.minTs = ts;
          if (ts > g.maxTs) g.maxTs = ts;
        }
        if (combineFn) g.acc = combineFn.addInput(g.acc, input);
        else if (this.merging) {
          g.values.push({ window: w, value: input, ts } satisfies SessionEntry);
          if (this.spill !== undefined) bytes += 56 + estimateBytes(input, this.config.valueCoder ?? JsValueCoder, this.sample);
        }
        else {
          g.values.push(input);
          if (this.spill !== undefined) bytes += 8 + estimateBytes(input, this.config.valueCoder ?? JsValueCoder, this.sample);
        }
        if (bytes > 0) this.hold(bytes);
      }
    } catch (err) {
      // Only the CombineFn's calls can throw in this loop (the tables do not, at any size).
      throw userCodeError(this.step, "the CombineFn", err, { value });
    } finally {
      if (combineFn) setCurrentMetricsContainer(prev);
    }
    return undefined;
  }

  finishInput(): Pending {
    if (--this.remaining > 0) return undefined;
    return drain(this.config.out, this.results(), this.config.nextEpoch, this.config.bundleSize).then(() => this.config.metrics.commit());
  }

  flush(): Pending {
    return undefined;
  }

  /**
   * A lifted combine's groups as they stand (accumulators, not outputs), and the table emptied:
   * what a direct-runner thread hands to the main thread's grouping (mergePartial).
   */
  *partials(): Generator<PartialGroup> {
    const all = this.windowed ? this.byWindow.values() : [this.single];
    for (const groups of all) for (const g of groups.values()) yield { key: g.key, window: g.window, minTs: g.minTs, maxTs: g.maxTs, acc: g.acc };
    this.byWindow.clear();
    this.single.clear();
    this.config.metrics.commit();
  }

  /** How many groups the tables hold (a sum over windows: not for every element). */
  get groupCount(): number {
    if (!this.windowed) return this.single.size;
    let n = 0;
    for (const groups of this.byWindow.values()) n += groups.size;
    return n;
  }

  /** Folds a group another thread combined (see partials) into this lifted combine's table. */
  mergePartial(p: PartialGroup): void {
    const combineFn = this.combineFn!;
    const sk = this.keyCoder.structuralKey(p.key);
    let groups = this.single;
    if (this.windowed) {
      const wk = this.windowFn.windowKey(p.window);
      const found = this.byWindow.get(wk);
      if (found === undefined) this.byWindow.add(wk, (groups = new KeyTable(this.shardLimit)));
      else groups = found;
    }
    const g = groups.get(sk);
    if (g === undefined) {
      const fresh = new Group(p.key, p.window, p.minTs, p.maxTs, NO_VALUES);
      fresh.acc = p.acc;
      groups.add(sk, fresh);
      return;
    }
    if (p.minTs < g.minTs) g.minTs = p.minTs;
    if (p.maxTs > g.maxTs) g.maxTs = p.maxTs;
    const prev = setCurrentMetricsContainer(this.config.metrics.bundle);
    try {
      g.acc = combineFn.mergeAccumulators([g.acc, p.acc]);
    } catch (err) {
      throw userCodeError(this.step, "the CombineFn", err, { value: p.key });
    } finally {
      setCurrentMetricsContainer(prev);
    }
  }

  private mergeAccs(key: unknown, accs: unknown[]): unknown {
    const prev = setCurrentMetricsContainer(this.config.metrics.bundle);
    try {
      return this.combineFn!.mergeAccumulators(accs);
    } catch (err) {
      throw userCodeError(this.step, "the CombineFn", err, { value: key });
    } finally {
      setCurrentMetricsContainer(prev);
    }
  }

  private extract(g: Group, acc: unknown = g.acc): unknown {
    const prev = setCurrentMetricsContainer(this.config.metrics.bundle);
    try {
      return this.combineFn!.extractOutput(acc);
    } catch (err) {
      throw userCodeError(this.step, "the CombineFn", err, { value: g.key });
    } finally {
      setCurrentMetricsContainer(prev);
    }
  }

  private *results(): Generator<{ value: unknown; meta: Meta }> {
    const strategy = this.config.windowing;
    if (this.spill?.spilled === true) {
      try {
        const combineFn = this.combineFn;
        for (const m of this.spill.merge(this.tableGroups())) {
          if (this.merging) {
            yield* this.mergedGroups(new Group(m.key, m.window, m.minTs, m.maxTs, [...m.values]));
            continue;
          }
          let value: unknown;
          if (combineFn) {
            const acc = m.accs.length === 1 ? m.accs[0] : this.mergeAccs(m.key, m.accs);
            value = [m.key, this.extract(new Group(m.key, m.window, m.minTs, m.maxTs, NO_VALUES), acc)];
          } else value = [m.key, m.values];
          yield { value, meta: { timestamp: outputTimestamp(strategy, m.window, m.minTs, m.maxTs), windows: [m.window], pane: PANE_ON_TIME_ONLY } };
        }
      } finally {
        this.byWindow.clear();
        this.single.clear();
        this.config.budget!.release(this.held);
        this.held = 0;
        this.spill.close();
      }
      return;
    }
    const all = this.windowed ? this.byWindow.values() : [this.single];
    for (const groups of all) {
      for (const g of groups.values()) {
        if (this.merging) {
          yield* this.mergedGroups(g);
          continue;
        }
        yield {
          value: [g.key, this.combineFn ? this.extract(g) : g.values],
          meta: { timestamp: outputTimestamp(strategy, g.window, g.minTs, g.maxTs), windows: [g.window], pane: PANE_ON_TIME_ONLY },
        };
      }
    }
    this.byWindow.clear();
    this.single.clear();
  }

  /** Sessions: merges one key's windows, then groups its values by merged window. */
  private *mergedGroups(g: Group): Generator<{ value: unknown; meta: Meta }> {
    const fn = this.windowFn;
    const entries = g.values as SessionEntry[];
    const distinct = new Map<string | number, BoundedWindow>();
    for (const e of entries) distinct.set(fn.windowKey(e.window), e.window);
    const target = new Map(distinct);
    for (const m of fn.mergeWindows([...distinct.values()])) {
      for (const w of m.from) target.set(fn.windowKey(w), m.into);
    }
    const out = new Map<string | number, Group>();
    for (const e of entries) {
      const w = target.get(fn.windowKey(e.window))!;
      const wk = fn.windowKey(w);
      let grp = out.get(wk);
      if (!grp) {
        grp = new Group(g.key, w, e.ts, e.ts);
        out.set(wk, grp);
      }
      grp.values.push(e.value);
      if (e.ts < grp.minTs) grp.minTs = e.ts;
      if (e.ts > grp.maxTs) grp.maxTs = e.ts;
    }
    for (const grp of out.values()) {
      yield {
        value: [grp.key, grp.values],
        meta: { timestamp: outputTimestamp(this.config.windowing, grp.window, grp.minTs, grp.maxTs), windows: [grp.window], pane: PANE_ON_TIME_ONLY },
      };
    }
  }
}

/** A sink the runner prepares before any element, and commits or aborts at the end of the run. */
export interface SinkOperator extends Receiver {
  prepare(): Promise<void>;
  commit(): Promise<unknown>;
  /** Removes what the run staged, synchronously (a signal handler's last act). */
  abortNow(): void;
  abort(): Promise<void>;
}

/**
 * WriteToText executed natively: streams lines into temporary shard files; renamed on commit.
 * With the shard count left to the runner, direct-runner threads write files of their own in the
 * staging directory (ThreadTextSink), and each becomes one more shard.
 */
export class TextSinkOperator implements SinkOperator {
  /** The run's staging directory and prefix lock (see sdk/io/shards.ts); undefined once committed or aborted. */
  private staging: ReturnType<TextSink["prepare"]> | undefined;
  private writers: ShardWriter[] = [];
  private next = 0;
  private remaining: number;
  private lines = 0;
  /** Finished files threads wrote in the staging directory (adopt). */
  private readonly adopted: string[] = [];

  constructor(
    private readonly step: string,
    private readonly sink: TextSink,
    inputs: number,
  ) {
    this.remaining = inputs;
  }

  /**
   * Locks the prefix, cleans up crashed runs' leftovers and creates the staging directory before
   * any element is processed, so a bad destination or a concurrent run fails first.
   */
  async prepare(): Promise<void> {
    this.staging = this.sink.prepare(this.step);
    const n = this.sink.numShards || 1;
    this.writers = Array.from({ length: n }, (_, i) => this.sink.openTemp(this.staging!, i));
  }

  /** Never throws: a disk error belongs to this sink, not to the transform whose output this is; finishInput reports it. */
  receive(value: unknown): Pending {
    const w = this.writers[this.next]!;
    if (++this.next === this.writers.length) this.next = 0;
    this.lines++;
    return w.write(formatLine(value));
  }

  /** Where threads write their files: the staging directory (once prepared). */
  get stagingDir(): string {
    if (this.staging === undefined) throw new SluiceError("INTERNAL", `Transform '${this.step}' has no staging directory (not prepared, or already committed)`, { hint: "This is a bug in the direct runner; please report it." });
    return this.staging.dir;
  }

  /** One more shard: a finished file a thread wrote in the staging directory (runner-chosen shard count only). */
  adopt(path: string): void {
    if (this.sink.numShards !== 0) throw new SluiceError("INTERNAL", `Transform '${this.step}' has a fixed shard count; threads cannot add shards to it`, { hint: "This is a bug in the direct runner; please report it." });
    this.adopted.push(path);
  }

  async finishInput(): Promise<void> {
    if (--this.remaining > 0) return;
    const results = await Promise.allSettled(this.writers.map((w) => w.close()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw sinkWriteError(this.step, this.sink, failed.reason);
  }

  flush(): Pending {
    return undefined;
  }

  /** Publishes the shards under their final names, all or none; returns them. */
  async commit(): Promise<string[]> {
    const staging = this.staging;
    if (staging === undefined) return [];
    this.staging = undefined;
    // Threads' files after this thread's, in thread order; this thread's empty shard only when it is the only one.
    const own = this.adopted.length > 0 && this.lines === 0 ? [] : this.writers.map((w) => w.path);
    const temps = [...own, ...[...this.adopted].sort()];
    try {
      return this.sink.commit(staging, temps);
    } catch (err) {
      const e = SluiceError.from(err, "IO_ERROR");
      throw new SluiceError(e.code, `Transform '${this.step}' could not publish its output '${this.sink.prefix}': ${e.message} (nothing was published)`, {
        hint: e.hint,
        cause: e,
      });
    }
  }

  /** For signal handlers: removes the staging directory and the lock at once. */
  abortNow(): void {
    this.staging?.abortSync();
    this.staging = undefined;
  }

  async abort(): Promise<void> {
    const staging = this.staging;
    if (staging === undefined) return;
    this.staging = undefined;
    await Promise.allSettled(this.writers.map((w) => w.close()));
    this.sink.abort(staging);
  }
}

/** A text sink's failed write, named by its transform and prefix. */
function sinkWriteError(step: string, sink: TextSink, err: unknown): SluiceError {
  const e = SluiceError.from(err, "IO_ERROR");
  return new SluiceError("IO_ERROR", `Transform '${step}' could not write '${sink.prefix}': ${e.message}`, {
    hint: e.hint ?? "Check free disk space and permissions of the output directory.",
    cause: e,
  });
}

/**
 * A text sink's writer on a direct-runner thread (see TextSinkOperator): the lines this thread
 * gets go into one file of its own in the main thread's staging directory, opened at the first
 * line; the main thread publishes it as a shard.
 */
export class ThreadTextSink implements Receiver {
  private writer: ShardWriter | undefined;

  constructor(
    readonly step: string,
    private readonly sink: TextSink,
    private readonly dir: string,
    private readonly thread: number,
  ) {}

  receive(value: unknown): Pending {
    this.writer ??= new ShardWriter(join(this.dir, `thread-${String(this.thread).padStart(3, "0")}`), this.sink.header);
    return this.writer.write(formatLine(value));
  }

  /** Closes the file: its path, or undefined when no line came. */
  async close(): Promise<string | undefined> {
    const w = this.writer;
    if (w === undefined) return undefined;
    this.writer = undefined;
    try {
      await w.close();
    } catch (err) {
      throw sinkWriteError(this.step, this.sink, err);
    }
    return w.path;
  }

  finishInput(): Pending {
    return undefined;
  }

  flush(): Pending {
    return undefined;
  }
}
