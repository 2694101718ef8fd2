/**
 * The direct runner: executes a pipeline in this process. It wires one operator per primitive
 * (plus natively executed composites: lifted CombinePerKey, Reshuffle, WriteToText) and pushes
 * elements from the roots. Groupings and side inputs are the only barriers; everything between
 * them runs fused, element by element, without encoding.
 */
import { SluiceError } from "../../internal/errors.js";
import type { TestStreamEvent, TransformNode } from "../../sdk/graph.js";
import { GLOBAL_WINDOW, PANE_NO_FIRING } from "../../sdk/windowing/window.js";
import { MAX_TIMESTAMP } from "../../sdk/time.js";
import { type Clocked, RunClock, StreamingGroupOperator } from "./streaming.js";
import { WindowedSinkOperator } from "./windowed_sink.js";
import {
  combineKeyCoder,
  DIRECT_THREAD,
  findRegions,
  ParallelStage,
  pipelineSource,
  type Region,
  serveThread,
  type ThreadJob,
  threadCount,
  threadExits,
  ThreadPool,
  type ThreadRegionPlan,
  elementCoder,
} from "./parallel.js";
import { pipelineFingerprint } from "../../sdk/pipeline.js";
import { MemoryBudget } from "./spill.js";
import { tmpdir } from "node:os";
import { MetricResults, activeMetricsContainer } from "../../sdk/metrics.js";
import type { Pipeline, PipelineResult, PipelineRunner } from "../../sdk/pipeline.js";
import type { PCollection } from "../../sdk/pvalue.js";
import type { TextSink } from "../../sdk/io/text.js";
import {
  AssignWindowsOperator,
  ForwardOperator,
  GLOBAL_META,
  type GroupConfig,
  GroupOperator,
  Outputs,
  ParDoOperator,
  type Receiver,
  RunMonitor,
  type SinkOperator,
  describeCall,
  SideInputCollector,
  StepMetrics,
  TextSinkOperator,
  ThreadTextSink,
} from "./operators.js";

export interface DirectRunnerOptions {
  /** Elements per bundle emitted by a grouping (default 10,000). */
  readonly bundleSize?: number;
  /** Execute WriteToText, Reshuffle and CombinePerKey natively (default true); false runs their expansions. */
  readonly nativeComposites?: boolean;
  /**
   * How often a call into user code that has not returned is reported on stderr ("still processing
   * 'T' for N s", default 30 s; the pipeline flag --progress_interval_seconds sets it too). 0: never.
   */
  readonly progressIntervalMs?: number;
  /** Where progress lines go (default: process.stderr). */
  readonly log?: (line: string) => void;
  /** @internal Keys per Map of a grouping's tables (default MAP_SHARD_LIMIT, 2^22); tests lower it. */
  readonly mapShardLimit?: number;
}

/** The runs in progress in this process, for `abortDirectRuns`. */
const activeRuns = new Set<Plan>();

/**
 * Removes the temporary output of every direct run in progress, synchronously. For a host's
 * signal handler (the `sluice` CLI's Ctrl-C): the runner itself installs none, since as a library
 * it must not change how its host process handles signals.
 */
export function abortDirectRuns(): void {
  for (const plan of activeRuns) for (const sink of plan.sinks) sink.abortNow();
}

/**
 * process.exit called by user code during a run. The direct runner shares its process with the
 * program that runs the pipeline, so a DoFn must not end it: while any run is active, process.exit
 * called from user code (synchronously or after an await in process/startBundle/finishBundle, or a
 * CombineFn) throws instead, so that element's call fails naming the transform and element, and
 * the run that owns the calling step fails even if the DoFn caught it (other runs in the process
 * are not touched). Outside user code of an active run process.exit works as usual.
 */
interface ExitRequest {
  readonly code: number;
  readonly step: string;
}
let exitInterceptions = 0;
let realExit: typeof process.exit | undefined;
/** The exit requests of the run each active step's bundle container belongs to. */
const exitOwners = new WeakMap<object, ExitRequest[]>();

function interceptExit(plan: Plan, requests: ExitRequest[]): () => void {
  for (const m of plan.metrics.values()) exitOwners.set(m.bundle, requests);
  if (exitInterceptions++ === 0) {
    const original = process.exit;
    realExit = original;
    process.exit = function exit(code?: number | string | null): never {
      const container = activeMetricsContainer();
      const owner = container === undefined ? undefined : exitOwners.get(container);
      if (container === undefined || owner === undefined) return original.call(process, code as number);
      const request = { code: Number(code ?? process.exitCode ?? 0) || 0, step: container.step };
      owner.push(request);
      throw new Error(
        `process.exit(${request.code}) was called; the direct runner runs in the host's process, so user code may not end it (throw an error instead, or route bad elements aside with .withExceptionHandling())`,
      );
    } as typeof process.exit;
  }
  return () => {
    for (const m of plan.metrics.values()) exitOwners.delete(m.bundle);
    if (--exitInterceptions === 0 && realExit !== undefined) {
      process.exit = realExit;
      realExit = undefined;
    }
  };
}

interface Plan {
  /** Impulses, and at most one TestStream (its script in `events`), played last. */
  readonly roots: {
    node: TransformNode;
    out: Outputs;
    events?: readonly TestStreamEvent[];
  }[];
  /**
   * Whether processing time is the wall clock and the run lasts while timers are pending: a
   * pipeline with an unbounded source other than a TestStream (whose clock is its script), or
   * `--streaming`.
   */
  readonly wallClock: boolean;
  /**
   * Groupings of unbounded collections and stateful DoFns over them, in plan (topological) order,
   * advanced with the clocks: each to the watermark of its input.
   */
  readonly clocked: { readonly op: Clocked; readonly inputs: readonly PCollection<unknown>[] }[];
  /** The watermark of a collection: its source's, held back by every clocked operator upstream. */
  readonly watermarkOf: (p: PCollection<unknown>) => number;
  readonly clock: RunClock;
  readonly pardos: ParDoOperator[];
  readonly sinks: SinkOperator[];
  readonly metrics: Map<string, StepMetrics>;
  readonly sideCollectors: Map<PCollection<unknown>, SideInputCollector>;
  readonly monitor: RunMonitor;
  /** The threads sharing the plan's regions (parallel.ts), when there are any. */
  readonly pool: ThreadPool | undefined;
  /** On a region thread: the collection the region's elements enter at, and its exits' shippers. */
  readonly thread?: { readonly entry: Outputs; readonly inputCoder: ThreadRegionPlan["inputCoder"]; readonly flushShippers: () => void; readonly sinks: readonly ThreadTextSink[] };
}

/** What plan() builds on a region thread: that region's operators only. */
interface ThreadPlanning {
  readonly region: number;
  /** This thread's number, and where it writes its files for the region's shared sinks (by step). */
  readonly thread: number;
  readonly sinkDirs: Readonly<Record<string, string>>;
}

export class DirectRunner implements PipelineRunner {
  readonly name = "direct";
  private epoch = 0;

  constructor(private readonly options: DirectRunnerOptions = {}) {}

  async run(pipeline: Pipeline): Promise<PipelineResult> {
    pipeline.markRun();
    const thread = (globalThis as Record<symbol, ThreadJob | undefined>)[DIRECT_THREAD];
    if (thread !== undefined) return this.serve(pipeline, thread);
    const started = Date.now();
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 64;
    const callStack = new Error().stack ?? "";
    Error.stackTraceLimit = limit;
    const plan = this.plan(pipeline, undefined, callStack);
    // Options first: a bad flag fails the run before it changes anything in the process.
    const log = this.options.log ?? ((line: string): void => void process.stderr.write(`${line}\n`));
    const flagSeconds = pipeline.options.number("progress_interval_seconds", undefined);
    const interval = this.options.progressIntervalMs ?? (flagSeconds !== undefined ? flagSeconds * 1000 : 30_000);
    activeRuns.add(plan);
    const exits: ExitRequest[] = [];
    const restoreExit = interceptExit(plan, exits);
    // Long calls into async user code are reported while they last (the timer does not keep the
    // process alive; synchronous code that never returns blocks every timer, and is not reported).
    const progress =
      interval > 0
        ? setInterval(() => {
            const now = Date.now();
            for (const c of plan.monitor.inFlight) {
              const s = Math.floor((now - c.since) / 1000);
              if (now - c.since >= interval) log(`sluice: still processing '${c.step}' for ${s} s (${describeCall(c)})`);
            }
          }, interval).unref()
        : undefined;
    // The event loop emptied while the run is pending: a promise user code returned can never
    // settle (Node would exit, with code 13 under top-level await, and say nothing). Fail the run.
    let onIdle: (() => void) | undefined;
    const stalled = new Promise<never>((_, reject) => {
      onIdle = () => reject(this.stallError(plan.monitor));
    });
    process.on("beforeExit", onIdle!);
    let failure: unknown;
    try {
      await Promise.race([this.execute(plan), stalled]);
    } catch (err) {
      failure = err;
    }
    process.off("beforeExit", onIdle!);
    if (progress !== undefined) clearInterval(progress);
    await plan.pool?.stop();
    const exit = exits[0];
    // Usually the failure already names the transform and element (the throwing process.exit
    // failed that call); when user code caught it, the run fails all the same.
    if (exit !== undefined && !(failure instanceof Error && failure.message.includes("process.exit("))) {
      failure = new SluiceError("USER_CODE_FAILED", `Transform '${exit.step}' called process.exit(${exit.code}) during the run`, {
        hint: "A DoFn must not end the process: throw an error to fail the run, or use .withExceptionHandling() to route bad elements aside.",
        ...(failure === undefined ? {} : { cause: failure }),
      });
    }
    const teardownErrors: unknown[] = [];
    for (const op of plan.pardos) {
      try {
        await op.teardown();
      } catch (err) {
        teardownErrors.push(err);
      }
    }
    restoreExit();
    if (failure !== undefined) {
      for (const sink of plan.sinks) await sink.abort().catch(() => undefined);
      activeRuns.delete(plan);
      throw SluiceError.from(failure);
    }
    activeRuns.delete(plan);
    if (teardownErrors.length > 0) throw SluiceError.from(teardownErrors[0]);
    const steps = [...plan.metrics.values()];
    return {
      state: "DONE",
      metrics: MetricResults.fromContainers(
        steps.map((s) => s.committed),
        steps.map((s) => s.attempted),
      ),
      durationMs: Date.now() - started,
    };
  }

  /** On a region thread: serves the main thread with this (rebuilt) pipeline's regions. */
  private serve(pipeline: Pipeline, job: ThreadJob): Promise<never> {
    return serveThread(job, pipelineFingerprint(pipeline), (region, sinkDirs): ThreadRegionPlan => {
      const plan = this.plan(pipeline, { region, thread: job.thread, sinkDirs });
      return {
        entry: plan.thread!.entry,
        inputCoder: plan.thread!.inputCoder,
        pardos: plan.pardos,
        metrics: plan.metrics,
        flushShippers: plan.thread!.flushShippers,
        sinks: plan.thread!.sinks,
      };
    });
  }

  /** The plan's leaves: primitives and the composites run natively. */
  private leavesOf(pipeline: Pipeline): TransformNode[] {
    const native = this.options.nativeComposites ?? true;
    return pipeline.leaves((spec, node) => {
      if (!native) return false;
      if (spec.kind === "combine_per_key") {
        const input = node.inputs.get("main");
        return input !== undefined && !input.windowing.windowFn.isMerging;
      }
      if (spec.kind === "count_per_element") {
        // Natively in the batch grouping only; otherwise its pair-and-combine expansion runs.
        const input = node.inputs.get("main");
        return input !== undefined && input.isBounded && !input.windowing.windowFn.isMerging && input.windowing.trigger.kind === "default";
      }
      return true;
    });
  }

  /** The regions threads may share (none in streaming runs: their clocks are this thread's). */
  private regionsOf(pipeline: Pipeline, leaves: readonly TransformNode[]): Region[] {
    const streaming = pipeline.options.streaming || leaves.some((n) => n.primitive?.kind === "test_stream" || [...n.outputs.values()].some((p) => !p.isBounded));
    if (streaming) return [];
    const isBatchCombine = (n: TransformNode): boolean => {
      if (n.composite?.kind !== "combine_per_key" && n.composite?.kind !== "count_per_element") return false;
      const input = n.inputs.get("main");
      return input !== undefined && input.isBounded && input.windowing.trigger.kind === "default";
    };
    // A text sink whose shard count the runner chooses: each thread writes a shard of its own.
    const isSharedSink = (n: TransformNode): boolean => {
      if (n.composite?.kind !== "write_text") return false;
      const sink = n.composite.sink as TextSink;
      return !sink.windowed && sink.numShards === 0;
    };
    return findRegions(leaves, isBatchCombine, isSharedSink);
  }

  /** Pushes the roots' elements through the plan and commits the sinks. */
  private async execute(plan: Plan): Promise<void> {
    for (const sink of plan.sinks) await sink.prepare();
    for (const root of plan.roots) {
      if (root.events !== undefined) {
        await this.play(plan, root.out, root.events);
        continue;
      }
      const pending: Promise<void>[] = [];
      root.out.emit(new Uint8Array(0), GLOBAL_META, pending);
      await Promise.all(pending);
      await root.out.flush(++this.epoch);
      await root.out.finish();
    }
    if (plan.wallClock) await this.runWallClock(plan);
    const unfinished = plan.pardos.find((p) => p.sides.some((s) => !s.collector.ready));
    if (unfinished) {
      throw new SluiceError("INTERNAL", "a side input never completed", { hint: "This is a bug in the direct runner; please report it." });
    }
    for (const sink of plan.sinks) await sink.commit();
  }

  /**
   * Plays a TestStream's script: each element event is a bundle (pushed through, then ended, so
   * groupings check their triggers); watermark and processing-time events advance the plan's
   * clock and every streaming grouping in plan order. The stream's end takes the watermark to
   * the end of time, closing every window.
   */
  private async play(plan: Plan, out: Outputs, events: readonly TestStreamEvent[]): Promise<void> {
    const clock = plan.clock;
    const advance = (): Promise<void> => this.advance(plan);
    for (const e of events) {
      if (e.kind === "elements") {
        const pending: Promise<void>[] = [];
        for (const x of e.elements) out.emit(x.value, { timestamp: x.timestamp, windows: [GLOBAL_WINDOW], pane: PANE_NO_FIRING }, pending);
        await Promise.all(pending);
        await out.flush(++this.epoch);
      } else if (e.kind === "watermark") {
        clock.watermark = Math.max(clock.watermark, e.to);
        await advance();
      } else {
        clock.processingTime += e.advanceBy;
        await advance();
      }
    }
    if (clock.watermark < MAX_TIMESTAMP) {
      clock.watermark = MAX_TIMESTAMP;
      await advance();
    }
    await out.finish();
  }

  /**
   * Runs the plan on the wall clock once the roots have emitted: processing time is the clock's,
   * and the run sleeps until the next processing-time timer or trigger is due, until none is
   * pending (every unbounded source is done, every timer fired).
   */
  private async runWallClock(plan: Plan): Promise<void> {
    for (;;) {
      plan.clock.processingTime = Date.now();
      await this.advance(plan);
      let wake = Infinity;
      for (const c of plan.clocked) {
        const d = c.op.nextDeadline();
        if (d !== undefined && d < wake) wake = d;
      }
      if (wake === Infinity) return;
      const delay = wake - Date.now();
      if (delay > 0) await new Promise((r) => setTimeout(r, Math.min(delay, 2 ** 31 - 1)));
    }
  }

  /**
   * The clocks moved: every clocked operator, in plan order, advances to its input's watermark
   * (which the ones before it may hold back) and the current processing time.
   */
  private async advance(plan: Plan): Promise<void> {
    for (const c of plan.clocked) {
      let watermark = Infinity;
      for (const p of c.inputs) watermark = Math.min(watermark, plan.watermarkOf(p));
      await c.op.advance({ watermark, processingTime: plan.clock.processingTime }, ++this.epoch);
    }
  }

  /** The run cannot progress: nothing is scheduled, yet user code's promises are pending. */
  private stallError(monitor: RunMonitor): SluiceError {
    const calls = [...monitor.inFlight];
    if (calls.length === 0) {
      return new SluiceError("INTERNAL", "The direct run stopped making progress: nothing is scheduled, yet the run did not finish", {
        hint: "This is a bug in the direct runner (or a promise it waits for never settled); please report it.",
      });
    }
    const oldest = calls.reduce((a, b) => (b.since < a.since ? b : a));
    const others = calls.length > 1 ? ` (and ${calls.length - 1} more call${calls.length > 2 ? "s" : ""} waiting)` : "";
    return new SluiceError(
      "USER_CODE_FAILED",
      `Transform '${oldest.step}' never finished ${describeCall(oldest)}: it is waiting on a promise that nothing keeps alive (Node's event loop is empty: no referenced timer, socket or callback is left, so Node would exit here)${others}`,
      {
        hint:
          "Make sure every promise the DoFn awaits resolves or rejects: a callback that is never called, an event that never fires, a missing resolve(). " +
          "If it waits on a timer or socket that was unref()'d (some clients do this), keep a reference to it while the call is pending.",
      },
    );
  }

  private plan(pipeline: Pipeline, thread?: ThreadPlanning, callStack = ""): Plan {
    const bundleSize = this.options.bundleSize ?? 10_000;
    const nextEpoch = (): number => ++this.epoch;
    const leaves = this.leavesOf(pipeline);
    // Regions threads share (parallel.ts): on a region thread, only that region is built.
    const regions = this.regionsOf(pipeline, leaves);
    const threadRegion = thread === undefined ? undefined : regions[thread.region];
    if (thread !== undefined && threadRegion === undefined) {
      throw new SluiceError("INTERNAL", `the rebuilt pipeline has no region ${thread.region}`, { hint: "This is a bug in the direct runner; please report it." });
    }
    let pool: ThreadPool | undefined;
    if (thread === undefined && regions.length > 0) {
      const threads = threadCount(pipeline.options.directNumWorkers) - 1; // this thread is one of them
      const source = threads > 0 ? pipelineSource(callStack) : undefined;
      if (source !== undefined) {
        const log = this.options.log ?? ((line: string): void => void process.stderr.write(`${line}\n`));
        pool = new ThreadPool(threads, { source, fingerprint: pipelineFingerprint(pipeline) }, log);
      }
    }
    const stages: ParallelStage[] = [];
    const opOf = new Map<TransformNode, Receiver>();
    // Batch groupings, and main input held for side inputs, share one memory budget; past it
    // they spill to disk (spill.ts).
    const budget = thread === undefined ? new MemoryBudget((pipeline.options.maxMemoryMb ?? MemoryBudget.defaultLimitMb()) * 1048576, pipeline.options.tempLocation ?? tmpdir()) : undefined;

    // Every PCollection's consumers, by how many edges each receives.
    const outputsOf = new Map<PCollection<unknown>, Outputs>();
    const outputs = (p: PCollection<unknown>): Outputs => {
      let o = outputsOf.get(p);
      if (!o) {
        o = new Outputs();
        outputsOf.set(p, o);
      }
      return o;
    };
    const mainInputs = (node: TransformNode): PCollection<unknown>[] =>
      [...node.inputs.entries()].filter(([tag]) => !tag.startsWith("side:")).map(([, p]) => p);

    const metrics = new Map<string, StepMetrics>();
    const stepMetrics = (node: TransformNode): StepMetrics => {
      let m = metrics.get(node.fullLabel);
      if (!m) {
        m = new StepMetrics(node.fullLabel);
        metrics.set(node.fullLabel, m);
      }
      return m;
    };

    const sideCollectors = new Map<PCollection<unknown>, SideInputCollector>();
    const sideCollector = (p: PCollection<unknown>): SideInputCollector => {
      let c = sideCollectors.get(p);
      if (!c) {
        c = new SideInputCollector(p.windowing, 1, p.isBounded ? undefined : () => watermarkOf(p));
        sideCollectors.set(p, c);
        outputs(p).receivers.push(c);
      }
      return c;
    };

    const monitor = new RunMonitor();
    const clock = new RunClock();
    const hasTestStream = leaves.some((n) => n.primitive?.kind === "test_stream");
    const wallClock = !hasTestStream && (pipeline.options.streaming || leaves.some((n) => [...n.outputs.values()].some((p) => !p.isBounded)));
    const clocked: Plan["clocked"] = [];
    // What each collection's watermark derives from: a clocked operator, a source, or its producer's inputs.
    const producedBy = new Map<PCollection<unknown>, { clocked?: Clocked; inputs: readonly PCollection<unknown>[]; source?: "bounded" | "unbounded" }>();
    const produced = (node: TransformNode, how: { clocked?: Clocked; inputs: readonly PCollection<unknown>[]; source?: "bounded" | "unbounded" }): void => {
      for (const p of node.outputs.values()) producedBy.set(p, how);
    };
    const watermarkOf = (p: PCollection<unknown>): number => {
      const how = producedBy.get(p);
      if (how === undefined || how.source === "bounded") return MAX_TIMESTAMP;
      if (how.source === "unbounded") return clock.watermark;
      if (how.clocked !== undefined) return how.clocked.outputWatermark();
      let w = MAX_TIMESTAMP;
      for (const i of how.inputs) w = Math.min(w, watermarkOf(i));
      return w;
    };
    const roots: Plan["roots"] = [];
    const pardos: ParDoOperator[] = [];
    const sinks: SinkOperator[] = [];
    const threadSinks: ThreadTextSink[] = [];

    for (const node of leaves) {
      if (threadRegion !== undefined && !threadRegion.members.has(node)) continue;
      const ins = mainInputs(node);
      const mainOut = (): Outputs => outputs(node.outputs.get("main")!);
      let op: Receiver | undefined;
      const spec = node.primitive;
      const comp = node.composite;
      if (spec?.kind === "test_stream") {
        if (roots.some((r) => r.events !== undefined)) {
          throw new SluiceError("UNSUPPORTED", `Transform '${node.fullLabel}' is a second TestStream: the direct runner plays one per pipeline`, {
            hint: "Script all events in one TestStream (Flatten its output with others if needed), or run on --runner=prism.",
          });
        }
        roots.push({ node, out: mainOut(), events: spec.events });
        produced(node, { inputs: [], source: "unbounded" });
        continue;
      }
      if (spec?.kind === "impulse") {
        roots.push({ node, out: mainOut() });
        produced(node, { inputs: [], source: "bounded" });
        continue;
      } else if (spec?.kind === "pardo") {
        const outs = new Map<string, Outputs>();
        for (const [tag, p] of node.outputs) outs.set(tag, outputs(p));
        const sides = Object.entries(spec.sideInputs).map(([name, view]) => ({ name, view, collector: sideCollector(view.pcoll) }));
        const pardo = new ParDoOperator({
          step: node.fullLabel,
          fn: spec.fn,
          outputs: outs,
          sides,
          observesWindow: spec.observesWindow,
          exceptionHandling: spec.exceptionHandling,
          inputs: ins.length,
          metrics: stepMetrics(node),
          windowedInput: ins.some((p) => p.windowing.windowFn.urn !== "beam:window_fn:global_windows:v1"),
          monitor,
          // Main input held for side inputs spills past the budget (one input: one element coder).
          ...(budget !== undefined && sides.length > 0 && ins.length === 1 ? { waitSpill: { budget, coder: elementCoder(ins[0]!) } } : {}),
          ...(spec.stateful
            ? { stateful: { spec: spec.stateful, windowing: ins[0]!.windowing, ...(wallClock ? { wallClock: () => Date.now() } : {}) } }
            : {}),
        });
        pardos.push(pardo);
        op = pardo;
        const unboundedSides = Object.values(spec.sideInputs).some((v) => !v.pcoll.isBounded);
        if (spec.stateful || unboundedSides) {
          produced(node, { clocked: pardo, inputs: ins });
          if (wallClock || unboundedSides || ins.some((p) => !p.isBounded)) clocked.push({ op: pardo, inputs: ins });
        }
      } else if (spec?.kind === "flatten" || comp?.kind === "reshuffle") {
        op = new ForwardOperator(mainOut(), ins.length);
        const region = regions.findIndex((r) => r.head === node);
        if (pool !== undefined && region !== -1) {
          opOf.set(node, op);
          const stage = new ParallelStage(region, regions[region]!, op, pool, metrics, nextEpoch);
          stages.push(stage);
          op = stage;
        }
      } else if (spec?.kind === "assign_windows") {
        op = new AssignWindowsOperator(spec.windowFn, mainOut(), ins.length);
      } else if (spec?.kind === "group_by_key" || comp?.kind === "combine_per_key" || comp?.kind === "count_per_element") {
        const input = ins[0]!;
        // Unbounded input, or a bounded one with a non-default trigger: the event-time grouping
        // (for a bounded input its triggers are checked at bundle ends and its watermark is the end
        // of time once the input ended, as in Beam Python's batch runner).
        if (!input.isBounded || input.windowing.trigger.kind !== "default") {
          if (comp?.kind === "count_per_element") throw new SluiceError("INTERNAL", `'${node.fullLabel}' runs natively only as a batch grouping`, { hint: "This is a bug in the direct runner; please report it." });
          const group = new StreamingGroupOperator({
            step: node.fullLabel,
            keyCoder: input.coder.components[0]!,
            windowing: input.windowing,
            out: mainOut(),
            inputs: ins.length,
            metrics: stepMetrics(node),
            bounded: input.isBounded,
            ...(comp?.kind === "combine_per_key" ? { combineFn: comp.combineFn } : {}),
            ...(budget !== undefined ? { budget: { budget, valueCoder: input.coder.components[1] ?? input.coder } } : {}),
          });
          produced(node, { clocked: group, inputs: ins });
          if (!input.isBounded) clocked.push({ op: group, inputs: ins });
          op = group;
        } else {
          op = new GroupOperator({
          step: node.fullLabel,
          keyCoder: combineKeyCoder(node, input),
          windowing: input.windowing,
          out: mainOut(),
          inputs: ins.length,
          nextEpoch,
          bundleSize,
          ...(comp?.kind === "combine_per_key" || comp?.kind === "count_per_element" ? { combineFn: comp.combineFn } : {}),
          ...(comp?.kind === "count_per_element" ? { elementKeys: true } : {}),
          ...(this.options.mapShardLimit !== undefined ? { shardLimit: this.options.mapShardLimit } : {}),
          ...(budget !== undefined ? { budget, valueCoder: input.coder.components[1] ?? input.coder } : {}),
          metrics: stepMetrics(node),
        });
        }
      } else if (comp?.kind === "write_text" && thread !== undefined) {
        // A region thread's share of a shared sink (regionsOf): a file of its own.
        const dir = thread.sinkDirs[node.fullLabel];
        if (dir === undefined) throw new SluiceError("INTERNAL", `no staging directory for '${node.fullLabel}' on a direct-runner thread`, { hint: "This is a bug in the direct runner; please report it." });
        const sink = new ThreadTextSink(node.fullLabel, comp.sink as TextSink, dir, thread.thread);
        threadSinks.push(sink);
        op = sink;
      } else if (comp?.kind === "write_text") {
        const text = comp.sink as TextSink;
        // Windowed writes (an unbounded input, or windowedWrites: true): a shard set per window and
        // pane, published at bundle ends (unbounded) or at the end of the run (bounded).
        const sink = text.windowed
          ? new WindowedSinkOperator({
              step: node.fullLabel,
              sink: text,
              inputs: ins.length,
              windowing: ins[0]!.windowing,
              watermark: () => Math.min(...ins.map(watermarkOf)),
              bounded: ins.every((p) => p.isBounded),
              metrics: stepMetrics(node),
            })
          : new TextSinkOperator(node.fullLabel, text, ins.length);
        sinks.push(sink);
        op = sink;
      } else {
        throw new SluiceError("UNSUPPORTED", `The direct runner cannot execute '${node.fullLabel}'`, {
          hint: "This transform kind is not supported by the direct runner.",
        });
      }
      for (const p of ins) outputs(p).receivers.push(op);
      if (!opOf.has(node)) opOf.set(node, op);
      // A stateless operator's output is as late as its inputs.
      for (const p of node.outputs.values()) if (!producedBy.has(p)) producedBy.set(p, { inputs: ins });
    }
    // Roots that feed side inputs run first, so their consumers need not hold main input back.
    const feedsSide = (root: TransformNode): boolean => {
      const seen = new Set<TransformNode>();
      const stack = [root];
      while (stack.length) {
        const n = stack.pop()!;
        if (seen.has(n)) continue;
        seen.add(n);
        for (const p of n.outputs.values()) {
          if (sideCollectors.has(p)) return true;
          for (const c of p.consumers) stack.push(c);
        }
      }
      return false;
    };
    // Side-input feeders first; the TestStream last, once every bounded input is in.
    const unbounded = (r: Plan["roots"][number]): number => Number(r.events !== undefined);
    roots.sort((a, b) => unbounded(a) - unbounded(b) || Number(feedsSide(b.node)) - Number(feedsSide(a.node)));
    const base = { roots, pardos, sinks, metrics, sideCollectors, monitor, clock, clocked, watermarkOf, wallClock, pool };
    for (const [i, region] of regions.entries()) {
      const stage = stages.find((s) => s.index === i);
      if (stage === undefined) continue;
      const memberOps = new Set([...region.members].map((n) => opOf.get(n)!).filter((o) => o !== undefined));
      memberOps.add(stage);
      stage.wire(outputs, memberOps, (n) => opOf.get(n));
    }
    if (threadRegion === undefined) return base;
    // A region thread: what leaves the region goes to the main thread.
    const makeGroup = (n: TransformNode): GroupOperator => {
      const input = n.inputs.get("main")!;
      return new GroupOperator({
        step: n.fullLabel,
        keyCoder: combineKeyCoder(n, input),
        windowing: input.windowing,
        out: new Outputs(),
        inputs: 1,
        nextEpoch,
        bundleSize,
        combineFn: (n.composite as { combineFn: NonNullable<GroupConfig["combineFn"]> }).combineFn,
        ...(n.composite?.kind === "count_per_element" ? { elementKeys: true } : {}),
        ...(this.options.mapShardLimit !== undefined ? { shardLimit: this.options.mapShardLimit } : {}),
        metrics: stepMetrics(n),
      });
    };
    const { exits, shippers } = threadExits(thread!.region, threadRegion, makeGroup);
    threadRegion.exits.forEach((exit, i) => outputs(exit.pcoll).receivers.push(exits.receiverFor(i)));
    const entry = outputs(threadRegion.head.inputs.get("main")!);
    return { ...base, thread: { entry, inputCoder: elementCoder(threadRegion.head.inputs.get("main")!), flushShippers: () => shippers.forEach((s) => s.send()), sinks: threadSinks } };
  }
}
