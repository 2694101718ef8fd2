/**
 * Sluice: Apache Beam-model data pipelines in TypeScript.
 *
 * ```ts
 * import { Pipeline, Create, FlatMap, Count, Map, WriteToText } from "sluice";
 * ```
 */
export * from "./internal/errors.js";
export * from "./sdk/options.js";
export { Pipeline, type PipelineResult, type PipelineState, type PipelineRunner } from "./sdk/pipeline.js";
export { PCollection, PBegin, PCollectionList, PCollectionRecord, type PInput, type POutput } from "./sdk/pvalue.js";
export { PTransform, composite, type ExpandContext } from "./sdk/transform.js";
export type { DoFn, ProcessContext, StartBundleContext, FinishBundleContext, FailedElement } from "./sdk/dofn.js";
export * from "./sdk/sideinputs.js";
export * from "./sdk/metrics.js";
export * from "./sdk/time.js";
export * from "./sdk/windowing/window.js";
export * from "./sdk/windowing/windowfns.js";
export * from "./sdk/transforms/core.js";
export * from "./sdk/transforms/grouping.js";
export * from "./sdk/transforms/combine.js";
export { naturalCompare, combineAll, type AnyCombineFn } from "./sdk/transforms/combinefn.js";
export * from "./sdk/transforms/util.js";
export { ReadFromText, WriteToText, type ReadFromTextOptions, type WriteToTextOptions, type Compression } from "./sdk/io/text.js";
export * from "./sdk/coders/index.js";
export { type Coder, encodeToBytes, decodeFromBytes } from "./sdk/coders/coder.js";
export { ByteReader, ByteWriter } from "./sdk/coders/bytes.js";
export { DirectRunner, type DirectRunnerOptions } from "./runners/direct/runner.js";
