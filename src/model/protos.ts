/**
 * Beam's protocol messages and services, one namespace per .proto file, generated at install time
 * by scripts/gen-protos.mjs (protobuf-es v2) from the .proto files of the pinned Beam version into
 * src/model/gen/ (never committed). Import from here rather than from the deep generated paths:
 *
 *   import { RunnerApi } from "../model/protos.js";
 *   const spec = create(RunnerApi.FunctionSpecSchema, { urn, payload });
 *
 * Names follow the generated code: messages are types (`RunnerApi.Pipeline`), their descriptors
 * `…Schema` (`RunnerApi.PipelineSchema`, for `create`/`toBinary`/`fromBinary` from
 * `@bufbuild/protobuf`), nested names joined by `_` (`RunnerApi.StandardCoders_Enum`), and
 * services are descriptors for ./grpc.ts (`JobApi.JobService`, `FnApi.BeamFnControl`).
 * Google's well-known types (Struct, Timestamp, Duration, descriptor) come from
 * `@bufbuild/protobuf/wkt`.
 */

/** beam_runner_api.proto: Pipeline, Components, PTransform, Coder, Environment, standard URN enums. */
export * as RunnerApi from "./gen/org/apache/beam/model/pipeline/v1/beam_runner_api_pb.js";
/** endpoints.proto: ApiServiceDescriptor (a service's URL). */
export * as Endpoints from "./gen/org/apache/beam/model/pipeline/v1/endpoints_pb.js";
/** external_transforms.proto: cross-language expansion payloads and annotations. */
export * as ExternalTransforms from "./gen/org/apache/beam/model/pipeline/v1/external_transforms_pb.js";
/** metrics.proto: MonitoringInfo, its specs, labels and type URNs. */
export * as Metrics from "./gen/org/apache/beam/model/pipeline/v1/metrics_pb.js";
/** schema.proto: Beam schemas and rows. */
export * as Schema from "./gen/org/apache/beam/model/pipeline/v1/schema_pb.js";
/** standard_window_fns.proto: payloads of the standard window fns. */
export * as StandardWindowFns from "./gen/org/apache/beam/model/pipeline/v1/standard_window_fns_pb.js";
/** beam_job_api.proto: JobService (prepare, run, state, messages, metrics). */
export * as JobApi from "./gen/org/apache/beam/model/job_management/v1/beam_job_api_pb.js";
/** beam_artifact_api.proto: artifact staging and retrieval. */
export * as ArtifactApi from "./gen/org/apache/beam/model/job_management/v1/beam_artifact_api_pb.js";
/** beam_expansion_api.proto: ExpansionService (cross-language transforms). */
export * as ExpansionApi from "./gen/org/apache/beam/model/job_management/v1/beam_expansion_api_pb.js";
/** beam_fn_api.proto: the Fn API (control, data, state, logging, worker pool, worker status). */
export * as FnApi from "./gen/org/apache/beam/model/fn_execution/v1/beam_fn_api_pb.js";
/** beam_provision_api.proto: ProvisionService (a worker's provisioning info). */
export * as ProvisionApi from "./gen/org/apache/beam/model/fn_execution/v1/beam_provision_api_pb.js";
