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
  portable: async (options) => {
    if (!options.jobEndpoint) {
      throw new SluiceError("INVALID_ARGUMENT", "--runner=PortableRunner needs --job_endpoint=<host:port> of a Beam job service", {
        hint: "For Beam's Flink job server that is usually localhost:8099 (not Flink's REST port 8081); or use --runner=prism.",
      });
    }
    return new (await import("./portable/runner.js")).PortableRunner(options.jobEndpoint);
  },
  flink: flinkRunner,
  prism: async (options) => {
    const { PortableRunner } = await import("./portable/runner.js");
    const { startPrism } = await import("./portable/prism.js");
    if (options.jobEndpoint) return new PortableRunner(options.jobEndpoint, { serviceLabel: `Prism at ${options.jobEndpoint}` });
    return {
      name: "prism",
      async run(pipeline) {
        const prism = await startPrism(options.prismLocation, (m) => void process.stderr.write(`${m}\n`));
        try {
          return await new PortableRunner(prism.endpoint, { serviceLabel: `Prism (started at ${prism.endpoint})` }).run(pipeline);
        } finally {
          await prism.stop();
        }
      },
    };
  },
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

/** The Flink runner: a given job server, the running sluice cluster's, or one started for the run. */
async function flinkRunner(options: PipelineOptions): Promise<PipelineRunner> {
    const { PortableRunner } = await import("./portable/runner.js");
    const { pinnedFlinkJobServer } = await import("./portable/flink.js");
    const pinned = pinnedFlinkJobServer();
    if (options.flinkVersion && options.flinkVersion !== pinned.flink) {
      throw new SluiceError("UNSUPPORTED", `--flink_version=${options.flinkVersion} is not available: Sluice runs Beam ${pinned.beam}'s Flink ${pinned.flink} job server`, {
        hint: `Use --flink_version=${pinned.flink} (or leave it out), or point --job_endpoint at a job server you run for another Flink version.`,
      });
    }
    if (options.jobEndpoint) return new PortableRunner(options.jobEndpoint, { serviceLabel: `the Flink job server at ${options.jobEndpoint}` });
    // A running `sluice cluster` (this user's): submit to its job server, and run the pipeline's
    // code in its worker pool when the pipeline file can be shipped (started by `sluice run`).
    const { runningClusterEndpoints } = await import("../cluster/state.js");
    const cluster = options.flinkMaster ? undefined : runningClusterEndpoints();
    if (cluster) {
      const { getLaunchContext } = await import("../sdk/options.js");
      const shippable = getLaunchContext()?.file !== undefined;
      process.stderr.write(
        `sluice: using the running sluice cluster: job server ${cluster.jobEndpoint}, Flink ${cluster.flinkRest}` +
          `${options.environmentType === undefined && shippable ? `, worker pool ${cluster.sluicePool}` : ""}\n`,
      );
      return new PortableRunner(cluster.jobEndpoint, {
        serviceLabel: `the sluice cluster's job server at ${cluster.jobEndpoint} (see \`sluice cluster status\` and \`sluice cluster logs jobserver\`)`,
        ...(shippable ? { defaultEnvironment: { type: "EXTERNAL" as const, config: cluster.sluicePool } } : {}),
      });
    }
    const { startFlinkJobServer } = await import("./portable/flink.js");
    const { refuseFlinkStreamingGaps } = await import("./portable/runner.js");
    return {
      name: "flink",
      async run(pipeline) {
        // Before paying for a job server: what Flink's streaming mode would get wrong.
        if (options.streaming || pipeline.pcollections.some((pc) => !pc.isBounded)) refuseFlinkStreamingGaps(pipeline);
        const log = (m: string): void => void process.stderr.write(`${m}\n`);
        const started = Date.now();
        const server = await startFlinkJobServer({ ...(options.flinkMaster ? { flinkMaster: options.flinkMaster } : {}), log });
        log(`sluice: started Beam's Flink job server for this run (Flink ${options.flinkMaster ?? "[local]"}) in ${Date.now() - started} ms`);
        try {
          return await new PortableRunner(server.endpoint, { serviceLabel: `the Flink job server (started at ${server.endpoint})` }).run(pipeline);
        } finally {
          await server.stop();
        }
      },
    };
  }
