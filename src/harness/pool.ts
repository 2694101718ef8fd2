/**
 * The BeamFnExternalWorkerPool service: a runner asks it to start (and stop) SDK workers. The
 * loopback pool runs workers inside the submitting process on the live pipeline; the process pool
 * (`sluice worker-pool`) starts each worker as a child process running worker-main.js, so one
 * crashing worker does not take the others down. A child fetches the shipped pipeline file from
 * the runner and rebuilds the pipeline itself.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SluiceError } from "../internal/errors.js";
import { isAlive, type ProcessIdentity, processStartTime, withParentDeath } from "../internal/process.js";
import { createServer, type GrpcServer, type ServerAddress } from "../model/grpc.js";
import { FnApi } from "../model/protos.js";
import type { Pipeline } from "../sdk/pipeline.js";
import { grpcFnTransport } from "./transport.js";
import { bounded, FnWorker, MAX_ERROR_CHARS } from "./worker.js";

export interface WorkerPoolHandle {
  readonly address: ServerAddress;
  /** Stops the workers and the server. */
  close(): Promise<void>;
}

/** Starts a pool that runs workers in this process for `pipeline` (LOOPBACK). Binds 127.0.0.1. */
export async function startLoopbackPool(pipeline: Pipeline, log: (m: string) => void): Promise<WorkerPoolHandle> {
  // Keyed by worker id and control endpoint: runners number workers per process ("1-1"), so two
  // TaskManagers (or a restarted one) send the same id.
  const workers = new Map<string, { id: string; worker: FnWorker; done: Promise<void>; close(): void }>();
  const server: GrpcServer = createServer();
  server.addService(FnApi.BeamFnExternalWorkerPool, {
    startWorker(request) {
      const url = request.controlEndpoint?.url;
      if (!url) return { error: "StartWorker: no control endpoint given" };
      const problem = endpointProblem(url);
      if (problem !== undefined) return { error: `StartWorker for worker ${bounded(request.workerId, 200)}: the control endpoint "${bounded(url, 200)}" ${problem}` };
      const key = `${request.workerId} ${url}`;
      if (workers.has(key)) return {};
      const transport = grpcFnTransport(request.workerId, url);
      const worker = new FnWorker({ workerId: request.workerId, transport, pipeline, log });
      const done = worker
        .serve()
        .catch((err: unknown) => log(`worker ${bounded(request.workerId, 200)} stopped: ${bounded(String(err))}`))
        .finally(() => {
          if (workers.get(key)?.worker === worker) workers.delete(key);
        });
      workers.set(key, { id: request.workerId, worker, done, close: () => transport.close() });
      return {};
    },
    async stopWorker(request) {
      // Only the id is given: stop the worker when it is the only one with that id; otherwise each
      // ends when its runner closes the control stream.
      const matching = [...workers.entries()].filter(([, w]) => w.id === request.workerId);
      const only = matching.length === 1 ? matching[0] : undefined;
      if (only) {
        const [key, w] = only;
        workers.delete(key);
        w.worker.stop();
        await Promise.race([w.done, new Promise((r) => setTimeout(r, 5000))]);
        w.close();
      }
      return {};
    },
  });
  const address = await server.listen({ host: "127.0.0.1", port: 0 });
  return {
    address,
    async close() {
      for (const w of workers.values()) {
        w.worker.stop();
        w.close();
      }
      workers.clear();
      await server.close({ graceMs: 1000 });
    },
  };
}

/**
 * The worker program a process pool or a PROCESS environment runs: dist/harness/worker-main.js of
 * this package (also when this module runs from src/, as in tests: Node runs only the built file).
 */
export function workerMainPath(): string {
  const fromSource = import.meta.url.endsWith(".ts");
  return fileURLToPath(new URL(fromSource ? "../../dist/harness/worker-main.js" : "./worker-main.js", import.meta.url));
}

export interface ProcessPoolOptions {
  /** Interface to bind (default 127.0.0.1: the pool runs whatever code a runner points it at). */
  readonly host?: string;
  /** Port (default 0: a free one; see the handle's address). */
  readonly port?: number;
  /** The pool's own messages: worker starts, exits (with exit code and stderr tail), stops. */
  readonly log?: (line: string) => void;
  /** Each line a worker writes to stdout or stderr. Default: this process's, prefixed with the worker id. */
  readonly output?: (workerId: string, stream: "stdout" | "stderr", line: string) => void;
  /** How long StopWorker waits after SIGTERM before SIGKILL, in ms (default 5000). */
  readonly stopTimeoutMs?: number;
  /** The workers' environment (default: this process's). */
  readonly env?: NodeJS.ProcessEnv;
  /** The worker program (default: `workerMainPath()`). */
  readonly workerMain?: string;
  /**
   * Most workers running at once (default `defaultMaxWorkers()`). StartWorker beyond it is
   * answered at once with an error saying so (the runner fails that environment), never queued.
   */
  readonly maxWorkers?: number;
  /**
   * How long a worker waits to reach each of the runner's endpoints (provision, control, logging,
   * artifact) before it gives up, logs which one and exits non-zero, in ms (default 60 000).
   */
  readonly workerConnectTimeoutMs?: number;
  /** Where the pool's scratch directory goes (default: the OS temp dir). */
  readonly scratchRoot?: string;
  /** Called when the pool removed a scratch directory left by a pool that died (SIGKILL). */
  readonly onStaleScratch?: (dir: string) => void;
  /**
   * Keep one worker process started ahead of the next StartWorker, with Node up and Sluice loaded
   * (`worker-main.js --sluice_standby`), so that a StartWorker only hands it its arguments
   * (default: on with the real worker program, off with another `workerMain`, which may not
   * speak the standby protocol).
   */
  readonly prestart?: boolean;
}

export interface ProcessPoolHandle extends WorkerPoolHandle {
  /** Ids of the workers running now. */
  readonly workerIds: () => readonly string[];
  /** The cap on workers running at once. */
  readonly maxWorkers: number;
  /** The pool's scratch directory (workers' --semi_persist_dir go under it). */
  readonly scratchDir: string;
}

/**
 * The flag that starts worker-main.js ahead of need (`prestart`): it loads Sluice, sends
 * `{ type: "ready" }` and waits for `{ type: "start", args }` (its worker arguments) over IPC.
 */
export const STANDBY_FLAG = "--sluice_standby";

/** Lines of a worker's stderr kept for its exit message. */
const TAIL_LINES = 20;
/** Characters kept of one stderr line for the exit message, and of the whole tail. */
const TAIL_LINE_CHARS = 500;
const TAIL_CHARS = MAX_ERROR_CHARS;
/** A worker output line longer than this is relayed in pieces (a worker writing without newlines). */
const MAX_LINE_CHARS = 64 * 1024;
/** Memory a worker is budgeted for the default cap: an idle Node worker is ~65 MB RSS, a busy one more. */
const WORKER_MEMORY_BUDGET = 512 * 1024 * 1024;
/** Default of `workerConnectTimeoutMs`. */
export const DEFAULT_WORKER_CONNECT_TIMEOUT_MS = 60_000;
/** Worker ids and endpoint URLs longer than this are refused (Beam's are a few dozen characters). */
const MAX_REQUEST_FIELD_CHARS = 1024;

/**
 * The default cap on concurrent workers: 4 per CPU (workers mostly wait on the runner, and Flink
 * asks for one per slot), but no more than one per 512 MB of the machine's memory, and at least 1.
 * 2 CPUs and 8 GB give 8; 200 StartWorker calls no longer fork 200 processes (13 GB).
 */
export function defaultMaxWorkers(): number {
  return Math.max(1, Math.min(4 * availableParallelism(), Math.floor(totalmem() / WORKER_MEMORY_BUDGET)));
}

/** Name of the file in a pool's scratch directory that records its owner (pid and start time). */
const OWNER_FILE = "owner.json";
/** Scratch directories are named `${SCRATCH_PREFIX}XXXXXX` under the scratch root. */
const SCRATCH_PREFIX = "sluice-pool-";
/** An ownerless scratch directory younger than this may be a pool still creating it. */
const OWNERLESS_GRACE_MS = 10 * 60_000;

/**
 * Removes scratch directories under `root` left by pools that are gone (killed with SIGKILL, so
 * they could not clean up): the owner recorded in the directory (pid and start time from
 * /proc/<pid>/stat) no longer runs. Directories of live pools, of other users, and ownerless ones
 * younger than 10 minutes (a pool still creating its own) are left alone. Returns those removed.
 */
export async function removeStaleScratch(root: string = tmpdir()): Promise<string[]> {
  const removed: string[] = [];
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    return removed;
  }
  const uid = process.getuid?.();
  for (const name of names) {
    if (!name.startsWith(SCRATCH_PREFIX)) continue;
    const dir = join(root, name);
    try {
      const info = await stat(dir);
      if (!info.isDirectory() || (uid !== undefined && info.uid !== uid)) continue;
      let owner: ProcessIdentity | undefined;
      try {
        const parsed = JSON.parse(await readFile(join(dir, OWNER_FILE), "utf8")) as Partial<ProcessIdentity>;
        if (typeof parsed.pid === "number" && typeof parsed.startTime === "number") owner = { pid: parsed.pid, startTime: parsed.startTime };
      } catch {
        owner = undefined;
      }
      const stale = owner !== undefined ? !isAlive(owner) : Date.now() - info.mtimeMs > OWNERLESS_GRACE_MS;
      if (!stale) continue;
      await rm(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch {
      // Gone meanwhile, or not ours to remove.
    }
  }
  return removed;
}

/** Accepted endpoint forms: host:port, [v6]:port, dns:///host:port, unix:path. */
const ENDPOINT = /^(?:dns:(?:\/\/[^/]*\/)?)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?):(\d+)$/;

/**
 * Why `url` (the `name` endpoint of a StartWorker request) is not an address a worker can connect
 * to, or undefined when it is one. Any host is accepted (a runner on another machine advertises its
 * own); the pool does not connect to it, the worker does.
 */
export function endpointProblem(url: string): string | undefined {
  if (url === "") return "is empty";
  if (url.length > MAX_REQUEST_FIELD_CHARS) return `is ${url.length} characters long (at most ${MAX_REQUEST_FIELD_CHARS})`;
  if (url.startsWith("unix:")) return url.length > "unix:".length ? undefined : "names no socket path after unix:";
  const m = ENDPOINT.exec(url);
  if (!m) return "is not host:port";
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return `has port ${m[2]}, which is not from 1 to 65535`;
  return undefined;
}

/** A worker child process as the pool tracks it. */
class WorkerProcess {
  readonly exited: Promise<void>;
  private readonly tail: string[] = [];
  private stopping = false;

  constructor(
    readonly id: string,
    /** The pool's key: the id and the runner's provision endpoint. */
    readonly key: string,
    readonly child: ChildProcess,
    /** The worker's scratch directory (--semi_persist_dir). */
    readonly scratch: string,
    output: (stream: "stdout" | "stderr", line: string) => void,
    onExit: (w: WorkerProcess, code: number | null, signal: NodeJS.Signals | null) => void,
  ) {
    for (const stream of ["stdout", "stderr"] as const) {
      let partial = "";
      child[stream]?.setEncoding("utf8").on("data", (chunk: string) => {
        const lines = (partial + chunk).split("\n");
        partial = lines.pop() ?? "";
        for (const line of lines) this.line(stream, line, output);
        // A worker writing without newlines is relayed in pieces instead of buffered without end.
        while (partial.length > MAX_LINE_CHARS) {
          this.line(stream, partial.slice(0, MAX_LINE_CHARS), output);
          partial = partial.slice(MAX_LINE_CHARS);
        }
      });
      child[stream]?.on("end", () => {
        if (partial !== "") this.line(stream, partial, output);
        partial = "";
      });
    }
    this.exited = new Promise((resolve) => {
      child.once("close", (code, signal) => {
        onExit(this, code, signal);
        resolve();
      });
    });
  }

  private line(stream: "stdout" | "stderr", line: string, output: (stream: "stdout" | "stderr", line: string) => void): void {
    if (stream === "stderr") {
      this.tail.push(bounded(line, TAIL_LINE_CHARS));
      if (this.tail.length > TAIL_LINES) this.tail.shift();
    }
    output(stream, line);
  }

  get stopRequested(): boolean {
    return this.stopping;
  }

  stderrTail(): string {
    return bounded(this.tail.join("\n").trim(), TAIL_CHARS, "tail");
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves when the process is gone. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/**
 * Serves BeamFnExternalWorkerPool: StartWorker spawns `node worker-main.js --id=… --*_endpoint=…`
 * (one child process per worker, at most `maxWorkers` at once; a request beyond the cap, with a
 * malformed endpoint, or that cannot be started is answered with an `error`), StopWorker stops it
 * (SIGTERM, then SIGKILL after a deadline), every exit is logged with its code and stderr tail,
 * and `close()` stops them all. Workers die with the pool: they hold an IPC channel to it and,
 * where util-linux's setpriv exists, get SIGKILL when the pool dies (`--pdeathsig`). The scratch
 * directory records its owner, so the next pool removes it if this one is SIGKILLed.
 */
export async function startProcessPool(options: ProcessPoolOptions = {}): Promise<ProcessPoolHandle> {
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const output =
    options.output ??
    ((id: string, stream: "stdout" | "stderr", line: string) => void process[stream].write(`[worker ${id}] ${line}\n`));
  const stopTimeoutMs = options.stopTimeoutMs ?? 5000;
  const workerMain = options.workerMain ?? workerMainPath();
  const maxWorkers = options.maxWorkers ?? defaultMaxWorkers();
  if (!Number.isInteger(maxWorkers) || maxWorkers < 1) {
    throw new SluiceError("INVALID_ARGUMENT", `maxWorkers of the Sluice worker pool must be a whole number of at least 1, not ${String(maxWorkers)}`, {
      hint: `leave it unset for the default (${defaultMaxWorkers()} on this machine) or pass e.g. maxWorkers: 8 (sluice worker-pool --max-workers 8)`,
    });
  }
  const connectTimeoutMs = options.workerConnectTimeoutMs ?? DEFAULT_WORKER_CONNECT_TIMEOUT_MS;
  if (!Number.isInteger(connectTimeoutMs) || connectTimeoutMs < 1) {
    throw new SluiceError("INVALID_ARGUMENT", `workerConnectTimeoutMs of the Sluice worker pool must be a whole number of milliseconds of at least 1, not ${String(connectTimeoutMs)}`, {
      hint: `leave it unset for ${DEFAULT_WORKER_CONNECT_TIMEOUT_MS} ms or pass e.g. 120000 (sluice worker-pool --worker-connect-timeout 120)`,
    });
  }
  const workers = new Map<string, WorkerProcess>();
  /** Workers being spawned (counted against the cap before they are in `workers`). */
  /** Keys of workers being spawned: they count against the cap, and a repeated request for one is answered without a second spawn. */
  const spawning = new Set<string>();
  let closing = false;
  let where = "";
  // Each worker's scratch directory (the shipped pipeline file) lives under this one, removed
  // when the worker exits however it exits, and with the pool; a pool killed outright leaves it
  // behind with its owner recorded, and the next pool started under the same root removes it.
  const scratchRoot = options.scratchRoot ?? tmpdir();
  for (const dir of await removeStaleScratch(scratchRoot)) {
    log(`removed the scratch directory ${dir} of a worker pool that is no longer running`);
    options.onStaleScratch?.(dir);
  }
  const scratch = await mkdtemp(join(scratchRoot, SCRATCH_PREFIX));
  const owner: ProcessIdentity = { pid: process.pid, startTime: processStartTime(process.pid) ?? 0 };
  await writeFile(join(scratch, OWNER_FILE), `${JSON.stringify(owner)}\n`);
  let started = 0;
  const prestart = options.prestart ?? options.workerMain === undefined;
  /** The worker started ahead of need (prestart): Node and Sluice loaded, waiting for its arguments. */
  let spare: { child: ChildProcess; ready: boolean; detach: () => void } | undefined;
  const startSpare = (): void => {
    if (!prestart || closing || spare !== undefined || workers.size + spawning.size >= maxWorkers || !existsSync(workerMain)) return;
    const [command, argv] = withParentDeath(process.execPath, [workerMain, STANDBY_FLAG]);
    let child: ChildProcess;
    try {
      child = spawn(command, argv, { stdio: ["ignore", "pipe", "pipe", "ipc"], env: options.env ?? process.env });
    } catch {
      return;
    }
    let tail = "";
    const keep = (chunk: Buffer): void => {
      tail = (tail + chunk.toString("utf8")).slice(-2000);
    };
    const onMessage = (m: unknown): void => {
      if ((m as { type?: unknown } | null)?.type === "ready" && spare?.child === child) spare.ready = true;
    };
    const onGone = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (spare?.child !== child) return;
      spare = undefined;
      // Not restarted here (a worker program that cannot start would loop); the next StartWorker starts one.
      if (!closing) log(`the standby worker (pid ${child.pid}) ${signal ? `was killed by ${signal}` : `exited with code ${code}`} before it was needed${tail.trim() ? `:\n${bounded(tail.trim(), TAIL_CHARS, "tail").replace(/^/gm, "  | ")}` : ""}`);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    child.on("message", onMessage);
    child.once("exit", onGone);
    child.once("error", () => onGone(null, null));
    spare = {
      child,
      ready: false,
      detach: () => {
        child.stdout?.off("data", keep);
        child.stderr?.off("data", keep);
        child.off("message", onMessage);
        child.off("exit", onGone);
      },
    };
  };
  /** The spare, if it is ready: taken (the caller sends it its arguments), and another one started. */
  const takeSpare = (): ChildProcess | undefined => {
    const s = spare;
    if (s === undefined || !s.ready || !s.child.connected || s.child.exitCode !== null || s.child.signalCode !== null) return undefined;
    spare = undefined;
    s.detach();
    return s.child;
  };

  const onExit = (w: WorkerProcess, code: number | null, signal: NodeJS.Signals | null): void => {
    if (workers.get(w.key) === w) workers.delete(w.key);
    void rm(w.scratch, { recursive: true, force: true });
    const how = signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
    const tail = w.stderrTail();
    const clean = code === 0 || (w.stopRequested && signal === "SIGTERM");
    log(`worker ${bounded(w.id, 200)} (pid ${w.child.pid}) ${how}${clean || tail === "" ? "" : `; its last stderr lines:\n${tail.replace(/^/gm, "  | ")}`}`);
  };

  /** The answer to a StartWorker the pool refuses, also logged. */
  const refuse = (error: string): { error: string } => {
    const text = bounded(error);
    log(`refused StartWorker: ${text}`);
    return { error: text };
  };

  const server: GrpcServer = createServer();
  server.addService(FnApi.BeamFnExternalWorkerPool, {
    async startWorker(request) {
      const id = request.workerId;
      const who = `worker ${bounded(id, 200)}`;
      const provision = request.provisionEndpoint?.url;
      if (closing) return refuse(`the Sluice worker pool at ${where} is shutting down; ${who} was not started`);
      if (!id) return refuse(`StartWorker sent to the Sluice worker pool at ${where} named no worker_id`);
      if (id.length > MAX_REQUEST_FIELD_CHARS) {
        return refuse(`StartWorker sent to the Sluice worker pool at ${where} has a worker_id of ${id.length} characters (at most ${MAX_REQUEST_FIELD_CHARS}): ${who}`);
      }
      if (!provision) return refuse(`StartWorker for ${who} gave no provision endpoint; the Sluice worker needs one to fetch the pipeline`);
      const endpoints = [
        ["provision", provision],
        ["control", request.controlEndpoint?.url],
        ["logging", request.loggingEndpoint?.url],
        ["artifact", request.artifactEndpoint?.url],
      ] as const;
      for (const [name, url] of endpoints) {
        const problem = url === undefined ? undefined : endpointProblem(url);
        if (problem !== undefined) {
          return refuse(
            `StartWorker for ${who}: the ${name} endpoint "${bounded(url ?? "", 200)}" ${problem}; a worker could not connect to it. ` +
              "The runner sent a malformed ApiServiceDescriptor: check how its services are configured (host and port)",
          );
        }
      }
      // Runners number workers per process ("1-1"): two TaskManagers, or one restarted, send the
      // same id. Only the same id for the same runner endpoint is a repeated request.
      const key = `${id} ${provision}`;
      if (workers.has(key) || spawning.has(key)) return {};
      // Refused, not queued: the runner (Beam's Java ExternalEnvironmentFactory) waits for the
      // answer without a deadline and fails the environment on an error, so a queue would hang the
      // job's task where an error fails it with a message saying what to change.
      if (workers.size + spawning.size >= maxWorkers) {
        return refuse(
          `the Sluice worker pool at ${where} already runs ${workers.size + spawning.size} worker${workers.size + spawning.size === 1 ? "" : "s"}, its cap (--max-workers ${maxWorkers}); ${who} was not started. ` +
            "Restart the pool with a higher cap (sluice worker-pool --max-workers N, or startProcessPool({ maxWorkers: N })) if the machine has the memory " +
            "(100 MB or more per worker), or lower the jobs' parallelism",
        );
      }
      if (!existsSync(workerMain)) {
        return refuse(`cannot start Sluice ${who}: the worker program ${workerMain} is missing (sluice is not built); run \`npm run build\` where sluice is installed`);
      }
      const dir = join(scratch, `worker-${++started}`);
      const args = [workerMain, `--id=${id}`, `--provision_endpoint=${provision}`, `--semi_persist_dir=${dir}`, `--sluice_connect_timeout_ms=${connectTimeoutMs}`];
      if (request.controlEndpoint?.url) args.push(`--control_endpoint=${request.controlEndpoint.url}`);
      if (request.loggingEndpoint?.url) args.push(`--logging_endpoint=${request.loggingEndpoint.url}`);
      if (request.artifactEndpoint?.url) args.push(`--artifact_endpoint=${request.artifactEndpoint.url}`);
      let child: ChildProcess;
      spawning.add(key);
      try {
        const ready = takeSpare();
        if (ready !== undefined) {
          // Started ahead (prestart): it only needs its arguments.
          child = ready;
          child.send({ type: "start", args: args.slice(1) });
        } else {
          // The IPC channel tells the worker when the pool is gone (it then exits); setpriv's
          // pdeathsig kills it even when the pool is SIGKILLed and the worker is stuck.
          const [command, argv] = withParentDeath(process.execPath, args);
          const spawned = spawn(command, argv, { stdio: ["ignore", "pipe", "pipe", "ipc"], env: options.env ?? process.env });
          child = spawned;
          await new Promise<void>((resolve, reject) => {
            spawned.once("spawn", resolve);
            spawned.once("error", reject);
          });
        }
      } catch (err) {
        const message = bounded(err instanceof Error ? err.message : String(err));
        log(`${who} could not be started: ${message}`);
        return { error: `cannot start Sluice ${who} (${process.execPath} ${workerMain}): ${message}` };
      } finally {
        spawning.delete(key);
      }
      const w = new WorkerProcess(id, key, child, dir, (stream, line) => output(id, stream, line), onExit);
      if (closing) {
        // close() ran while this one was spawning and did not see it.
        await w.stop(stopTimeoutMs);
        return refuse(`the Sluice worker pool at ${where} is shutting down; ${who} was not started`);
      }
      workers.set(key, w);
      log(`${who} started (pid ${child.pid}) for the runner at ${provision}`);
      startSpare();
      return {};
    },
    async stopWorker(request) {
      // StopWorker names only the id. With one worker of that id, stop it; with several (the same
      // id from different runners) we cannot tell whose it is: each exits by itself when its
      // runner closes the control stream.
      const matching = [...workers.values()].filter((w) => w.id === request.workerId);
      if (matching.length === 1) await matching[0]?.stop(stopTimeoutMs);
      else if (matching.length > 1) log(`StopWorker ${bounded(request.workerId, 200)}: ${matching.length} workers have that id (from different runners); each stops when its runner closes its control stream`);
      return {};
    },
  });
  let address: ServerAddress;
  try {
    address = await server.listen({ host: options.host ?? "127.0.0.1", port: options.port ?? 0 });
  } catch (err) {
    await rm(scratch, { recursive: true, force: true });
    throw err;
  }
  where = address.address;
  startSpare();
  return {
    address,
    maxWorkers,
    scratchDir: scratch,
    workerIds: () => [...workers.values()].map((w) => w.id),
    async close() {
      closing = true;
      const standby = spare?.child;
      spare = undefined;
      standby?.kill("SIGTERM");
      const stopping = Promise.all([
        ...[...workers.values()].map((w) => w.stop(stopTimeoutMs)),
        ...(standby && standby.exitCode === null && standby.signalCode === null ? [new Promise((r) => standby.once("exit", r))] : []),
      ]);
      await Promise.all([stopping, server.close({ graceMs: 1000 })]);
      await rm(scratch, { recursive: true, force: true });
    },
  };
}

/** True for addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}

