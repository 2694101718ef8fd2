/**
 * A cluster's first job pays for its JVMs being cold: the job server translating and submitting
 * for the first time, the JobManager and TaskManagers loading Beam's classes (on their classpath,
 * so once per JVM), the JIT. `sluice cluster up` runs this small job once the cluster is ready (in
 * the background: it does not delay `up`), so that the user's first job starts warm. It is the
 * seed's shape (Create, FlatMap, WriteToText: an Impulse, fused stages, groupings, a file sink),
 * with its workers in the calling process (LOOPBACK), named `sluice-cluster-warm-up`.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { WriteToText } from "../../sdk/io/text.js";
import { PipelineOptions } from "../../sdk/options.js";
import { Pipeline } from "../../sdk/pipeline.js";
import { Create, FlatMap } from "../../sdk/transforms/core.js";
import { PortableRunner } from "./runner.js";

/** The Beam (and Flink) name of the warm-up job. */
export const WARM_UP_JOB_NAME = "sluice-cluster-warm-up";

/** Runs the warm-up job on the job server at `jobEndpoint`, writing into (and then removing) `scratchDir`. */
export async function warmUpJobServer(jobEndpoint: string, scratchDir: string): Promise<void> {
  const p = Pipeline.create(PipelineOptions.create({ jobName: WARM_UP_JOB_NAME, environmentType: "LOOPBACK" }));
  p.apply("Create", Create.of(["warm up the cluster"]))
    .apply("Split", FlatMap((line: string) => line.split(" ")))
    .apply("Write", WriteToText(join(scratchDir, "words")));
  try {
    await new PortableRunner(jobEndpoint, { log: () => undefined, serviceLabel: `the cluster's job server at ${jobEndpoint}` }).run(p);
  } finally {
    await rm(scratchDir, { recursive: true, force: true });
  }
}
