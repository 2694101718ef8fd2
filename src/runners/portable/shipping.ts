/**
 * Code shipping for EXTERNAL and PROCESS environments, with no compiler plugin and no manual
 * registration: the pipeline file `sluice run` imported is bundled by esbuild into one ES module
 * (its relative imports and npm dependencies included; `sluice` and Node's builtins left as
 * imports, so a worker runs it against its own copy of Sluice), declared as the environment's one
 * dependency (a file artifact with the staging_to role "pipeline.mjs"), and handed to the job
 * server's artifact staging service when it asks. A worker (src/harness/worker-main.ts) fetches
 * it, imports it, and the pipeline the file builds is the one it executes; the submitted
 * fingerprint and argv travel as pipeline options so the worker can rebuild the same graph and
 * check that it did.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { bundlePipeline } from "../../internal/bundle.js";
import { SluiceError } from "../../internal/errors.js";
import { RunnerApi } from "../../model/protos.js";
import { Urns } from "../../model/urns.js";
import { getLaunchContext } from "../../sdk/options.js";
import { STAGED_PIPELINE_NAME } from "../../harness/shipped.js";

export { ARGV_OPTION, FINGERPRINT_OPTION, STAGED_PIPELINE_NAME } from "../../harness/shipped.js";

/** The bundled pipeline file, ready to stage. */
export interface ShippedPipeline {
  /** The pipeline file that was bundled. */
  readonly entry: string;
  /** The bundle: one ES module with an inline source map pointing at the original files. */
  readonly bytes: Uint8Array;
  /** Hex SHA-256 of `bytes`. */
  readonly sha256: string;
  /** The environment dependency declaring it. */
  readonly artifact: RunnerApi.ArtifactInformation;
  /** The pipeline's own arguments (the launch context's argv). */
  readonly argv: readonly string[];
  /** How long bundling took, in ms. */
  readonly bundleMs: number;
}

/** Bytes served to the job server's artifact staging, by `artifactKey`. */
export type ArtifactBytes = ReadonlyMap<string, Uint8Array>;

/** A stable key for an artifact's identity: its type and type payload. */
export function artifactKey(artifact: Pick<RunnerApi.ArtifactInformation, "typeUrn" | "typePayload">): string {
  return `${artifact.typeUrn}|${Buffer.from(artifact.typePayload).toString("base64")}`;
}

/**
 * Bundles the pipeline file the running program was launched with (`sluice run <file>`). Fails
 * when there is no launch context: a pipeline built in a plain `node` script has no file to ship.
 */
export async function shipLaunchedPipeline(environmentType: string): Promise<ShippedPipeline> {
  const launch = getLaunchContext();
  if (launch?.file === undefined) {
    throw new SluiceError(
      "FAILED_PRECONDITION",
      `--environment_type=${environmentType} runs the pipeline's code in separate worker processes, which rebuild it from the pipeline file, but this pipeline was not started by \`sluice run <file>\` (there is no pipeline file to ship)`,
      {
        hint: `Run it with \`npx sluice run <file.ts> --environment_type=${environmentType} ...\`, or use --environment_type=LOOPBACK (workers inside this process).`,
      },
    );
  }
  return bundlePipelineFile(launch.file, launch.argv);
}

/** Bundles `entry` (a .ts/.mts/.js/.mjs pipeline file) into one ES module for the workers. */
export async function bundlePipelineFile(entry: string, argv: readonly string[] = []): Promise<ShippedPipeline> {
  const started = Date.now();
  if (!existsSync(entry)) {
    throw new SluiceError("NOT_FOUND", `the pipeline file to ship to the workers does not exist: ${entry}`, {
      hint: "It was moved or deleted after `sluice run` started; run it again.",
    });
  }
  const outfile = `${dirname(entry)}/${STAGED_PIPELINE_NAME}`;
  const bundle = await bundlePipeline(entry, { purpose: "the workers", outfile });
  const bytes = Buffer.from(bundle.code, "utf8");
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const artifact = create(RunnerApi.ArtifactInformationSchema, {
    typeUrn: Urns.artifactTypes.file,
    typePayload: toBinary(RunnerApi.ArtifactFilePayloadSchema, create(RunnerApi.ArtifactFilePayloadSchema, { path: outfile, sha256 })),
    roleUrn: Urns.artifactRoles.stagingTo,
    rolePayload: toBinary(
      RunnerApi.ArtifactStagingToRolePayloadSchema,
      create(RunnerApi.ArtifactStagingToRolePayloadSchema, { stagedName: STAGED_PIPELINE_NAME }),
    ),
  });
  return { entry, bytes, sha256, artifact, argv: [...argv], bundleMs: Date.now() - started };
}
