/**
 * A Sluice SDK worker process:
 *
 *   node dist/harness/worker-main.js --id=<worker id> --provision_endpoint=<host:port>
 *     [--control_endpoint=… --logging_endpoint=… --artifact_endpoint=…]
 *
 * (Beam's boot arguments: `sluice worker-pool` passes all of them, a PROCESS environment only the
 * first two.) It asks the runner's provision service for the job's pipeline options and
 * dependencies, fetches the shipped pipeline file (shipping.ts) into a private temporary
 * directory, and imports it with a worker hook set, so that `Pipeline.run()` in the file hands the
 * rebuilt pipeline over instead of running it (and never returns). It checks the rebuilt
 * pipeline's fingerprint against the submitted one, then serves the Fn API control stream with
 * `FnWorker`. Worker lifecycle, failed instructions and the user's console output also go to the
 * runner's logging service.
 *
 * A failure before serving (no pipeline file, the file throws, a different pipeline) is answered
 * as the error of every instruction the runner sends: the runner then fails the job with that
 * message instead of waiting for a worker that never connects.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { createHash } from "node:crypto";
import { createWriteStream, rmSync } from "node:fs";
import { mkdir, mkdtemp, symlink } from "node:fs/promises";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describeError, SluiceError } from "../internal/errors.js";
import { createClient } from "../model/grpc.js";
import { ArtifactApi, FnApi, ProvisionApi, RunnerApi } from "../model/protos.js";
import { Urns } from "../model/urns.js";
// The very function the translation fingerprints with.
import { pipelineFingerprint } from "./refs.js";
import { LAUNCH_CONTEXT, type LaunchContext, PipelineOptions } from "../sdk/options.js";
import { Pipeline } from "../sdk/pipeline.js";
import { captureConsole, FnLogStream, type LogContext, type Severity } from "./logging.js";
import { ARGV_OPTION, FINGERPRINT_OPTION, STAGED_PIPELINE_NAME } from "./shipped.js";
import { STANDBY_FLAG } from "./pool.js";
import { grpcFnTransport } from "./transport.js";
import { bounded, FnWorker, MAX_INSTRUCTION_ERROR_CHARS } from "./worker.js";

/** The key `Pipeline.run()` looks for (src/sdk/pipeline.ts). */
const WORKER_HOOK = Symbol.for("sluice.worker");

/** After user code called process.exit, how long the worker waits (reporting the failure) before it exits. */
const USER_EXIT_DELAY_MS = 1000;
/** How long the pipeline file may take to reach `run()`. */
const REBUILD_TIMEOUT_MS = 120_000;
/** After a pipeline with another fingerprint registered, how long to wait for one that matches. */
const MISMATCH_GRACE_MS = 500;

/** Default of how long each runner endpoint may take to accept a connection. */
const DEFAULT_CONNECT_TIMEOUT_MS = 60_000;
/** Sets the connect deadline for PROCESS environments, whose runner passes only Beam's flags. */
const CONNECT_TIMEOUT_ENV = "SLUICE_WORKER_CONNECT_TIMEOUT_MS";

/** The package root (holding package.json): `sluice` in the shipped file resolves to it. */
const PACKAGE_ROOT = fileURLToPath(new URL("../../", import.meta.url));

interface WorkerArgs {
  readonly id: string;
  readonly provision: string;
  readonly control: string | undefined;
  readonly logging: string | undefined;
  readonly artifact: string | undefined;
  /** Beam's scratch directory flag: the worker's files go under it (the pool removes it). */
  readonly scratch: string | undefined;
  /** How long each runner endpoint may take to accept a connection before the worker gives up. */
  readonly connectTimeoutMs: number;
}

/** Beam's boot flags, `--name=value` (or `--name value`); values may be quoted (Prism quotes the id). */
function parseArgs(argv: readonly string[]): WorkerArgs {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([A-Za-z_]+)(?:=([\s\S]*))?$/.exec(argv[i] ?? "");
    if (!m) continue;
    const value = m[2] ?? argv[++i] ?? "";
    flags.set(m[1]!, value.replace(/^'([\s\S]*)'$/, "$1").replace(/^"([\s\S]*)"$/, "$1"));
  }
  const id = flags.get("id") ?? "";
  const provision = flags.get("provision_endpoint") ?? "";
  if (id === "" || provision === "") {
    throw new SluiceError("INVALID_ARGUMENT", "the Sluice worker needs --id=<worker id> and --provision_endpoint=<host:port>", {
      hint: "It is started by `sluice worker-pool` or by a runner's PROCESS environment, which pass them.",
    });
  }
  const timeoutText = flags.get("sluice_connect_timeout_ms") ?? process.env[CONNECT_TIMEOUT_ENV];
  const connectTimeoutMs = timeoutText === undefined || timeoutText === "" ? DEFAULT_CONNECT_TIMEOUT_MS : Number(timeoutText);
  if (!/^\d+$/.test(timeoutText ?? "0") || !(connectTimeoutMs >= 1)) {
    throw new SluiceError("INVALID_ARGUMENT", `the Sluice worker's connect timeout (--sluice_connect_timeout_ms or ${CONNECT_TIMEOUT_ENV}) must be a whole number of milliseconds of at least 1, not "${bounded(timeoutText ?? "", 100)}"`, {
      hint: `leave it unset for ${DEFAULT_CONNECT_TIMEOUT_MS} ms, or set e.g. 120000 (sluice worker-pool --worker-connect-timeout 120)`,
    });
  }
  return {
    id,
    provision,
    control: flags.get("control_endpoint"),
    logging: flags.get("logging_endpoint"),
    artifact: flags.get("artifact_endpoint"),
    scratch: flags.get("semi_persist_dir"),
    connectTimeoutMs,
  };
}

/** The worker's state, for logging and shutdown. */
const state: {
  id: string;
  logs: FnLogStream | undefined;
  worker: FnWorker | undefined;
  exiting: boolean;
  /** The code user code passed to process.exit, which the worker exits with. */
  userExitCode: number | undefined;
  /** The real process.exit (user code gets one that reports first; see interceptExit). */
  realExit: (code?: number) => never;
} = {
  id: "?",
  logs: undefined,
  worker: undefined,
  exiting: false,
  userExitCode: undefined,
  realExit: process.exit.bind(process) as (code?: number) => never,
};

/** Logs to stderr and the runner's logging service. */
function say(severity: Severity, message: string, context: LogContext = {}): void {
  // Under `sluice worker-pool` (an IPC channel) the pool prefixes every line with the worker id.
  const who = process.connected ? "sluice worker" : `sluice worker ${state.id}`;
  const text = bounded(message, MAX_INSTRUCTION_ERROR_CHARS);
  process.stderr.write(`${who}: ${severity === "INFO" ? "" : `${severity}: `}${text}\n`);
  state.logs?.log(severity, text, { location: "sluice.worker", ...context });
}

/** The runner's services a worker connects to, for probing and messages. */
type Endpoint = { readonly name: "provision" | "control" | "logging" | "artifact"; readonly url: string };

const SERVICES = {
  provision: { service: ProvisionApi.ProvisionService, label: "the runner's provision service" },
  control: { service: FnApi.BeamFnControl, label: "the runner's control service" },
  logging: { service: FnApi.BeamFnLogging, label: "the runner's logging service" },
  artifact: { service: ArtifactApi.ArtifactRetrievalService, label: "the runner's artifact retrieval service" },
} as const;

/** Endpoints that did not accept a connection within the deadline. */
class UnreachableEndpoints extends SluiceError {
  constructor(
    readonly endpoints: readonly Endpoint[],
    workerId: string,
    timeoutMs: number,
  ) {
    const list = endpoints.map((e) => `${SERVICES[e.name].label} (${e.name} endpoint) at ${bounded(e.url, 200)}`).join(", ");
    super("UNAVAILABLE", `Sluice worker ${bounded(workerId, 200)} gave up: could not connect to ${list} within ${timeoutMs / 1000} s`, {
      hint:
        "Check that the runner is still running and that this machine can reach that address (a runner on another host must advertise an address other than localhost); " +
        "to wait longer, raise the deadline (sluice worker-pool --worker-connect-timeout SECONDS, or SLUICE_WORKER_CONNECT_TIMEOUT_MS for PROCESS environments)",
    });
  }
}

/**
 * Connects to each endpoint (in parallel), waiting at most the connect deadline for each; throws
 * UnreachableEndpoints naming those that did not answer.
 */
async function reach(args: WorkerArgs, endpoints: readonly Endpoint[]): Promise<void> {
  const failed: Endpoint[] = [];
  await Promise.all(
    endpoints.map(async (e) => {
      const client = createClient(SERVICES[e.name].service, e.url, { workerId: args.id, label: SERVICES[e.name].label });
      try {
        await client.waitForReady(args.connectTimeoutMs);
      } catch {
        failed.push(e);
      } finally {
        client.close();
      }
    }),
  );
  if (failed.length > 0) throw new UnreachableEndpoints(failed, args.id, args.connectTimeoutMs);
}

async function fetchProvisionInfo(args: WorkerArgs): Promise<ProvisionApi.ProvisionInfo> {
  const client = createClient(ProvisionApi.ProvisionService, args.provision, {
    workerId: args.id,
    label: "the runner's provision service",
    waitForReady: true,
  });
  try {
    const response = await client.getProvisionInfo({}, { timeoutMs: 60_000 });
    if (!response.info) {
      throw new SluiceError("FAILED_PRECONDITION", `the provision service at ${args.provision} returned no provision info`, {
        hint: "Check the runner's log.",
      });
    }
    return response.info;
  } finally {
    client.close();
  }
}

/** The staged name of a dependency (its staging_to role), if it has one. */
function stagedName(dep: RunnerApi.ArtifactInformation): string | undefined {
  if (dep.roleUrn !== Urns.artifactRoles.stagingTo) return undefined;
  return fromBinary(RunnerApi.ArtifactStagingToRolePayloadSchema, dep.rolePayload).stagedName || undefined;
}

/** The SHA-256 a file artifact declares ("" when none, e.g. after the Java job server re-staged it). */
function declaredSha256(dep: RunnerApi.ArtifactInformation): string {
  return dep.typeUrn === Urns.artifactTypes.file ? fromBinary(RunnerApi.ArtifactFilePayloadSchema, dep.typePayload).sha256 : "";
}

/** Fetches every dependency into `dir`; returns their paths by staged name. */
async function fetchDependencies(args: WorkerArgs, info: ProvisionApi.ProvisionInfo, dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  if (info.dependencies.length === 0) return files;
  const url = args.artifact ?? info.artifactEndpoint?.url;
  if (!url) {
    throw new SluiceError("FAILED_PRECONDITION", "the runner gave this worker dependencies to fetch but no artifact endpoint", {
      hint: "Check the runner's configuration; the worker pool passes StartWorkerRequest.artifact_endpoint.",
    });
  }
  const client = createClient(ArtifactApi.ArtifactRetrievalService, url, { workerId: args.id, label: "the runner's artifact retrieval service", waitForReady: true });
  try {
    for (const [i, dep] of info.dependencies.entries()) {
      const name = basename(stagedName(dep) ?? `artifact-${i}`);
      const path = join(dir, name);
      const hash = createHash("sha256");
      const out = createWriteStream(path);
      const closed = once(out, "close");
      try {
        for await (const chunk of client.getArtifact({ artifact: dep }, { timeoutMs: 300_000 })) {
          hash.update(chunk.data);
          if (!out.write(chunk.data)) await once(out, "drain");
        }
      } finally {
        out.end();
        await closed;
      }
      const expected = declaredSha256(dep);
      const actual = hash.digest("hex");
      if (expected !== "" && expected !== actual) {
        throw new SluiceError("INVALID_DATA", `dependency ${name} fetched from ${url} has SHA-256 ${actual}, but the job declared ${expected}`, {
          hint: "The staged file was changed or truncated; resubmit the job.",
        });
      }
      files.set(name, path);
    }
  } finally {
    client.close();
  }
  return files;
}

/** The submitted fingerprint and argv, from the job's pipeline options. */
function shippingOptions(info: ProvisionApi.ProvisionInfo): { fingerprint: string; argv: string[] } {
  const options = info.pipelineOptions ?? {};
  const fingerprint = options[FINGERPRINT_OPTION];
  const argvJson = options[ARGV_OPTION];
  if (typeof fingerprint !== "string" || typeof argvJson !== "string") {
    throw new SluiceError(
      "FAILED_PRECONDITION",
      `the job's pipeline options carry no ${typeof fingerprint !== "string" ? FINGERPRINT_OPTION : ARGV_OPTION} (options present: ${Object.keys(options).sort().join(", ") || "none"})`,
      { hint: "Submit the pipeline with `sluice run <file> --environment_type=EXTERNAL|PROCESS` of the same Sluice version as this worker." },
    );
  }
  const argv: unknown = JSON.parse(argvJson);
  if (!Array.isArray(argv) || !argv.every((a): a is string => typeof a === "string")) {
    throw new SluiceError("INVALID_DATA", `${ARGV_OPTION} is not a JSON list of strings: ${argvJson.slice(0, 200)}`, {
      hint: "Submit the pipeline with the same Sluice version as this worker.",
    });
  }
  return { fingerprint, argv };
}

/**
 * Imports the pipeline file with the launch context and the worker hook set, and resolves with the
 * pipeline whose fingerprint is `expected` once the file calls `run()` on it.
 */
function rebuild(file: string, argv: readonly string[], expected: string): Promise<Pipeline> {
  const launch: LaunchContext = { argv: Object.freeze([...argv]), file };
  (globalThis as Record<symbol, unknown>)[LAUNCH_CONTEXT] = Object.freeze(launch);
  process.argv = [process.execPath, file, ...argv];
  return new Promise<Pipeline>((resolve, reject) => {
    const registered: { fingerprint: string; transforms: number }[] = [];
    let settled = false;
    let grace: NodeJS.Timeout | undefined;
    const finish = (settle: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      if (grace) clearTimeout(grace);
      settle();
    };
    const mismatch = (): void => {
      const got = registered.map((r) => r.fingerprint).join(", ");
      const message =
        `refusing to run: the pipeline this worker rebuilt from the shipped pipeline file has fingerprint ${got}, but the submitted pipeline's fingerprint is ${expected}. ` +
        "The pipeline file must build the same graph every time it runs: no labels or structure from random values, the time, " +
        "or anything that differs between the submitting machine and the workers (environment variables, files, hostnames)";
      finish(() => reject(new SluiceError("FAILED_PRECONDITION", message, { hint: "Make the pipeline's construction deterministic, then resubmit." })));
    };
    const deadline = setTimeout(
      () =>
        finish(() =>
          reject(
            new SluiceError("DEADLINE_EXCEEDED", `the pipeline file did not call Pipeline.run() within ${REBUILD_TIMEOUT_MS / 1000} s of being imported on the worker`, {
              hint: "Build the pipeline and call run() at the top level of the file, without waiting on anything only the submitting machine provides.",
            }),
          ),
        ),
      REBUILD_TIMEOUT_MS,
    );
    const hook = {
      register(pipeline: Pipeline): void {
        const fingerprint = pipelineFingerprint(pipeline);
        registered.push({ fingerprint, transforms: pipeline.leaves().length });
        if (fingerprint === expected) finish(() => resolve(pipeline));
        else grace ??= setTimeout(mismatch, MISMATCH_GRACE_MS);
      },
    };
    (globalThis as Record<symbol, unknown>)[WORKER_HOOK] = Object.freeze(hook);
    import(pathToFileURL(file).href).then(
      () => {
        if (registered.length > 0) mismatch();
        else {
          finish(() =>
            reject(
              new SluiceError("FAILED_PRECONDITION", "the pipeline file finished without calling Pipeline.run(), so the worker has no pipeline to execute", {
                hint: "Call `await p.run()` at the top level of the pipeline file (not inside a function that only runs on the submitting machine).",
              }),
            ),
          );
        }
      },
      (err: unknown) => finish(() => reject(SluiceError.userCode(err, "the pipeline file (imported on the worker to rebuild the pipeline)"))),
    );
  });
}

/**
 * While the worker serves, `process.exit(code)` from user code (a DoFn) throws instead, so the
 * bundle fails with an error naming the transform and element and the runner fails the job with
 * it; the worker then exits with `code` shortly after (it does stop, as asked).
 */
function interceptExit(): void {
  const userExit = (code?: number | string | null): never => {
    if (state.exiting) return state.realExit(Number(code ?? 0));
    const exitCode = Number(code ?? 0) || 0;
    state.userExitCode ??= exitCode;
    say("ERROR", `the pipeline's code called process.exit(${exitCode}); reporting the failure, then exiting with code ${exitCode}`);
    setTimeout(() => void exit(exitCode), USER_EXIT_DELAY_MS);
    // A plain Error, so the bundle's failure names the transform and element it came from.
    throw new Error(
      `process.exit(${exitCode}) was called on a Sluice worker, which stops the worker (throw an error instead: the runner then fails or retries the bundle and the worker keeps serving)`,
    );
  };
  process.exit = userExit as typeof process.exit;
}

/** Serves the control stream with `pipeline` until the runner ends it. */
async function serve(args: WorkerArgs, controlUrl: string, pipeline: Pipeline): Promise<void> {
  const transport = grpcFnTransport(args.id, controlUrl);
  const worker = new FnWorker({
    workerId: args.id,
    transport,
    pipeline,
    onInstructionFailed: (f) =>
      say("ERROR", `instruction ${f.instructionId} failed${f.transformId ? ` in transform ${f.transformId}` : ""}: ${f.error}`, {
        instructionId: f.instructionId,
        transformId: f.transformId,
      }),
  });
  state.worker = worker;
  try {
    await worker.serve();
  } finally {
    transport.close();
  }
}

/**
 * Serves the control stream answering every bundle with `error` (after connecting the data plane
 * the runner waits for), until the runner ends the stream.
 */
async function refuse(args: WorkerArgs, controlUrl: string, error: string): Promise<void> {
  const transport = grpcFnTransport(args.id, controlUrl);
  const worker = new FnWorker({ workerId: args.id, transport, pipeline: Pipeline.create(PipelineOptions.create()), refusal: error });
  state.worker = worker;
  try {
    await worker.serve();
  } catch {
    // The runner closed the stream: the job is over.
  } finally {
    transport.close();
  }
}

/** The text for a failure: message, hint and (source-mapped) stack of user code. */
function failureText(err: SluiceError): string {
  const cause = err.code === "USER_CODE_FAILED" && err.cause instanceof Error && err.cause.stack ? `\n${err.cause.stack}` : "";
  return bounded(`${err.message}${err.hint ? `\nhint: ${err.hint}` : ""}${cause}`, MAX_INSTRUCTION_ERROR_CHARS);
}

async function run(args: WorkerArgs): Promise<number> {
  const started = Date.now();
  let controlUrl = args.control;
  let serving = false;
  /** Whether the control endpoint answered (only then can the worker refuse through it). */
  let controlReachable = false;
  try {
    // Every endpoint the arguments name must accept a connection within the deadline; a worker
    // whose runner is gone (or was never reachable) says which one and exits non-zero, instead
    // of waiting without end.
    const given: Endpoint[] = [{ name: "provision", url: args.provision }];
    if (args.control) given.push({ name: "control", url: args.control });
    if (args.logging) given.push({ name: "logging", url: args.logging });
    if (args.artifact) given.push({ name: "artifact", url: args.artifact });
    try {
      await reach(args, given);
      controlReachable = args.control !== undefined;
    } catch (err) {
      controlReachable = args.control !== undefined && !(err instanceof UnreachableEndpoints && err.endpoints.some((e) => e.name === "control"));
      throw err;
    }
    const info = await fetchProvisionInfo(args);
    controlUrl ??= info.controlEndpoint?.url;
    const loggingUrl = args.logging ?? info.loggingEndpoint?.url;
    // Endpoints only the provision info names (a PROCESS environment): the same deadline.
    const fromInfo: Endpoint[] = [];
    if (!args.control && controlUrl) fromInfo.push({ name: "control", url: controlUrl });
    if (!args.logging && loggingUrl) fromInfo.push({ name: "logging", url: loggingUrl });
    const artifactUrl = args.artifact ?? info.artifactEndpoint?.url;
    if (!args.artifact && artifactUrl && info.dependencies.length > 0) fromInfo.push({ name: "artifact", url: artifactUrl });
    try {
      await reach(args, fromInfo);
      controlReachable = controlUrl !== undefined;
    } catch (err) {
      controlReachable = controlUrl !== undefined && !(err instanceof UnreachableEndpoints && err.endpoints.some((e) => e.name === "control"));
      throw err;
    }
    if (loggingUrl) {
      state.logs = new FnLogStream(args.id, loggingUrl);
      captureConsole(state.logs);
    }
    say("INFO", `started (pid ${process.pid}, Node ${process.version}) for the runner at ${args.provision}`);
    if (!controlUrl) {
      throw new SluiceError("FAILED_PRECONDITION", "neither the worker's arguments nor the provision info name a control endpoint", {
        hint: "Check the runner's configuration.",
      });
    }
    const parent = args.scratch ?? tmpdir();
    await mkdir(parent, { recursive: true });
    const dir = await mkdtemp(join(parent, "sluice-worker-"));
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
    // `import "sluice"` in the shipped file resolves to this worker's own Sluice (one module instance).
    await mkdir(join(dir, "node_modules"));
    await symlink(PACKAGE_ROOT, join(dir, "node_modules", "sluice"), "junction");
    const files = await fetchDependencies(args, info, dir);
    const file = files.get(STAGED_PIPELINE_NAME);
    if (file === undefined) {
      throw new SluiceError("FAILED_PRECONDITION", `the job declares no ${STAGED_PIPELINE_NAME} dependency, so this worker has no pipeline code to run`, {
        hint: "Submit the pipeline with `sluice run <file> --environment_type=EXTERNAL|PROCESS`, which ships the pipeline file.",
      });
    }
    const { fingerprint, argv } = shippingOptions(info);
    let pipeline: Pipeline;
    try {
      pipeline = await rebuild(file, argv, fingerprint);
    } finally {
      // Loaded (with its inline source map): nothing stays on disk, however the worker ends later
      // (Prism ends PROCESS workers with SIGKILL).
      rmSync(dir, { recursive: true, force: true });
    }
    say("INFO", `rebuilt pipeline ${fingerprint} (${pipeline.leaves().length} steps) in ${Date.now() - started} ms; serving the control stream at ${controlUrl}`);
    serving = true;
    interceptExit();
    await serve(args, controlUrl, pipeline);
    say("INFO", "the runner ended the control stream; exiting");
    return 0;
  } catch (err) {
    const failure = SluiceError.from(err);
    if (serving) {
      say("ERROR", `the control stream failed: ${failureText(failure)}`);
      return 1;
    }
    const text = failure instanceof UnreachableEndpoints ? failureText(failure) : `Sluice worker ${bounded(args.id, 200)} cannot run this job: ${failureText(failure)}`;
    say("ERROR", text);
    if (controlUrl === undefined || !controlReachable || state.exiting) return 1;
    // Tell the runner through the instructions it sends, so the job fails with this message.
    await refuse(args, controlUrl, text);
    return 1;
  }
}

let exitStarted = false;

/** Flushes the logging stream and the process's output, then exits. */
async function exit(code: number): Promise<never> {
  // The first call exits (with the code user code asked for, if it called process.exit).
  if (exitStarted) return new Promise<never>(() => undefined);
  exitStarted = true;
  state.exiting = true;
  const final = state.userExitCode ?? code;
  await state.logs?.close(1500).catch(() => undefined);
  await Promise.all([
    new Promise<void>((r) => process.stdout.write("", () => r())),
    new Promise<void>((r) => process.stderr.write("", () => r())),
  ]).catch(() => undefined);
  return state.realExit(final);
}

/** Ends the control stream (the runner then sees the worker leave) and exits within 3 s. */
function shutdown(reason: string): void {
  if (state.exiting) return;
  state.exiting = true;
  say("INFO", `stopping: ${reason}`);
  state.worker?.stop();
  setTimeout(() => void exit(0), 3000).unref();
}

/**
 * `--sluice_standby` (STANDBY_FLAG): a worker a pool started ahead of the next StartWorker
 * (`prestart`). It loads Sluice as the shipped pipeline file will (`sluice`, this package), tells
 * the pool it is ready, and waits for the worker arguments over the IPC channel; it leaves when
 * the pool does.
 */
async function standby(): Promise<string[]> {
  if (!process.connected) {
    process.stderr.write(`sluice worker: ${STANDBY_FLAG} is for workers a worker pool starts (it sends the arguments over IPC)\n`);
    process.exit(2);
  }
  const gone = (): void => process.exit(0);
  process.once("disconnect", gone);
  const args = new Promise<string[]>((resolve) => {
    const onMessage = (m: unknown): void => {
      const start = m as { type?: unknown; args?: unknown } | null;
      if (start?.type !== "start" || !Array.isArray(start.args) || !start.args.every((a) => typeof a === "string")) return;
      process.off("message", onMessage);
      resolve(start.args as string[]);
    };
    process.on("message", onMessage);
  });
  // What `import "sluice"` in the shipped file resolves to (this package's own entry, by its
  // name): loaded now. A variable, so that the compiler does not look for the package's types.
  const entry = "sluice";
  await import(entry);
  process.send?.({ type: "ready" });
  const given = await args;
  process.off("disconnect", gone);
  return given;
}

async function main(): Promise<void> {
  if (process.argv[2] === STANDBY_FLAG) process.argv = [...process.argv.slice(0, 2), ...(await standby())];
  let args: WorkerArgs;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    const e = SluiceError.from(err);
    process.stderr.write(`sluice worker: ${e.message}\n  hint: ${e.hint ?? ""}\n`);
    process.exit(2);
  }
  state.id = args.id;
  process.setSourceMapsEnabled(true);
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  if (process.connected) {
    // Started by `sluice worker-pool`: leave when the pool does.
    process.channel?.unref();
    process.on("disconnect", () => shutdown("the worker pool went away"));
  }
  // Output to a pool or runner that is gone: nothing left to report to.
  for (const stream of [process.stdout, process.stderr]) stream.on("error", () => state.realExit(state.userExitCode ?? 1));
  const fatal = (kind: string) => (err: unknown) => {
    say("CRITICAL", `${kind} in the worker (from user code or Sluice): ${err instanceof Error ? (err.stack ?? err.message) : describeError(err)}`);
    void exit(1);
  };
  process.on("uncaughtException", fatal("uncaught exception"));
  process.on("unhandledRejection", fatal("unhandled promise rejection"));
  const code = await run(args);
  // After a requested shutdown (StopWorker, Ctrl-C) a broken control stream is expected.
  await exit(state.exiting ? 0 : code);
}

// Not a top-level await: the shipped pipeline file's own `await p.run()` never settles by design,
// and the process ends by exit() when the runner is done with it.
void main();
