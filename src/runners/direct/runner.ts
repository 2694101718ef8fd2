/**
 * The direct runner: executes a pipeline in this process. It wires one operator per primitive
 * (plus natively executed composites: lifted CombinePerKey, Reshuffle, WriteToText) and pushes
 * elements from the roots. Groupings and side inputs are the only barriers; everything between
 * them runs fused, element by element, without encoding.
 */
import { SluiceError } from "../../internal/errors.js";
import type { TransformNode } from "../../sdk/graph.js";
import { MetricResults } from "../../sdk/metrics.js";
import type { Pipeline, PipelineResult, PipelineRunner } from "../../sdk/pipeline.js";
import type { PCollection } from "../../sdk/pvalue.js";
import type { TextSink } from "../../sdk/io/text.js";
import {
  AssignWindowsOperator,
  ForwardOperator,
  GLOBAL_META,
  GroupOperator,
  Outputs,
  ParDoOperator,
  type Receiver,
  SideInputCollector,
  StepMetrics,
  TextSinkOperator,
} from "./operators.js";

export interface DirectRunnerOptions {
  /** Elements per bundle emitted by a grouping (default 10,000). */
  readonly bundleSize?: number;
  /** Execute WriteToText, Reshuffle and CombinePerKey natively (default true); false runs their expansions. */
  readonly nativeComposites?: boolean;
}

interface Plan {
  readonly roots: { node: TransformNode; out: Outputs }[];
  readonly pardos: ParDoOperator[];
  readonly sinks: TextSinkOperator[];
  readonly metrics: Map<string, StepMetrics>;
  readonly sideCollectors: Map<PCollection<unknown>, SideInputCollector>;
}

export class DirectRunner implements PipelineRunner {
  readonly name = "direct";
  private epoch = 0;

  constructor(private readonly options: DirectRunnerOptions = {}) {}

  async run(pipeline: Pipeline): Promise<PipelineResult> {
    const started = Date.now();
    const plan = this.plan(pipeline);
    // Interrupted (Ctrl-C): remove temporary shards so nothing half-written stays, then die of the signal.
    const onSignal = (signal: NodeJS.Signals): void => {
      for (const sink of plan.sinks) sink.abortNow();
      process.kill(process.pid, signal);
    };
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    let failure: unknown;
    try {
      for (const sink of plan.sinks) await sink.prepare();
      for (const root of plan.roots) {
        const pending: Promise<void>[] = [];
        root.out.emit(new Uint8Array(0), GLOBAL_META, pending);
        await Promise.all(pending);
        await root.out.flush(++this.epoch);
        await root.out.finish();
      }
      const unfinished = plan.pardos.find((p) => p.sides.some((s) => !s.collector.ready));
      if (unfinished) {
        throw new SluiceError("INTERNAL", "a side input never completed", { hint: "This is a bug in the direct runner; please report it." });
      }
      for (const sink of plan.sinks) await sink.commit();
    } catch (err) {
      failure = err;
    }
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    const teardownErrors: unknown[] = [];
    for (const op of plan.pardos) {
      try {
        await op.teardown();
      } catch (err) {
        teardownErrors.push(err);
      }
    }
    if (failure !== undefined) {
      for (const sink of plan.sinks) await sink.abort().catch(() => undefined);
      throw SluiceError.from(failure);
    }
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

  private plan(pipeline: Pipeline): Plan {
    const native = this.options.nativeComposites ?? true;
    const bundleSize = this.options.bundleSize ?? 10_000;
    const nextEpoch = (): number => ++this.epoch;
    const leaves = pipeline.leaves((spec, node) => {
      if (!native) return false;
      if (spec.kind === "combine_per_key") {
        const input = node.inputs.get("main");
        return input !== undefined && !input.windowing.windowFn.isMerging;
      }
      return true;
    });

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
        c = new SideInputCollector(p.windowing, 1);
        sideCollectors.set(p, c);
        outputs(p).receivers.push(c);
      }
      return c;
    };

    const roots: Plan["roots"] = [];
    const pardos: ParDoOperator[] = [];
    const sinks: TextSinkOperator[] = [];

    for (const node of leaves) {
      const ins = mainInputs(node);
      const mainOut = (): Outputs => outputs(node.outputs.get("main")!);
      let op: Receiver | undefined;
      const spec = node.primitive;
      const comp = node.composite;
      if (spec?.kind === "impulse") {
        roots.push({ node, out: mainOut() });
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
        });
        pardos.push(pardo);
        op = pardo;
      } else if (spec?.kind === "flatten" || comp?.kind === "reshuffle") {
        op = new ForwardOperator(mainOut(), ins.length);
      } else if (spec?.kind === "assign_windows") {
        op = new AssignWindowsOperator(spec.windowFn, mainOut(), ins.length);
      } else if (spec?.kind === "group_by_key" || comp?.kind === "combine_per_key") {
        const input = ins[0]!;
        op = new GroupOperator({
          step: node.fullLabel,
          keyCoder: input.coder.components[0]!,
          windowing: input.windowing,
          out: mainOut(),
          inputs: ins.length,
          nextEpoch,
          bundleSize,
          ...(comp?.kind === "combine_per_key" ? { combineFn: comp.combineFn } : {}),
          metrics: stepMetrics(node),
        });
      } else if (comp?.kind === "write_text") {
        const sink = new TextSinkOperator(node.fullLabel, comp.sink as TextSink, ins.length);
        sinks.push(sink);
        op = sink;
      } else {
        throw new SluiceError("UNSUPPORTED", `The direct runner cannot execute '${node.fullLabel}'`, {
          hint: "This transform kind is not supported by the direct runner.",
        });
      }
      for (const p of ins) outputs(p).receivers.push(op);
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
    roots.sort((a, b) => Number(feedsSide(b.node)) - Number(feedsSide(a.node)));
    return { roots, pardos, sinks, metrics, sideCollectors };
  }
}
