/**
 * Runner selection by `--runner`. Runners load lazily, so the direct runner never pulls in the
 * portable runner's protocol code.
 */
import { SluiceError } from "../internal/errors.js";
import type { PipelineRunner } from "../sdk/pipeline.js";
import type { PipelineOptions } from "../sdk/options.js";

const runners: Readonly<Record<string, (options: PipelineOptions) => Promise<PipelineRunner>>> = {
  direct: async (options) =>
    new (await import("./direct/runner.js")).DirectRunner(options.maxBundleSize ? { bundleSize: options.maxBundleSize } : {}),
};

/** The runner the options name (`direct` by default). */
export async function resolveRunner(options: PipelineOptions): Promise<PipelineRunner> {
  const name = options.runner;
  const load = runners[name];
  if (!load) {
    throw new SluiceError("UNSUPPORTED", `Runner '${name}' is not available in this version of Sluice`, {
      hint: `Available runners: ${Object.keys(runners).join(", ")}. Use --runner=direct.`,
    });
  }
  return load(options);
}
