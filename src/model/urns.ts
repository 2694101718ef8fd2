/**
 * Beam's standard URNs and constants, read from the annotations on the proto enum values of the
 * pinned Beam version (`beam_urn`, `beam_constant`, `monitoring_info_spec`, `label_props`), never
 * retyped as strings. Two ways in:
 *
 * - `urn(RunnerApi.StandardPTransforms_PrimitivesSchema, RunnerApi.StandardPTransforms_Primitives.PAR_DO)`
 *   → "beam:transform:pardo:v1" (any annotated enum value; `beamConstant` likewise);
 * - the tables below, built from the descriptors when this module loads, keyed by the enum value
 *   names in camelCase (PAR_DO → `parDo`, USER_SUM_INT64 → `userSumInt64`):
 *   `Urns.transforms.parDo`, `Urns.coders.kv`, `Urns.windowFns.fixed`, `Urns.sideInputs.iterable`,
 *   `Urns.environments.external`, `Urns.monitoringInfos.userSumInt64`, `Urns.requirements.…`,
 *   `Urns.protocols.…`, `Urns.combineComponents.…`, `BeamConstants.maxTimestampMillis`, ….
 *
 * Every value of each enum listed here is in its table (a Beam upgrade that adds values adds
 * keys). The one URN not annotated in Beam's protos is `Urns.transforms.executableStage`
 * ("beam:runner:executable_stage:v1", Java's ExecutableStage.URN), the only literal here.
 */
import { getOption, hasOption } from "@bufbuild/protobuf";
import type { DescEnum, DescEnumValue } from "@bufbuild/protobuf";
import type { GenEnum } from "@bufbuild/protobuf/codegenv2";
import { SluiceError } from "../internal/errors.js";
import {
  CommitManifestResponse_Constants,
  CommitManifestResponse_ConstantsSchema,
} from "./gen/org/apache/beam/model/job_management/v1/beam_artifact_api_pb.js";
import {
  FnApiTransforms_Runner,
  FnApiTransforms_RunnerSchema,
} from "./gen/org/apache/beam/model/fn_execution/v1/beam_fn_api_pb.js";
import {
  BeamConstants_Constants,
  BeamConstants_ConstantsSchema,
  beam_constant,
  beam_urn,
  StandardArtifacts_Roles,
  StandardArtifacts_RolesSchema,
  StandardArtifacts_Types,
  StandardArtifacts_TypesSchema,
  StandardCoders_Enum,
  StandardCoders_EnumSchema,
  StandardDisplayData_DisplayData,
  StandardDisplayData_DisplayDataSchema,
  StandardEnvironments_Environments,
  StandardEnvironments_EnvironmentsSchema,
  StandardProtocols_Enum,
  StandardProtocols_EnumSchema,
  StandardPTransforms_CombineComponents,
  StandardPTransforms_CombineComponentsSchema,
  StandardPTransforms_Composites,
  StandardPTransforms_CompositesSchema,
  StandardPTransforms_DeprecatedPrimitives,
  StandardPTransforms_DeprecatedPrimitivesSchema,
  StandardPTransforms_GroupIntoBatchesComponents,
  StandardPTransforms_GroupIntoBatchesComponentsSchema,
  StandardPTransforms_Primitives,
  StandardPTransforms_PrimitivesSchema,
  StandardPTransforms_SplittableParDoComponents,
  StandardPTransforms_SplittableParDoComponentsSchema,
  StandardRequirements_Enum,
  StandardRequirements_EnumSchema,
  StandardResourceHints_Enum,
  StandardResourceHints_EnumSchema,
  StandardRunnerProtocols_Enum,
  StandardRunnerProtocols_EnumSchema,
  StandardSideInputTypes_Enum,
  StandardSideInputTypes_EnumSchema,
  StandardUserStateTypes_Enum,
  StandardUserStateTypes_EnumSchema,
} from "./gen/org/apache/beam/model/pipeline/v1/beam_runner_api_pb.js";
import {
  Annotations_Enum,
  Annotations_EnumSchema,
  ExpansionMethods_Enum,
  ExpansionMethods_EnumSchema,
  ManagedTransforms_Urns,
  ManagedTransforms_UrnsSchema,
} from "./gen/org/apache/beam/model/pipeline/v1/external_transforms_pb.js";
import {
  label_props,
  monitoring_info_spec,
  MonitoringInfo_MonitoringInfoLabels,
  MonitoringInfo_MonitoringInfoLabelsSchema,
  MonitoringInfoSpecs_Enum,
  MonitoringInfoSpecs_EnumSchema,
  MonitoringInfoTypeUrns_Enum,
  MonitoringInfoTypeUrns_EnumSchema,
} from "./gen/org/apache/beam/model/pipeline/v1/metrics_pb.js";
import { LogicalTypes_Enum, LogicalTypes_EnumSchema } from "./gen/org/apache/beam/model/pipeline/v1/schema_pb.js";
import {
  FixedWindowsPayload_Enum,
  FixedWindowsPayload_EnumSchema,
  GlobalWindowsPayload_Enum,
  GlobalWindowsPayload_EnumSchema,
  SessionWindowsPayload_Enum,
  SessionWindowsPayload_EnumSchema,
  SlidingWindowsPayload_Enum,
  SlidingWindowsPayload_EnumSchema,
} from "./gen/org/apache/beam/model/pipeline/v1/standard_window_fns_pb.js";

/** A SNAKE_CASE proto enum value name in camelCase: PAR_DO → parDo, PUBSUB_WRITE_V2 → pubsubWriteV2. */
export type CamelCase<S extends string> = S extends `${infer Head}_${infer Tail}`
  ? `${Lowercase<Head>}${Capitalize<CamelCase<Tail>>}`
  : Lowercase<S>;

/** One proto enum's annotations, keyed by its value names in camelCase (T is the generated TS enum). */
export type EnumTable<T extends object, V = string> = { readonly [K in keyof T & string as CamelCase<K>]: V };

/** The runtime twin of CamelCase. */
export function camelCase(name: string): string {
  return name
    .split("_")
    .map((part, i) => (i === 0 ? part.toLowerCase() : part.charAt(0).toUpperCase() + part.slice(1).toLowerCase()))
    .join("");
}

/** The string annotation `extension` on one value of an enum, or a SluiceError(INTERNAL) naming it. */
function stringOption(
  schema: DescEnum,
  value: number,
  extension: typeof beam_urn,
  what: string,
): string {
  const desc = schema.value[value];
  if (desc === undefined) {
    throw new SluiceError("INTERNAL", `${schema.typeName} has no value ${value}`, {
      hint: "pass a value of the enum whose descriptor (…Schema) you pass",
    });
  }
  if (!hasOption(desc, extension)) {
    throw new SluiceError("INTERNAL", `${schema.typeName}.${desc.name} has no ${what} annotation in Beam's protos`, {
      hint: "only annotated enum values have a URN or constant; check the enum in the .proto file",
    });
  }
  return getOption(desc, extension);
}

/**
 * The standard URN of an enum value, read from its `beam_urn` annotation:
 * `urn(StandardCoders_EnumSchema, StandardCoders_Enum.KV)` → "beam:coder:kv:v1".
 */
export function urn<E extends number>(schema: GenEnum<E>, value: E): string {
  return stringOption(schema, value, beam_urn, "beam_urn");
}

/**
 * The `beam_constant` annotation of an enum value, as written in the proto (a string; see
 * BeamConstants for the parsed ones): `beamConstant(BeamConstants_ConstantsSchema,
 * BeamConstants_Constants.MAX_TIMESTAMP_MILLIS)` → "9223372036854775".
 */
export function beamConstant<E extends number>(schema: GenEnum<E>, value: E): string {
  return stringOption(schema, value, beam_constant, "beam_constant");
}

/** A table of every value of one enum: `read(descriptor)` for each, keyed by camelCase name. */
function table<T extends object, V>(
  _tsEnum: T,
  schema: DescEnum,
  read: (value: DescEnumValue) => V,
): EnumTable<T, V> {
  const out: Record<string, V> = {};
  for (const value of schema.values) out[camelCase(value.localName)] = read(value);
  return Object.freeze(out) as EnumTable<T, V>;
}

/** A table of the `beam_urn` annotations of every value of one enum. */
function urns<T extends object>(tsEnum: T, schema: DescEnum): EnumTable<T> {
  return table(tsEnum, schema, (value) => stringOption(schema, value.number, beam_urn, "beam_urn"));
}

/** A table of the `beam_constant` annotations of every value of one enum. */
function constants<T extends object>(tsEnum: T, schema: DescEnum): EnumTable<T> {
  return table(tsEnum, schema, (value) => stringOption(schema, value.number, beam_constant, "beam_constant"));
}

/** The spec of a standard monitoring info (metrics.proto `monitoring_info_spec`). */
export interface MonitoringInfoSpec {
  /** The MonitoringInfo's URN, e.g. "beam:metric:user:sum_int64:v1". */
  readonly urn: string;
  /** Its type URN (the payload encoding), e.g. "beam:metrics:sum_int64:v1". */
  readonly type: string;
  /** Label keys it must carry, e.g. ["PTRANSFORM", "NAMESPACE", "NAME"]. */
  readonly requiredLabels: readonly string[];
  /** Annotations (description, units, …) by key. */
  readonly annotations: Readonly<Record<string, string>>;
}

function monitoringInfoSpec(value: DescEnumValue): MonitoringInfoSpec {
  if (!hasOption(value, monitoring_info_spec)) {
    throw new SluiceError("INTERNAL", `${value.parent.typeName}.${value.name} has no monitoring_info_spec annotation`);
  }
  const spec = getOption(value, monitoring_info_spec);
  return Object.freeze({
    urn: spec.urn,
    type: spec.type,
    requiredLabels: Object.freeze([...spec.requiredLabels]),
    annotations: Object.freeze(Object.fromEntries(spec.annotations.map((a) => [a.key, a.value]))),
  });
}

function labelName(value: DescEnumValue): string {
  if (!hasOption(value, label_props)) {
    throw new SluiceError("INTERNAL", `${value.parent.typeName}.${value.name} has no label_props annotation`);
  }
  return getOption(value, label_props).name;
}

/** Standard monitoring infos (metrics.proto MonitoringInfoSpecs.Enum): urn, type, labels. */
export const MonitoringInfoSpecs: EnumTable<typeof MonitoringInfoSpecs_Enum, MonitoringInfoSpec> = table(
  MonitoringInfoSpecs_Enum,
  MonitoringInfoSpecs_EnumSchema,
  monitoringInfoSpec,
);

/**
 * MonitoringInfo label keys (metrics.proto MonitoringInfo.MonitoringInfoLabels):
 * `MonitoringInfoLabels.transform` → "PTRANSFORM", `.namespace` → "NAMESPACE", `.name` → "NAME".
 */
export const MonitoringInfoLabels: EnumTable<typeof MonitoringInfo_MonitoringInfoLabels> = table(
  MonitoringInfo_MonitoringInfoLabels,
  MonitoringInfo_MonitoringInfoLabelsSchema,
  labelName,
);

const primitives = urns(StandardPTransforms_Primitives, StandardPTransforms_PrimitivesSchema);
const deprecatedPrimitives = urns(StandardPTransforms_DeprecatedPrimitives, StandardPTransforms_DeprecatedPrimitivesSchema);
const composites = urns(StandardPTransforms_Composites, StandardPTransforms_CompositesSchema);
const combineComponents = urns(StandardPTransforms_CombineComponents, StandardPTransforms_CombineComponentsSchema);
const splittableParDoComponents = urns(
  StandardPTransforms_SplittableParDoComponents,
  StandardPTransforms_SplittableParDoComponentsSchema,
);
const groupIntoBatchesComponents = urns(
  StandardPTransforms_GroupIntoBatchesComponents,
  StandardPTransforms_GroupIntoBatchesComponentsSchema,
);
/** Fn API transforms a runner inserts into a ProcessBundleDescriptor: dataSource, dataSink. */
const fnApiTransforms = urns(FnApiTransforms_Runner, FnApiTransforms_RunnerSchema);
/**
 * A fused stage in a runner's pipeline. Not annotated in Beam's protos: this is the value of Java's
 * ExecutableStage.URN (and Python's common_urns.executable_stage), which the portable runners emit.
 */
const executableStage = "beam:runner:executable_stage:v1";

/** Beam's standard URNs, by group; every value comes from the proto annotations (see the header). */
export const Urns = Object.freeze({
  /** Every standard transform URN: primitives, composites, their components, Fn API and runner transforms. */
  transforms: Object.freeze({
    ...primitives,
    ...deprecatedPrimitives,
    ...composites,
    ...combineComponents,
    ...splittableParDoComponents,
    ...groupIntoBatchesComponents,
    ...fnApiTransforms,
    /** Alias of assignWindows named after its URN, "beam:transform:window_into:v1". */
    windowInto: primitives.assignWindows,
    executableStage,
  }),
  /** StandardPTransforms.Primitives: parDo, flatten, groupByKey, impulse, assignWindows, …. */
  primitives,
  /** StandardPTransforms.DeprecatedPrimitives: read, createView. */
  deprecatedPrimitives,
  /** StandardPTransforms.Composites: combinePerKey, combineGlobally, reshuffle, writeFiles, …. */
  composites,
  /** StandardPTransforms.CombineComponents: combinePerKeyPrecombine, …MergeAccumulators, …ExtractOutputs, …. */
  combineComponents,
  /** StandardPTransforms.SplittableParDoComponents: pairWithRestriction, splitAndSizeRestrictions, …. */
  splittableParDoComponents,
  /** StandardPTransforms.GroupIntoBatchesComponents: groupIntoBatches. */
  groupIntoBatchesComponents,
  /** FnApiTransforms.Runner: dataSource ("beam:runner:source:v1"), dataSink ("beam:runner:sink:v1"). */
  fnApiTransforms,
  /** StandardCoders: bytes, stringUtf8, kv, bool, varint, double, iterable, timer, intervalWindow, …. */
  coders: urns(StandardCoders_Enum, StandardCoders_EnumSchema),
  /** standard_window_fns.proto: global, fixed, sliding, sessions. */
  windowFns: Object.freeze({
    global: urn(GlobalWindowsPayload_EnumSchema, GlobalWindowsPayload_Enum.PROPERTIES),
    fixed: urn(FixedWindowsPayload_EnumSchema, FixedWindowsPayload_Enum.PROPERTIES),
    sliding: urn(SlidingWindowsPayload_EnumSchema, SlidingWindowsPayload_Enum.PROPERTIES),
    sessions: urn(SessionWindowsPayload_EnumSchema, SessionWindowsPayload_Enum.PROPERTIES),
  }),
  /** StandardSideInputTypes (side input access patterns): iterable, multimap. */
  sideInputs: urns(StandardSideInputTypes_Enum, StandardSideInputTypes_EnumSchema),
  /** StandardUserStateTypes: bag, multimap, orderedList. */
  userStates: urns(StandardUserStateTypes_Enum, StandardUserStateTypes_EnumSchema),
  /** StandardEnvironments: docker, process, external, default, anyof. */
  environments: urns(StandardEnvironments_Environments, StandardEnvironments_EnvironmentsSchema),
  /** StandardProtocols (SDK capabilities): progressReporting, workerStatus, harnessMonitoringInfos, …. */
  protocols: urns(StandardProtocols_Enum, StandardProtocols_EnumSchema),
  /** StandardRunnerProtocols (runner capabilities): monitoringInfoShortIds, …. */
  runnerProtocols: urns(StandardRunnerProtocols_Enum, StandardRunnerProtocols_EnumSchema),
  /** StandardRequirements (Pipeline.requirements): requiresStatefulProcessing, requiresSplittableDofn, …. */
  requirements: urns(StandardRequirements_Enum, StandardRequirements_EnumSchema),
  /** StandardArtifacts.Types: file, url, embedded, pypi, maven, deferred. */
  artifactTypes: urns(StandardArtifacts_Types, StandardArtifacts_TypesSchema),
  /** StandardArtifacts.Roles: stagingTo, pipRequirementsFile, goWorkerBinary. */
  artifactRoles: urns(StandardArtifacts_Roles, StandardArtifacts_RolesSchema),
  /** StandardDisplayData: labelled. */
  displayData: urns(StandardDisplayData_DisplayData, StandardDisplayData_DisplayDataSchema),
  /** StandardResourceHints: accelerator, minRamBytes, cpuCount, maxActiveBundlesPerWorker. */
  resourceHints: urns(StandardResourceHints_Enum, StandardResourceHints_EnumSchema),
  /** MonitoringInfo URNs (MonitoringInfoSpecs.Enum): userSumInt64, elementCount, …; see MonitoringInfoSpecs. */
  monitoringInfos: Object.freeze(
    Object.fromEntries(Object.entries(MonitoringInfoSpecs).map(([key, spec]) => [key, spec.urn])),
  ) as EnumTable<typeof MonitoringInfoSpecs_Enum>,
  /** MonitoringInfo type URNs (MonitoringInfoTypeUrns.Enum): sumInt64Type, distributionInt64Type, …, histogram. */
  monitoringInfoTypes: urns(MonitoringInfoTypeUrns_Enum, MonitoringInfoTypeUrns_EnumSchema),
  /** ExpansionMethods: javaClassLookup, schemaTransform. */
  expansionMethods: urns(ExpansionMethods_Enum, ExpansionMethods_EnumSchema),
  /** Schema logical types (LogicalTypes.Enum): microsInstant, millisInstant, decimal, …. */
  logicalTypes: urns(LogicalTypes_Enum, LogicalTypes_EnumSchema),
  /** ManagedTransforms.Urns: icebergRead, kafkaRead, …. */
  managedTransforms: urns(ManagedTransforms_Urns, ManagedTransforms_UrnsSchema),
});

/** Parses a `beam_constant` holding an int64 in decimal. */
function int64Constant<E extends number>(schema: GenEnum<E>, value: E): bigint {
  const text = beamConstant(schema, value);
  if (!/^-?\d+$/.test(text)) {
    throw new SluiceError("INTERNAL", `${schema.typeName} constant ${text} is not an integer`);
  }
  return BigInt(text);
}

/** Beam's `beam_constant` annotations. */
export const BeamConstants = Object.freeze({
  /** The smallest timestamp, in int64 millis (BeamConstants.Constants.MIN_TIMESTAMP_MILLIS). */
  minTimestampMillis: int64Constant(BeamConstants_ConstantsSchema, BeamConstants_Constants.MIN_TIMESTAMP_MILLIS),
  /** The largest timestamp, in int64 millis (BeamConstants.Constants.MAX_TIMESTAMP_MILLIS). */
  maxTimestampMillis: int64Constant(BeamConstants_ConstantsSchema, BeamConstants_Constants.MAX_TIMESTAMP_MILLIS),
  /** The end of the global window, in int64 millis (…GLOBAL_WINDOW_MAX_TIMESTAMP_MILLIS). */
  globalWindowMaxTimestampMillis: int64Constant(
    BeamConstants_ConstantsSchema,
    BeamConstants_Constants.GLOBAL_WINDOW_MAX_TIMESTAMP_MILLIS,
  ),
  /** The staging token a job server returns when nothing was staged (CommitManifestResponse.Constants). */
  noArtifactsStagedToken: beamConstant(
    CommitManifestResponse_ConstantsSchema,
    CommitManifestResponse_Constants.NO_ARTIFACTS_STAGED_TOKEN,
  ),
  /** PTransform annotation keys for cross-language transforms (external_transforms.proto Annotations.Enum). */
  annotations: constants(Annotations_Enum, Annotations_EnumSchema),
});
