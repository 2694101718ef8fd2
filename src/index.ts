/**
 * Sluice: Apache Beam-model data pipelines in TypeScript.
 *
 * ```ts
 * import { Pipeline, Create, FlatMap, Count, Map, WriteToText } from "sluice";
 * ```
 *
 * This is the public API, listed name by name (test/cli-public-api.test.ts holds the list):
 * runners, the CLI and the harness import what else they need (the launch context, metrics
 * containers, the coder registry, …) from the modules that define it, never from here.
 */
export { SluiceError, ERROR_CODES, type ErrorCode, type SluiceErrorCode, type SluiceErrorOptions, type SluiceErrorJSON } from "./internal/errors.js";
export {
  PipelineOptions,
  type RunnerName,
  type EnvironmentType,
  type StandardOptions,
  type StandardOptionName,
  type UnknownFlagValue,
  type PipelineOptionsInit,
  type PipelineOptionsJSON,
} from "./sdk/options.js";
export { Pipeline, type PipelineResult, type PipelineState, type PipelineRunner } from "./sdk/pipeline.js";
export { PCollection, PBegin, PCollectionList, PCollectionRecord, type PInput, type POutput } from "./sdk/pvalue.js";
export { PTransform, composite, type ExpandContext } from "./sdk/transform.js";
export type {
  DoFn,
  ProcessContext,
  StartBundleContext,
  FinishBundleContext,
  FailedElement,
  StatefulDoFn,
  StatefulProcessContext,
  TimerContext,
  TimerCallbacks,
  WindowExpirationContext,
} from "./sdk/dofn.js";
export {
  StateSpec,
  TimerSpec,
  type ValueState,
  type BagState,
  type CombiningState,
  type SetState,
  type MapState,
  type Timer,
  type ProcessingTimer,
  type TimerSetOptions,
  type TimeDomain,
  type StateSpecs,
  type TimerSpecs,
  type StateAccessors,
  type TimerAccessors,
} from "./sdk/state.js";
export * from "./sdk/sideinputs.js";
export {
  Metrics,
  Counter,
  Distribution,
  Gauge,
  MetricResults,
  type MetricName,
  type MetricKey,
  type DistributionValue,
  type GaugeValue,
  type MetricResult,
  type MetricFilter,
  type MetricQueryResults,
} from "./sdk/metrics.js";
export * from "./sdk/time.js";
export { GlobalWindow, GLOBAL_WINDOW, IntervalWindow, type BoundedWindow, type PaneInfo, type PaneTiming } from "./sdk/windowing/window.js";
export {
  GlobalWindows,
  FixedWindows,
  SlidingWindows,
  Sessions,
  type WindowFn,
  type WindowFnKind,
  type WindowMerge,
  type TimestampCombiner,
  type WindowingStrategy,
} from "./sdk/windowing/windowfns.js";
export {
  AfterAll,
  AfterAny,
  AfterCount,
  AfterEach,
  AfterProcessingTime,
  AfterWatermark,
  DefaultTrigger,
  Never,
  OrFinally,
  Repeatedly,
  type AccumulationMode,
  type Trigger,
} from "./sdk/windowing/triggers.js";
export { TestStream } from "./sdk/testing/test_stream.js";
export { PeriodicImpulse, type PeriodicImpulseOptions } from "./sdk/io/periodic.js";
export {
  ReadFromKafka,
  WriteToKafka,
  type KafkaDeserializer,
  type KafkaRecord,
  type KafkaSerializer,
  type ReadFromKafkaOptions,
  type TimestampPolicy,
  type WriteToKafkaOptions,
} from "./sdk/io/kafka.js";
export { ReadFromUnbounded, type UnboundedSource, type PollResult } from "./sdk/io/unbounded.js";
export * from "./sdk/transforms/core.js";
export { GroupByKey, CoGroupByKey } from "./sdk/transforms/grouping.js";
export * from "./sdk/transforms/combine.js";
export { naturalCompare, combineAll, type AnyCombineFn } from "./sdk/transforms/combinefn.js";
export * from "./sdk/transforms/util.js";
export { ReadFromText, WriteToText, type ReadFromTextOptions, type WriteToTextOptions, type Compression } from "./sdk/io/text.js";
export {
  AbstractCoder,
  BoolCoder,
  BytesCoder,
  DoubleCoder,
  StringUtf8Coder,
  VarIntCoder,
  IterableCoder,
  KvCoder,
  LengthPrefixCoder,
  NullableCoder,
  GlobalWindowCoder,
  IntervalWindowCoder,
  RowCoder,
  FieldTypes,
  JsValueCoder,
  JsValueCoderError,
  type Int64,
  type KV,
  type Row,
  type Schema,
  type Field,
  type FieldType,
  type AtomicFieldType,
  type AtomicTypeName,
  type ArrayFieldType,
  type IterableFieldType,
  type MapFieldType,
  type RowFieldType,
  type LogicalFieldType,
} from "./sdk/coders/index.js";
export { type Coder, type CoderType, encodeToBytes, decodeFromBytes } from "./sdk/coders/coder.js";
export { ByteReader, ByteWriter } from "./sdk/coders/bytes.js";
export { DirectRunner, type DirectRunnerOptions } from "./runners/direct/runner.js";

// Runners register at the package entry, so the SDK (src/sdk) never imports them; they load lazily
// when a pipeline runs, so the direct runner never pulls in the portable runner's protocol code.
import { setRunnerResolver } from "./sdk/pipeline.js";
setRunnerResolver(async (options) => (await import("./runners/registry.js")).resolveRunner(options));
