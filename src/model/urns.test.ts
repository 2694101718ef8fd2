/**
 * Standard URNs and constants come from the proto annotations of the pinned Beam version, and the
 * tables cover every value of the enums they mirror.
 */
import { describe, expect, it } from "vitest";
import type { DescEnum } from "@bufbuild/protobuf";
import { SluiceError } from "../internal/errors.js";
import { GLOBAL_WINDOW_MAX_TIMESTAMP_MILLIS, MAX_TIMESTAMP_MILLIS, MIN_TIMESTAMP_MILLIS } from "../sdk/time.js";
import { Metrics, RunnerApi } from "./protos.js";
import { BeamConstants, beamConstant, camelCase, MonitoringInfoLabels, MonitoringInfoSpecs, urn, Urns } from "./urns.js";

describe("urn()", () => {
  it("reads beam_urn annotations from the descriptors", () => {
    expect(urn(RunnerApi.StandardPTransforms_PrimitivesSchema, RunnerApi.StandardPTransforms_Primitives.PAR_DO)).toBe(
      "beam:transform:pardo:v1",
    );
    expect(urn(RunnerApi.StandardCoders_EnumSchema, RunnerApi.StandardCoders_Enum.KV)).toBe("beam:coder:kv:v1");
    expect(urn(Metrics.MonitoringInfoTypeUrns_EnumSchema, Metrics.MonitoringInfoTypeUrns_Enum.SUM_INT64_TYPE)).toBe(
      "beam:metrics:sum_int64:v1",
    );
  });

  it("fails with INTERNAL for a value without the annotation", () => {
    const err = (() => {
      try {
        urn(RunnerApi.IsBounded_EnumSchema, RunnerApi.IsBounded_Enum.BOUNDED);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(SluiceError.is(err, "INTERNAL")).toBe(true);
    expect((err as Error).message).toMatch(/IsBounded\.Enum\.BOUNDED has no beam_urn annotation/);
  });

  it("reads beam_constant annotations", () => {
    expect(beamConstant(RunnerApi.BeamConstants_ConstantsSchema, RunnerApi.BeamConstants_Constants.MAX_TIMESTAMP_MILLIS)).toBe(
      "9223372036854775",
    );
  });
});

describe("Urns", () => {
  it("has the URNs the portable runner and the harness use", () => {
    expect(Urns.transforms.parDo).toBe("beam:transform:pardo:v1");
    expect(Urns.transforms.groupByKey).toBe("beam:transform:group_by_key:v1");
    expect(Urns.transforms.impulse).toBe("beam:transform:impulse:v1");
    expect(Urns.transforms.flatten).toBe("beam:transform:flatten:v1");
    expect(Urns.transforms.assignWindows).toBe("beam:transform:window_into:v1");
    expect(Urns.transforms.windowInto).toBe("beam:transform:window_into:v1");
    expect(Urns.transforms.combinePerKey).toBe("beam:transform:combine_per_key:v1");
    expect(Urns.transforms.reshuffle).toBe("beam:transform:reshuffle:v1");
    expect(Urns.transforms.dataSource).toBe("beam:runner:source:v1");
    expect(Urns.transforms.dataSink).toBe("beam:runner:sink:v1");
    expect(Urns.transforms.executableStage).toBe("beam:runner:executable_stage:v1");
    expect(Urns.combineComponents.combinePerKeyPrecombine).toBe("beam:transform:combine_per_key_precombine:v1");
    expect(Urns.combineComponents.combinePerKeyMergeAccumulators).toBe("beam:transform:combine_per_key_merge_accumulators:v1");
    expect(Urns.combineComponents.combinePerKeyExtractOutputs).toBe("beam:transform:combine_per_key_extract_outputs:v1");
    expect(Urns.transforms.combineGroupedValues).toBe("beam:transform:combine_grouped_values:v1");
    expect(Urns.coders.kv).toBe("beam:coder:kv:v1");
    expect(Urns.coders.lengthPrefix).toBe("beam:coder:length_prefix:v1");
    expect(Urns.coders.windowedValue).toBe("beam:coder:windowed_value:v1");
    expect(Urns.coders.globalWindow).toBe("beam:coder:global_window:v1");
    expect(Urns.windowFns.global).toBe("beam:window_fn:global_windows:v1");
    expect(Urns.windowFns.fixed).toBe("beam:window_fn:fixed_windows:v1");
    expect(Urns.windowFns.sliding).toBe("beam:window_fn:sliding_windows:v1");
    expect(Urns.windowFns.sessions).toBe("beam:window_fn:session_windows:v1");
    expect(Urns.sideInputs.iterable).toBe("beam:side_input:iterable:v1");
    expect(Urns.sideInputs.multimap).toBe("beam:side_input:multimap:v1");
    expect(Urns.environments.external).toBe("beam:env:external:v1");
    expect(Urns.environments.process).toBe("beam:env:process:v1");
    expect(Urns.monitoringInfos.userSumInt64).toBe("beam:metric:user:sum_int64:v1");
    expect(Urns.monitoringInfos.elementCount).toBe("beam:metric:element_count:v1");
    expect(Urns.monitoringInfoTypes.distributionInt64Type).toBe("beam:metrics:distribution_int64:v1");
    expect(Urns.requirements.requiresStatefulProcessing).toBe("beam:requirement:pardo:stateful:v1");
    expect(Urns.protocols.progressReporting).toBe("beam:protocol:progress_reporting:v1");
    expect(Urns.protocols.harnessMonitoringInfos).toBe("beam:protocol:harness_monitoring_infos:v1");
    expect(Urns.runnerProtocols.monitoringInfoShortIds).toBe("beam:protocol:monitoring_info_short_ids:v1");
    expect(Urns.artifactTypes.file).toBe("beam:artifact:type:file:v1");
    expect(Urns.artifactRoles.stagingTo).toBe("beam:artifact:role:staging_to:v1");
    expect(Urns.userStates.bag).toBe("beam:user_state:bag:v1");
    expect(Urns.displayData.labelled).toBe("beam:display_data:labelled:v1");
  });

  it("covers every value of the enums it mirrors", () => {
    const mirrored: [Readonly<Record<string, string>>, DescEnum][] = [
      [Urns.primitives, RunnerApi.StandardPTransforms_PrimitivesSchema],
      [Urns.deprecatedPrimitives, RunnerApi.StandardPTransforms_DeprecatedPrimitivesSchema],
      [Urns.composites, RunnerApi.StandardPTransforms_CompositesSchema],
      [Urns.combineComponents, RunnerApi.StandardPTransforms_CombineComponentsSchema],
      [Urns.splittableParDoComponents, RunnerApi.StandardPTransforms_SplittableParDoComponentsSchema],
      [Urns.groupIntoBatchesComponents, RunnerApi.StandardPTransforms_GroupIntoBatchesComponentsSchema],
      [Urns.coders, RunnerApi.StandardCoders_EnumSchema],
      [Urns.sideInputs, RunnerApi.StandardSideInputTypes_EnumSchema],
      [Urns.userStates, RunnerApi.StandardUserStateTypes_EnumSchema],
      [Urns.environments, RunnerApi.StandardEnvironments_EnvironmentsSchema],
      [Urns.protocols, RunnerApi.StandardProtocols_EnumSchema],
      [Urns.runnerProtocols, RunnerApi.StandardRunnerProtocols_EnumSchema],
      [Urns.requirements, RunnerApi.StandardRequirements_EnumSchema],
      [Urns.artifactTypes, RunnerApi.StandardArtifacts_TypesSchema],
      [Urns.artifactRoles, RunnerApi.StandardArtifacts_RolesSchema],
      [Urns.resourceHints, RunnerApi.StandardResourceHints_EnumSchema],
      [Urns.monitoringInfos, Metrics.MonitoringInfoSpecs_EnumSchema],
      [Urns.monitoringInfoTypes, Metrics.MonitoringInfoTypeUrns_EnumSchema],
    ];
    for (const [table, schema] of mirrored) {
      expect(Object.keys(table).sort(), schema.typeName).toEqual(schema.values.map((v) => camelCase(v.localName)).sort());
      for (const value of Object.values(table)) expect(value, schema.typeName).toMatch(/^beam:[a-z_]+:/);
    }
    // The merged transform table loses nothing to key clashes.
    const parts = [
      Urns.primitives,
      Urns.deprecatedPrimitives,
      Urns.composites,
      Urns.combineComponents,
      Urns.splittableParDoComponents,
      Urns.groupIntoBatchesComponents,
      Urns.fnApiTransforms,
    ];
    const total = parts.reduce((n, t) => n + Object.keys(t).length, 0);
    expect(Object.keys(Urns.transforms).length).toBe(total + 2); // + windowInto alias, executableStage
    expect(new Set(Object.values(Urns.transforms)).size).toBe(total + 1);
  });

  it("is frozen", () => {
    expect(Object.isFrozen(Urns)).toBe(true);
    expect(Object.isFrozen(Urns.coders)).toBe(true);
    expect(Object.isFrozen(Urns.transforms)).toBe(true);
  });

  it("camelCases like its type", () => {
    expect(camelCase("PAR_DO")).toBe("parDo");
    expect(camelCase("USER_TOP_N_INT64")).toBe("userTopNInt64");
    expect(camelCase("PUBSUB_WRITE_V2")).toBe("pubsubWriteV2");
    expect(camelCase("KV")).toBe("kv");
  });
});

describe("monitoring infos", () => {
  it("have specs with type URNs and required labels", () => {
    expect(MonitoringInfoSpecs.userSumInt64).toEqual({
      urn: "beam:metric:user:sum_int64:v1",
      type: "beam:metrics:sum_int64:v1",
      requiredLabels: ["PTRANSFORM", "NAMESPACE", "NAME"],
      annotations: expect.any(Object),
    });
    expect(MonitoringInfoSpecs.elementCount.requiredLabels).toEqual(["PCOLLECTION"]);
    expect(MonitoringInfoSpecs.userDistributionInt64.type).toBe(Urns.monitoringInfoTypes.distributionInt64Type);
  });

  it("have label keys", () => {
    expect(MonitoringInfoLabels.transform).toBe("PTRANSFORM");
    expect(MonitoringInfoLabels.pcollection).toBe("PCOLLECTION");
    expect(MonitoringInfoLabels.namespace).toBe("NAMESPACE");
    expect(MonitoringInfoLabels.name).toBe("NAME");
  });
});

describe("BeamConstants", () => {
  it("parses the timestamp bounds and agrees with sdk/time", () => {
    expect(BeamConstants.minTimestampMillis).toBe(-9223372036854775n);
    expect(BeamConstants.minTimestampMillis).toBe(MIN_TIMESTAMP_MILLIS);
    expect(BeamConstants.maxTimestampMillis).toBe(MAX_TIMESTAMP_MILLIS);
    expect(BeamConstants.globalWindowMaxTimestampMillis).toBe(GLOBAL_WINDOW_MAX_TIMESTAMP_MILLIS);
  });

  it("has the artifact and annotation constants", () => {
    expect(BeamConstants.noArtifactsStagedToken).toBe("__no_artifacts_staged__");
    expect(BeamConstants.annotations.configRowKey).toBe("config_row");
    expect(BeamConstants.annotations.schematransformUrnKey).toBe("schematransform_urn");
  });
});
