/**
 * The direct runner on several threads (`--direct_num_workers`, Beam Python's flag; default: the
 * number of cores). Work is split where the pipeline says it may be: a Reshuffle of a bounded
 * collection (ReadFromText's ranges pass one) starts a *region*, the stateless ParDos and
 * WindowIntos fused after it. Each element reaching the Reshuffle goes to an idle thread, or is
 * processed in this thread when none is idle; a thread runs the region's operators on its own
 * copy of the pipeline, rebuilt by importing the pipeline file again (as a portable worker
 * does, checked by fingerprint).
 *
 * What leaves a region crosses back encoded with the collection's coder, except into lifted
 * CombinePerKeys: there each thread keeps its own accumulator per key and window and hands them
 * over once at the end (mergePartial), so a word count moves one accumulator per word and thread.
 * A WriteToText whose shard count the runner chooses, reading from a region, is part of it: each
 * thread writes a file of its own that becomes one more shard, and nothing crosses back. The rest
 * of the plan (groupings, side inputs, other sinks) stays in this thread, so results are the same
 * elements as with one worker (their order within a shard may differ, as on any runner).
 *
 * A thread imports the pipeline file with its console muted until the pipeline reaches `run()`,
 * and never gets past it. When a thread cannot rebuild the same pipeline (the file builds
 * another one first, or throws), the run carries on with the threads that could, or in this
 * thread alone, and says so once.
 */
import { availableParallelism } from "node:os";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parentPort, Worker } from "node:worker_threads";
import { scratchBundle } from "../../internal/bundle.js";
import { SluiceError, type SluiceErrorJSON } from "../../internal/errors.js";
import { removeScratchDir } from "../../internal/scratch.js";
import { ByteReader, ByteWriter, DoubleCoder, JsValueCoder, KvCoder, WindowedValueCoder, type Coder } from "../../sdk/coders/index.js";
import type { TransformNode } from "../../sdk/graph.js";
import type { MetricsContainer } from "../../sdk/metrics.js";
import { getLaunchContext } from "../../sdk/options.js";
import type { PCollection } from "../../sdk/pvalue.js";
import type { WindowedValue } from "../../sdk/windowing/window.js";
import { PANE_NO_FIRING, type BoundedWindow } from "../../sdk/windowing/window.js";
import type { AnyCombineFn } from "../../sdk/transforms/combinefn.js";
import { GroupOperator, type Meta, Outputs, type Pending, type Receiver, type StepMetrics, type TextSinkOperator } from "./operators.js";

/** The key a direct-runner thread's bootstrap sets on globalThis: DirectRunner.run serves it. */
export const DIRECT_THREAD: unique symbol = Symbol.for("sluice.direct.thread") as never;
/** Where the bootstrap keeps the console it muted, for serveThread to restore. */
const MUTED_CONSOLE = Symbol.for("sluice.direct.console");
/**
 * SLUICE_DEBUG_THREADS=1: say when threads are ready and who ran what; =only: besides, this
 * thread runs no region element itself but waits for an idle thread (tests use it to know that
 * threads did the work).
 */
const DEBUG = process.env.SLUICE_DEBUG_THREADS === "1" || process.env.SLUICE_DEBUG_THREADS === "only";
const THREADS_ONLY = process.env.SLUICE_DEBUG_THREADS === "only";

/** Set once serveThread runs, so the bootstrap knows the file reached run(). */
const SERVING = Symbol.for("sluice.direct.serving");

/** A part of the plan that threads may run: a Reshuffle and what is fused after it. */
export interface Region {
  readonly head: TransformNode;
  /** The leaves run in the region, the head included. */
  readonly members: ReadonlySet<TransformNode>;
  /** Collections made in the region and read outside it. */
  readonly exits: readonly RegionExit[];
  /** Sinks in the region: each thread writes files of its own for them (IsSharedSink). */
  readonly sinks: readonly TransformNode[];
}

export interface RegionExit {
  readonly pcoll: PCollection<unknown>;
  /** Set when every reader outside the region is a lifted CombinePerKey: accumulators cross. */
  readonly combines?: readonly TransformNode[];
}

/** Reads `node` as a lifted CombinePerKey the plan runs as a batch GroupOperator? */
export type IsBatchCombine = (node: TransformNode) => boolean;
/** Is `node` a sink each thread may write files of its own for (a text sink with runner-chosen shards)? */
export type IsSharedSink = (node: TransformNode) => boolean;

/**
 * The regions of a plan's leaves (in plan order), the same on every thread: each Reshuffle of a
 * bounded collection not already inside one, with the stateless single-input ParDos (no side
 * inputs), WindowIntos and shared sinks that read only from the region.
 */
export function findRegions(leaves: readonly TransformNode[], isBatchCombine: IsBatchCombine, isSharedSink: IsSharedSink = () => false): Region[] {
  const readers = new Map<PCollection<unknown>, TransformNode[]>();
  for (const n of leaves) {
    for (const p of new Set(n.inputs.values())) {
      let r = readers.get(p);
      if (!r) readers.set(p, (r = []));
      r.push(n);
    }
  }
  const mainInputs = (n: TransformNode): PCollection<unknown>[] => [...n.inputs].filter(([tag]) => !tag.startsWith("side:")).map(([, p]) => p);
  const fusible = (n: TransformNode): boolean => {
    const spec = n.primitive;
    if (spec?.kind === "pardo") return !spec.stateful && Object.keys(spec.sideInputs).length === 0 && mainInputs(n).length === 1 && n.inputs.size === 1;
    if (spec?.kind === "assign_windows") return true;
    if (isSharedSink(n)) return n.inputs.size === 1;
    return n.composite?.kind === "reshuffle";
  };
  const claimed = new Set<TransformNode>();
  const regions: Region[] = [];
  for (const head of leaves) {
    if (head.composite?.kind !== "reshuffle" || claimed.has(head)) continue;
    const input = head.inputs.get("main");
    if (input === undefined || !input.isBounded || head.inputs.size !== 1) continue;
    const members = new Set<TransformNode>([head]);
    const queue = [head];
    while (queue.length > 0) {
      const n = queue.shift()!;
      for (const p of n.outputs.values()) {
        for (const r of readers.get(p) ?? []) {
          if (members.has(r) || claimed.has(r) || !fusible(r)) continue;
          members.add(r);
          queue.push(r);
        }
      }
    }
    if (members.size === 1) continue; // nothing runs after the Reshuffle that a thread could share
    const exits: RegionExit[] = [];
    for (const n of members) {
      for (const p of n.outputs.values()) {
        const outside = (readers.get(p) ?? []).filter((r) => !members.has(r));
        if (outside.length === 0) continue;
        const combines = outside.every((r) => isBatchCombine(r) && r.inputs.get("main") === p && r.inputs.size === 1);
        exits.push(combines ? { pcoll: p, combines: outside } : { pcoll: p });
      }
    }
    for (const m of members) claimed.add(m);
    regions.push({ head, members, exits, sinks: [...members].filter(isSharedSink) });
  }
  return regions;
}

/** How many threads a run may use: --direct_num_workers, else the number of cores. */
export function threadCount(flag: number | undefined): number {
  return flag ?? availableParallelism();
}

/** The pipeline file a thread must import to rebuild the pipeline being run, if there is one. */
export interface PipelineSource {
  readonly file: string;
  readonly argv: readonly string[];
  readonly setup?: { readonly url: string; readonly data: unknown };
  /** The main thread's `--import` preloads (tsx, say), which an eval'd thread does not inherit. */
  readonly imports?: readonly string[];
  /**
   * The file bundled (threadBundle): what a thread imports instead of `file`, with no loader
   * (no `setup`, no tsx among `imports`).
   */
  readonly bundle?: string;
}

/** The package entry of this copy of Sluice, which the pipeline's `import "sluice"` resolved to. */
const OWN_ENTRY = fileURLToPath(new URL(import.meta.url.endsWith(".ts") ? "../../index.ts" : "../../index.js", import.meta.url));

/**
 * The bundle threads import (internal/bundle.ts, packages by path): one JavaScript module and the
 * package files the main thread loaded, with no TypeScript loader of its own (tsx starts a hooks
 * thread per thread: about 0.4 s and 35 MB each). `sluice run`'s own, when the main thread
 * imported one (owned by the CLI); else one made here; undefined, and threads load the file as the
 * main thread did, when a bundle would not behave as the file does (scratchBundle).
 */
async function threadBundle(source: PipelineSource, log: (line: string) => void): Promise<{ readonly dir?: string; readonly file: string } | undefined> {
  if (source.bundle !== undefined) {
    if (DEBUG) log(`sluice: direct threads import ${source.file} bundled (sluice run's bundle)`);
    return { file: source.bundle };
  }
  const b = await scratchBundle(source.file, { purpose: "the direct runner's threads", sluiceEntry: OWN_ENTRY });
  if ("why" in b) {
    if (DEBUG) log(`sluice: direct threads load ${source.file} with its loaders: ${b.why}`);
    return undefined;
  }
  if (DEBUG) log(`sluice: direct threads import ${source.file} bundled (${b.ms} ms)`);
  return b;
}

/**
 * The file that builds the pipeline: `sluice run`'s, or the main script when it is running this
 * pipeline (its module is on the stack of the call to run()); undefined otherwise (a REPL, a
 * test runner, a pipeline built in a library), and the run stays on one thread.
 */
export function pipelineSource(callStack: string): PipelineSource | undefined {
  const launch = getLaunchContext();
  if (launch?.file !== undefined) {
    return {
      file: launch.file,
      argv: launch.argv,
      ...(launch.threadSetup === undefined ? {} : { setup: launch.threadSetup }),
      ...(launch.bundle === undefined ? {} : { bundle: launch.bundle }),
    };
  }
  const main = process.argv[1];
  if (main === undefined || main === "" || process.argv0 === "node" && process.execArgv.includes("-e")) return undefined;
  if (!callStack.includes(pathToFileURL(main).href) && !callStack.includes(`(${main}:`) && !callStack.includes(`at ${main}:`)) return undefined;
  const imports: string[] = [];
  const ex = process.execArgv;
  for (let i = 0; i < ex.length; i++) {
    if (ex[i] === "--import" && ex[i + 1] !== undefined) imports.push(ex[++i]!);
    else if (ex[i]!.startsWith("--import=")) imports.push(ex[i]!.slice("--import=".length));
  }
  return { file: main, argv: process.argv.slice(2), ...(imports.length > 0 ? { imports } : {}) };
}

// ---------------------------------------------------------------------------------------------
// Messages between the main thread and a region thread.

/** What a thread is started with (its workerData). */
export interface ThreadJob {
  readonly source: PipelineSource;
  readonly fingerprint: string;
  readonly thread: number;
}

type ToThread =
  | { readonly t: "element"; readonly region: number; readonly bytes: Uint8Array; readonly sinks: SinkDirs }
  | { readonly t: "finish"; readonly region: number }
  | { readonly t: "stop" };

interface MetricsJSON {
  readonly step: string;
  readonly committed: ContainerJSON;
  readonly attempted: ContainerJSON;
}
type ContainerJSON = Pick<MetricsContainer, "counters" | "distributions" | "gauges">;

type FromThread =
  | { readonly t: "ready" }
  | { readonly t: "refused"; readonly why: string }
  | { readonly t: "batch"; readonly region: number; readonly exit: number; readonly bytes: Uint8Array }
  | { readonly t: "partials"; readonly region: number; readonly exit: number; readonly reader: number; readonly bytes: Uint8Array }
  | { readonly t: "idle"; readonly region: number }
  | { readonly t: "finished"; readonly region: number; readonly metrics: readonly MetricsJSON[]; readonly files: readonly ThreadFile[] }
  | { readonly t: "failed"; readonly error: SluiceErrorJSON & { stack?: string; causeStack?: string } };

/** The staging directory of each of a region's shared sinks, by step: where threads write their files. */
type SinkDirs = Readonly<Record<string, string>>;
/** A file a thread wrote for a shared sink. */
interface ThreadFile {
  readonly step: string;
  readonly path: string;
}

/** Elements a region's head holds back before it makes its producer wait. */
const BACKLOG = 4;

const THREAD_YOUNG_GENERATION_MB = 4;

/** The coder of elements crossing threads into or out of `p`. */
export function elementCoder(p: PCollection<unknown>): Coder<WindowedValue<unknown>> {
  return new WindowedValueCoder(p.coder, p.windowing.windowFn.windowCoder as Coder<BoundedWindow>);
}

/** A lifted combine's key coder: its input's keys', or (Count.perElement) its elements'. */
export function combineKeyCoder(combine: TransformNode, input: PCollection<unknown>): Coder<unknown> {
  return combine.composite?.kind === "count_per_element" ? input.coder : input.coder.components[0]!;
}

/** The coder of a lifted combine's groups crossing threads: [[key, acc], [minTs, maxTs]] in the window. */
export function partialCoder(combine: TransformNode, input: PCollection<unknown>, fn: AnyCombineFn): Coder<WindowedValue<[[unknown, unknown], [number, number]]>> {
  const key = combineKeyCoder(combine, input);
  const value = new KvCoder(new KvCoder(key, (fn.accumulatorCoder ?? JsValueCoder) as Coder<unknown>), new KvCoder(DoubleCoder, DoubleCoder));
  return new WindowedValueCoder(value, input.windowing.windowFn.windowCoder as Coder<BoundedWindow>) as never;
}

function errorOf(e: Extract<FromThread, { t: "failed" }>["error"]): SluiceError {
  let cause: Error | undefined;
  if (e.causeStack !== undefined) {
    cause = new Error(e.cause ?? "");
    cause.stack = e.causeStack;
  }
  const err = new SluiceError(e.code, e.message, { ...(e.hint === undefined ? {} : { hint: e.hint }), ...(cause === undefined ? {} : { cause }) });
  if (e.stack !== undefined) err.stack = e.stack;
  return err;
}

/** A batch of encoded elements, sent when large enough. */
class Batch {
  private w = new ByteWriter(1 << 16);
  count = 0;
  constructor(private readonly coder: Coder<WindowedValue<unknown>>) {}
  add(value: unknown, meta: Meta): void {
    this.coder.encode({ value, timestamp: meta.timestamp, windows: meta.windows, pane: meta.pane }, this.w, true);
    this.count++;
  }
  get bytes(): number {
    return this.w.length;
  }
  take(): Uint8Array {
    const out = this.w.finishOwned();
    this.w = new ByteWriter(1 << 16);
    this.count = 0;
    return out;
  }
}

function* decodeAll<T>(coder: Coder<T>, bytes: Uint8Array): Generator<T> {
  const r = new ByteReader(bytes);
  while (!r.atEnd()) yield coder.decode(r, true);
}

// ---------------------------------------------------------------------------------------------
// Main thread.

interface ThreadHandle {
  readonly worker: Worker;
  readonly index: number;
  state: "starting" | "idle" | "busy" | "gone";
  /** Regions this thread processed elements of (they need its finish). */
  readonly regions: Set<number>;
  /** Resolves on the thread's `finished` for a region. */
  finished?: { region: number; resolve: () => void } | undefined;
  /** Whether it imports the bundle (PipelineSource.bundle). */
  readonly bundled: boolean;
}

/** What a region's stage in the main thread delivers thread results into. */
interface StageTarget {
  /** Offers waiting elements to idle threads (a thread's state changed). */
  dispatch(): void;
  deliverBatch(exit: number, bytes: Uint8Array): Pending;
  deliverPartials(exit: number, reader: number, bytes: Uint8Array): void;
  mergeMetrics(metrics: readonly MetricsJSON[]): void;
  adoptFiles(files: readonly ThreadFile[]): void;
}

/**
 * The threads of one run, started when a region first has a second element to share, and
 * stopped when the run ends.
 */
export class ThreadPool {
  private readonly threads: ThreadHandle[] = [];
  private readonly stages = new Map<number, StageTarget>();
  /** Everything a thread sends that touches operators runs in this chain, one after another. */
  private chain: Promise<void> = Promise.resolve();
  private chainBusy = 0;
  failure: SluiceError | undefined;
  private readonly waiters = new Set<() => void>();
  private told = false;
  private startedAt = 0;
  /** Set while the pipeline file is bundled, before the threads start. */
  private launching = false;
  private stopped = false;
  /** The bundle threads import (threadBundle), until one of them cannot. */
  private bundle: { readonly dir?: string; readonly file: string } | undefined;
  /** The bundle, made as the pool is (before the run's first element), ready by the time threads start. */
  private readonly bundling: Promise<{ readonly dir?: string; readonly file: string } | undefined>;

  constructor(
    private readonly size: number,
    private readonly job: Omit<ThreadJob, "thread">,
    private readonly log: (line: string) => void,
  ) {
    this.bundling = threadBundle(job.source, log);
  }

  register(region: number, stage: StageTarget): void {
    this.stages.set(region, stage);
  }

  /** Starts the threads (once), after bundling the pipeline file for them. */
  start(): void {
    if (this.launching || this.threads.length > 0 || this.stopped) return;
    this.launching = true;
    this.startedAt = Date.now();
    void this.bundling.then((bundle) => {
      this.launching = false;
      if (!this.stopped) {
        this.bundle = bundle;
        for (let i = 0; i < this.size; i++) this.threads.push(this.spawn(i));
      }
      this.wake();
    });
  }

  private spawn(index: number): ThreadHandle {
    const { bundle: _, ...unbundled } = this.job.source;
    const source: PipelineSource = this.bundle === undefined ? unbundled : { ...unbundled, bundle: this.bundle.file };
    // A young generation of 4 MB (V8's default is about 48): a thread's elements die young or stay
    // (a partial table), and each MB here is a MB of RSS per thread (wordcount: 14 MB less, its
    // time within noise).
    const resourceLimits = { maxYoungGenerationSizeMb: THREAD_YOUNG_GENERATION_MB };
    const worker = new Worker(BOOTSTRAP, { eval: true, workerData: { ...this.job, source, thread: index } satisfies ThreadJob, stdout: false, stderr: false, resourceLimits });
    const h: ThreadHandle = { worker, index, state: "starting", regions: new Set(), bundled: source.bundle !== undefined };
    worker.on("message", (m: FromThread) => this.onMessage(h, m));
    worker.on("error", (err) => this.fail(SluiceError.from(err), h));
    worker.on("exit", (code) => {
      const was = h.state;
      h.state = "gone";
      if (was !== "gone" && this.failure === undefined && code !== 0) {
        this.fail(new SluiceError("INTERNAL", `direct-runner thread ${index} exited with code ${code} during the run`, { hint: "A DoFn may have ended its thread (process.exit in a worker thread); see the output above." }), h);
      }
      this.wake();
    });
    return h;
  }

  private onMessage(h: ThreadHandle, m: FromThread): void {
    switch (m.t) {
      case "ready":
        if (DEBUG) this.log(`sluice: direct thread ${h.index} ready after ${Date.now() - this.startedAt} ms`);
        h.state = "idle";
        this.wake();
        return;
      case "refused":
        h.state = "gone";
        void h.worker.terminate();
        if (h.bundled && !this.stopped) {
          // The bundle differs from the file somewhere (the file reads its own source, say):
          // this and later threads load the file as the main thread did.
          if (DEBUG) this.log(`sluice: direct thread ${h.index} could not run the bundle (${m.why}); threads load the file with its loaders`);
          if (this.bundle?.dir !== undefined) removeScratchDir(this.bundle.dir);
          this.bundle = undefined;
          this.threads[this.threads.indexOf(h)] = this.spawn(h.index);
          return;
        }
        if (!this.told) {
          this.told = true;
          this.log(`sluice: the direct runner goes on with fewer threads: ${m.why} (--direct_num_workers=1 runs on one thread from the start)`);
        }
        this.wake();
        return;
      case "batch": {
        const stage = this.stages.get(m.region)!;
        this.enqueue(() => stage.deliverBatch(m.exit, m.bytes));
        return;
      }
      case "partials": {
        const stage = this.stages.get(m.region)!;
        this.enqueue(() => stage.deliverPartials(m.exit, m.reader, m.bytes));
        return;
      }
      case "idle":
        if (h.state === "busy") h.state = "idle";
        this.wake();
        return;
      case "finished": {
        const stage = this.stages.get(m.region)!;
        this.enqueue(() => {
          stage.mergeMetrics(m.metrics);
          stage.adoptFiles(m.files);
          if (h.finished?.region === m.region) h.finished.resolve();
        });
        return;
      }
      case "failed":
        this.fail(errorOf(m.error), h);
        return;
    }
  }

  private fail(err: SluiceError, h: ThreadHandle): void {
    h.state = "gone";
    if (this.failure === undefined) this.failure = err;
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
    for (const stage of this.stages.values()) stage.dispatch();
  }

  /** Resolves when `done()` holds, checked whenever a thread's state changes. */
  private until(done: () => boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (this.failure !== undefined) {
          this.waiters.delete(check);
          reject(this.failure);
        } else if (done()) {
          this.waiters.delete(check);
          resolve();
        }
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Runs `step` after everything threads delivered before it. */
  enqueue(step: () => Pending): void {
    this.chainBusy++;
    this.chain = this.chain
      .then(step)
      .catch((err: unknown) => {
        if (this.failure === undefined) this.failure = SluiceError.from(err);
        this.wake();
      })
      .finally(() => {
        this.chainBusy--;
      });
  }

  /** Whether deliveries are queued or running. */
  get delivering(): boolean {
    return this.chainBusy > 0;
  }

  /** Waits for the deliveries queued so far. */
  settled(): Promise<void> {
    return this.chain.then(() => {
      if (this.failure !== undefined) throw this.failure;
    });
  }

  /** Whether some thread may still take work. */
  alive(): boolean {
    return this.launching || this.threads.some((t) => t.state !== "gone");
  }

  /** Whether a thread is idle. */
  hasIdle(): boolean {
    return this.threads.some((t) => t.state === "idle");
  }

  /** Hands `bytes` (one element of `region`'s head) to an idle thread; false when none is. */
  offer(region: number, bytes: Uint8Array, sinks: SinkDirs): boolean {
    const h = this.threads.find((t) => t.state === "idle");
    if (h === undefined) return false;
    h.state = "busy";
    h.regions.add(region);
    h.worker.postMessage({ t: "element", region, bytes, sinks } satisfies ToThread);
    return true;
  }

  /** Finishes a region on every thread that processed part of it, once all are idle. */
  async finish(region: number): Promise<void> {
    await this.until(() => this.threads.every((t) => t.state !== "busy"));
    const involved = this.threads.filter((t) => t.regions.has(region) && t.state !== "gone");
    await Promise.all(
      involved.map(
        (t) =>
          new Promise<void>((resolve, reject) => {
            t.finished = { region, resolve };
            t.worker.postMessage({ t: "finish", region } satisfies ToThread);
            this.until(() => t.finished === undefined || t.state === "gone").catch(reject);
          }).finally(() => {
            t.finished = undefined;
            t.regions.delete(region);
          }),
      ),
    );
    await this.settled();
    const lost = involved.find((t) => t.state === "gone");
    if (lost !== undefined) throw this.failure ?? new SluiceError("INTERNAL", `direct-runner thread ${lost.index} stopped before finishing its work`, { hint: "" });
  }

  /** Stops every thread (at the end of the run, success or not). */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(
      this.threads.map(async (t) => {
        if (t.state === "gone") return;
        t.state = "gone";
        t.worker.postMessage({ t: "stop" } satisfies ToThread);
        const exited = new Promise<void>((r) => t.worker.once("exit", () => r()));
        const timer = setTimeout(() => void t.worker.terminate(), 5_000);
        await exited;
        clearTimeout(timer);
      }),
    );
    const bundle = await this.bundling;
    if (bundle?.dir !== undefined) removeScratchDir(bundle.dir);
    this.bundle = undefined;
  }
}

/**
 * A region's head in the main thread: takes the Reshuffle's elements, sends each to an idle
 * thread or runs it here, delivers what the threads return, and finishes the region on every
 * thread before its own operators finish.
 */
export class ParallelStage implements Receiver {
  private remaining: number;
  private seen = 0;
  private offered = 0;
  private ranHere = 0;
  /** Elements that arrived and wait for a thread, or for this one. */
  private readonly backlog: { value: unknown; meta: Meta }[] = [];
  private localBusy = false;
  private localFailure: SluiceError | undefined;
  /** Producers waiting for the backlog to shrink, and waiters for it to empty. */
  private readonly space: (() => void)[] = [];
  private readonly drained: (() => void)[] = [];
  private readonly inputCoder: Coder<WindowedValue<unknown>>;
  private exitOuts: Outputs[] = [];
  private exitCoders: Coder<WindowedValue<unknown>>[] = [];
  private combineOps: GroupOperator[][] = [];
  private partialCoders: Coder<WindowedValue<[[unknown, unknown], [number, number]]>>[][] = [];
  private sinkOps = new Map<string, TextSinkOperator>();
  private sinkDirs: SinkDirs | undefined;

  constructor(
    readonly index: number,
    private readonly region: Region,
    /** The head's own operator: what runs an element in this thread. */
    private readonly local: Receiver,
    private readonly pool: ThreadPool,
    private readonly metrics: Map<string, StepMetrics>,
    private readonly nextEpoch: () => number,
  ) {
    this.remaining = region.head.inputs.size;
    this.inputCoder = elementCoder(region.head.inputs.get("main")!);
    pool.register(index, this);
  }

  /**
   * Wires the exits once the plan is built: `outputs` of each exit collection and the operators
   * of the region (whose receivers there are not exits), and the operator of every node.
   */
  wire(outputsOf: (p: PCollection<unknown>) => Outputs, memberOps: ReadonlySet<Receiver>, opOf: (n: TransformNode) => Receiver | undefined): void {
    for (const exit of this.region.exits) {
      const out = new Outputs();
      for (const r of outputsOf(exit.pcoll).receivers) if (!memberOps.has(r)) out.receivers.push(r);
      this.exitOuts.push(out);
      this.exitCoders.push(elementCoder(exit.pcoll));
      const combines = (exit.combines ?? []).map((n) => opOf(n));
      this.combineOps.push(combines.map((op) => op as GroupOperator));
      this.partialCoders.push((exit.combines ?? []).map((n) => partialCoder(n, exit.pcoll, (n.composite as { combineFn: AnyCombineFn }).combineFn)));
    }
    for (const n of this.region.sinks) this.sinkOps.set(n.fullLabel, opOf(n) as TextSinkOperator);
  }

  receive(value: unknown, meta: Meta): Pending {
    this.check();
    // The first element runs here: threads start only once there is a second one to share.
    if (++this.seen === 2 || THREADS_ONLY) this.pool.start();
    this.backlog.push({ value, meta });
    this.dispatch();
    // The producer goes on while a few elements wait, so an idle thread finds the next one.
    if (this.backlog.length <= BACKLOG) return undefined;
    return new Promise<void>((resolve) => this.space.push(resolve)).then(() => this.check());
  }

  /** Throws what failed here or on a thread. */
  private check(): void {
    const f = this.localFailure ?? this.pool.failure;
    if (f !== undefined) throw f;
  }

  /**
   * Hands waiting elements to idle threads, and runs the next one here when this thread is free
   * (never under SLUICE_DEBUG_THREADS=only, while a thread lives). Called on every arrival and
   * whenever a thread goes idle.
   */
  dispatch(): void {
    if (this.localFailure !== undefined || this.pool.failure !== undefined) {
      // The run failed: nothing more starts; whoever waits sees the failure.
      this.backlog.length = 0;
      if (!this.localBusy) for (const w of this.drained.splice(0)) w();
      for (const w of this.space.splice(0)) w();
      return;
    }
    while (this.backlog.length > 0 && (this.seen > 1 || THREADS_ONLY) && this.pool.hasIdle()) {
      const { value, meta } = this.backlog.shift()!;
      const w = new ByteWriter(256);
      this.inputCoder.encode({ value, timestamp: meta.timestamp, windows: meta.windows, pane: meta.pane }, w, true);
      // The sinks are prepared (their staging directories made) before the first element.
      this.sinkDirs ??= Object.fromEntries([...this.sinkOps].map(([step, op]) => [step, op.stagingDir]));
      this.pool.offer(this.index, w.finishOwned(), this.sinkDirs);
      this.offered++;
    }
    if (this.backlog.length > 0 && !this.localBusy && !(THREADS_ONLY && this.pool.alive())) {
      const { value, meta } = this.backlog.shift()!;
      this.localBusy = true;
      this.ranHere++;
      // In the delivery chain: operators see one caller at a time.
      this.pool.enqueue(() => {
        const done = (): void => {
          this.localBusy = false;
          this.dispatch();
        };
        let p: Pending;
        try {
          p = this.local.receive(value, meta);
        } catch (err) {
          this.localFailure ??= SluiceError.from(err);
          done();
          throw err;
        }
        if (p === undefined) return done();
        return p.then(done, (err: unknown) => {
          this.localFailure ??= SluiceError.from(err);
          done();
          throw err;
        });
      });
    }
    while (this.space.length > 0 && this.backlog.length <= BACKLOG) this.space.shift()!();
    if (this.backlog.length === 0 && !this.localBusy) for (const w of this.drained.splice(0)) w();
  }

  /** Resolves when no element waits or runs here. */
  private idleHere(): Promise<void> {
    if (this.backlog.length === 0 && !this.localBusy) return Promise.resolve();
    return new Promise<void>((resolve) => this.drained.push(resolve));
  }

  flush(epoch: number): Pending {
    return this.idleHere()
      .then(() => this.pool.settled())
      .then(() => {
        this.check();
        return this.local.flush(epoch);
      });
  }

  finishInput(): Pending {
    if (--this.remaining > 0) return this.local.finishInput();
    this.remaining = this.region.head.inputs.size;
    return this.idleHere()
      .then(() => this.pool.settled())
      .then(async () => {
        this.check();
        if (DEBUG && this.seen > 1) process.stderr.write(`sluice: region '${this.region.head.fullLabel}': ${this.ranHere} element(s) here, ${this.offered} on threads\n`);
        if (this.offered > 0) await this.pool.finish(this.index);
        return this.local.finishInput();
      });
  }

  deliverBatch(exit: number, bytes: Uint8Array): Pending {
    const out = this.exitOuts[exit]!;
    const pending: Promise<void>[] = [];
    const it = decodeAll(this.exitCoders[exit]!, bytes);
    const next = (): Pending => {
      for (let e = it.next(); !e.done; e = it.next()) {
        out.emit(e.value.value, { timestamp: e.value.timestamp, windows: e.value.windows, pane: e.value.pane }, pending);
        if (pending.length > 0) {
          const wait = Promise.all(pending.splice(0));
          return wait.then(next);
        }
      }
      return out.flush(this.nextEpoch());
    };
    return next();
  }

  deliverPartials(exit: number, reader: number, bytes: Uint8Array): void {
    const op = this.combineOps[exit]![reader]!;
    for (const wv of decodeAll(this.partialCoders[exit]![reader]!, bytes)) {
      const [[key, acc], [minTs, maxTs]] = wv.value;
      op.mergePartial({ key, acc, minTs, maxTs, window: wv.windows[0]! });
    }
  }

  adoptFiles(files: readonly ThreadFile[]): void {
    for (const f of files) {
      if (DEBUG) process.stderr.write(`sluice: region '${this.region.head.fullLabel}': a thread wrote a shard of '${f.step}'\n`);
      this.sinkOps.get(f.step)!.adopt(f.path);
    }
  }

  mergeMetrics(metrics: readonly MetricsJSON[]): void {
    for (const m of metrics) {
      const mine = this.metrics.get(m.step);
      if (mine === undefined) continue;
      mine.committed.mergeFrom(m.committed as MetricsContainer);
      mine.attempted.mergeFrom(m.attempted as MetricsContainer);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Region thread.

/** A region's operators on a thread: elements go into `entry`; exits ship to the main thread. */
export interface ThreadRegionPlan {
  readonly entry: Outputs;
  /** The coder the main thread encodes the region head's elements with. */
  readonly inputCoder: Coder<WindowedValue<unknown>>;
  readonly pardos: readonly { teardown(): Promise<void> }[];
  readonly metrics: Map<string, StepMetrics>;
  readonly flushShippers: () => void;
  /** The region's shared sinks on this thread: closed when the region finishes. */
  readonly sinks: readonly { readonly step: string; close(): Promise<string | undefined> }[];
}

/** Where a thread's region plan sends what leaves the region. */
export interface ThreadExits {
  /** The receiver to add to `exit`'s collection in place of its readers outside the region. */
  receiverFor(exit: number): Receiver;
}

/** Ships a collection's elements to the main thread in batches. */
class ElementShipper implements Receiver {
  private readonly batch: Batch;
  constructor(
    private readonly region: number,
    private readonly exit: number,
    pcoll: PCollection<unknown>,
  ) {
    this.batch = new Batch(elementCoder(pcoll));
  }
  receive(value: unknown, meta: Meta): Pending {
    this.batch.add(value, meta);
    if (this.batch.bytes >= 1 << 18) this.send();
    return undefined;
  }
  send(): void {
    if (this.batch.count === 0) return;
    const bytes = this.batch.take();
    parentPort!.postMessage({ t: "batch", region: this.region, exit: this.exit, bytes } satisfies FromThread, [bytes.buffer as ArrayBuffer]);
  }
  finishInput(): Pending {
    this.send();
    return undefined;
  }
  flush(): Pending {
    return undefined;
  }
}

/**
 * Groups a thread's lifted-combine table holds before it hands them over early (PartialShipper);
 * SLUICE_DEBUG_PARTIAL_GROUPS=N sets it (tests make it small).
 */
const PARTIAL_TABLE_GROUPS = Number(process.env.SLUICE_DEBUG_PARTIAL_GROUPS ?? 1 << 16);

/**
 * A lifted combine's partial table on a thread, handed to the main thread at the region's end,
 * or before when it grows past PARTIAL_TABLE_GROUPS.
 */
class PartialShipper implements Receiver {
  private sinceCheck = 0;
  private readonly coder: Coder<WindowedValue<[[unknown, unknown], [number, number]]>>;
  constructor(
    private readonly region: number,
    private readonly exit: number,
    private readonly reader: number,
    private readonly group: GroupOperator,
    combine: TransformNode,
    pcoll: PCollection<unknown>,
  ) {
    this.coder = partialCoder(combine, pcoll, (combine.composite as { combineFn: AnyCombineFn }).combineFn);
  }
  receive(value: unknown, meta: Meta): Pending {
    const p = this.group.receive(value, meta);
    if (++this.sinceCheck === 4096) {
      this.sinceCheck = 0;
      // A table past its bound goes to the main thread now, which merges it as it would at the
      // end: the thread's copy of the state stays bounded (many keys, or keys per window).
      if (p === undefined && this.group.groupCount > PARTIAL_TABLE_GROUPS) {
        if (DEBUG) process.stderr.write(`sluice: a thread hands over its partial table early (more than ${PARTIAL_TABLE_GROUPS} groups)\n`);
        this.ship();
      }
    }
    return p;
  }
  finishInput(): Pending {
    this.ship();
    return undefined;
  }
  private ship(): void {
    let w = new ByteWriter(1 << 16);
    const send = (): void => {
      const bytes = w.finishOwned();
      parentPort!.postMessage({ t: "partials", region: this.region, exit: this.exit, reader: this.reader, bytes } satisfies FromThread, [bytes.buffer as ArrayBuffer]);
      w = new ByteWriter(1 << 16);
    };
    for (const g of this.group.partials()) {
      this.coder.encode({ value: [[g.key, g.acc], [g.minTs, g.maxTs]], timestamp: g.minTs, windows: [g.window], pane: PANE_NO_FIRING }, w, true);
      if (w.length >= 1 << 20) send();
    }
    if (w.length > 0) send();
  }
  flush(): Pending {
    return undefined;
  }
}

/** The receivers a thread's region plan sends its exits to. */
export function threadExits(
  regionIndex: number,
  region: Region,
  makeGroup: (combine: TransformNode) => GroupOperator,
): { exits: ThreadExits; shippers: ElementShipper[] } {
  const shippers: ElementShipper[] = [];
  const receivers = region.exits.map((exit, i): Receiver => {
    if (exit.combines === undefined) {
      const s = new ElementShipper(regionIndex, i, exit.pcoll);
      shippers.push(s);
      return s;
    }
    const parts = exit.combines.map(
      (n, j) => new PartialShipper(regionIndex, i, j, makeGroup(n), n, exit.pcoll),
    );
    return parts.length === 1 ? parts[0]! : new FanOut(parts);
  });
  return { exits: { receiverFor: (i) => receivers[i]! }, shippers };
}

class FanOut implements Receiver {
  constructor(private readonly to: readonly Receiver[]) {}
  receive(value: unknown, meta: Meta): Pending {
    for (const r of this.to) r.receive(value, meta);
    return undefined;
  }
  finishInput(): Pending {
    for (const r of this.to) r.finishInput();
    return undefined;
  }
  flush(): Pending {
    return undefined;
  }
}

/**
 * Serves the main thread from a region thread: builds each region's operators on first use
 * (`build`), runs the elements it is sent and finishes regions when told. Never resolves; the
 * main thread ends the thread.
 */
export async function serveThread(job: ThreadJob, fingerprint: string, build: (region: number, sinks: SinkDirs) => ThreadRegionPlan): Promise<never> {
  const port = parentPort!;
  const muted = (globalThis as Record<symbol, unknown>)[MUTED_CONSOLE] as Record<string, unknown> | undefined;
  if (muted !== undefined) Object.assign(console, muted);
  const send = (m: FromThread): void => port.postMessage(m);
  if (fingerprint !== job.fingerprint) {
    send({ t: "refused", why: `the pipeline file ${job.source.file} builds another pipeline first, so threads cannot rebuild this one` });
    return new Promise<never>(() => undefined);
  }
  const plans = new Map<number, ThreadRegionPlan>();
  const planOf = (region: number, sinks: SinkDirs = {}): ThreadRegionPlan => {
    let p = plans.get(region);
    if (!p) plans.set(region, (p = build(region, sinks)));
    return p;
  };
  (globalThis as Record<symbol, unknown>)[SERVING] = true;
  let queue: Promise<void> = Promise.resolve();
  let epoch = 0;
  const failed = (err: unknown): void => {
    const e = SluiceError.from(err);
    // The user's error, with its stack (the CLI prints it): in this thread's terms, source-mapped.
    const causeStack = e.cause instanceof Error ? e.cause.stack : undefined;
    send({ t: "failed", error: { ...e.toJSON(), ...(e.stack === undefined ? {} : { stack: e.stack }), ...(causeStack === undefined ? {} : { causeStack }) } });
  };
  port.on("message", (m: ToThread) => {
    queue = queue.then(async () => {
      try {
        if (m.t === "element") {
          const plan = planOf(m.region, m.sinks);
          const wv = plan.inputCoder.decode(new ByteReader(m.bytes), true);
          const pending: Promise<void>[] = [];
          plan.entry.emit(wv.value, { timestamp: wv.timestamp, windows: wv.windows, pane: wv.pane }, pending);
          await Promise.all(pending);
          plan.flushShippers();
          send({ t: "idle", region: m.region });
        } else if (m.t === "finish") {
          const plan = planOf(m.region);
          await plan.entry.flush(++epoch);
          await plan.entry.finish();
          const files: ThreadFile[] = [];
          for (const sink of plan.sinks) {
            const path = await sink.close();
            if (path !== undefined) files.push({ step: sink.step, path });
          }
          const metrics = [...plan.metrics.values()].map((s) => ({ step: s.committed.step, committed: containerJSON(s.committed), attempted: containerJSON(s.attempted) }));
          send({ t: "finished", region: m.region, metrics, files });
        } else {
          for (const p of plans.values()) for (const op of p.pardos) await op.teardown().catch(() => undefined);
          process.exit(0);
        }
      } catch (err) {
        failed(err);
      }
    });
  });
  send({ t: "ready" });
  return new Promise<never>(() => undefined);
}

function containerJSON(c: MetricsContainer): ContainerJSON {
  return { counters: c.counters, distributions: c.distributions, gauges: c.gauges };
}

/**
 * The bootstrap a thread evaluates (CommonJS, no Sluice code of its own): the launch context,
 * the loaders of the main thread's `sluice run`, a muted console, then the pipeline file; its
 * DirectRunner.run (or Pipeline.run) finds DIRECT_THREAD and serves the main thread.
 */
const BOOTSTRAP = `
const { workerData } = require("node:worker_threads");
const { pathToFileURL } = require("node:url");
(async () => {
  const { source } = workerData;
  globalThis[Symbol.for("sluice.launch")] = Object.freeze({ argv: Object.freeze([...source.argv]), file: source.file, ...(source.setup ? { threadSetup: source.setup } : {}) });
  globalThis[Symbol.for("sluice.direct.thread")] = Object.freeze(workerData);
  process.argv = [process.execPath, source.file, ...source.argv];
  // A bundle is JavaScript: it needs no loader, and its inline source map names the user's files.
  const bundled = typeof source.bundle === "string";
  if (bundled) process.setSourceMapsEnabled(true);
  for (const spec of source.imports || []) {
    // tsx's --import entry registers its loader on the main thread only; its API does it here.
    const tsx = spec === "tsx" ? "tsx/" : /[\\/]tsx[\\/]dist[\\/]loader\.mjs$/.test(spec) ? spec.replace(/loader\.mjs$/, "") : undefined;
    if (tsx === undefined) await import(spec);
    else if (!bundled) {
      (await import(tsx === "tsx/" ? "tsx/esm/api" : tsx + "esm/api/index.mjs")).register();
      (await import(tsx === "tsx/" ? "tsx/cjs/api" : tsx + "cjs/api/index.mjs")).register();
    }
  }
  if (source.setup && !bundled) await (await import(source.setup.url)).setupThread(source.setup.data);
  const muted = {};
  for (const k of ["log", "info", "warn", "error", "debug", "trace", "dir", "table"]) { muted[k] = console[k]; console[k] = () => {}; }
  globalThis[Symbol.for("sluice.direct.console")] = muted;
  try {
    await import(pathToFileURL(bundled ? source.bundle : source.file).href);
    // run() may come later than the file's top level (after an await in a function it called).
    const deadline = Date.now() + 30000;
    while (!globalThis[Symbol.for("sluice.direct.serving")] && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (!globalThis[Symbol.for("sluice.direct.serving")]) require("node:worker_threads").parentPort.postMessage({ t: "refused", why: "the pipeline file did not run its pipeline within 30 s of being imported on a thread" });
  } catch (err) {
    require("node:worker_threads").parentPort.postMessage({ t: "refused", why: "the pipeline file failed when a thread imported it: " + (err && err.message ? err.message : String(err)) });
  }
})();
`;
