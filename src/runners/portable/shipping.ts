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
import { pathToFileURL } from "node:url";
import { describeError, SluiceError } from "../../internal/errors.js";
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
  let esbuild: typeof import("esbuild");
  try {
    esbuild = await import("esbuild");
  } catch (err) {
    throw new SluiceError("INTERNAL", `esbuild, which bundles the pipeline file for the workers, could not be loaded: ${describeError(err)}`, {
      hint: "Reinstall sluice's dependencies (npm install).",
      cause: err,
    });
  }
  // Output paths are virtual (nothing is written); the directory anchors the source map's paths.
  const outfile = `${dirname(entry)}/${STAGED_PIPELINE_NAME}`;
  let result: import("esbuild").BuildResult<{ write: false; metafile: false }>;
  try {
    result = await esbuild.build({
      entryPoints: [entry],
      outfile,
      bundle: true,
      write: false,
      platform: "node",
      format: "esm",
      target: "node20",
      // The worker resolves `sluice` to its own copy, so the pipeline shares its classes.
      external: ["sluice", "sluice/*"],
      sourcemap: "external",
      sourcesContent: true,
      // Bundled CommonJS dependencies that require() Node builtins need a real `require` in ESM:
      // esbuild's require shim calls a `require` in scope when there is one. It is put on
      // globalThis, not declared, so a pipeline's own top-level `require` cannot clash with it;
      // `require` is not redefined, so esbuild still sees (and bundles) the dependencies' relative
      // requires (picomatch's `require('./lib/picomatch')`).
      banner: {
        js: 'import { createRequire as __sluice_createRequire } from "node:module";\nif (typeof globalThis.require !== "function") globalThis.require = __sluice_createRequire(import.meta.url);',
      },
      logLevel: "silent",
    });
  } catch (err) {
    const errors = (err as { errors?: { text: string; location?: { file: string; line: number; column: number } | null }[] }).errors ?? [];
    const detail = errors
      .slice(0, 5)
      // esbuild's columns are 0-based; editors' (and `sluice run`'s) are 1-based.
      .map((e) => `  ${e.location ? `${e.location.file}:${e.location.line}:${e.location.column + 1}: ` : ""}${e.text}`)
      .join("\n");
    throw new SluiceError("USER_CODE_FAILED", `could not bundle ${entry} for the workers${detail ? `:\n${detail}` : `: ${describeError(err)}`}`, {
      hint: "Fix the import or syntax error named above (the bundle includes everything the pipeline file imports except `sluice` and Node's builtins).",
      cause: err,
    });
  }
  const code = result.outputFiles.find((f) => f.path.endsWith(".mjs"));
  const map = result.outputFiles.find((f) => f.path.endsWith(".map"));
  if (code === undefined) {
    throw new SluiceError("INTERNAL", `esbuild produced no bundle for ${entry}`, { hint: "Rerun with --verbose and report it." });
  }
  const bytes = Buffer.from(withInlineSourceMap(code.text, map?.text, dirname(entry)), "utf8");
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

/**
 * Replaces esbuild's external source-map reference with an inline one whose sources are absolute
 * file URLs, so stack traces on a worker (wherever the bundle sits) name the user's own files.
 */
function withInlineSourceMap(code: string, mapText: string | undefined, sourceDir: string): string {
  const body = code.replace(/\n\/\/# sourceMappingURL=[^\n]*\n?$/, "\n");
  if (mapText === undefined) return body;
  const map = JSON.parse(mapText) as { sources?: string[]; sourceRoot?: string };
  const base = pathToFileURL(`${sourceDir}/`);
  map.sources = (map.sources ?? []).map((s) => new URL(s, base).href);
  delete map.sourceRoot;
  const encoded = Buffer.from(JSON.stringify(map), "utf8").toString("base64");
  return `${body}//# sourceMappingURL=data:application/json;base64,${encoded}\n`;
}
