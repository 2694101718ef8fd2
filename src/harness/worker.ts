/**
 * The Fn API worker: serves a runner's control stream. It registers bundle descriptors, runs
 * bundles (data over the data plane, side inputs over the State API), answers progress and split
 * requests, and reports each bundle's metrics. A failing bundle is reported in its
 * InstructionResponse (naming the transform and element); the worker keeps serving others.
 */
import { create, fromBinary } from "@bufbuild/protobuf";
import { SluiceError } from "../internal/errors.js";
import {
  type Elements,
  ElementsSchema,
  Elements_DataSchema,
  Elements_TimersSchema,
  type InstructionRequest,
  type InstructionResponse,
  InstructionResponseSchema,
  type ProcessBundleDescriptor,
  ProcessBundleProgressResponseSchema,
  ProcessBundleResponseSchema,
  ProcessBundleSplitResponseSchema,
  FinalizeBundleResponseSchema,
  MonitoringInfosMetadataResponseSchema,
  HarnessMonitoringInfosResponseSchema,
  RegisterResponseSchema,
  SampleDataResponseSchema,
  type StateRequest,
  StateRequestSchema,
  type StateResponse,
  StateGetRequestSchema,
  StateAppendRequestSchema,
  StateClearRequestSchema,
  type StateKey,
  RemoteGrpcPortSchema,
} from "../model/gen/org/apache/beam/model/fn_execution/v1/beam_fn_api_pb.js";
import { type MonitoringInfo, MonitoringInfoSchema } from "../model/gen/org/apache/beam/model/pipeline/v1/metrics_pb.js";
import { Urns } from "../model/urns.js";
import type { Pipeline } from "../sdk/pipeline.js";
import { BundleProcessor, type DataSink, PipelineIndex } from "./bundle.js";

/** A bidirectional stream, as the transport gives it; `send` resolves when the transport took it. */
export interface BidiStream<Out, In> extends AsyncIterable<In> {
  send(message: Out): Promise<void>;
  end(): void;
}

/** The Fn API services a worker talks to. */
export interface FnTransport {
  control(): BidiStream<InstructionResponse, InstructionRequest>;
  /** Fetches a descriptor the runner did not register up front (Prism sends ids only). */
  getProcessBundleDescriptor(id: string): Promise<ProcessBundleDescriptor>;
  data(url: string): BidiStream<Elements, Elements>;
  state(url: string): BidiStream<StateRequest, StateResponse>;
}

export interface WorkerOptions {
  readonly workerId: string;
  readonly transport: FnTransport;
  /** The user's pipeline (LOOPBACK: the live one; a worker process: the one it rebuilt). */
  readonly pipeline: Pipeline;
  readonly log?: (message: string) => void;
  /**
   * When set, the worker cannot run this job (e.g. it rebuilt a different pipeline): it answers
   * every bundle with this error, so the runner fails the job with it instead of waiting.
   */
  readonly refusal?: string;
  /** Called for each instruction answered with an error (worker processes log it to the runner). */
  readonly onInstructionFailed?: (failure: InstructionFailure) => void;
}

/** An instruction the worker answered with an error. */
export interface InstructionFailure {
  readonly instructionId: string;
  /** The transform that failed, when the error names one of the bundle's transforms. */
  readonly transformId: string | undefined;
  /** The error text sent to the runner. */
  readonly error: string;
}

/** Data of a source transform, or (with timerFamilyId) timers the runner fired for a transform. */
type Chunk = { transformId: string; timerFamilyId?: string; data: Uint8Array; isLast: boolean };

/** Incoming data of one instruction, as an async queue. */
class Inbox implements AsyncIterable<Chunk> {
  private readonly items: Chunk[] = [];
  private wake: (() => void) | undefined;
  private failure: Error | undefined;
  push(c: Chunk): void {
    this.items.push(c);
    this.wake?.();
  }
  fail(err: Error): void {
    this.failure = err;
    this.wake?.();
  }
  async *[Symbol.asyncIterator](): AsyncIterator<Chunk> {
    for (;;) {
      const next = this.items.shift();
      if (next) {
        yield next;
        continue;
      }
      if (this.failure) throw this.failure;
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
  }
}

/** One data-plane connection, multiplexed by instruction. */
class DataChannel {
  private readonly stream: BidiStream<Elements, Elements>;
  private readonly inboxes = new Map<string, Inbox>();

  constructor(transport: FnTransport, url: string) {
    this.stream = transport.data(url);
    void this.pump();
  }

  private async pump(): Promise<void> {
    try {
      for await (const elements of this.stream) {
        for (const d of elements.data) this.inbox(d.instructionId).push({ transformId: d.transformId, data: d.data, isLast: d.isLast });
        for (const t of elements.timers) {
          this.inbox(t.instructionId).push({ transformId: t.transformId, timerFamilyId: t.timerFamilyId, data: t.timers, isLast: t.isLast });
        }
      }
    } catch (err) {
      for (const inbox of this.inboxes.values()) inbox.fail(SluiceError.from(err));
    }
  }

  inbox(instructionId: string): Inbox {
    let i = this.inboxes.get(instructionId);
    if (!i) {
      i = new Inbox();
      this.inboxes.set(instructionId, i);
    }
    return i;
  }

  done(instructionId: string): void {
    this.inboxes.delete(instructionId);
  }

  sink(instructionId: string): DataSink {
    return {
      send: (transformId, bytes) => {
        this.stream
          .send(create(ElementsSchema, { data: [create(Elements_DataSchema, { instructionId, transformId, data: bytes })] }))
          .catch(() => undefined); // a broken stream fails the bundle through the control stream
      },
      close: (transformId) => {
        this.stream
          .send(create(ElementsSchema, { data: [create(Elements_DataSchema, { instructionId, transformId, isLast: true })] }))
          .catch(() => undefined);
      },
      sendTimers: (transformId, timerFamilyId, bytes) => {
        this.stream
          .send(create(ElementsSchema, { timers: [create(Elements_TimersSchema, { instructionId, transformId, timerFamilyId, timers: bytes })] }))
          .catch(() => undefined);
      },
      closeTimers: (transformId, timerFamilyId) => {
        this.stream
          .send(create(ElementsSchema, { timers: [create(Elements_TimersSchema, { instructionId, transformId, timerFamilyId, isLast: true })] }))
          .catch(() => undefined);
      },
    };
  }
}

/** One State API connection: requests by id, whole values by following continuation tokens. */
class StateChannel {
  private readonly stream: BidiStream<StateRequest, StateResponse>;
  private readonly waiting = new Map<string, { resolve: (r: StateResponse) => void; reject: (e: Error) => void }>();
  private next = 0;

  constructor(transport: FnTransport, url: string) {
    this.stream = transport.state(url);
    void this.pump();
  }

  private async pump(): Promise<void> {
    try {
      for await (const r of this.stream) {
        const w = this.waiting.get(r.id);
        this.waiting.delete(r.id);
        if (!w) continue;
        if (r.error) w.reject(new SluiceError("UNAVAILABLE", `state request failed: ${r.error}`, { hint: "Check the runner's logs." }));
        else w.resolve(r);
      }
    } catch (err) {
      for (const w of this.waiting.values()) w.reject(SluiceError.from(err));
      this.waiting.clear();
    }
  }

  /** One request and its response (append, clear). */
  private call(instructionId: string, stateKey: StateKey, request: StateRequest["request"]): Promise<StateResponse> {
    const id = `s${this.next++}`;
    return new Promise<StateResponse>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      void this.stream.send(create(StateRequestSchema, { id, instructionId, stateKey, request }));
    });
  }

  async append(instructionId: string, stateKey: StateKey, data: Uint8Array): Promise<void> {
    await this.call(instructionId, stateKey, { case: "append", value: create(StateAppendRequestSchema, { data }) });
  }

  async clear(instructionId: string, stateKey: StateKey): Promise<void> {
    await this.call(instructionId, stateKey, { case: "clear", value: create(StateClearRequestSchema, {}) });
  }

  async get(instructionId: string, stateKey: StateKey): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let token: Uint8Array = new Uint8Array(0);
    do {
      const id = `s${this.next++}`;
      const response = await new Promise<StateResponse>((resolve, reject) => {
        this.waiting.set(id, { resolve, reject });
        void this.stream.send(
          create(StateRequestSchema, {
            id,
            instructionId,
            stateKey,
            request: { case: "get", value: create(StateGetRequestSchema, { continuationToken: token }) },
          }),
        );
      });
      if (response.response.case !== "get") throw new SluiceError("INTERNAL", "state response is not a get", { hint: "" });
      parts.push(response.response.value.data);
      token = response.response.value.continuationToken;
    } while (token.length > 0);
    if (parts.length === 1) return parts[0]!;
    const total = parts.reduce((n, p) => n + p.length, 0);
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

/** Serves one control stream until the runner closes it. */
export class FnWorker {
  private readonly descriptors = new Map<string, ProcessBundleDescriptor>();
  /** Idle processors per descriptor, reused across bundles (DoFns set up once). */
  private readonly idle = new Map<string, BundleProcessor[]>();
  private readonly active = new Map<string, BundleProcessor>();
  private readonly dataChannels = new Map<string, DataChannel>();
  private readonly stateChannels = new Map<string, StateChannel>();
  private readonly index: PipelineIndex;
  private readonly shortIds = new ShortIds();
  private control: BidiStream<InstructionResponse, InstructionRequest> | undefined;

  constructor(private readonly options: WorkerOptions) {
    this.index = new PipelineIndex(options.pipeline);
  }

  /** Resolves when the control stream ends; tears down every DoFn. */
  async serve(): Promise<void> {
    const control = this.options.transport.control();
    this.control = control;
    const inflight = new Set<Promise<void>>();
    try {
      for await (const request of control) {
        const p = this.handle(request).then(
          (response) => control.send(response),
          (err: unknown) => {
            const error = describe(err);
            this.options.log?.(`instruction ${request.instructionId} failed: ${error}`);
            this.options.onInstructionFailed?.({ instructionId: request.instructionId, transformId: this.failedTransform(request, error), error });
            return control.send(create(InstructionResponseSchema, { instructionId: request.instructionId, error }));
          },
        );
        const tracked = p.catch(() => undefined).finally(() => inflight.delete(tracked));
        inflight.add(tracked);
      }
    } finally {
      await Promise.allSettled(inflight);
      for (const list of this.idle.values()) for (const bp of list) await bp.teardown().catch(() => undefined);
    }
  }

  stop(): void {
    this.control?.end();
  }

  /** The id of the bundle transform whose name the error quotes ("Transform 'A/B' failed …"). */
  private failedTransform(request: InstructionRequest, error: string): string | undefined {
    if (request.request.case !== "processBundle") return undefined;
    const descriptor = this.descriptors.get(request.request.value.processBundleDescriptorId);
    const quoted = /'([^']+)'/.exec(error)?.[1];
    if (!descriptor || quoted === undefined) return undefined;
    for (const [id, t] of Object.entries(descriptor.transforms)) if (t.uniqueName === quoted) return id;
    return undefined;
  }

  private async handle(request: InstructionRequest): Promise<InstructionResponse> {
    const instructionId = request.instructionId;
    const respond = (response: InstructionResponse["response"]): InstructionResponse =>
      create(InstructionResponseSchema, { instructionId, response });
    const r = request.request;
    switch (r.case) {
      case "register":
        for (const d of r.value.processBundleDescriptor) this.descriptors.set(d.id, d);
        return respond({ case: "register", value: create(RegisterResponseSchema) });
      case "processBundle": {
        const infos = await this.processBundle(instructionId, r.value.processBundleDescriptorId);
        // Both forms: full infos (Java runners) and short-id data (Prism, newer runners).
        return respond({
          case: "processBundle",
          value: create(ProcessBundleResponseSchema, { monitoringInfos: infos, monitoringData: this.shortIds.data(infos) }),
        });
      }
      case "processBundleProgress": {
        const bp = this.active.get(r.value.instructionId);
        const infos = bp ? bp.monitoringInfos() : [];
        return respond({
          case: "processBundleProgress",
          value: create(ProcessBundleProgressResponseSchema, { monitoringInfos: infos, monitoringData: this.shortIds.data(infos) }),
        });
      }
      case "processBundleSplit":
        // Bundles are not split: the runner keeps the whole bundle as primary.
        return respond({ case: "processBundleSplit", value: create(ProcessBundleSplitResponseSchema) });
      case "finalizeBundle":
        return respond({ case: "finalizeBundle", value: create(FinalizeBundleResponseSchema) });
      case "monitoringInfos":
        return respond({
          case: "monitoringInfos",
          value: create(MonitoringInfosMetadataResponseSchema, { monitoringInfo: this.shortIds.metadata(r.value.monitoringInfoId) }),
        });
      case "harnessMonitoringInfos":
        return respond({ case: "harnessMonitoringInfos", value: create(HarnessMonitoringInfosResponseSchema) });
      case "sampleData":
        return respond({ case: "sampleData", value: create(SampleDataResponseSchema) });
      default:
        throw new SluiceError("UNSUPPORTED", `instruction ${instructionId}: request '${String(r.case)}' is not supported by the Sluice harness`, {
          hint: "The runner is newer than this SDK harness.",
        });
    }
  }

  private async processBundle(instructionId: string, descriptorId: string): Promise<ReturnType<BundleProcessor["monitoringInfos"]>> {
    let descriptor = this.descriptors.get(descriptorId);
    if (!descriptor) {
      descriptor = await this.options.transport.getProcessBundleDescriptor(descriptorId);
      this.descriptors.set(descriptorId, descriptor);
    }
    if (this.options.refusal !== undefined) {
      // Runners (the Java one) wait for the data plane before they read a bundle's response.
      const url = dataUrlOf(descriptor);
      if (url) this.dataChannel(url).done(instructionId);
      throw new SluiceError("FAILED_PRECONDITION", this.options.refusal);
    }
    const processor = this.idle.get(descriptorId)?.pop() ?? new BundleProcessor(descriptor, this.index);
    this.active.set(instructionId, processor);
    const dataUrl = dataUrlOf(descriptor);
    const data = dataUrl ? this.dataChannel(dataUrl) : undefined;
    const stateUrl = descriptor.stateApiServiceDescriptor?.url;
    try {
      const input = data ? data.inbox(instructionId) : emptyInput();
      const infos = await processor.process(
        input,
        data ? data.sink(instructionId) : { send: () => undefined, close: () => undefined, sendTimers: () => undefined, closeTimers: () => undefined },
        {
          get: (key) => this.state(stateUrl).get(instructionId, key),
          append: (key, bytes) => this.state(stateUrl).append(instructionId, key, bytes),
          clear: (key) => this.state(stateUrl).clear(instructionId, key),
        },
      );
      const list = this.idle.get(descriptorId) ?? [];
      list.push(processor);
      this.idle.set(descriptorId, list);
      return infos;
    } catch (err) {
      // A failed processor's DoFns may be mid-bundle: tear it down rather than reuse it.
      await processor.teardown().catch(() => undefined);
      throw err;
    } finally {
      this.active.delete(instructionId);
      data?.done(instructionId);
    }
  }

  private dataChannel(url: string): DataChannel {
    let c = this.dataChannels.get(url);
    if (!c) {
      c = new DataChannel(this.options.transport, url);
      this.dataChannels.set(url, c);
    }
    return c;
  }

  /** The State API of a bundle's descriptor (side inputs, user state). */
  private state(url: string | undefined): StateChannel {
    if (!url) throw new SluiceError("INTERNAL", "the runner gave no State API endpoint for a bundle that reads state", { hint: "" });
    return this.stateChannel(url);
  }

  private stateChannel(url: string): StateChannel {
    let c = this.stateChannels.get(url);
    if (!c) {
      c = new StateChannel(this.options.transport, url);
      this.stateChannels.set(url, c);
    }
    return c;
  }
}

/** Beam's monitoring-info short ids: the metadata once, then only payloads by id. */
class ShortIds {
  private readonly byKey = new Map<string, string>();
  private readonly infos = new Map<string, MonitoringInfo>();

  data(infos: readonly MonitoringInfo[]): Record<string, Uint8Array> {
    const out: Record<string, Uint8Array> = {};
    for (const mi of infos) {
      const labels = Object.entries(mi.labels).sort(([a], [b]) => (a < b ? -1 : 1));
      const key = `${mi.urn}|${mi.type}|${JSON.stringify(labels)}`;
      let id = this.byKey.get(key);
      if (id === undefined) {
        id = `m${this.byKey.size + 1}`;
        this.byKey.set(key, id);
        this.infos.set(id, create(MonitoringInfoSchema, { urn: mi.urn, type: mi.type, labels: mi.labels }));
      }
      out[id] = mi.payload;
    }
    return out;
  }

  metadata(ids: readonly string[]): Record<string, MonitoringInfo> {
    const out: Record<string, MonitoringInfo> = {};
    for (const id of ids) {
      const mi = this.infos.get(id);
      if (mi) out[id] = mi;
    }
    return out;
  }
}

async function* emptyInput(): AsyncIterable<Chunk> {}


function dataUrlOf(descriptor: ProcessBundleDescriptor): string | undefined {
  for (const t of Object.values(descriptor.transforms)) {
    if (t.spec?.urn === Urns.transforms.dataSource || t.spec?.urn === Urns.transforms.dataSink) {
      return fromBinary(RemoteGrpcPortSchema, t.spec.payload).apiServiceDescriptor?.url;
    }
  }
  return undefined;
}

function describe(err: unknown): string {
  const e = SluiceError.from(err);
  const cause = e.cause instanceof Error && e.cause.stack ? `\n${e.cause.stack}` : "";
  return bounded(`${e.message}${e.hint ? `\n${e.hint}` : ""}${cause}`, MAX_INSTRUCTION_ERROR_CHARS);
}

/** Longest error text sent in an InstructionResponse (the runner puts it in job messages and logs). */
export const MAX_INSTRUCTION_ERROR_CHARS = 32 * 1024;
/** Longest error or log text the pool and workers build from request contents or worker output. */
export const MAX_ERROR_CHARS = 4096;

/**
 * `text` cut to at most about `max` characters, with a note of how much was cut: error messages
 * quote request contents, element values and stderr, which must not echo megabytes. `keep: "tail"`
 * keeps the end instead (the last lines of a log).
 */
export function bounded(text: string, max: number = MAX_ERROR_CHARS, keep: "head" | "tail" = "head"): string {
  if (text.length <= max) return text;
  const cut = text.length - max;
  const note = `[${cut} more characters cut]`;
  return keep === "head" ? `${text.slice(0, max)}… ${note}` : `${note} …${text.slice(cut)}`;
}
