/**
 * Translation of a constructed pipeline into a Runner API `Pipeline` proto: every transform
 * (composites keep their structure, with the user's labels as unique names), PCollections, coders,
 * windowing strategies and the SDK environment. Standard URNs come from the proto annotations.
 *
 * User code is referenced, not serialised: a ParDo's DoFn spec carries the transform's unique
 * name, and the worker finds the DoFn in the pipeline it rebuilds from the same program.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { DurationSchema, TimestampSchema } from "@bufbuild/protobuf/wkt";
import {
  AccumulationMode_Enum,
  ClosingBehavior_Enum,
  CoderSchema,
  CombinePayloadSchema,
  ComponentsSchema,
  type Environment,
  FunctionSpecSchema,
  IsBounded_Enum,
  MergeStatus_Enum,
  OnTimeBehavior_Enum,
  OutputTime_Enum,
  ParDoPayloadSchema,
  type PCollection as PCollectionProto,
  PCollectionSchema,
  type Pipeline as PipelineProto,
  PipelineSchema,
  type PTransform as PTransformProto,
  PTransformSchema,
  SideInputSchema,
  BagStateSpecSchema,
  type StateSpec as StateSpecProto,
  StateSpecSchema,
  TimeDomain_Enum,
  type TimerFamilySpec as TimerFamilySpecProto,
  TimerFamilySpecSchema,
  type Trigger as TriggerProto,
  TriggerSchema,
  TestStreamPayloadSchema,
  WindowIntoPayloadSchema,
  WindowingStrategySchema,
  type Coder as CoderProto,
  type FunctionSpec,
  type WindowingStrategy as WindowingStrategyProto,
} from "../../model/gen/org/apache/beam/model/pipeline/v1/beam_runner_api_pb.js";
import {
  FixedWindowsPayloadSchema,
  SessionWindowsPayloadSchema,
  SlidingWindowsPayloadSchema,
} from "../../model/gen/org/apache/beam/model/pipeline/v1/standard_window_fns_pb.js";
import { Urns } from "../../model/urns.js";
import { pipelineFingerprint, SluiceUrns, userFnSpec } from "../../harness/refs.js";

export { pipelineFingerprint };
import { encodeToBytes } from "../../sdk/coders/coder.js";
import { timestampToMillis } from "../../sdk/time.js";
import type { Coder } from "../../sdk/coders/coder.js";
import { IterableCoder, JsValueCoder, KvCoder } from "../../sdk/coders/index.js";
import type { AnyCombineFn } from "../../sdk/transforms/combinefn.js";
import type { StatefulSpec, TransformNode } from "../../sdk/graph.js";
import { EXPIRY_TIMER_FAMILY, stateBagCoder } from "../../sdk/state.js";
import { TimerCoder } from "../../sdk/coders/index.js";
import type { BoundedWindow } from "../../sdk/windowing/window.js";
import type { Pipeline } from "../../sdk/pipeline.js";
import type { PCollection } from "../../sdk/pvalue.js";
import type { Trigger } from "../../sdk/windowing/triggers.js";
import type { WindowFn, WindowingStrategy } from "../../sdk/windowing/windowfns.js";

export interface TranslateOptions {
  /** The environment the SDK's transforms run in. */
  readonly environment: Environment;
  /** Its id in the pipeline's components. */
  readonly environmentId?: string;
}

export interface Translation {
  readonly proto: PipelineProto;
  /** Transform id of each graph node. */
  readonly transformIds: ReadonlyMap<TransformNode, string>;
  /** A digest of the pipeline's structure: the worker checks its rebuilt pipeline against it. */
  readonly fingerprint: string;
}

/** Translates `pipeline` into a Runner API proto. */
export function translate(pipeline: Pipeline, options: TranslateOptions): Translation {
  return new Translator(pipeline, options).run();
}

class Translator {
  private readonly transforms: Record<string, PTransformProto> = {};
  private readonly coders: Record<string, CoderProto> = {};
  private readonly coderIds = new Map<Coder<unknown>, string>();
  private readonly coderBySpec = new Map<string, string>();
  private readonly strategies: Record<string, WindowingStrategyProto> = {};
  private readonly strategyIds = new Map<string, string>();
  private readonly transformIds = new Map<TransformNode, string>();
  private readonly envId: string;
  /** Whether a ParDo has state or timers (the pipeline then lists the stateful requirement). */
  private stateful = false;
  /** CombinePerKeys translated as their lifted phases. */
  private readonly lifted = new Set<TransformNode>();
  private pcollections: Record<string, PCollectionProto> = {};

  constructor(
    private readonly pipeline: Pipeline,
    private readonly options: TranslateOptions,
  ) {
    this.envId = options.environmentId ?? "sluice";
  }

  run(): Translation {
    const usedIds = new Set<string>();
    let n = 0;
    // PCollections inside a lifted combine's expansion, which the proto replaces with its phases.
    const hidden = new Set<PCollection<unknown>>();
    const hide = (node: TransformNode): void => {
      for (const part of node.parts) {
        for (const p of part.outputs.values()) hidden.add(p);
        hide(part);
      }
    };
    const assign = (node: TransformNode): void => {
      const base = `ref_${node.fullLabel.replace(/[^A-Za-z0-9_./-]+/g, "_")}`;
      let id = base;
      while (usedIds.has(id)) id = `${base}_${++n}`;
      usedIds.add(id);
      this.transformIds.set(node, id);
      if (liftable(node)) {
        hide(node);
        for (const p of node.outputs.values()) hidden.delete(p);
        this.lifted.add(node);
      } else node.parts.forEach(assign);
    };
    this.pipeline.root.parts.forEach(assign);
    this.pcollections = {};
    for (const node of this.transformIds.keys()) this.transforms[this.transformIds.get(node)!] = this.transform(node);

    const pcollections = this.pcollections;
    for (const p of this.pipeline.pcollections) {
      if (hidden.has(p)) continue;
      pcollections[p.id] = this.pcollection(p.name, p.coder, p);
    }
    const proto = create(PipelineSchema, {
      components: create(ComponentsSchema, {
        transforms: this.transforms,
        pcollections,
        windowingStrategies: this.strategies,
        coders: this.coders,
        environments: { [this.envId]: this.options.environment },
      }),
      rootTransformIds: this.pipeline.root.parts.map((p) => this.transformIds.get(p)!),
      // A runner refuses a pipeline using state or timers unless it says so.
      requirements: this.stateful ? [Urns.requirements.requiresStatefulProcessing] : [],
    });
    return { proto, transformIds: this.transformIds, fingerprint: pipelineFingerprint(this.pipeline) };
  }

  private pcollection(name: string, coder: Coder<unknown>, like: PCollection<unknown>): PCollectionProto {
    return create(PCollectionSchema, {
      uniqueName: name,
      coderId: this.coder(coder),
      isBounded: like.isBounded ? IsBounded_Enum.BOUNDED : IsBounded_Enum.UNBOUNDED,
      windowingStrategyId: this.strategy(like.windowing),
    });
  }

  /**
   * A CombinePerKey lifted as Beam Python's SDK lifts it before submitting (Flink's job server does
   * not): Precombine (one accumulator per key and window per bundle, in the SDK), GroupByKey of
   * the accumulators, MergeAccumulators and ExtractOutputs, each naming the combine's fn. Only
   * the accumulators cross the shuffle.
   */
  private liftedPhases(node: TransformNode, id: string, fn: AnyCombineFn): string[] {
    const input = node.inputs.get("main")!;
    const output = [...node.outputs.values()][0]!;
    const keyCoder = input.coder.components[0]!;
    const accCoder = (fn.accumulatorCoder ?? JsValueCoder) as Coder<unknown>;
    const accs = new KvCoder(keyCoder, accCoder) as Coder<unknown>;
    const grouped = new KvCoder(keyCoder, new IterableCoder(accCoder)) as Coder<unknown>;
    const pcoll = (suffix: string, coder: Coder<unknown>): string => {
      const pid = `${id}/${suffix}`;
      this.pcollections[pid] = this.pcollection(`${node.fullLabel}/${suffix}`, coder, input);
      return pid;
    };
    const precombined = pcoll("Precombine.out", accs);
    const groupedId = pcoll("GroupByKey.out", grouped);
    const merged = pcoll("MergeAccumulators.out", accs);
    const payload = toBinary(
      CombinePayloadSchema,
      create(CombinePayloadSchema, {
        combineFn: userFnSpec(SluiceUrns.combineFn, { transform: node.fullLabel }),
        accumulatorCoderId: this.coder(accCoder),
      }),
    );
    const phase = (name: string, urn: string, from: string, to: string, sdk: boolean): string => {
      const pid = `${id}/${name}`;
      this.transforms[pid] = create(PTransformSchema, {
        uniqueName: `${node.fullLabel}/${name}`,
        spec: create(FunctionSpecSchema, sdk ? { urn, payload } : { urn }),
        inputs: { [sdk ? "main" : "input"]: from },
        outputs: { out: to },
        environmentId: sdk ? this.envId : "",
      });
      return pid;
    };
    const T = Urns.transforms;
    return [
      phase("Precombine", T.combinePerKeyPrecombine, input.id, precombined, true),
      phase("GroupByKey", T.groupByKey, precombined, groupedId, false),
      phase("MergeAccumulators", T.combinePerKeyMergeAccumulators, groupedId, merged, true),
      phase("ExtractOutputs", T.combinePerKeyExtractOutputs, merged, output.id, true),
    ];
  }

  private ids(map: ReadonlyMap<string, PCollection<unknown>>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [tag, p] of map) out[tag] = p.id;
    return out;
  }

  private transform(node: TransformNode): PTransformProto {
    const t = create(PTransformSchema, {
      uniqueName: node.fullLabel,
      subtransforms: node.parts.map((p) => this.transformIds.get(p)!),
      inputs: this.ids(node.inputs),
      outputs: this.ids(node.outputs),
    });
    const spec = node.primitive;
    if (spec) {
      switch (spec.kind) {
        case "impulse":
          t.spec = create(FunctionSpecSchema, { urn: Urns.transforms.impulse });
          break;
        case "test_stream": {
          // The runner executes the script; elements travel encoded with the output's coder.
          const out = [...node.outputs.values()][0]!;
          const coder = out.coder;
          t.spec = create(FunctionSpecSchema, {
            urn: Urns.transforms.testStream,
            payload: toBinary(
              TestStreamPayloadSchema,
              create(TestStreamPayloadSchema, {
                coderId: this.coder(coder),
                events: spec.events.map((e) =>
                  e.kind === "elements"
                    ? {
                        event: {
                          case: "elementEvent" as const,
                          value: { elements: e.elements.map((x) => ({ encodedElement: encodeToBytes(coder, x.value), timestamp: timestampToMillis(x.timestamp) })) },
                        },
                      }
                    : e.kind === "watermark"
                      ? { event: { case: "watermarkEvent" as const, value: { newWatermark: timestampToMillis(e.to) } } }
                      : { event: { case: "processingTimeEvent" as const, value: { advanceDuration: BigInt(Math.round(e.advanceBy)) } } },
                ),
              }),
            ),
          });
          break;
        }
        case "group_by_key":
          t.spec = create(FunctionSpecSchema, { urn: Urns.transforms.groupByKey });
          t.environmentId = "";
          break;
        case "flatten":
          t.spec = create(FunctionSpecSchema, { urn: Urns.transforms.flatten });
          break;
        case "assign_windows":
          t.spec = create(FunctionSpecSchema, {
            urn: Urns.transforms.assignWindows,
            payload: toBinary(WindowIntoPayloadSchema, create(WindowIntoPayloadSchema, { windowFn: this.windowFnSpec(spec.windowFn) })),
          });
          t.environmentId = this.envId;
          break;
        case "pardo": {
          const sideInputs: Record<string, ReturnType<typeof create<typeof SideInputSchema>>> = {};
          for (const name of Object.keys(spec.sideInputs)) {
            sideInputs[`side:${name}`] = create(SideInputSchema, {
              accessPattern: create(FunctionSpecSchema, { urn: Urns.sideInputs.iterable }),
              viewFn: userFnSpec(SluiceUrns.viewFn, { transform: node.fullLabel, sideInput: name }),
              windowMappingFn: userFnSpec(SluiceUrns.windowMappingFn, { transform: node.fullLabel, sideInput: name }),
            });
          }
          t.spec = create(FunctionSpecSchema, {
            urn: Urns.transforms.parDo,
            payload: toBinary(
              ParDoPayloadSchema,
              create(ParDoPayloadSchema, {
                doFn: userFnSpec(SluiceUrns.doFn, { transform: node.fullLabel }),
                sideInputs,
                ...(spec.stateful ? this.statefulPayload(node, spec.stateful, spec.fn.onWindowExpiration !== undefined) : {}),
              }),
            ),
          });
          t.environmentId = this.envId;
          break;
        }
      }
    } else if (node.composite?.kind === "combine_per_key") {
      const fn = node.composite.combineFn;
      if (this.lifted.has(node)) t.subtransforms = this.liftedPhases(node, this.transformIds.get(node)!, fn);
      t.spec = create(FunctionSpecSchema, {
        urn: Urns.transforms.combinePerKey,
        payload: toBinary(
          CombinePayloadSchema,
          create(CombinePayloadSchema, {
            combineFn: userFnSpec(SluiceUrns.combineFn, { transform: node.fullLabel }),
            accumulatorCoderId: this.coder(fn.accumulatorCoder ?? JsValueCoder),
          }),
        ),
      });
      t.environmentId = this.envId;
    } else if (node.composite?.kind === "reshuffle") {
      t.spec = create(FunctionSpecSchema, { urn: Urns.transforms.reshuffle });
    }
    return t;
  }

  /**
   * A stateful DoFn's state and timer declarations: every state kind as bag user state (the
   * one protocol every portable runner serves; the harness builds the kinds on it), each timer a
   * family coded as beam:coder:timer:v1 of the input's key and window coders, and an event-time
   * family for onWindowExpiration.
   */
  private statefulPayload(node: TransformNode, st: StatefulSpec, expiry: boolean): { stateSpecs: Record<string, StateSpecProto>; timerFamilySpecs: Record<string, TimerFamilySpecProto> } {
    this.stateful = true;
    const input = [...node.inputs].find(([tag]) => !tag.startsWith("side:"))![1];
    const timerCoder = this.coder(new TimerCoder(st.keyCoder, input.windowing.windowFn.windowCoder as Coder<BoundedWindow>) as Coder<unknown>);
    const stateSpecs: Record<string, StateSpecProto> = {};
    for (const [name, spec] of Object.entries(st.state)) {
      stateSpecs[name] = create(StateSpecSchema, {
        spec: { case: "bagSpec", value: create(BagStateSpecSchema, { elementCoderId: this.coder(stateBagCoder(spec)) }) },
        protocol: create(FunctionSpecSchema, { urn: Urns.userStates.bag }),
      });
    }
    const timerFamilySpecs: Record<string, TimerFamilySpecProto> = {};
    const family = (domain: TimeDomain_Enum): TimerFamilySpecProto => create(TimerFamilySpecSchema, { timeDomain: domain, timerFamilyCoderId: timerCoder });
    for (const [name, spec] of Object.entries(st.timers)) {
      timerFamilySpecs[name] = family(spec.domain === "EVENT_TIME" ? TimeDomain_Enum.EVENT_TIME : TimeDomain_Enum.PROCESSING_TIME);
    }
    if (expiry) timerFamilySpecs[EXPIRY_TIMER_FAMILY] = family(TimeDomain_Enum.EVENT_TIME);
    return { stateSpecs, timerFamilySpecs };
  }

  /** Registers a coder and its components; structurally equal coders share one id. */
  private coder(coder: Coder<unknown>): string {
    const known = this.coderIds.get(coder);
    if (known) return known;
    const componentIds = coder.components.map((c) => this.coder(c));
    const key = `${coder.urn}|${Buffer.from(coder.payload).toString("base64")}|${componentIds.join(",")}`;
    let id = this.coderBySpec.get(key);
    if (!id) {
      id = `c${this.coderBySpec.size}`;
      this.coderBySpec.set(key, id);
      this.coders[id] = create(CoderSchema, {
        spec: create(FunctionSpecSchema, { urn: coder.urn, payload: coder.payload }),
        componentCoderIds: componentIds,
      });
    }
    this.coderIds.set(coder, id);
    return id;
  }

  private windowFnSpec(fn: WindowFn): FunctionSpec {
    const duration = (ms: number) => create(DurationSchema, { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 });
    const instant = (ms: number) => create(TimestampSchema, { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 });
    const p = fn.params as Readonly<Record<string, number>>;
    switch (fn.kind) {
      case "global":
        return create(FunctionSpecSchema, { urn: Urns.windowFns.global });
      case "fixed":
        return create(FunctionSpecSchema, {
          urn: Urns.windowFns.fixed,
          payload: toBinary(FixedWindowsPayloadSchema, create(FixedWindowsPayloadSchema, { size: duration(p.size!), offset: instant(p.offset!) })),
        });
      case "sliding":
        return create(FunctionSpecSchema, {
          urn: Urns.windowFns.sliding,
          payload: toBinary(
            SlidingWindowsPayloadSchema,
            create(SlidingWindowsPayloadSchema, { size: duration(p.size!), period: duration(p.period!), offset: instant(p.offset!) }),
          ),
        });
      case "sessions":
        return create(FunctionSpecSchema, {
          urn: Urns.windowFns.sessions,
          payload: toBinary(SessionWindowsPayloadSchema, create(SessionWindowsPayloadSchema, { gapSize: duration(p.gap!) })),
        });
    }
  }

  private strategy(w: WindowingStrategy): string {
    const fn = w.windowFn;
    const key = `${fn.kind}|${JSON.stringify(fn.params)}|${w.timestampCombiner}|${w.allowedLateness}|${JSON.stringify(w.trigger)}|${w.accumulationMode}`;
    const known = this.strategyIds.get(key);
    if (known) return known;
    const id = `w${this.strategyIds.size}`;
    this.strategyIds.set(key, id);
    this.strategies[id] = create(WindowingStrategySchema, {
      windowFn: this.windowFnSpec(fn),
      mergeStatus: fn.isMerging ? MergeStatus_Enum.NEEDS_MERGE : MergeStatus_Enum.NON_MERGING,
      windowCoderId: this.coder(fn.windowCoder as Coder<unknown>),
      trigger: triggerProto(w.trigger),
      accumulationMode: w.accumulationMode === "ACCUMULATING" ? AccumulationMode_Enum.ACCUMULATING : AccumulationMode_Enum.DISCARDING,
      outputTime:
        w.timestampCombiner === "EARLIEST"
          ? OutputTime_Enum.EARLIEST_IN_PANE
          : w.timestampCombiner === "LATEST"
            ? OutputTime_Enum.LATEST_IN_PANE
            : OutputTime_Enum.END_OF_WINDOW,
      closingBehavior: ClosingBehavior_Enum.EMIT_IF_NONEMPTY,
      // Beam's defaults (Java's WindowingStrategy, Python's Windowing): an on-time pane always, even empty after
      // early firings; a final pane at window expiry only when non-empty.
      onTimeBehavior: OnTimeBehavior_Enum.FIRE_ALWAYS,
      allowedLateness: BigInt(w.allowedLateness),
      assignsToOneWindow: fn.kind !== "sliding",
      environmentId: this.envId,
    });
    return id;
  }
}

/**
 * Whether a CombinePerKey is lifted: non-merging windows (a merged window's accumulators would be
 * split across bundles' precombines of its parts, which Beam allows, but Sluice keeps the plain
 * expansion there as the direct runner does), the default trigger (every pane is the on-time one)
 * and end-of-window timestamps (a precombined accumulator carries its window's end).
 */
function liftable(node: TransformNode): boolean {
  if (node.composite?.kind !== "combine_per_key") return false;
  const input = node.inputs.get("main");
  if (input === undefined || input.coder.components.length !== 2) return false;
  const w = input.windowing;
  return !w.windowFn.isMerging && w.trigger.kind === "default" && w.timestampCombiner === "END_OF_WINDOW";
}

/** A trigger as the Runner API's Trigger message, which Flink's and Prism's groupings execute. */
export function triggerProto(t: Trigger): TriggerProto {
  const many = (ts: readonly Trigger[]): TriggerProto[] => ts.map(triggerProto);
  switch (t.kind) {
    case "default":
      return create(TriggerSchema, { trigger: { case: "default", value: {} } });
    case "never":
      return create(TriggerSchema, { trigger: { case: "never", value: {} } });
    case "after_watermark":
      return create(TriggerSchema, {
        trigger: {
          case: "afterEndOfWindow",
          value: { ...(t.early ? { earlyFirings: triggerProto(t.early) } : {}), ...(t.late ? { lateFirings: triggerProto(t.late) } : {}) },
        },
      });
    case "after_processing_time":
      return create(TriggerSchema, {
        trigger: {
          case: "afterProcessingTime",
          value: { timestampTransforms: [{ timestampTransform: { case: "delay", value: { delayMillis: BigInt(Math.round(t.delayMs)) } } }] },
        },
      });
    case "after_count":
      return create(TriggerSchema, { trigger: { case: "elementCount", value: { elementCount: t.count } } });
    case "repeatedly":
      return create(TriggerSchema, { trigger: { case: "repeat", value: { subtrigger: triggerProto(t.subtrigger) } } });
    case "after_each":
      return create(TriggerSchema, { trigger: { case: "afterEach", value: { subtriggers: many(t.subtriggers) } } });
    case "after_any":
      return create(TriggerSchema, { trigger: { case: "afterAny", value: { subtriggers: many(t.subtriggers) } } });
    case "after_all":
      return create(TriggerSchema, { trigger: { case: "afterAll", value: { subtriggers: many(t.subtriggers) } } });
    case "or_finally":
      return create(TriggerSchema, { trigger: { case: "orFinally", value: { main: triggerProto(t.main), finally: triggerProto(t.until) } } });
  }
}
