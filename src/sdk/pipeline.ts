/**
 * Pipeline: the graph of transforms a user builds, and `run()` which hands it to a runner.
 *
 * ```ts
 * const p = Pipeline.create(PipelineOptions.fromArgs(process.argv.slice(2)));
 * p.apply("Create words", Create.of(["to be or not to be"]))
 *   .apply("Split words", FlatMap((line: string) => line.split(" ")))
 *   .apply("Write to file", WriteToText("out/words"));
 * const result = await p.run();
 * ```
 */
import { createHash } from "node:crypto";
import { SluiceError, type ErrorCode } from "../internal/errors.js";
import type { Coder } from "./coders/coder.js";
import type { CompositeSpec, PrimitiveSpec, TransformNode } from "./graph.js";
import type { MetricResults } from "./metrics.js";
import { PipelineOptions } from "./options.js";
import { collectionsOf, PBegin, PCollection, type PInput, type POutput } from "./pvalue.js";
import type { ExpandContext, PTransform } from "./transform.js";
import type { WindowingStrategy } from "./windowing/windowfns.js";

/** Final state of a run. */
export type PipelineState = "DONE" | "FAILED" | "CANCELLED";

export interface PipelineResult {
  readonly state: PipelineState;
  readonly metrics: MetricResults;
  /** Wall time of the run in milliseconds. */
  readonly durationMs: number;
  /** Runner-specific job id, where the runner has one. */
  readonly jobId?: string;
}

/**
 * The key a Sluice worker process (src/harness/worker-main.ts) sets on globalThis before it imports
 * the shipped pipeline file: `run()` then hands the pipeline over instead of running it.
 */
const WORKER_HOOK: unique symbol = Symbol.for("sluice.worker");

/** What a worker process stores at `globalThis[Symbol.for("sluice.worker")]`. */
interface WorkerHook {
  register(pipeline: Pipeline): void;
}

/** How `--runner` becomes a runner: set by the package entry (src/index.ts), so sdk/ never imports runners/. */
export type RunnerResolver = (options: PipelineOptions) => Promise<PipelineRunner>;
let runnerResolver: RunnerResolver | undefined;

/** @internal Registers how run() resolves `--runner` (the package entry does, once). */
export function setRunnerResolver(resolver: RunnerResolver): void {
  runnerResolver = resolver;
}

/** A runner executes a constructed pipeline. */
export interface PipelineRunner {
  readonly name: string;
  run(pipeline: Pipeline): Promise<PipelineResult>;
}

export class Pipeline {
  readonly root: TransformNode;
  private readonly scopes: TransformNode[] = [];
  private readonly collections: PCollection<unknown>[] = [];
  private nextId = 0;
  private ran = false;

  private constructor(readonly options: PipelineOptions) {
    this.root = {
      fullLabel: "",
      label: "",
      parent: undefined,
      parts: [],
      inputs: new Map(),
      outputs: new Map(),
      primitive: undefined,
      composite: undefined,
    };
  }

  /**
   * A new, empty pipeline. Without options it reads the flags `sluice run` was given
   * (or runs with defaults: the direct runner).
   */
  static create(options?: PipelineOptions): Pipeline {
    return new Pipeline(options ?? PipelineOptions.fromLaunch());
  }

  /** Applies a root transform (Create, ReadFromText, …) under `label`. */
  apply<Out extends POutput>(label: string, transform: PTransform<PBegin, Out>): Out;
  apply<Out extends POutput>(transform: PTransform<PBegin, Out>): Out;
  apply<Out extends POutput>(labelOrTransform: string | PTransform<PBegin, Out>, maybeTransform?: PTransform<PBegin, Out>): Out {
    return this.applyTransform(new PBegin(this), labelOrTransform, maybeTransform);
  }

  /** Every PCollection, in creation order. */
  get pcollections(): readonly PCollection<unknown>[] {
    return this.collections;
  }

  /** Primitive (leaf) transforms in topological order, skipping the parts of composites a runner recognises. */
  leaves(recognised: (spec: CompositeSpec, node: TransformNode) => boolean = () => false): TransformNode[] {
    const out: TransformNode[] = [];
    const walk = (node: TransformNode): void => {
      if (node !== this.root && (node.primitive || (node.composite && recognised(node.composite, node)))) {
        out.push(node);
        return;
      }
      for (const part of node.parts) walk(part);
    };
    walk(this.root);
    return out;
  }

  /**
   * Runs the pipeline on the runner its options name and resolves when it is done. In a Sluice
   * worker process (which imports the pipeline file to rebuild the graph) it hands the pipeline to
   * the worker and never resolves.
   */
  async run(): Promise<PipelineResult> {
    if (this.scopes.length > 0) {
      this.fail("INVALID_PIPELINE", "run() was called while a transform was still expanding", "Call run() after building the pipeline.");
    }
    this.ran = true;
    const hook = (globalThis as Record<symbol, WorkerHook | undefined>)[WORKER_HOOK];
    if (hook !== undefined) {
      // Inside a worker: the pipeline was rebuilt to be executed there, bundle by bundle. Never
      // settle, so the file's code after `await p.run()` (reading results, exiting) does not run.
      hook.register(this);
      return new Promise<PipelineResult>(() => undefined);
    }
    if (runnerResolver === undefined) {
      throw new SluiceError("FAILED_PRECONDITION", "No runners are registered, so run() cannot choose one", {
        hint: "Import Sluice from its package entry ('sluice'), which registers the runners; or run the pipeline on one directly: new DirectRunner().run(pipeline).",
      });
    }
    const runner = await runnerResolver(this.options);
    return runner.run(this);
  }

  /** Whether run() was called, or a runner was given the pipeline (`new DirectRunner().run(p)`). */
  get hasRun(): boolean {
    return this.ran;
  }

  /** @internal A runner's run() records that it was given the pipeline (see hasRun). */
  markRun(): void {
    this.ran = true;
  }

  /** @internal Fails construction with a SluiceError. */
  fail(code: ErrorCode, message: string, hint: string): never {
    throw new SluiceError(code, message, { hint });
  }

  /** @internal Shared by `pipeline.apply`, `pcoll.apply`, list and record `apply`. */
  applyTransform<In extends PInput, Out extends POutput>(
    input: In,
    labelOrTransform: string | PTransform<In, Out>,
    maybeTransform: PTransform<In, Out> | undefined,
  ): Out {
    const transform = typeof labelOrTransform === "string" ? maybeTransform : labelOrTransform;
    const parent = this.scopes[this.scopes.length - 1] ?? this.root;
    if (transform === undefined || typeof (transform as { expand?: unknown }).expand !== "function") {
      this.fail(
        "INVALID_PIPELINE",
        `apply(${typeof labelOrTransform === "string" ? `'${labelOrTransform}', ` : ""}…) under '${parent.fullLabel || "the pipeline"}' was not given a transform`,
        "Pass a transform such as Map(fn), ParDo(doFn) or GroupByKey().",
      );
    }
    const label = typeof labelOrTransform === "string" ? labelOrTransform : transform.defaultLabel;
    if (label === "" || label.includes("/")) {
      this.fail("INVALID_PIPELINE", `Invalid label '${label}' under '${parent.fullLabel || "the pipeline"}'`, "Labels are non-empty and contain no '/'.");
    }
    const clash = parent.parts.find((n) => n.label === label);
    if (clash) {
      this.fail(
        "INVALID_PIPELINE",
        `Duplicate label '${clash.fullLabel}': a transform with this label was already applied${parent === this.root ? "" : ` inside '${parent.fullLabel}'`}`,
        "Give each transform a label unique among its siblings, e.g. apply('Count words 2', ...).",
      );
    }
    const inputs = collectionsOf(input);
    for (const pcoll of inputs.values()) this.checkOwned(pcoll, label, parent);

    const node: TransformNode = {
      fullLabel: parent === this.root ? label : `${parent.fullLabel}/${label}`,
      label,
      parent,
      parts: [],
      inputs,
      outputs: new Map(),
      primitive: undefined,
      composite: undefined,
    };
    parent.parts.push(node);
    this.scopes.push(node);
    let result: Out;
    try {
      result = transform.expand(input, this.contextFor(node));
    } catch (err) {
      parent.parts.splice(parent.parts.indexOf(node), 1);
      throw err;
    } finally {
      this.scopes.pop();
    }
    if (!node.primitive) {
      for (const [tag, pcoll] of collectionsOf(result)) {
        this.checkOwned(pcoll, label, parent);
        node.outputs.set(tag, pcoll);
      }
    }
    return result;
  }

  private checkOwned(pcoll: PCollection<unknown>, label: string, parent: TransformNode): void {
    if (pcoll.pipeline !== this) {
      const where = parent === this.root ? label : `${parent.fullLabel}/${label}`;
      this.fail(
        "INVALID_PIPELINE",
        `'${where}' was given '${pcoll.name}', a PCollection of another pipeline`,
        "Build each pipeline from its own Create/Read; PCollections cannot cross pipelines.",
      );
    }
  }

  private contextFor(node: TransformNode): ExpandContext {
    return {
      node,
      primitive: (spec: PrimitiveSpec) => {
        node.primitive = spec;
        for (const pcoll of node.inputs.values()) pcoll.consumers.push(node);
      },
      composite: (spec: CompositeSpec) => {
        node.composite = spec;
      },
      output: <T>(tag: string, coder: Coder<T>, windowing: WindowingStrategy): PCollection<T> => {
        const pcoll = new PCollection<T>(this, `pc${this.nextId++}`, node, tag, coder, windowing);
        node.outputs.set(tag, pcoll as PCollection<unknown>);
        this.collections.push(pcoll as PCollection<unknown>);
        return pcoll;
      },
      sideInput: (tag: string, pcoll: PCollection<unknown>) => {
        this.checkOwned(pcoll, node.label, node.parent ?? this.root);
        node.inputs.set(tag, pcoll);
      },
      fail: (message: string, hint: string): never =>
        this.fail("INVALID_PIPELINE", `${node.fullLabel}: ${message}`, hint),
    };
  }
}

/**
 * A digest of a pipeline's shape: unique names, what each transform is, and how PCollections
 * connect. A process that rebuilds a pipeline from its file (a portable worker, a direct-runner
 * thread) checks that it built the same one.
 */
export function pipelineFingerprint(pipeline: Pipeline): string {
  const h = createHash("sha256");
  const walk = (node: TransformNode): void => {
    h.update(`${node.fullLabel}|${node.primitive?.kind ?? ""}|${node.composite?.kind ?? ""}|`);
    for (const [tag, p] of node.inputs) h.update(`<${tag}=${p.id}:${p.coder.urn}`);
    for (const [tag, p] of node.outputs) h.update(`>${tag}=${p.id}:${p.coder.urn}`);
    h.update("\n");
    for (const part of node.parts) walk(part);
  };
  walk(pipeline.root);
  return h.digest("hex").slice(0, 32);
}
