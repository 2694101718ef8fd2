/**
 * Executes ProcessBundleDescriptors: the fused stages a runner hands the SDK. Each descriptor
 * becomes a graph of the direct runner's operators (the same ParDo machinery, lifecycle and
 * metrics), fed by data-plane sources and draining into data-plane sinks. User code is found by
 * unique name in the pipeline the worker rebuilt from the user's program.
 */
import { create, fromBinary } from "@bufbuild/protobuf";
import { SluiceError } from "../internal/errors.js";
import type { MonitoringInfo } from "../model/gen/org/apache/beam/model/pipeline/v1/metrics_pb.js";
import {
  type ProcessBundleDescriptor,
  StateKeySchema,
  StateKey_IterableSideInputSchema,
} from "../model/gen/org/apache/beam/model/fn_execution/v1/beam_fn_api_pb.js";
import { RemoteGrpcPortSchema } from "../model/gen/org/apache/beam/model/fn_execution/v1/beam_fn_api_pb.js";
import {
  CombinePayloadSchema,
  ParDoPayloadSchema,
  type PTransform as PTransformProto,
  TimeDomain_Enum,
} from "../model/gen/org/apache/beam/model/pipeline/v1/beam_runner_api_pb.js";
import { Urns } from "../model/urns.js";
import { readUserFnRef } from "./refs.js";
import {
  AssignWindowsOperator,
  ForwardOperator,
  type Meta,
  Outputs,
  type ParDoConfig,
  ParDoOperator,
  type Receiver,
  type SideInputBinding,
  type SideInputSource,
  StepMetrics,
} from "../runners/direct/operators.js";
import { KeyTable } from "../runners/direct/keytable.js";
import { ByteReader, ByteWriter } from "../sdk/coders/bytes.js";
import type { Coder } from "../sdk/coders/coder.js";
import { coderFromUrn } from "../sdk/coders/registry.js";
import type { AnyDoFn, FinishBundleContext } from "../sdk/dofn.js";
import type { StatefulSpec, TransformNode } from "../sdk/graph.js";
import type { TimerCoder } from "../sdk/coders/windowed.js";
import type { StateSpecData, TimeDomain } from "../sdk/state.js";
import { FnStateBackend, type StateClient } from "./user_state.js";
import type { Pipeline } from "../sdk/pipeline.js";
import type { AnyCombineFn } from "../sdk/transforms/combinefn.js";
import type { BoundedWindow, WindowedValue } from "../sdk/windowing/window.js";
import type { WindowFn } from "../sdk/windowing/windowfns.js";
import { monitoringInfos } from "./monitoring.js";

type Pending = void | Promise<void>;

/** Totals of what crossed the data plane in this process (for benchmarks and progress). */
export const dataPlaneStats = { elementsIn: 0, bytesIn: 0, elementsOut: 0, bytesOut: 0 };

/** Where a bundle's outputs go: the data plane, buffered per (instruction, transform). */
export interface DataSink {
  /** Queues bytes for the runner (in order); never waits for the network. */
  send(transformId: string, bytes: Uint8Array): void;
  /** Queues the end-of-data marker. */
  close(transformId: string): void;
  /** Queues encoded timers of a transform's timer family for the runner. */
  sendTimers(transformId: string, timerFamilyId: string, bytes: Uint8Array): void;
  /** Queues the end marker of a transform's timer family. */
  closeTimers(transformId: string, timerFamilyId: string): void;
}

/** Reads state (side inputs) for a bundle: the whole value for a key, following continuations. */
export type StateReader = (key: ReturnType<typeof create<typeof StateKeySchema>>) => Promise<Uint8Array>;
export type { StateClient };

/** The user's pipeline, indexed by unique name. */
export class PipelineIndex {
  private readonly byName = new Map<string, TransformNode>();
  constructor(readonly pipeline: Pipeline) {
    const walk = (n: TransformNode): void => {
      if (n !== pipeline.root) this.byName.set(n.fullLabel, n);
      n.parts.forEach(walk);
    };
    walk(pipeline.root);
  }
  node(uniqueName: string): TransformNode {
    const n = this.byName.get(uniqueName);
    if (!n) {
      throw new SluiceError("INVALID_PIPELINE", `The runner asked for transform '${uniqueName}', which the worker's pipeline does not have`, {
        hint: "The worker rebuilt a different pipeline than was submitted: make the pipeline's construction deterministic (no labels from random values or time).",
      });
    }
    return n;
  }
}

/** One descriptor's operators; processes one bundle at a time and can be reused. */
export class BundleProcessor {
  private readonly coders = new Map<string, Coder<unknown>>();
  private readonly sources = new Map<string, { out: Outputs; coder: Coder<WindowedValue<unknown>> }>();
  private readonly pardos: ParDoOperator[] = [];
  private readonly metrics = new Map<string, StepMetrics>();
  /** Transform id by step name, for monitoring infos. */
  private readonly stepIds = new Map<string, string>();
  private readonly sinks: DataSinkOperator[] = [];
  private readonly stateSides: StateSideInput[] = [];
  private epoch = 0;
  private sink: DataSink | undefined;
  private stateClient: StateClient | undefined;
  /** Timer families the runner fires into this descriptor's stateful DoFns, by `transform\0family`. */
  private readonly timerStreams = new Map<string, { op: ParDoOperator; coder: TimerCoder<unknown>; domain: TimeDomain }>();
  /** Timer families the bundle sends to (each closed at the bundle's end). */
  private readonly timerOutputs: string[] = [];
  private readonly stateful: { op: ParDoOperator; backend: FnStateBackend }[] = [];

  constructor(
    readonly descriptor: ProcessBundleDescriptor,
    private readonly index: PipelineIndex,
  ) {
    this.build();
  }

  /** Runs one bundle: feeds `input` (decoded per source transform) through, then flushes and closes sinks. */
  async process(
    input: AsyncIterable<{ transformId: string; timerFamilyId?: string; data: Uint8Array; isLast: boolean }>,
    sink: DataSink,
    state: StateClient,
  ): Promise<MonitoringInfo[]> {
    this.sink = sink;
    this.stateClient = state;
    for (const s of this.stateSides) s.clear();
    // Every data source and every timer family ends with an is_last; sources finish (and with them
    // the bundle's DoFns) only once all have, so timers the runner fires run inside the bundle.
    const open = new Set([...this.sources.keys(), ...this.timerStreams.keys()]);
    for await (const chunk of input) {
      if (chunk.timerFamilyId !== undefined) {
        const id = `${chunk.transformId}\u0000${chunk.timerFamilyId}`;
        const stream = this.timerStreams.get(id);
        if (!stream) throw new SluiceError("INTERNAL", `timers for unknown family ${chunk.timerFamilyId} of ${chunk.transformId}`, { hint: "" });
        const reader = new ByteReader(chunk.data);
        while (!reader.atEnd()) {
          const t = stream.coder.decode(reader, true);
          if (t.clearBit) continue;
          for (const w of t.windows) await stream.op.fireRemoteTimer(t.userKey, w, chunk.timerFamilyId, t.dynamicTimerTag, t.fireTimestamp, t.holdTimestamp, stream.domain);
        }
        if (chunk.isLast) {
          open.delete(id);
          if (open.size === 0) break;
        }
        continue;
      }
      const source = this.sources.get(chunk.transformId);
      if (!source) throw new SluiceError("INTERNAL", `data for unknown source transform ${chunk.transformId}`, { hint: "" });
      if (chunk.data.length > 0) {
        dataPlaneStats.bytesIn += chunk.data.length;
        const reader = new ByteReader(chunk.data);
        const pending: Promise<void>[] = [];
        while (!reader.atEnd()) {
          const wv = source.coder.decode(reader, true);
          dataPlaneStats.elementsIn++;
          source.out.emit(wv.value, wv as Meta, pending);
          if (pending.length > 0) {
            await Promise.all(pending);
            pending.length = 0;
          }
        }
      }
      if (chunk.isLast) {
        open.delete(chunk.transformId);
        await source.out.flush(++this.epoch);
        if (open.size === 0) break;
      }
    }
    for (const source of this.sources.values()) await source.out.finish();
    // State written back and timers sent before the response, as runners require.
    for (const { op, backend } of this.stateful) {
      const rt = op.stateRuntime!;
      await backend.commit(rt.allCells());
      rt.forgetAll();
    }
    for (const id of this.timerOutputs) {
      const [transformId, family] = id.split("\u0000") as [string, string];
      sink.closeTimers(transformId, family);
    }
    for (const s of this.sinks) await s.closeBundle();
    const infos = this.monitoringInfos();
    // Responses carry one bundle's values; the runner adds bundles up.
    for (const m of this.metrics.values()) m.committed.clear();
    return infos;
  }

  /** Current metrics (progress reports and the final response). */
  monitoringInfos(): MonitoringInfo[] {
    return monitoringInfos([...this.metrics.values()], this.stepIds);
  }

  async teardown(): Promise<void> {
    for (const p of this.pardos) await p.teardown();
  }

  private coder(id: string): Coder<unknown> {
    const known = this.coders.get(id);
    if (known) return known;
    const spec = this.descriptor.coders[id];
    if (!spec?.spec) throw new SluiceError("INVALID_PIPELINE", `coder ${id} is missing from the bundle descriptor`, { hint: "" });
    const c = coderFromUrn(
      spec.spec.urn,
      spec.componentCoderIds.map((cid) => this.coder(cid)),
      spec.spec.payload,
    );
    this.coders.set(id, c);
    return c;
  }

  private pcollCoder(pcollId: string): Coder<unknown> {
    const p = this.descriptor.pcollections[pcollId];
    if (!p) throw new SluiceError("INVALID_PIPELINE", `PCollection ${pcollId} is missing from the bundle descriptor`, { hint: "" });
    return this.coder(p.coderId);
  }

  private stepMetrics(id: string, name: string): StepMetrics {
    let m = this.metrics.get(name);
    if (!m) {
      m = new StepMetrics(name);
      this.metrics.set(name, m);
      this.stepIds.set(name, id);
    }
    return m;
  }

  private build(): void {
    const outputs = new Map<string, Outputs>();
    const out = (pcollId: string): Outputs => {
      let o = outputs.get(pcollId);
      if (!o) {
        o = new Outputs();
        outputs.set(pcollId, o);
      }
      return o;
    };
    const single = (t: PTransformProto, what: "inputs" | "outputs"): string => {
      const ids = Object.values(t[what]);
      if (ids.length !== 1) throw new SluiceError("INTERNAL", `${t.uniqueName} has ${ids.length} ${what}`, { hint: "" });
      return ids[0]!;
    };
    // Application order is not known here; operators connect lazily through `out(pcoll)`.
    for (const [id, t] of Object.entries(this.descriptor.transforms)) {
      const urn = t.spec?.urn ?? "";
      const mainInputs = Object.entries(t.inputs).filter(([tag]) => !tag.startsWith("side:"));
      let op: Receiver | undefined;
      if (urn === Urns.transforms.dataSource) {
        const port = fromBinary(RemoteGrpcPortSchema, t.spec!.payload);
        this.sources.set(id, { out: out(single(t, "outputs")), coder: this.coder(port.coderId) as Coder<WindowedValue<unknown>> });
        continue;
      } else if (urn === Urns.transforms.dataSink) {
        const port = fromBinary(RemoteGrpcPortSchema, t.spec!.payload);
        const sinkOp = new DataSinkOperator(id, this.coder(port.coderId) as Coder<WindowedValue<unknown>>, () => this.sink!, mainInputs.length);
        this.sinks.push(sinkOp);
        op = sinkOp;
      } else if (urn === Urns.transforms.parDo) {
        const doFn = fromBinary(ParDoPayloadSchema, t.spec!.payload).doFn;
        const node = this.index.node(readUserFnRef(doFn, t.uniqueName).transform);
        if (node.primitive?.kind !== "pardo") {
          throw new SluiceError("INVALID_PIPELINE", `'${t.uniqueName}' is not a ParDo in the worker's pipeline`, { hint: "" });
        }
        const spec = node.primitive;
        const sides: SideInputBinding[] = Object.entries(spec.sideInputs).map(([name, view]) => {
          const tag = `side:${name}`;
          const pcollId = t.inputs[tag];
          if (pcollId === undefined) throw new SluiceError("INTERNAL", `side input ${tag} of ${t.uniqueName} has no PCollection`, { hint: "" });
          const strategy = this.descriptor.windowingStrategies[this.descriptor.pcollections[pcollId]!.windowingStrategyId]!;
          const source = new StateSideInput(
            id,
            tag,
            this.pcollCoder(pcollId),
            this.coder(strategy.windowCoderId) as Coder<BoundedWindow>,
            view.pcoll.windowing.windowFn,
            (key) => this.stateClient!.get(key),
          );
          this.stateSides.push(source);
          return { name, view, collector: source };
        });
        // As on the direct runner: finishBundle output needs an explicit window on windowed input.
        const windowedInput = mainInputs.some(([, pcollId]) => {
          const strategy = this.descriptor.windowingStrategies[this.descriptor.pcollections[pcollId]?.windowingStrategyId ?? ""];
          return strategy?.windowFn?.urn !== "beam:window_fn:global_windows:v1";
        });
        const stateful = spec.stateful ? this.statefulConfig(id, t, node, spec.stateful, mainInputs[0]![1]) : undefined;
        const pardo = this.pardo(id, t, spec.fn, sides, spec.observesWindow, spec.exceptionHandling, mainInputs.length, out, windowedInput, stateful);
        if (stateful) this.wireTimers(id, t, pardo, stateful.backend as FnStateBackend);
        op = pardo;
      } else if (urn === Urns.transforms.flatten) {
        op = new ForwardOperator(out(single(t, "outputs")), mainInputs.length);
      } else if (urn === Urns.transforms.assignWindows) {
        const node = this.index.node(t.uniqueName);
        if (node.primitive?.kind !== "assign_windows") {
          throw new SluiceError("INVALID_PIPELINE", `'${t.uniqueName}' is not a WindowInto in the worker's pipeline`, { hint: "" });
        }
        op = new AssignWindowsOperator(node.primitive.windowFn, out(single(t, "outputs")), mainInputs.length);
      } else if (COMBINE_PHASES.has(urn)) {
        const payload = fromBinary(CombinePayloadSchema, t.spec!.payload);
        const node = this.index.node(readUserFnRef(payload.combineFn, t.uniqueName).transform);
        const fn = combineFnOf(node, t.uniqueName);
        const inputCoder = this.pcollCoder(mainInputs[0]![1]);
        const windowFn = node.inputs.get("main")?.windowing.windowFn;
        if (windowFn === undefined) throw new SluiceError("INTERNAL", `'${t.uniqueName}' has no main input in the worker's pipeline`, { hint: "" });
        op = this.pardo(id, t, combinePhase(urn, fn, inputCoder, windowFn), [], urn === Urns.transforms.combinePerKeyPrecombine, false, mainInputs.length, out);
      } else {
        throw new SluiceError("UNSUPPORTED", `The Sluice harness cannot execute '${t.uniqueName}' (${urn || "no URN"})`, {
          hint: "The runner sent the SDK a transform it does not implement; it belongs on the known-unsupported list.",
        });
      }
      for (const [, pcollId] of mainInputs) out(pcollId).receivers.push(op);
    }
  }

  private pardo(
    id: string,
    t: PTransformProto,
    fn: AnyDoFn,
    sides: SideInputBinding[],
    observesWindow: boolean,
    exceptionHandling: boolean,
    inputs: number,
    out: (pcollId: string) => Outputs,
    windowedInput = false,
    stateful?: ParDoConfig["stateful"],
  ): ParDoOperator {
    const outs = new Map<string, Outputs>();
    const entries = Object.entries(t.outputs);
    // Transforms a runner made (lifted combine phases) have one output under a tag of its choosing.
    if (entries.length === 1 && !("main" in t.outputs)) outs.set("main", out(entries[0]![1]));
    else for (const [tag, pcollId] of entries) outs.set(tag, out(pcollId));
    const op = new ParDoOperator({
      step: t.uniqueName,
      fn,
      outputs: outs,
      sides,
      observesWindow,
      exceptionHandling,
      inputs,
      metrics: this.stepMetrics(id, t.uniqueName),
      windowedInput,
      ...(stateful ? { stateful } : {}),
    });
    this.pardos.push(op);
    return op;
  }

  /**
   * A stateful DoFn's state and timers as the runner keeps them: keys and windows encoded with the
   * descriptor's coders (the runner may have length-prefixed them), bag coders and timer family
   * coders from the descriptor's ParDo payload.
   */
  private statefulConfig(id: string, t: PTransformProto, node: TransformNode, st: StatefulSpec, inputPcollId: string): NonNullable<ParDoConfig["stateful"]> {
    const payload = fromBinary(ParDoPayloadSchema, t.spec!.payload);
    const inputCoder = this.pcollCoder(inputPcollId);
    const pc = this.descriptor.pcollections[inputPcollId]!;
    const windowCoder = this.coder(this.descriptor.windowingStrategies[pc.windowingStrategyId]!.windowCoderId) as Coder<BoundedWindow>;
    const state = new Map<string, { spec: StateSpecData; coder: Coder<unknown> }>();
    for (const [name, spec] of Object.entries(st.state)) {
      const proto = payload.stateSpecs[name];
      const coderId = proto?.spec.case === "bagSpec" ? proto.spec.value.elementCoderId : undefined;
      if (coderId === undefined) throw new SluiceError("INVALID_PIPELINE", `state '${name}' of '${t.uniqueName}' is not bag state in the bundle descriptor`, { hint: "" });
      state.set(name, { spec, coder: this.coder(coderId) });
    }
    const timerCoders = new Map<string, TimerCoder<unknown>>();
    for (const [name, fam] of Object.entries(payload.timerFamilySpecs)) timerCoders.set(name, this.coder(fam.timerFamilyCoderId) as TimerCoder<unknown>);
    const input = [...node.inputs].find(([tag]) => !tag.startsWith("side:"))![1];
    const backend = new FnStateBackend({
      transformId: id,
      keyCoder: inputCoder.components[0]!,
      windowCoder,
      state,
      timerCoders,
      io: () => ({ state: this.stateClient!, timers: this.sink! }),
    });
    // Processing time is the worker's clock (setRelative); the runner schedules the timers.
    return { spec: st, windowing: input.windowing, backend, wallClock: () => Date.now() };
  }

  private wireTimers(id: string, t: PTransformProto, op: ParDoOperator, backend: FnStateBackend): void {
    const payload = fromBinary(ParDoPayloadSchema, t.spec!.payload);
    for (const [name, fam] of Object.entries(payload.timerFamilySpecs)) {
      const key = `${id}\u0000${name}`;
      const domain: TimeDomain = fam.timeDomain === TimeDomain_Enum.PROCESSING_TIME ? "PROCESSING_TIME" : "EVENT_TIME";
      this.timerStreams.set(key, { op, coder: this.coder(fam.timerFamilyCoderId) as TimerCoder<unknown>, domain });
      this.timerOutputs.push(key);
    }
    this.stateful.push({ op, backend });
  }
}

const COMBINE_PHASES: ReadonlySet<string> = new Set([
  Urns.transforms.combinePerKeyPrecombine,
  Urns.transforms.combinePerKeyMergeAccumulators,
  Urns.transforms.combinePerKeyExtractOutputs,
  Urns.transforms.combinePerKeyConvertToAccumulators,
  Urns.transforms.combineGroupedValues,
]);

function combineFnOf(node: TransformNode, phase: string): AnyCombineFn {
  if (node.composite?.kind !== "combine_per_key") {
    throw new SluiceError("INVALID_PIPELINE", `'${phase}' does not belong to a CombinePerKey in the worker's pipeline`, { hint: "" });
  }
  return node.composite.combineFn;
}

/** Most keys a precombine holds per window in a bundle before it emits what it has. */
const PRECOMBINE_KEYS = 100_000;

/** The combine phases a runner asks the SDK to run when it lifts a CombinePerKey, as DoFns. */
function combinePhase(urn: string, fn: AnyCombineFn, inputCoder: Coder<unknown>, windowFn: WindowFn): AnyDoFn {
  const T = Urns.transforms;
  if (urn === T.combinePerKeyMergeAccumulators) {
    return { process: ([k, accs]: [unknown, Iterable<unknown>]) => [[k, fn.mergeAccumulators(accs)]] } as AnyDoFn;
  }
  if (urn === T.combinePerKeyExtractOutputs) {
    return { process: ([k, acc]: [unknown, unknown]) => [[k, fn.extractOutput(acc)]] } as AnyDoFn;
  }
  if (urn === T.combinePerKeyConvertToAccumulators) {
    return { process: ([k, v]: [unknown, unknown]) => [[k, fn.addInput(fn.createAccumulator(), v)]] } as AnyDoFn;
  }
  if (urn === T.combineGroupedValues) {
    return {
      process: ([k, vs]: [unknown, Iterable<unknown>]) => {
        let acc = fn.createAccumulator();
        for (const v of vs) acc = fn.addInput(acc, v);
        return [[k, fn.extractOutput(acc)]];
      },
    } as AnyDoFn;
  }
  // Precombine: one accumulator per key and window within a bundle, emitted at the bundle's end.
  // Windows are keyed by value (windowKey): each element decoded from the data plane carries its
  // own window object, equal windows included.
  const keyCoder = inputCoder.components[0];
  if (!keyCoder) throw new SluiceError("INVALID_PIPELINE", "a combine's input is not KV-coded", { hint: "" });
  const byWindow = new Map<string | number, { window: BoundedWindow; table: KeyTable<unknown, { key: unknown; acc: unknown }> }>();
  return {
    process(kv: [unknown, unknown], ctx) {
      const wk = windowFn.windowKey(ctx.window);
      let table = byWindow.get(wk)?.table;
      if (!table) {
        table = new KeyTable();
        byWindow.set(wk, { window: ctx.window, table });
      }
      const sk = keyCoder.structuralKey(kv[0]);
      const e = table.get(sk);
      if (e) e.acc = fn.addInput(e.acc, kv[1]);
      else {
        if (table.size >= PRECOMBINE_KEYS) {
          // Bounded memory on many distinct keys: emit the window's accumulators so far (the
          // runner merges them after the shuffle) and start again.
          for (const x of table.values()) ctx.output([x.key, fn.compact ? fn.compact(x.acc) : x.acc]);
          table.clear();
        }
        table.add(sk, { key: kv[0], acc: fn.addInput(fn.createAccumulator(), kv[1]) });
      }
    },
    finishBundle(ctx: FinishBundleContext<unknown, Record<string, unknown>>) {
      for (const { window, table } of byWindow.values()) {
        for (const e of table.values()) ctx.output([e.key, fn.compact ? fn.compact(e.acc) : e.acc], window.maxTimestamp(), window);
      }
      byWindow.clear();
    },
  } as AnyDoFn;
}

/** A side input read over the State API, per window, cached for the bundle. */
class StateSideInput implements SideInputSource {
  readonly ready = true;
  private readonly cache = new Map<string | number, readonly unknown[]>();
  constructor(
    private readonly transformId: string,
    private readonly sideInputId: string,
    private readonly elementCoder: Coder<unknown>,
    private readonly windowCoder: Coder<BoundedWindow>,
    private readonly windowFn: WindowFn,
    private readonly read: StateReader,
  ) {}
  clear(): void {
    this.cache.clear();
  }
  onReady(): void {}
  private sideWindow(mainWindow: BoundedWindow): BoundedWindow {
    return this.windowFn.sideInputWindow(mainWindow);
  }
  prefetch(mainWindow: BoundedWindow): Pending {
    const w = this.sideWindow(mainWindow);
    const key = this.windowFn.windowKey(w);
    if (this.cache.has(key)) return undefined;
    const out = new ByteWriter();
    this.windowCoder.encode(w, out, false);
    const stateKey = create(StateKeySchema, {
      type: {
        case: "iterableSideInput",
        value: create(StateKey_IterableSideInputSchema, { transformId: this.transformId, sideInputId: this.sideInputId, window: out.finish() }),
      },
    });
    return this.read(stateKey).then((bytes) => {
      const values: unknown[] = [];
      const reader = new ByteReader(bytes);
      while (!reader.atEnd()) values.push(this.elementCoder.decode(reader, true));
      this.cache.set(key, values);
    });
  }
  elementsFor(mainWindow: BoundedWindow): { key: string | number; values: readonly unknown[] } {
    const key = this.windowFn.windowKey(this.sideWindow(mainWindow));
    const values = this.cache.get(key);
    if (!values) throw new SluiceError("INTERNAL", `side input ${this.sideInputId} was not loaded for this window`, { hint: "" });
    return { key, values };
  }
}

/** Encodes elements for the runner, in chunks of at least 64 KB. */
class DataSinkOperator implements Receiver {
  private readonly buffer = new ByteWriter(1 << 17);
  private remaining: number;
  constructor(
    private readonly transformId: string,
    private readonly coder: Coder<WindowedValue<unknown>>,
    private readonly sink: () => DataSink,
    private readonly inputs: number,
  ) {
    this.remaining = inputs;
  }
  receive(value: unknown, meta: Meta): Pending {
    this.coder.encode({ value, timestamp: meta.timestamp, windows: meta.windows, pane: meta.pane }, this.buffer, true);
    dataPlaneStats.elementsOut++;
    if (this.buffer.length < 1 << 16) return undefined;
    const bytes = this.buffer.finish();
    dataPlaneStats.bytesOut += bytes.length;
    this.buffer.reset();
    // Not awaited: like Beam's other SDKs, a bundle finishes (and answers the runner) once its output
    // is queued. Java runners drain a bundle's data only after its response; waiting for the
    // network here would deadlock any bundle whose output exceeds the runner's queue.
    this.sink().send(this.transformId, bytes);
    return undefined;
  }
  finishInput(): Pending {
    if (--this.remaining === 0) this.remaining = this.inputs;
    return undefined;
  }
  flush(): Pending {
    return undefined;
  }
  async closeBundle(): Promise<void> {
    if (this.buffer.length > 0) {
      const bytes = this.buffer.finish();
      dataPlaneStats.bytesOut += bytes.length;
      this.buffer.reset();
      this.sink().send(this.transformId, bytes);
    }
    this.sink().close(this.transformId);
  }
}
