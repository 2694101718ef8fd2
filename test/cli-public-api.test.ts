/**
 * The public entry (`import … from "sluice"`, src/index.ts) exports the API and nothing else. The
 * list below is the API, values and types: adding an export means adding its name here, a
 * deliberate act; internals (the launch context, metrics containers, the coder registry, …) must
 * not appear. Names are read with the TypeScript checker, so type-only exports count too. Also
 * checks that the `sluice/portable` subpath export still gives bench/flink.ts what it imports.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import * as sluice from "../src/index.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const ENTRY = fileURLToPath(new URL("../src/index.ts", import.meta.url));

const PUBLIC_API: readonly string[] = [
  "AccumulationMode", "AfterAll", "AfterAny", "AfterCount", "AfterEach", "AfterProcessingTime", "AfterWatermark",
  "DefaultTrigger", "Never", "OrFinally", "PeriodicImpulse", "PeriodicImpulseOptions", "ReadFromUnbounded", "UnboundedSource", "PollResult",
  "ReadFromKafka", "WriteToKafka", "KafkaDeserializer", "KafkaRecord", "KafkaSerializer", "ReadFromKafkaOptions", "TimestampPolicy", "WriteToKafkaOptions",
  "StatefulDoFn", "StatefulProcessContext", "TimerContext", "TimerCallbacks", "WindowExpirationContext", "StateSpec", "TimerSpec", "ValueState", "BagState",
  "CombiningState", "SetState", "MapState", "Timer", "ProcessingTimer", "TimerSetOptions", "TimeDomain", "StateSpecs", "TimerSpecs", "StateAccessors", "TimerAccessors", "Repeatedly", "TestStream", "Trigger",
  "AbstractCoder", "AnyCombineFn", "ArrayFieldType", "AsDict", "AsIterable", "AsList", "AsMultiMap",
  "AsSingleton", "AtomicFieldType", "AtomicTypeName", "BoolCoder", "BoundedWindow", "ByteReader",
  "ByteWriter", "BytesCoder", "CoGroupByKey", "Coder", "CoderType", "CombineFn", "CombineFns",
  "CombineGlobally", "CombinePerKey", "CombineValues", "Compression", "Count", "Counter", "Create",
  "DirectRunner", "DirectRunnerOptions", "Distinct", "Distribution", "DistributionValue", "DoFn",
  "DoubleCoder", "Duration", "ERROR_CODES", "EnvironmentType", "ErrorCode", "ExpandContext", "FailedElement",
  "Field", "FieldType", "FieldTypes", "Filter", "FinishBundleContext", "FixedWindows", "FlatMap", "Flatten",
  "GLOBAL_WINDOW", "GLOBAL_WINDOW_MAX_TIMESTAMP", "GLOBAL_WINDOW_MAX_TIMESTAMP_MILLIS", "Gauge",
  "GaugeValue", "GlobalWindow", "GlobalWindowCoder", "GlobalWindows", "GroupByKey", "Impulse", "Int64",
  "IntervalWindow", "IntervalWindowCoder", "IterableCoder", "IterableFieldType", "JsValueCoder",
  "JsValueCoderError", "KV", "Keys", "KvCoder", "KvSwap", "LengthPrefixCoder", "LogicalFieldType",
  "MAX_TIMESTAMP", "MAX_TIMESTAMP_MILLIS", "MIN_TIMESTAMP", "MIN_TIMESTAMP_MILLIS", "Map", "MapContext",
  "MapFieldType", "Max", "Mean", "MetricFilter", "MetricKey", "MetricName", "MetricQueryResults",
  "MetricResult", "MetricResults", "Metrics", "Min", "NullableCoder", "PBegin", "PCollection",
  "PCollectionList", "PCollectionRecord", "PInput", "POutput", "PTransform", "PaneInfo", "PaneTiming",
  "ParDo", "ParDoOptions", "ParDoTransform", "ParDoWithFailures", "ParDoWithOutputs", "Partition",
  "Pipeline", "PipelineOptions", "PipelineOptionsInit", "PipelineOptionsJSON", "PipelineResult",
  "PipelineRunner", "PipelineState", "ProcessContext", "ReadFromText", "ReadFromTextOptions", "Reshuffle",
  "Row", "RowCoder", "RowFieldType", "RunnerName", "Schema", "Sessions", "SideInput", "SideInputKind",
  "SideInputValues", "SideInputs", "SlidingWindows", "SluiceError", "SluiceErrorCode", "SluiceErrorJSON",
  "SluiceErrorOptions", "StandardOptionName", "StandardOptions", "StartBundleContext", "StringUtf8Coder",
  "Sum", "Summable", "TaggedWithFailures", "Timestamp", "TimestampCombiner", "TimestampedValue", "ToList",
  "Top", "UnknownFlagValue", "Values", "VarIntCoder", "WindowFn", "WindowFnKind", "WindowInto",
  "WindowIntoOptions", "WindowMerge", "WindowingStrategy", "WithFailures", "WithKeys", "WithTimestamps",
  "WriteToText", "WriteToTextOptions", "combineAll", "composite", "decodeFromBytes", "encodeToBytes",
  "millisToTimestamp", "naturalCompare", "timestampToMillis",
];

/** Exported once and now internal: each must stay out of the public entry. */
const INTERNALS: readonly string[] = [
  "LAUNCH_CONTEXT", "LaunchContext", "getLaunchContext", "optionKey", "STANDARD_OPTIONS", "StandardOptionSpec",
  "StandardOptionType", "describeError", "MetricsContainer", "setCurrentMetricsContainer",
  "runWithAsyncMetricsContainer", "callUserCode", "activeMetricsContainer", "DEFAULT_WINDOWING", "PANE_NO_FIRING",
  "PANE_ON_TIME_ONLY", "WindowedValue", "keyValueCoders", "encodedKey", "coderFromSpec", "coderFromUrn", "coderToSpec",
  "coderToString", "codersEqual", "isCoderUrnRegistered", "registerCoder", "registeredCoderUrns",
  "UnknownCoderUrnError", "CoderUrns", "LogicalTypeUrns", "decodePaneInfo", "encodePaneInfo", "decodeSchema",
  "encodeSchema", "fieldTypeToString", "formatDecimal", "parseDecimal", "StateBackedIterable",
  "StateBackedIterableCoder", "TimerCoder", "ParamWindowedValueCoder", "WindowedValueCoder",
  "TimestampPrefixingWindowCoder", "ShardedKeyCoder", "BoolCoderImpl", "BytesCoderImpl", "DoubleCoderImpl",
  "StringUtf8CoderImpl", "VarIntCoderImpl", "GlobalWindowCoderImpl", "IntervalWindowCoderImpl", "JsValueCoderImpl",
];

/** Every name src/index.ts exports, values and types, as the TypeScript checker sees them. */
function exportedNames(): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(fileURLToPath(new URL("../tsconfig.json", import.meta.url)), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    },
  });
  if (config === undefined) throw new Error("cannot read tsconfig.json");
  const program = ts.createProgram([ENTRY], { ...config.options, noEmit: true });
  const checker = program.getTypeChecker();
  const file = program.getSourceFile(ENTRY);
  const module = file === undefined ? undefined : checker.getSymbolAtLocation(file);
  if (module === undefined) throw new Error(`cannot read the exports of ${ENTRY}`);
  return checker.getExportsOfModule(module).map((s) => s.name).sort();
}

describe("the public entry", () => {
  it("exports exactly the API's names (values and types)", () => {
    const names = exportedNames();
    expect(names.filter((n) => INTERNALS.includes(n)), "internal names exported from src/index.ts").toEqual([]);
    expect(names.filter((n) => !PUBLIC_API.includes(n)), "exports not in the API list (add them to PUBLIC_API if they are API)").toEqual([]);
    expect(PUBLIC_API.filter((n) => !names.includes(n)), "API names no longer exported").toEqual([]);
  });

  it("at runtime, every value it exports is an API name", () => {
    const values = Object.keys(sluice).sort();
    expect(values.length).toBeGreaterThan(50);
    expect(values.filter((n) => !PUBLIC_API.includes(n))).toEqual([]);
  });

  it("the sluice/portable subpath export resolves to the built portable runner, as bench/flink.ts uses it", () => {
    const script = `import("sluice/portable").then((m) => console.log(JSON.stringify(["PortableRunner", "startFlinkJobServer", "dataPlaneStats"].map((n) => typeof m[n]))), (e) => { console.error(e); process.exit(1); })`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: ROOT, encoding: "utf8", timeout: 30_000, env: { ...process.env, NODE_OPTIONS: "" } });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(["function", "function", "object"]);
  });
});
