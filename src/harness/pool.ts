/**
 * The BeamFnExternalWorkerPool service: a runner asks it to start (and stop) SDK workers. The
 * loopback pool runs workers inside the submitting process on the live pipeline; the process pool
 * (`sluice worker-pool`) starts each worker as a child process running worker-main.js, so one
 * crashing worker does not take the others down. A child fetches the shipped pipeline file from
 * the runner and rebuilds the pipeline itself.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createServer, type GrpcServer, type ServerAddress } from "../model/grpc.js";
import { FnApi } from "../model/protos.js";
import type { Pipeline } from "../sdk/pipeline.js";
import { grpcFnTransport } from "./transport.js";
import { FnWorker } from "./worker.js";

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
      const key = `${request.workerId} ${url}`;
      if (workers.has(key)) return {};
      const transport = grpcFnTransport(request.workerId, url);
      const worker = new FnWorker({ workerId: request.workerId, transport, pipeline, log });
      const done = worker
        .serve()
        .catch((err: unknown) => log(`worker ${request.workerId} stopped: ${String(err)}`))
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
}

export interface ProcessPoolHandle extends WorkerPoolHandle {
  /** Ids of the workers running now. */
  readonly workerIds: () => readonly string[];
}

/** Lines of a worker's stderr kept for its exit message. */
const TAIL_LINES = 20;

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
      this.tail.push(line);
      if (this.tail.length > TAIL_LINES) this.tail.shift();
    }
    output(stream, line);
  }

  get stopRequested(): boolean {
    return this.stopping;
  }

  stderrTail(): string {
    return this.tail.join("\n").trim();
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
 * (one child process per worker; a start failure is answered with an `error`), StopWorker stops it
 * (SIGTERM, then SIGKILL after a deadline), every exit is logged with its code and stderr tail,
 * and `close()` stops them all.
 */
export async function startProcessPool(options: ProcessPoolOptions = {}): Promise<ProcessPoolHandle> {
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const output =
    options.output ??
    ((id: string, stream: "stdout" | "stderr", line: string) => void process[stream].write(`[worker ${id}] ${line}\n`));
  const stopTimeoutMs = options.stopTimeoutMs ?? 5000;
  const workerMain = options.workerMain ?? workerMainPath();
  const workers = new Map<string, WorkerProcess>();
  let closing = false;
  let where = "";
  // Each worker's scratch directory (the shipped pipeline file) lives under this one, removed
  // when the worker exits however it exits, and with the pool.
  const scratch = await mkdtemp(join(tmpdir(), "sluice-pool-"));
  let started = 0;

  const onExit = (w: WorkerProcess, code: number | null, signal: NodeJS.Signals | null): void => {
    if (workers.get(w.key) === w) workers.delete(w.key);
    void rm(w.scratch, { recursive: true, force: true });
    const how = signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
    const tail = w.stderrTail();
    const clean = code === 0 || (w.stopRequested && signal === "SIGTERM");
    log(`worker ${w.id} (pid ${w.child.pid}) ${how}${clean || tail === "" ? "" : `; its last stderr lines:\n${tail.replace(/^/gm, "  | ")}`}`);
  };

  const server: GrpcServer = createServer();
  server.addService(FnApi.BeamFnExternalWorkerPool, {
    async startWorker(request) {
      const id = request.workerId;
      const provision = request.provisionEndpoint?.url;
      if (closing) return { error: `the Sluice worker pool at ${where} is shutting down; worker ${id} was not started` };
      if (!id) return { error: `StartWorker sent to the Sluice worker pool at ${where} named no worker_id` };
      if (!provision) return { error: `StartWorker for worker ${id} gave no provision endpoint; the Sluice worker needs one to fetch the pipeline` };
      // Runners number workers per process ("1-1"): two TaskManagers, or one restarted, send the
      // same id. Only the same id for the same runner endpoint is a repeated request.
      const key = `${id} ${provision}`;
      if (workers.has(key)) return {};
      if (!existsSync(workerMain)) {
        return { error: `cannot start Sluice worker ${id}: the worker program ${workerMain} is missing (sluice is not built); run \`npm run build\` where sluice is installed` };
      }
      const dir = join(scratch, `worker-${++started}`);
      const args = [workerMain, `--id=${id}`, `--provision_endpoint=${provision}`, `--semi_persist_dir=${dir}`];
      if (request.controlEndpoint?.url) args.push(`--control_endpoint=${request.controlEndpoint.url}`);
      if (request.loggingEndpoint?.url) args.push(`--logging_endpoint=${request.loggingEndpoint.url}`);
      if (request.artifactEndpoint?.url) args.push(`--artifact_endpoint=${request.artifactEndpoint.url}`);
      let child: ChildProcess;
      try {
        // The IPC channel tells the worker when the pool is gone (it then exits).
        child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe", "ipc"], env: options.env ?? process.env });
        await new Promise<void>((resolve, reject) => {
          child.once("spawn", resolve);
          child.once("error", reject);
        });
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        log(`worker ${id} could not be started: ${message}`);
        return { error: `cannot start Sluice worker ${id} (${process.execPath} ${workerMain}): ${message}` };
      }
      const w = new WorkerProcess(id, key, child, dir, (stream, line) => output(id, stream, line), onExit);
      workers.set(key, w);
      log(`worker ${id} started (pid ${child.pid}) for the runner at ${provision}`);
      return {};
    },
    async stopWorker(request) {
      // StopWorker names only the id. With one worker of that id, stop it; with several (the same
      // id from different runners) we cannot tell whose it is: each exits by itself when its
      // runner closes the control stream.
      const matching = [...workers.values()].filter((w) => w.id === request.workerId);
      if (matching.length === 1) await matching[0]?.stop(stopTimeoutMs);
      else if (matching.length > 1) log(`StopWorker ${request.workerId}: ${matching.length} workers have that id (from different runners); each stops when its runner closes its control stream`);
      return {};
    },
  });
  const address = await server.listen({ host: options.host ?? "127.0.0.1", port: options.port ?? 0 });
  where = address.address;
  return {
    address,
    workerIds: () => [...workers.values()].map((w) => w.id),
    async close() {
      closing = true;
      const stopping = Promise.all([...workers.values()].map((w) => w.stop(stopTimeoutMs)));
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

