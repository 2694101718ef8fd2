/**
 * The BeamFnExternalWorkerPool service: a runner asks it to start (and stop) SDK workers. The
 * loopback pool runs workers inside the submitting process on the live pipeline; `sluice
 * worker-pool` starts each worker in a child process instead.
 */
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
  const workers = new Map<string, { worker: FnWorker; done: Promise<void>; close(): void }>();
  const server: GrpcServer = createServer();
  server.addService(FnApi.BeamFnExternalWorkerPool, {
    startWorker(request) {
      const url = request.controlEndpoint?.url;
      if (!url) return { error: "StartWorker: no control endpoint given" };
      if (workers.has(request.workerId)) return {};
      const transport = grpcFnTransport(request.workerId, url);
      const worker = new FnWorker({ workerId: request.workerId, transport, pipeline, log });
      const done = worker.serve().catch((err: unknown) => log(`worker ${request.workerId} stopped: ${String(err)}`));
      workers.set(request.workerId, { worker, done, close: () => transport.close() });
      return {};
    },
    async stopWorker(request) {
      const w = workers.get(request.workerId);
      if (w) {
        workers.delete(request.workerId);
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
