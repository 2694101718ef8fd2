/**
 * The contract between code shipping (src/runners/portable/shipping.ts, on the submitting side)
 * and the worker process (worker-main.ts): the name the bundled pipeline file is staged under and
 * the pipeline options that carry what a worker needs to rebuild the submitted pipeline.
 */

/** The name the bundled pipeline file is staged under (its staging_to role's payload). */
export const STAGED_PIPELINE_NAME = "pipeline.mjs";

/** Pipeline option (Job API key) carrying the submitted pipeline's fingerprint. */
export const FINGERPRINT_OPTION = "beam:option:sluice_fingerprint:v1";

/** Pipeline option (Job API key) carrying the pipeline's argv, as a JSON list of strings. */
export const ARGV_OPTION = "beam:option:sluice_argv:v1";
