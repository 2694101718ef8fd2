/**
 * The generated protobuf-es code round-trips Beam's messages through the binary wire format.
 */
import { create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { FnApi, JobApi, RunnerApi } from "./protos.js";
import { Urns } from "./urns.js";

describe("generated messages", () => {
  it("round-trip a Pipeline with components and FunctionSpecs", () => {
    const payload = toBinary(
      RunnerApi.ParDoPayloadSchema,
      create(RunnerApi.ParDoPayloadSchema, {
        doFn: { urn: "beam:dofn:sluice:v1", payload: new Uint8Array([1, 2, 3]) },
        sideInputs: { side: { accessPattern: { urn: Urns.sideInputs.iterable } } },
      }),
    );
    const pipeline = create(RunnerApi.PipelineSchema, {
      components: {
        transforms: {
          impulse: {
            uniqueName: "Create/Impulse",
            spec: { urn: Urns.transforms.impulse },
            outputs: { out: "pc0" },
            environmentId: "",
          },
          map: {
            uniqueName: "Map",
            spec: { urn: Urns.transforms.parDo, payload },
            inputs: { in: "pc0" },
            outputs: { out: "pc1" },
            environmentId: "env",
          },
        },
        pcollections: {
          pc0: { uniqueName: "pc0", coderId: "bytes", isBounded: RunnerApi.IsBounded_Enum.BOUNDED, windowingStrategyId: "global" },
          pc1: { uniqueName: "pc1", coderId: "kv", isBounded: RunnerApi.IsBounded_Enum.BOUNDED, windowingStrategyId: "global" },
        },
        coders: {
          bytes: { spec: { urn: Urns.coders.bytes } },
          kv: { spec: { urn: Urns.coders.kv }, componentCoderIds: ["bytes", "bytes"] },
        },
        windowingStrategies: {
          global: {
            windowFn: { urn: Urns.windowFns.global },
            windowCoderId: "gw",
            mergeStatus: RunnerApi.MergeStatus_Enum.NON_MERGING,
            allowedLateness: 0n,
          },
        },
        environments: {
          env: {
            urn: Urns.environments.external,
            payload: toBinary(
              RunnerApi.ExternalPayloadSchema,
              create(RunnerApi.ExternalPayloadSchema, { endpoint: { url: "localhost:50000" } }),
            ),
            capabilities: [Urns.coders.kv, Urns.protocols.progressReporting],
          },
        },
      },
      rootTransformIds: ["impulse", "map"],
      requirements: [Urns.requirements.requiresStatefulProcessing],
    });

    const bytes = toBinary(RunnerApi.PipelineSchema, pipeline);
    const back = fromBinary(RunnerApi.PipelineSchema, bytes);
    expect(equals(RunnerApi.PipelineSchema, back, pipeline)).toBe(true);
    const map = back.components?.transforms["map"];
    expect(map?.spec?.urn).toBe("beam:transform:pardo:v1");
    const parDo = fromBinary(RunnerApi.ParDoPayloadSchema, map?.spec?.payload ?? new Uint8Array());
    expect(parDo.doFn?.payload).toEqual(new Uint8Array([1, 2, 3]));
    expect(parDo.sideInputs["side"]?.accessPattern?.urn).toBe("beam:side_input:iterable:v1");
    expect(back.components?.coders["kv"]?.componentCoderIds).toEqual(["bytes", "bytes"]);
    expect(back.components?.windowingStrategies["global"]?.mergeStatus).toBe(RunnerApi.MergeStatus_Enum.NON_MERGING);
  });

  it("keep unknown fields from newer Beam versions", () => {
    // A FunctionSpec with an extra field 15 (varint 7) that this Beam version does not define.
    const known = toBinary(RunnerApi.FunctionSpecSchema, create(RunnerApi.FunctionSpecSchema, { urn: "u" }));
    const withUnknown = new Uint8Array([...known, (15 << 3) | 0, 7]);
    const spec = fromBinary(RunnerApi.FunctionSpecSchema, withUnknown);
    expect(spec.urn).toBe("u");
    expect(toBinary(RunnerApi.FunctionSpecSchema, spec)).toEqual(withUnknown);
  });

  it("map google.protobuf.Struct pipeline options to JSON", () => {
    const request = create(JobApi.PrepareJobRequestSchema, {
      jobName: "wordcount",
      pipelineOptions: { "beam:option:job_name:v1": "wordcount", "beam:option:parallelism:v1": 2 },
    });
    const back = fromBinary(JobApi.PrepareJobRequestSchema, toBinary(JobApi.PrepareJobRequestSchema, request));
    expect(back.pipelineOptions).toEqual({ "beam:option:job_name:v1": "wordcount", "beam:option:parallelism:v1": 2 });
  });

  it("carry oneofs in Fn API instructions", () => {
    const request = create(FnApi.InstructionRequestSchema, {
      instructionId: "1",
      request: { case: "processBundle", value: { processBundleDescriptorId: "stage-1" } },
    });
    const back = fromBinary(FnApi.InstructionRequestSchema, toBinary(FnApi.InstructionRequestSchema, request));
    expect(back.request.case).toBe("processBundle");
    expect(back.request.case === "processBundle" && back.request.value.processBundleDescriptorId).toBe("stage-1");
  });
});
