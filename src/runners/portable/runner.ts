/**
 * PortableRunner: submits a pipeline to a Beam job service over the Job API (Prepare, artifact
 * staging, Run), follows the job's state and messages, turns Ctrl-C into Cancel, and returns the
 * final state and metrics. With LOOPBACK (the default) the SDK workers run in this process; with
 * EXTERNAL (a `sluice worker-pool`) or PROCESS (a command the runner starts) they run elsewhere,
 * and the pipeline file is bundled and staged as the environment's dependency (shipping.ts).
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SluiceError } from "../../internal/errors.js";
import { type Client, createClient } from "../../model/grpc.js";
import { ArtifactApi, Endpoints, JobApi, RunnerApi } from "../../model/protos.js";
import { Urns } from "../../model/urns.js";
import { containersFromMonitoringInfos } from "../../harness/monitoring.js";
import { startLoopbackPool, workerMainPath, type WorkerPoolHandle } from "../../harness/pool.js";
import { MetricResults } from "../../sdk/metrics.js";
import type { PipelineOptions } from "../../sdk/options.js";
import type { Pipeline, PipelineResult, PipelineRunner, PipelineState } from "../../sdk/pipeline.js";
import type { TransformNode } from "../../sdk/graph.js";
import { ARGV_OPTION, type ArtifactBytes, artifactKey, FINGERPRINT_OPTION, shipLaunchedPipeline, type ShippedPipeline } from "./shipping.js";
import { pinnedFlinkJobServer } from "./flink.js";
import { beamVersion } from "./services.js";
import { translate } from "./translate.js";
import { IsBounded_Enum } from "../../model/gen/org/apache/beam/model/pipeline/v1/beam_runner_api_pb.js";

const S = JobApi.JobState_Enum;
const TERMINAL = new Set([S.DONE, S.FAILED, S.CANCELLED, S.UPDATED, S.DRAINED]);

export interface PortableRunnerOptions {
  /** Where progress lines go (default: stderr). */
  readonly log?: (line: string) => void;
  /** How long to wait for the job service to answer, in ms (default 30 s). */
  readonly connectTimeoutMs?: number;
  /** Called with the job endpoint's description for error hints (e.g. "the Flink job server"). */
  readonly serviceLabel?: string;
  /**
   * The environment when the pipeline's options set no --environment_type (default LOOPBACK):
   * e.g. the running sluice cluster's worker pool.
   */
  readonly defaultEnvironment?: { readonly type: "EXTERNAL"; readonly config: string };
}

/**
 * Options Sluice sets when the pipeline does not, for a job server that knows them (asked with
 * DescribePipelineOptions, so a Flink job server is recognised behind --runner=PortableRunner
 * too). Beam 2.62's Flink runner, checkpointing a stage whose input has ended (a ReadFromUnbounded
 * after Impulse), buffers the bundle's output at the checkpoint and flushes it only on later input
 * or a watermark, so the elements arrive behind the end-of-time watermark and are dropped
 * (observed): `finish_bundle_before_checkpointing` finishes the bundle before the barrier instead.
 * A streaming job's polls and timers run once per bundle there, and a bundle lasts up to
 * `max_bundle_time_mills` (1000 by default): 100 keeps latency in the 100 ms range.
 */
async function jobServerOptions(jobs: Client<typeof JobApi.JobService>): Promise<Set<string>> {
  try {
    const described = await jobs.describePipelineOptions({}, { timeoutMs: 10_000 });
    return new Set(described.options.map((o) => o.name.replace(/_/g, "").toLowerCase()));
  } catch {
    return new Set();
  }
}

function runnerDefaults(names: ReadonlySet<string>, unbounded: boolean): Record<string, boolean | number> {
  const out: Record<string, boolean | number> = {};
  if (names.has("finishbundlebeforecheckpointing")) out["beam:option:finish_bundle_before_checkpointing:v1"] = true;
  if (unbounded && names.has("maxbundletimemills")) out["beam:option:max_bundle_time_mills:v1"] = 100;
  return out;
}

/**
 * What Beam 2.62's Flink runner silently gets wrong in streaming mode, refused before submission:
 * a processing-time timer of a stateful DoFn whose input is bounded never fires there (once the
 * input has ended, its watermark is at the end of time and the runner drops processing-time timers
 * of windows it passed; observed with Beam Python too). Sluice's own unbounded-source readers
 * drive themselves with event-time timers there (io/unbounded.ts) and are not concerned.
 */
export function refuseFlinkStreamingGaps(pipeline: Pipeline): void {
  const walk = (n: TransformNode): void => {
    const spec = n.primitive;
    if (spec?.kind === "pardo" && spec.stateful !== undefined && spec.unboundedOutput !== true) {
      const input = n.inputs.get("main");
      const timers = Object.entries(spec.stateful.timers).filter(([, t]) => t.domain === "PROCESSING_TIME");
      if (input !== undefined && input.isBounded && timers.length > 0) {
        throw new SluiceError(
          "UNSUPPORTED",
          `'${n.fullLabel}' sets processing-time timer${timers.length > 1 ? "s" : ""} (${timers.map(([name]) => name).join(", ")}) on a bounded input, which Beam's Flink runner never fires in streaming mode (the input's watermark is at the end of time once it ended)`,
          { hint: "Run it without --streaming (batch mode fires them), feed it from an unbounded source, or use an event-time timer." },
        );
      }
    }
    for (const c of n.parts) walk(c);
  };
  walk(pipeline.root);
}

/** Pipeline options as the Job API carries them: `beam:option:<snake_case>:v1` keys. */
export function optionsStruct(options: PipelineOptions): Record<string, string | number | boolean | string[]> {
  const out: Record<string, string | number | boolean | string[]> = {};
  const json = options.toJSON() as Record<string, unknown>;
  const put = (key: string, value: unknown): void => {
    if (value === undefined || value === null) return;
    const snake = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") out[`beam:option:${snake}:v1`] = value;
    else if (Array.isArray(value)) out[`beam:option:${snake}:v1`] = value.map(String);
  };
  for (const [k, v] of Object.entries(json)) {
    if (k === "unknown" && v && typeof v === "object") for (const [uk, uv] of Object.entries(v)) put(uk, uv);
    else if (k !== "positional") put(k, v);
  }
  return out;
}

function stateName(s: number): string {
  return S[s] ?? String(s);
}

export class PortableRunner implements PipelineRunner {
  readonly name = "portable";
  private readonly log: (line: string) => void;

  constructor(
    private readonly endpoint: string,
    private readonly options: PortableRunnerOptions = {},
  ) {
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
  }

  async run(pipeline: Pipeline): Promise<PipelineResult> {
    pipeline.markRun();
    const started = Date.now();
    const opts = pipeline.options;
    const fallback = opts.environmentType === undefined ? this.options.defaultEnvironment : undefined;
    const envType = (opts.environmentType ?? fallback?.type ?? "LOOPBACK").toUpperCase();
    const envConfig = fallback?.config ?? opts.environmentConfig;
    const label = this.options.serviceLabel ?? `the Beam job service at ${this.endpoint}`;
    let pool: WorkerPoolHandle | undefined;
    let cleanup: (() => Promise<void>) | undefined;
    const jobs: Client<typeof JobApi.JobService> = createClient(JobApi.JobService, this.endpoint, {
      label,
      hint: "Check --job_endpoint: it is the job server's Job API port (8099 for Beam's Flink job server), not Flink's REST port (8081).",
    });
    try {
      let environment: RunnerApi.Environment;
      let shipped: ShippedPipeline | undefined;
      if (envType === "LOOPBACK") {
        pool = await startLoopbackPool(pipeline, (m) => this.log(`sluice: ${m}`));
        environment = externalEnvironment(pool.address.address);
      } else if (envType === "EXTERNAL") {
        const address = envConfig;
        if (!address) {
          throw new SluiceError("INVALID_ARGUMENT", "--environment_type=EXTERNAL needs --environment_config=<host:port> of a worker pool", {
            hint: "Start one with `sluice worker-pool --port 50000` and pass --environment_config=localhost:50000.",
          });
        }
        shipped = await shipLaunchedPipeline(envType);
        environment = externalEnvironment(address, [shipped.artifact]);
      } else if (envType === "PROCESS") {
        shipped = await shipLaunchedPipeline(envType);
        let command = envConfig;
        if (!command) {
          const launcher = await workerLauncher();
          command = launcher.command;
          cleanup = launcher.remove;
        }
        environment = processEnvironment(command, [shipped.artifact]);
      } else {
        throw new SluiceError("UNSUPPORTED", `--environment_type=${envType} is not supported by Sluice's portable runner`, {
          hint: "Use LOOPBACK (default), EXTERNAL with a `sluice worker-pool`, or PROCESS.",
        });
      }
      const { proto, transformIds, fingerprint } = translate(pipeline, { environment });
      const stepNames = new Map<string, string>();
      for (const [node, id] of transformIds) stepNames.set(id, node.fullLabel);

      await jobs.waitForReady(this.options.connectTimeoutMs ?? 30_000);
      const jobName = opts.jobName ?? `sluice-${Date.now()}`;
      const pipelineOptions = optionsStruct(opts);
      const unbounded = Object.values(proto.components?.pcollections ?? {}).some((pc) => pc.isBounded === IsBounded_Enum.UNBOUNDED);
      const known = await jobServerOptions(jobs);
      if (known.has("finishbundlebeforecheckpointing") && (unbounded || opts.streaming)) refuseFlinkStreamingGaps(pipeline);
      const fbbc = pipelineOptions["beam:option:finish_bundle_before_checkpointing:v1"];
      if (unbounded && known.has("finishbundlebeforecheckpointing") && String(fbbc) === "false" && opts.checkpointingInterval !== undefined) {
        this.log(
          "sluice: warning: --finish_bundle_before_checkpointing=false with checkpointing: Beam 2.62's Flink runner then drops what an unbounded source's reader emits in a bundle a checkpoint interrupts (observed); leave the flag out",
        );
      }
      for (const [key, value] of Object.entries(runnerDefaults(known, unbounded))) {
        if (!(key in pipelineOptions)) {
          pipelineOptions[key] = value;
          this.log(`sluice: ${key.replace(/^beam:option:|:v1$/g, "")}=${value} (Sluice's default for this runner; pass the flag to choose)`);
        }
      }
      const artifacts = new Map<string, Uint8Array>();
      if (shipped) {
        // What a worker needs to rebuild this pipeline from the shipped file, and to check it did.
        pipelineOptions[FINGERPRINT_OPTION] = fingerprint;
        pipelineOptions[ARGV_OPTION] = JSON.stringify(shipped.argv);
        artifacts.set(artifactKey(shipped.artifact), shipped.bytes);
        this.log(`sluice: bundled ${shipped.entry} for the workers (${Math.ceil(shipped.bytes.length / 1024)} KB, ${shipped.bundleMs} ms)`);
      }
      const prepared = await jobs.prepare({ pipeline: proto, pipelineOptions, jobName }).catch((err: unknown) => {
        // A job server of another Beam version refuses what it does not know (URNs, fields) here.
        const e = SluiceError.from(err);
        throw new SluiceError(e.code === "UNAVAILABLE" ? "UNAVAILABLE" : "FAILED_PRECONDITION", `${label} refused the pipeline: ${e.message}`, {
          hint: `Sluice speaks Beam ${beamVersion()}'s protocol and is tested with Beam ${pinnedFlinkJobServer().beam}'s Flink job server and Prism ${beamVersion()}; check the job server's Beam version and its log.`,
          cause: err,
        });
      });
      if (prepared.artifactStagingEndpoint?.url) {
        await stageArtifacts(prepared.artifactStagingEndpoint.url, prepared.stagingSessionToken, artifacts);
      }
      const { jobId } = await jobs.run({ preparationId: prepared.preparationId });
      this.log(`sluice: submitted ${jobName} as job ${jobId} to ${label}`);

      const state = await this.follow(jobs, jobId);
      const metricsResponse = await jobs.getJobMetrics({ jobId }, { timeoutMs: 30_000 }).catch(() => undefined);
      const m = metricsResponse?.metrics;
      const toName = (id: string): string => stepNames.get(id) ?? id;
      const metrics = MetricResults.fromContainers(
        containersFromMonitoringInfos(m?.committed ?? [], toName),
        // Some runners (Prism) report only committed values.
        containersFromMonitoringInfos(m?.attempted.length ? m.attempted : (m?.committed ?? []), toName),
      );
      if (state !== "DONE") {
        throw new SluiceError(state === "CANCELLED" ? "CANCELLED" : "JOB_FAILED", `Job ${jobId} (${jobName}) ended ${state}`, {
          hint:
            state === "CANCELLED"
              ? "It was cancelled."
              : envType === "EXTERNAL"
                ? `See the messages above, the runner's logs (${label}), and the output of the worker pool at ${envConfig} (it logs each worker's exit code and last stderr lines: a worker that crashed shows there).`
                : `See the messages above and the runner's logs (${label}).`,
        });
      }
      return { state, metrics, durationMs: Date.now() - started, jobId };
    } finally {
      jobs.close();
      await pool?.close();
      await cleanup?.();
    }
  }

  /** Follows state and messages until a terminal state; Ctrl-C cancels the job. */
  private async follow(jobs: Client<typeof JobApi.JobService>, jobId: string): Promise<PipelineState> {
    const abort = new AbortController();
    let cancelling = false;
    const onSignal = (): void => {
      if (cancelling) return;
      cancelling = true;
      this.log(`sluice: cancelling job ${jobId} (Ctrl-C again to stop waiting)`);
      process.once("SIGINT", () => process.exit(130));
      void jobs.cancel({ jobId }, { timeoutMs: 30_000 }).catch((err: unknown) => this.log(`sluice: cancel failed: ${String(err)}`));
    };
    process.on("SIGINT", onSignal);
    const errors: string[] = [];
    const messages = (async () => {
      try {
        for await (const r of jobs.getMessageStream({ jobId }, { signal: abort.signal })) {
          if (r.response.case === "messageResponse") {
            const msg = r.response.value;
            const level = JobApi.JobMessage_MessageImportance[msg.importance] ?? "";
            if (msg.importance >= JobApi.JobMessage_MessageImportance.JOB_MESSAGE_WARNING) {
              errors.push(msg.messageText);
              this.log(`sluice: [${level.replace("JOB_MESSAGE_", "")}] ${msg.messageText}`);
            }
          }
        }
      } catch {
        // The message stream ends with the job; its errors are not the job's.
      }
    })();
    try {
      let last: number | undefined;
      for await (const event of jobs.getStateStream({ jobId })) {
        if (event.state !== last) {
          last = event.state;
          this.log(`sluice: job ${jobId} ${stateName(event.state)}`);
        }
        if (TERMINAL.has(event.state)) break;
      }
      if (last === undefined || !TERMINAL.has(last)) {
        // The stream ended early: ask once more.
        const r = await jobs.getState({ jobId }, { timeoutMs: 30_000 });
        last = r.state;
      }
      const name = stateName(last);
      if (name !== "DONE") {
        // Runners send the failure's cause as a last message (Prism only once the job is FAILED):
        // let it arrive before closing the stream.
        await Promise.race([messages, new Promise((r) => setTimeout(r, 2000).unref())]);
      }
      return name === "DONE" ? "DONE" : name === "CANCELLED" ? "CANCELLED" : "FAILED";
    } finally {
      process.off("SIGINT", onSignal);
      abort.abort();
      await messages;
    }
  }
}

/** The capabilities Sluice's harness declares in every environment. */
function capabilities(): string[] {
  return [
    ...Object.values(Urns.coders).filter((u) => u !== Urns.coders.stateBackedIterable),
    Urns.protocols.progressReporting,
    Urns.protocols.multiCoreBundleProcessing,
  ].filter((u): u is string => typeof u === "string");
}

/**
 * An EXTERNAL environment: the runner asks the worker pool at `address` to start workers, which
 * fetch `dependencies` (the shipped pipeline file) from the runner.
 */
export function externalEnvironment(address: string, dependencies: readonly RunnerApi.ArtifactInformation[] = []): RunnerApi.Environment {
  return create(RunnerApi.EnvironmentSchema, {
    urn: Urns.environments.external,
    payload: toBinaryExternal(address),
    capabilities: capabilities(),
    dependencies: [...dependencies],
  });
}

/**
 * A PROCESS environment: the runner starts `command --id=<worker> --provision_endpoint=<url>` for
 * each worker on its own machine; the command must run Sluice's worker (dist/harness/worker-main.js).
 */
export function processEnvironment(command: string, dependencies: readonly RunnerApi.ArtifactInformation[] = []): RunnerApi.Environment {
  return create(RunnerApi.EnvironmentSchema, {
    urn: Urns.environments.process,
    payload: toBinary(RunnerApi.ProcessPayloadSchema, create(RunnerApi.ProcessPayloadSchema, { command })),
    capabilities: capabilities(),
    dependencies: [...dependencies],
  });
}

/**
 * An executable that starts Sluice's worker with this Node (PROCESS without --environment_config):
 * a shell script in a temporary directory, removed after the run.
 */
async function workerLauncher(): Promise<{ command: string; remove: () => Promise<void> }> {
  if (process.platform === "win32") {
    throw new SluiceError("UNSUPPORTED", "--environment_type=PROCESS without --environment_config is not supported on Windows", {
      hint: "Pass --environment_config=<an executable running `node <sluice>/dist/harness/worker-main.js` with its arguments>, or use EXTERNAL with `sluice worker-pool`.",
    });
  }
  const main = workerMainPath();
  const dir = await mkdtemp(join(tmpdir(), "sluice-process-env-"));
  const command = join(dir, "sluice-worker");
  const quote = (s: string): string => `'${s.split("'").join(`'"'"'`)}'`;
  await writeFile(command, `#!/bin/sh\n# Starts a Sluice SDK worker (PROCESS environment).\nexec ${quote(process.execPath)} ${quote(main)} "$@"\n`);
  await chmod(command, 0o755);
  return { command, remove: () => rm(dir, { recursive: true, force: true }) };
}

function toBinaryExternal(address: string): Uint8Array {
  return toBinary(
    RunnerApi.ExternalPayloadSchema,
    create(RunnerApi.ExternalPayloadSchema, { endpoint: create(Endpoints.ApiServiceDescriptorSchema, { url: address }) }),
  );
}

/** Largest chunk of artifact bytes per message. */
const ARTIFACT_CHUNK = 1 << 20;

/**
 * Answers the job server's artifact requests over the reverse retrieval stream: resolves our
 * artifacts to themselves (files this client serves) and streams each requested one's bytes in
 * chunks of at most 1 MB, then an empty response marked `is_last` (Prism drops data sent with it).
 */
async function stageArtifacts(url: string, token: string, artifacts: ArtifactBytes): Promise<void> {
  const staging = createClient(ArtifactApi.ArtifactStagingService, url, { label: "the job server's artifact staging service" });
  try {
    const stream = staging.reverseArtifactRetrievalService({ timeoutMs: 300_000 });
    await stream.send({ stagingToken: token });
    for await (const request of stream) {
      const r = request.request;
      if (r.case === "resolveArtifact") {
        await stream.send({ response: { case: "resolveArtifactResponse", value: { replacements: r.value.artifacts } } });
      } else if (r.case === "getArtifact") {
        const wanted = r.value.artifact;
        const bytes = wanted ? artifacts.get(artifactKey(wanted)) : undefined;
        if (bytes === undefined) {
          stream.cancel();
          throw new SluiceError("NOT_FOUND", `the job server asked for an artifact this client did not declare (${wanted?.typeUrn ?? "none"})`, {
            hint: "This is a bug in Sluice or the job server; rerun with --verbose and report it.",
          });
        }
        for (let at = 0; at < bytes.length; at += ARTIFACT_CHUNK) {
          await stream.send({ response: { case: "getArtifactResponse", value: { data: bytes.subarray(at, at + ARTIFACT_CHUNK) } } });
        }
        await stream.send({ isLast: true, response: { case: "getArtifactResponse", value: {} } });
      }
    }
    stream.end();
  } finally {
    staging.close();
  }
}
