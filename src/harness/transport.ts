/**
 * The Fn API over gRPC: control, data and state streams to the runner's endpoints, each call
 * carrying the `worker_id` header the Java runner keys its connections by.
 */
import { createClient } from "../model/grpc.js";
import { FnApi } from "../model/protos.js";
import type { FnTransport } from "./worker.js";

/** A transport for worker `workerId` whose control service is at `controlUrl`. */
export function grpcFnTransport(workerId: string, controlUrl: string): FnTransport & { close(): void } {
  const clients: { close(): void }[] = [];
  const options = { workerId, label: "the runner's Fn API", waitForReady: true } as const;
  const control = createClient(FnApi.BeamFnControl, controlUrl, options);
  clients.push(control);
  return {
    control() {
      return control.control();
    },
    getProcessBundleDescriptor(id: string) {
      return control.getProcessBundleDescriptor({ processBundleDescriptorId: id }, { timeoutMs: 60_000 });
    },
    data(url: string) {
      const client = createClient(FnApi.BeamFnData, url, options);
      clients.push(client);
      return client.data();
    },
    state(url: string) {
      const client = createClient(FnApi.BeamFnState, url, options);
      clients.push(client);
      return client.state();
    },
    close() {
      for (const c of clients) c.close();
    },
  };
}
