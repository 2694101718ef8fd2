/**
 * References to user code inside Runner API protos. User code is not serialised: a function spec
 * names the transform it belongs to, and the worker finds it in the pipeline it rebuilt.
 */
import { create } from "@bufbuild/protobuf";
import { SluiceError } from "../internal/errors.js";
import { type FunctionSpec, FunctionSpecSchema } from "../model/gen/org/apache/beam/model/pipeline/v1/beam_runner_api_pb.js";

/** Our own function-spec URNs: user code found by transform name in the rebuilt pipeline. */
export const SluiceUrns = {
  doFn: "sluice:dofn:v1",
  combineFn: "sluice:combinefn:v1",
  viewFn: "sluice:view_fn:v1",
  windowMappingFn: "sluice:window_mapping_fn:v1",
} as const;

/** The payload of our function specs. */
export interface UserFnRef {
  /** Unique name of the transform in the user's pipeline. */
  readonly transform: string;
  /** For side inputs: the side input's name. */
  readonly sideInput?: string;
}

const utf8 = new TextEncoder();

export function userFnSpec(urn: string, ref: UserFnRef): FunctionSpec {
  return create(FunctionSpecSchema, { urn, payload: utf8.encode(JSON.stringify(ref)) });
}

export function readUserFnRef(spec: FunctionSpec | undefined, where: string): UserFnRef {
  if (spec?.urn !== undefined && Object.values(SluiceUrns).includes(spec.urn as never)) {
    return JSON.parse(new TextDecoder().decode(spec.payload)) as UserFnRef;
  }
  throw new SluiceError("INVALID_PIPELINE", `'${where}' carries no Sluice function (${spec?.urn ?? "none"})`, {
    hint: "The Sluice worker runs only pipelines submitted by Sluice.",
  });
}

/** A digest of the graph's shape (the SDK's; the worker checks its rebuilt pipeline with it). */
export { pipelineFingerprint } from "../sdk/pipeline.js";
