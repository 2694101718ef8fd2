/**
 * The gRPC transport over real loopback connections: a server implementing Beam services on
 * 127.0.0.1 (port 0) and clients calling it, unary, streaming both ways, large messages,
 * metadata, deadlines, cancellation and error mapping.
 */
import { createServer as createNetServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SluiceError } from "../internal/errors.js";
import { createClient, createServer, addService, grpcStatusOf } from "./grpc.js";
import type { GrpcServer, ServerAddress } from "./grpc.js";
import { ArtifactApi, FnApi, JobApi } from "./protos.js";
import { Urns } from "./urns.js";

const MB = 1024 * 1024;
const { JobState_Enum } = JobApi;

/** Fills `n` bytes with a pattern so corruption would show. */
function bytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + 7) & 0xff;
  return out;
}

async function caught(p: Promise<unknown> | (() => Promise<unknown>)): Promise<SluiceError> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (err) {
    if (SluiceError.is(err)) return err;
    throw new Error(`expected a SluiceError, got ${String(err)}`);
  }
  throw new Error("expected the call to fail");
}

/** A port nothing listens on (bound and released). */
async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("gRPC transport", () => {
  let server: GrpcServer;
  let endpoint: ServerAddress;
  const seenWorkerIds: (string | undefined)[] = [];
  const preparedSizes: number[] = [];
  const controlResponses: string[] = [];
  let slowCallAborted: Promise<boolean> = Promise.resolve(false);

  beforeAll(async () => {
    server = createServer();
    addService(server, JobApi.JobService, {
      getJobs(_request, context) {
        seenWorkerIds.push(context.workerId);
        return {
          jobInfo: [
            { jobId: "job-1", jobName: "wordcount", state: JobState_Enum.RUNNING, pipelineOptions: { "beam:option:parallelism:v1": 2 } },
          ],
        };
      },
      async *getStateStream(request) {
        for (const state of [JobState_Enum.STOPPED, JobState_Enum.STARTING, JobState_Enum.RUNNING, JobState_Enum.DONE]) {
          yield { state, timestamp: { seconds: 1n, nanos: 0 } };
        }
        if (request.jobId === "broken") throw new SluiceError("NOT_FOUND", "no job broken");
      },
      async getMessageStream(request, context) {
        // "n=<count>": sends count messages as fast as flow control allows, then ends.
        const count = /^n=(\d+)$/.exec(request.jobId)?.[1];
        if (count !== undefined) {
          for (let i = 0; i < Number(count); i++) {
            await context.send({ response: { case: "messageResponse", value: { messageId: String(i), messageText: "x".repeat(1000) } } });
          }
          return;
        }
        // Otherwise sends until the client cancels.
        for (let i = 0; !context.signal.aborted; i++) {
          await context.send({ response: { case: "messageResponse", value: { messageId: String(i), messageText: request.jobId } } });
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      },
      getState(request, context) {
        if (request.jobId === "missing") throw new SluiceError("NOT_FOUND", `job ${request.jobId} does not exist`);
        // Never answers; the client's deadline ends the call.
        slowCallAborted = new Promise((resolve) => context.signal.addEventListener("abort", () => resolve(true)));
        return new Promise(() => {});
      },
      prepare(request) {
        const payload = request.pipeline?.components?.transforms["big"]?.spec?.payload;
        preparedSizes.push(payload?.length ?? 0);
        return { preparationId: `prep-${payload?.length ?? 0}`, stagingSessionToken: "token" };
      },
      getPipeline(request) {
        const size = Number(request.jobId);
        return {
          pipeline: {
            components: { transforms: { big: { uniqueName: "big", spec: { urn: Urns.transforms.parDo, payload: bytes(size) } } } },
          },
        };
      },
    });
    // The runner side of the Fn API control plane: sends instructions, collects responses.
    addService(server, FnApi.BeamFnControl, {
      async control(responses, context) {
        const reader = (async () => {
          for await (const response of responses) controlResponses.push(`${context.workerId}:${response.instructionId}`);
        })();
        for (const id of ["1", "2", "3"]) {
          await context.send({ instructionId: id, request: { case: "processBundle", value: { processBundleDescriptorId: "stage" } } });
        }
        await reader;
      },
    });
    // The data plane: echoes every Elements message back.
    addService(server, FnApi.BeamFnData, {
      async *data(elements) {
        for await (const message of elements) yield message;
      },
    });
    endpoint = await server.listen();
  });

  afterAll(async () => {
    await server.close({ graceMs: 500 });
  });

  it("listens on 127.0.0.1 and a free port by default", () => {
    expect(endpoint.host).toBe("127.0.0.1");
    expect(endpoint.port).toBeGreaterThan(0);
    expect(endpoint.address).toBe(`127.0.0.1:${endpoint.port}`);
    expect(server.address).toEqual(endpoint);
  });

  it("makes unary calls and sends worker_id on every call", async () => {
    const client = createClient(JobApi.JobService, endpoint.address, { workerId: "worker-7" });
    try {
      await client.waitForReady(5000);
      const response = await client.getJobs({});
      expect(response.jobInfo).toHaveLength(1);
      expect(response.jobInfo[0]?.jobName).toBe("wordcount");
      expect(response.jobInfo[0]?.state).toBe(JobState_Enum.RUNNING);
      expect(response.jobInfo[0]?.pipelineOptions).toEqual({ "beam:option:parallelism:v1": 2 });
      await client.getJobs({});
      expect(seenWorkerIds.slice(-2)).toEqual(["worker-7", "worker-7"]);
    } finally {
      client.close();
    }
  });

  it("streams server responses in order", async () => {
    const client = createClient(JobApi.JobService, endpoint.address);
    try {
      const states: number[] = [];
      for await (const event of client.getStateStream({ jobId: "job-1" })) states.push(event.state);
      expect(states).toEqual([JobState_Enum.STOPPED, JobState_Enum.STARTING, JobState_Enum.RUNNING, JobState_Enum.DONE]);
    } finally {
      client.close();
    }
  });

  it("delivers streamed responses before the stream's error, then maps the error", async () => {
    const client = createClient(JobApi.JobService, endpoint.address);
    try {
      const states: number[] = [];
      const err = await caught(async () => {
        for await (const event of client.getStateStream({ jobId: "broken" })) states.push(event.state);
      });
      expect(states).toHaveLength(4);
      expect(err.code).toBe("NOT_FOUND");
      expect(err.message).toContain("JobService.GetStateStream");
      expect(err.message).toContain("no job broken");
      expect(grpcStatusOf(err)).toBe("NOT_FOUND");
    } finally {
      client.close();
    }
  });

  it("cancels a server stream when the consumer stops or the signal aborts", async () => {
    const client = createClient(JobApi.JobService, endpoint.address);
    try {
      const ids: string[] = [];
      for await (const message of client.getMessageStream({ jobId: "j" })) {
        if (message.response.case === "messageResponse") ids.push(message.response.value.messageId);
        if (ids.length === 3) break;
      }
      expect(ids).toEqual(["0", "1", "2"]);

      const controller = new AbortController();
      const err = await caught(async () => {
        for await (const _ of client.getMessageStream({ jobId: "j" }, { signal: controller.signal })) controller.abort();
      });
      expect(err.code).toBe("CANCELLED");
      expect(err.message).toContain("JobService.GetMessageStream");
    } finally {
      client.close();
    }
  });

  it("keeps order and count through flow control with a slow consumer", async () => {
    const client = createClient(JobApi.JobService, endpoint.address);
    try {
      let expected = 0;
      for await (const message of client.getMessageStream({ jobId: "n=2000" })) {
        expect(message.response.case === "messageResponse" && message.response.value.messageId).toBe(String(expected));
        expected++;
        if (expected % 200 === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(expected).toBe(2000);
    } finally {
      client.close();
    }
  });

  it("runs a bidi stream (BeamFnControl.Control) with worker_id", async () => {
    const client = createClient(FnApi.BeamFnControl, endpoint.address, { workerId: "harness-1" });
    try {
      const stream = client.control();
      const received: string[] = [];
      for await (const request of stream) {
        received.push(request.instructionId);
        expect(request.request.case).toBe("processBundle");
        await stream.send({ instructionId: request.instructionId, response: { case: "processBundle", value: {} } });
        if (received.length === 3) stream.end();
      }
      expect(received).toEqual(["1", "2", "3"]);
      expect(controlResponses).toEqual(["harness-1:1", "harness-1:2", "harness-1:3"]);
      const err = await caught(stream.send({ instructionId: "4" }));
      expect(err.code).toBe("FAILED_PRECONDITION");
    } finally {
      client.close();
    }
  });

  it("carries messages over 4 MB both ways, unary and streaming", async () => {
    const client = createClient(JobApi.JobService, endpoint.address);
    const data = createClient(FnApi.BeamFnData, endpoint.address);
    try {
      const size = 6 * MB + 3;
      const prepared = await client.prepare({
        jobName: "big",
        pipeline: { components: { transforms: { big: { uniqueName: "big", spec: { urn: Urns.transforms.parDo, payload: bytes(size) } } } } },
      });
      expect(prepared.preparationId).toBe(`prep-${size}`);
      expect(preparedSizes).toContain(size);

      const big = await client.getPipeline({ jobId: String(9 * MB) });
      const payload = big.pipeline?.components?.transforms["big"]?.spec?.payload;
      expect(payload?.length).toBe(9 * MB);
      expect(Buffer.compare(payload ?? new Uint8Array(), bytes(9 * MB))).toBe(0);

      const stream = data.data();
      const chunk = bytes(5 * MB);
      const sent = [0, 1, 2].map((i) => ({
        data: [{ instructionId: `b${i}`, transformId: "source", data: chunk, isLast: i === 2 }],
      }));
      const echoed: string[] = [];
      const reading = (async () => {
        for await (const elements of stream) {
          for (const d of elements.data) {
            expect(d.data.length).toBe(5 * MB);
            echoed.push(d.instructionId);
          }
        }
      })();
      for (const message of sent) await stream.send(message);
      stream.end();
      await reading;
      expect(echoed).toEqual(["b0", "b1", "b2"]);
    } finally {
      client.close();
      data.close();
    }
  });

  it("maps an expired deadline to DEADLINE_EXCEEDED and aborts the handler", async () => {
    const client = createClient(JobApi.JobService, endpoint.address, { label: "the Beam job server" });
    try {
      const started = Date.now();
      const err = await caught(client.getState({ jobId: "slow" }, { timeoutMs: 200 }));
      expect(Date.now() - started).toBeLessThan(5000);
      expect(err.code).toBe("DEADLINE_EXCEEDED");
      expect(err.message).toContain("JobService.GetState");
      expect(err.message).toContain(endpoint.address);
      expect(err.message).toContain("the Beam job server");
      expect(err.message).toContain("200 ms");
      expect(err.hint).toBeTruthy();
      expect(await slowCallAborted).toBe(true);
    } finally {
      client.close();
    }
  });

  it("applies the default unary deadline", async () => {
    const client = createClient(JobApi.JobService, endpoint.address, { unaryTimeoutMs: 150 });
    try {
      const err = await caught(client.getState({ jobId: "slow" }));
      expect(err.code).toBe("DEADLINE_EXCEEDED");
      expect(err.message).toContain("150 ms");
    } finally {
      client.close();
    }
  });

  it("passes SluiceErrors thrown by handlers to the client with their code", async () => {
    const client = createClient(JobApi.JobService, endpoint.address);
    try {
      const err = await caught(client.getState({ jobId: "missing" }));
      expect(err.code).toBe("NOT_FOUND");
      expect(err.message).toContain("job missing does not exist");
    } finally {
      client.close();
    }
  });

  it("maps UNIMPLEMENTED to UNSUPPORTED", async () => {
    const client = createClient(JobApi.JobService, endpoint.address);
    try {
      const err = await caught(client.cancel({ jobId: "job-1" }));
      expect(err.code).toBe("UNSUPPORTED");
      expect(err.message).toContain("JobService.Cancel is not implemented");
      expect(grpcStatusOf(err)).toBe("UNIMPLEMENTED");
    } finally {
      client.close();
    }
  });

  it("maps an unreachable address to UNAVAILABLE naming the address", async () => {
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const client = createClient(JobApi.JobService, address, { label: "the Beam job server", hint: "start it with `sluice cluster up`" });
    try {
      const err = await caught(client.getJobs({}));
      expect(err.code).toBe("UNAVAILABLE");
      expect(err.message).toContain(address);
      expect(err.message).toContain("JobService.GetJobs");
      expect(err.hint).toContain(address);
      expect(err.hint).toContain("sluice cluster up");

      const streamErr = await caught(async () => {
        for await (const _ of client.getStateStream({ jobId: "x" }));
      });
      expect(streamErr.code).toBe("UNAVAILABLE");
      expect(streamErr.message).toContain(address);

      const started = Date.now();
      const readyErr = await caught(client.waitForReady(300));
      expect(Date.now() - started).toBeLessThan(5000);
      expect(readyErr.code).toBe("UNAVAILABLE");
      expect(readyErr.message).toContain(address);
      expect(readyErr.message).toContain("JobService");
      expect(readyErr.message).toContain("300 ms");
    } finally {
      client.close();
    }
  });

  it("with waitForReady, waits for the server until the deadline", async () => {
    const port = await freePort();
    const client = createClient(JobApi.JobService, `127.0.0.1:${port}`, { waitForReady: true });
    try {
      const err = await caught(client.getJobs({}, { timeoutMs: 300 }));
      expect(err.code).toBe("DEADLINE_EXCEEDED");
    } finally {
      client.close();
    }
  });

  it("refuses client keepalive pings the Java servers would reject", () => {
    let err: unknown;
    try {
      createClient(JobApi.JobService, endpoint.address, { keepaliveTimeMs: 10_000 });
    } catch (e) {
      err = e;
    }
    expect(SluiceError.is(err, "INVALID_ARGUMENT")).toBe(true);
    expect((err as SluiceError).hint).toContain("too_many_pings");
    const ok = createClient(JobApi.JobService, endpoint.address, { keepaliveTimeMs: 300_000 });
    ok.close();
  });
});

describe("gRPC server", () => {
  it("serves a client-streaming RPC (LegacyArtifactStagingService.PutArtifact)", async () => {
    const server = createServer();
    let total = 0;
    let chunksSeen = 0;
    server.addService(ArtifactApi.LegacyArtifactStagingService, {
      async putArtifact(requests) {
        for await (const request of requests) {
          if (request.content.case === "data") {
            total += request.content.value.data.length;
            chunksSeen++;
          }
        }
        return {};
      },
    });
    const { address } = await server.listen();
    const client = createClient(ArtifactApi.LegacyArtifactStagingService, address);
    try {
      async function* chunks() {
        yield { content: { case: "metadata" as const, value: { stagingSessionToken: "t" } } };
        for (let i = 0; i < 4; i++) yield { content: { case: "data" as const, value: { data: bytes(2 * MB) } } };
      }
      await client.putArtifact(chunks());
      expect(chunksSeen).toBe(4);
      expect(total).toBe(8 * MB);
    } finally {
      client.close();
      await server.close();
    }
  });

  it("refuses to add services after listening, and reports a busy port", async () => {
    const first = createServer();
    const { port } = await first.listen();
    expect(() => first.addService(JobApi.JobService, {})).toThrow(/already listening/);
    const second = createServer();
    const err = await caught(second.listen({ port }));
    expect(err.code).toBe("IO_ERROR");
    expect(err.message).toContain(`127.0.0.1:${port}`);
    await first.close();
    await second.close();
  });
});
