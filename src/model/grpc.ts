/**
 * A thin gRPC transport for protobuf-es service descriptors (Beam's JobService, the Fn API
 * services, artifact staging, …): `createClient(service, address, options)` returns one typed
 * function per RPC, `createServer()` + `addService(server, service, implementation)` serves them.
 * Messages are protobuf-es v2 messages, (de)serialized with `toBinary`/`fromBinary`.
 *
 * Why @grpc/grpc-js underneath, and not Connect: protobuf-es is the message layer either way;
 * for the wire, grpc-js has the longer record against grpc-java (Netty) servers, which is what
 * Beam's Flink job server and its Fn API endpoints are: bidi streams, HTTP/2 flow control,
 * GOAWAY and keepalive handling. @connectrpc/connect-node (2.1.x is the last line for Node 20)
 * speaks the same gRPC protocol and would fit the same shape. Nothing grpc-js leaks through this
 * module's exported types (calls are Promises and AsyncIterables, errors are SluiceErrors), so
 * swapping the transport means rewriting this file only. The choice gets settled by a real run
 * against the Java job server.
 *
 * What Beam's servers need, and what this sets by default:
 * - no 4 MB cap: max send/receive message length unlimited (-1) on clients and servers;
 * - no client keepalive pings (grpc-java servers answer pings more often than every 5 minutes
 *   with GOAWAY `too_many_pings`); `keepaliveTimeMs` (at least 300 000) turns them on;
 * - the `worker_id` metadata header on every call when `workerId` is given (Beam's runners key
 *   Fn API connections by it);
 * - deadlines: unary calls get one by default (`unaryTimeoutMs`, 60 s); `waitForReady(timeoutMs)`
 *   waits for the connection and names the address and service when it fails;
 * - servers bind 127.0.0.1 unless told otherwise; connections are plaintext (loopback and
 *   cluster-internal use only).
 *
 * Errors are SluiceErrors whose code follows the gRPC status (UNAVAILABLE, DEADLINE_EXCEEDED,
 * CANCELLED, INVALID_ARGUMENT, NOT_FOUND, UNIMPLEMENTED → UNSUPPORTED, …), with a message naming
 * `Service.Method` and the address and a hint; `grpcStatusOf(err)` gives the raw status name.
 * Server handlers may throw SluiceErrors, which reach the client with the matching status.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { DescMessage, DescMethod, DescService, Message, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { Client as GrpcClient, credentials, Metadata, Server, ServerCredentials, status } from "@grpc/grpc-js";
import type {
  ChannelOptions,
  ClientDuplexStream,
  ClientReadableStream,
  MethodDefinition,
  ServerDuplexStream,
  ServerReadableStream,
  ServerUnaryCall,
  ServerWritableStream,
  ServiceError,
  sendUnaryData,
  UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { describeError, SluiceError } from "../internal/errors.js";
import type { ErrorCode } from "../internal/errors.js";

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

/** Options for every call of a client. */
export interface ClientOptions {
  /** Sent as the `worker_id` metadata header on every call. */
  readonly workerId?: string | undefined;
  /** Further metadata headers sent on every call (ASCII values). */
  readonly metadata?: Readonly<Record<string, string>> | undefined;
  /** What the server is, for messages, e.g. "the Beam job server". Default: the service name. */
  readonly label?: string | undefined;
  /** Added to the hint of connection errors, e.g. "start it with `sluice cluster up`". */
  readonly hint?: string | undefined;
  /** Deadline of unary calls that set no `timeoutMs`, in ms. Default 60 000; Infinity for none. */
  readonly unaryTimeoutMs?: number | undefined;
  /**
   * Queue calls until the connection is up (bounded by each call's deadline) instead of failing
   * at once with UNAVAILABLE. Default false.
   */
  readonly waitForReady?: boolean | undefined;
  /**
   * HTTP/2 keepalive ping interval in ms, sent only while calls are active. Off by default;
   * grpc-java and Go servers reject pings more frequent than every 5 minutes, so it must be at
   * least 300 000.
   */
  readonly keepaliveTimeMs?: number | undefined;
}

/** Options for one call. */
export interface CallOptions {
  /** Deadline for this call in ms from now. Unary calls default to the client's `unaryTimeoutMs`. */
  readonly timeoutMs?: number | undefined;
  /** Cancels the call (it then fails with CANCELLED). */
  readonly signal?: AbortSignal | undefined;
  /** Overrides the client's `waitForReady` for this call. */
  readonly waitForReady?: boolean | undefined;
  /** Metadata headers for this call, added to the client's. */
  readonly metadata?: Readonly<Record<string, string>> | undefined;
}

/** A bidi-streaming call from the client's side: send requests, iterate responses. */
export interface BidiStream<Req, Res> extends AsyncIterable<Res> {
  /**
   * Sends one request. Resolves once the transport accepted it (at once, or after the stream
   * drained), rejects when the call is already over. Await it to respect flow control.
   */
  send(message: Req): Promise<void>;
  /** Half-closes the call: no more requests; responses keep coming until the server ends. */
  end(): void;
  /** Cancels the call; iteration then ends with CANCELLED unless it already ended. */
  cancel(): void;
}

export type UnaryFn<I extends DescMessage, O extends DescMessage> = (
  request: MessageInitShape<I>,
  options?: CallOptions,
) => Promise<MessageShape<O>>;
export type ServerStreamingFn<I extends DescMessage, O extends DescMessage> = (
  request: MessageInitShape<I>,
  options?: CallOptions,
) => AsyncIterable<MessageShape<O>>;
export type ClientStreamingFn<I extends DescMessage, O extends DescMessage> = (
  requests: AsyncIterable<MessageInitShape<I>> | Iterable<MessageInitShape<I>>,
  options?: CallOptions,
) => Promise<MessageShape<O>>;
export type BidiStreamingFn<I extends DescMessage, O extends DescMessage> = (
  options?: CallOptions,
) => BidiStream<MessageInitShape<I>, MessageShape<O>>;

/** The client-side function type of one RPC descriptor. */
export type ClientMethod<M> = M extends { readonly methodKind: "unary"; readonly input: infer I extends DescMessage; readonly output: infer O extends DescMessage }
  ? UnaryFn<I, O>
  : M extends { readonly methodKind: "server_streaming"; readonly input: infer I extends DescMessage; readonly output: infer O extends DescMessage }
    ? ServerStreamingFn<I, O>
    : M extends { readonly methodKind: "client_streaming"; readonly input: infer I extends DescMessage; readonly output: infer O extends DescMessage }
      ? ClientStreamingFn<I, O>
      : M extends { readonly methodKind: "bidi_streaming"; readonly input: infer I extends DescMessage; readonly output: infer O extends DescMessage }
        ? BidiStreamingFn<I, O>
        : never;

/** Connection control of a client. */
export interface ClientControl {
  /**
   * Resolves when the connection is up; fails with UNAVAILABLE naming the service and address
   * when it is not within `timeoutMs` (default 10 000).
   */
  waitForReady(timeoutMs?: number): Promise<void>;
  /** Closes the connection; calls in flight fail with CANCELLED or UNAVAILABLE. */
  close(): void;
}

/** A client of a generated service (`JobApi.JobService`, `FnApi.BeamFnControl`, …). */
export type Client<S extends DescService> = { readonly [K in keyof S["method"]]: ClientMethod<S["method"][K]> } & ClientControl;

/** What a server handler learns about its call. */
export interface ServerCallContext {
  /** "Service.Method", e.g. "JobService.GetJobs". */
  readonly method: string;
  /** The request's metadata headers (string values; the first of repeated keys). */
  readonly metadata: Readonly<Record<string, string>>;
  /** The `worker_id` header, when the client sent one. */
  readonly workerId: string | undefined;
  /** Aborted when the client cancels or the call's deadline passes. */
  readonly signal: AbortSignal;
  /** The client's address. */
  readonly peer: string;
}

/** The context of a server handler that streams responses. */
export interface ServerStreamContext<O extends DescMessage> extends ServerCallContext {
  /** Sends one response; resolves when the transport accepted it (respects flow control). */
  send(message: MessageInitShape<O>): Promise<void>;
}

export type UnaryHandler<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  context: ServerCallContext,
) => MessageInitShape<O> | Promise<MessageInitShape<O>>;
/** Yields its responses, or sends them with `context.send` and resolves when done. */
export type ServerStreamingHandler<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  context: ServerStreamContext<O>,
) => AsyncIterable<MessageInitShape<O>> | Promise<void>;
export type ClientStreamingHandler<I extends DescMessage, O extends DescMessage> = (
  requests: AsyncIterable<MessageShape<I>>,
  context: ServerCallContext,
) => Promise<MessageInitShape<O>>;
/** Reads `requests` and yields responses, or sends them with `context.send` and resolves when done. */
export type BidiStreamingHandler<I extends DescMessage, O extends DescMessage> = (
  requests: AsyncIterable<MessageShape<I>>,
  context: ServerStreamContext<O>,
) => AsyncIterable<MessageInitShape<O>> | Promise<void>;

/** The server-side handler type of one RPC descriptor. */
export type ServerMethod<M> = M extends { readonly methodKind: "unary"; readonly input: infer I extends DescMessage; readonly output: infer O extends DescMessage }
  ? UnaryHandler<I, O>
  : M extends { readonly methodKind: "server_streaming"; readonly input: infer I extends DescMessage; readonly output: infer O extends DescMessage }
    ? ServerStreamingHandler<I, O>
    : M extends { readonly methodKind: "client_streaming"; readonly input: infer I extends DescMessage; readonly output: infer O extends DescMessage }
      ? ClientStreamingHandler<I, O>
      : M extends { readonly methodKind: "bidi_streaming"; readonly input: infer I extends DescMessage; readonly output: infer O extends DescMessage }
        ? BidiStreamingHandler<I, O>
        : never;

/** Handlers for some or all RPCs of a service; the others answer UNIMPLEMENTED. */
export type ServiceImplementation<S extends DescService> = { readonly [K in keyof S["method"]]?: ServerMethod<S["method"][K]> };

/** Where to listen. */
export interface ListenOptions {
  /** Interface to bind. Default "127.0.0.1" (loopback only). */
  readonly host?: string | undefined;
  /** Port; 0 (the default) picks a free one. */
  readonly port?: number | undefined;
}

/** A listening server's endpoint. */
export interface ServerAddress {
  readonly host: string;
  readonly port: number;
  /** "host:port", ready to hand to clients (e.g. in an ApiServiceDescriptor). */
  readonly address: string;
}

/** A gRPC server: add services, listen, close. */
export interface GrpcServer {
  /** Serves `service` with `implementation` (see `addService`). Call before `listen`. */
  addService<S extends DescService>(service: S, implementation: ServiceImplementation<S>): void;
  /** Binds and starts serving. */
  listen(options?: ListenOptions): Promise<ServerAddress>;
  /** The endpoint once listening. */
  readonly address: ServerAddress | undefined;
  /** Stops accepting calls, waits up to `graceMs` (default 2000) for calls in flight, then ends them. */
  close(options?: { readonly graceMs?: number | undefined }): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------------

/** Channel options for clients and servers: no message size cap. */
const BASE_OPTIONS: ChannelOptions = {
  "grpc.max_send_message_length": -1,
  "grpc.max_receive_message_length": -1,
};

/** Smallest keepalive interval grpc-java and Go servers accept by default (5 minutes). */
const MIN_KEEPALIVE_MS = 300_000;
const DEFAULT_UNARY_TIMEOUT_MS = 60_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Responses buffered per stream before reading pauses (HTTP/2 flow control takes over). */
const HIGH_WATER = 32;

/** grpc status → sluice code. */
const FROM_STATUS: Readonly<Record<number, ErrorCode>> = {
  [status.CANCELLED]: "CANCELLED",
  [status.UNKNOWN]: "INTERNAL",
  [status.INVALID_ARGUMENT]: "INVALID_ARGUMENT",
  [status.DEADLINE_EXCEEDED]: "DEADLINE_EXCEEDED",
  [status.NOT_FOUND]: "NOT_FOUND",
  [status.ALREADY_EXISTS]: "ALREADY_EXISTS",
  [status.PERMISSION_DENIED]: "PERMISSION_DENIED",
  [status.RESOURCE_EXHAUSTED]: "RESOURCE_EXHAUSTED",
  [status.FAILED_PRECONDITION]: "FAILED_PRECONDITION",
  [status.ABORTED]: "FAILED_PRECONDITION",
  [status.OUT_OF_RANGE]: "INVALID_ARGUMENT",
  [status.UNIMPLEMENTED]: "UNSUPPORTED",
  [status.INTERNAL]: "INTERNAL",
  [status.UNAVAILABLE]: "UNAVAILABLE",
  [status.DATA_LOSS]: "IO_ERROR",
  [status.UNAUTHENTICATED]: "PERMISSION_DENIED",
};

/** sluice code → grpc status, for errors thrown by server handlers. */
const TO_STATUS: Readonly<Record<ErrorCode, status>> = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  INVALID_PIPELINE: status.INVALID_ARGUMENT,
  USER_CODE_FAILED: status.UNKNOWN,
  INVALID_DATA: status.INVALID_ARGUMENT,
  IO_ERROR: status.INTERNAL,
  NOT_FOUND: status.NOT_FOUND,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  PERMISSION_DENIED: status.PERMISSION_DENIED,
  FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  UNSUPPORTED: status.UNIMPLEMENTED,
  JOB_FAILED: status.ABORTED,
  CANCELLED: status.CANCELLED,
  DEADLINE_EXCEEDED: status.DEADLINE_EXCEEDED,
  RESOURCE_EXHAUSTED: status.RESOURCE_EXHAUSTED,
  UNAVAILABLE: status.UNAVAILABLE,
  INTERNAL: status.INTERNAL,
};

function isServiceError(err: unknown): err is ServiceError {
  return err instanceof Error && typeof (err as Partial<ServiceError>).code === "number" && "details" in err;
}

/**
 * The gRPC status name ("UNAVAILABLE", "UNAUTHENTICATED", …) behind an error from this module,
 * or undefined when the error did not come from a gRPC status.
 */
export function grpcStatusOf(err: unknown): string | undefined {
  const source = SluiceError.is(err) ? err.cause : err;
  return isServiceError(source) ? status[source.code] : undefined;
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Number((ms / 1000).toFixed(1))} s`;
}

/** "host:port" with IPv6 hosts in brackets. */
function joinHostPort(host: string, port: number): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`;
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Builds a message of `schema` from an init object (or passes a message through). */
function build(schema: DescMessage, init: unknown): Message {
  return create(schema, init as MessageInitShape<DescMessage>);
}

function serialize(schema: DescMessage): (value: Message) => Buffer {
  return (value) => toBuffer(toBinary(schema, value));
}

/** Parses from a plain Uint8Array view, so bytes fields are Uint8Arrays (not Buffers) sharing the received bytes. */
function deserialize(schema: DescMessage): (bytes: Buffer) => Message {
  return (bytes) => fromBinary(schema, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}

/** Something whose flow can be paused: a Node readable stream. */
interface Flow {
  pause(): unknown;
  resume(): unknown;
}

/**
 * An async iterator fed by stream events: buffers up to HIGH_WATER items (then pauses the
 * source), delivers buffered items before a failure, and runs `onReturn` when the consumer stops
 * early.
 */
class Inbox<T> implements AsyncIterableIterator<T> {
  readonly #items: T[] = [];
  #done = false;
  #error: { readonly value: unknown } | undefined;
  #waiter: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | undefined;
  #paused = false;

  constructor(
    private readonly flow: Flow | undefined,
    private readonly onReturn: () => void,
  ) {}

  get finished(): boolean {
    return this.#done || this.#error !== undefined;
  }

  push(item: T): void {
    if (this.finished) return;
    if (this.#waiter !== undefined) {
      const waiter = this.#waiter;
      this.#waiter = undefined;
      waiter.resolve({ value: item, done: false });
      return;
    }
    this.#items.push(item);
    if (this.#items.length >= HIGH_WATER && this.flow !== undefined && !this.#paused) {
      this.#paused = true;
      this.flow.pause();
    }
  }

  end(): void {
    if (this.finished) return;
    this.#done = true;
    this.#settle();
  }

  fail(error: unknown): void {
    if (this.finished) return;
    this.#error = { value: error };
    this.#settle();
  }

  #settle(): void {
    if (this.#waiter === undefined || this.#items.length > 0) return;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    if (this.#error !== undefined) waiter.reject(this.#error.value);
    else waiter.resolve({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#items.length > 0) {
      const value = this.#items.shift() as T;
      if (this.#paused && this.#items.length <= HIGH_WATER / 2) {
        this.#paused = false;
        this.flow?.resume();
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.#error !== undefined) return Promise.reject(this.#error.value);
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<T>> {
    if (!this.finished) {
      this.#done = true;
      this.onReturn();
    }
    this.#items.length = 0;
    if (this.#paused) this.flow?.resume();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}

/** Resolves when a writable can take more data, or the call is over. */
function drained(stream: NodeJS.EventEmitter): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off("drain", done);
      stream.off("close", done);
      stream.off("error", done);
      stream.off("status", done);
      stream.off("cancelled", done);
      resolve();
    };
    stream.on("drain", done);
    stream.on("close", done);
    stream.on("error", done);
    stream.on("status", done);
    stream.on("cancelled", done);
  });
}

// ---------------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------------

/** What a call's error messages name. */
interface CallSite {
  readonly service: DescService;
  readonly address: string;
  readonly label: string | undefined;
  readonly hint: string | undefined;
}

function serverName(site: CallSite): string {
  return site.label === undefined
    ? `${site.service.name} at ${site.address}`
    : `${site.label} (${site.service.name} at ${site.address})`;
}

/** The server in messages that already name the service (in "Service.Method"). */
function where(site: CallSite): string {
  return site.label === undefined ? site.address : `${site.label} at ${site.address}`;
}

/** A SluiceError for a failed call, naming the RPC, the server and what to do. */
function callError(err: unknown, site: CallSite, method: DescMethod, timeoutMs: number | undefined): SluiceError {
  if (SluiceError.is(err)) return err;
  const rpc = `${site.service.name}.${method.name}`;
  if (!isServiceError(err)) {
    return new SluiceError("INTERNAL", `${rpc} to ${site.address} failed: ${describeError(err)}`, { cause: err });
  }
  const code = FROM_STATUS[err.code] ?? "INTERNAL";
  // grpc-js appends an empty "Resolution note:" to connection errors.
  const details = (err.details || status[err.code] || `status ${err.code}`).replace(/\.?\s*Resolution note:\s*$/, "");
  const extra = site.hint === undefined ? "" : `; ${site.hint}`;
  let message: string;
  let hint: string;
  switch (err.code) {
    case status.UNAVAILABLE:
      message = `${rpc}: cannot reach ${where(site)}: ${details}`;
      hint = `check that it is running and listening on ${site.address}${extra}`;
      break;
    case status.DEADLINE_EXCEEDED:
      message = `${rpc} to ${where(site)} did not finish${timeoutMs === undefined ? " before its deadline" : ` within ${formatMs(timeoutMs)}`}: ${details}`;
      hint = `the server may be overloaded or stuck (see its log), or raise the call's timeout${extra}`;
      break;
    case status.CANCELLED:
      message = `${rpc} to ${where(site)} was cancelled: ${details}`;
      hint = "the call was cancelled by this process or the server went away";
      break;
    case status.UNIMPLEMENTED:
      message = `${rpc} is not implemented by ${where(site)}: ${details}`;
      hint = "the server may be another kind of service or another Beam version; check the endpoint and versions";
      break;
    case status.RESOURCE_EXHAUSTED:
      message = `${rpc} to ${where(site)} failed (RESOURCE_EXHAUSTED): ${details}`;
      hint = "the server ran out of a resource or refused a message as too large; check its log and message size limits";
      break;
    case status.UNKNOWN:
    case status.INTERNAL:
      message = `${rpc} to ${where(site)} failed (${status[err.code]}): ${details}`;
      hint = "the server failed while handling the call; its log has the cause";
      break;
    default:
      message = `${rpc} to ${where(site)} failed (${status[err.code] ?? err.code}): ${details}`;
      hint = `the server rejected the call; see the message above${extra}`;
  }
  return new SluiceError(code, message, { hint, cause: err });
}

/**
 * Creates a client of `service` at `address` ("host:port"). Each RPC becomes a method:
 * unary → `(request, options?) => Promise<response>`; server streaming →
 * `(request, options?) => AsyncIterable<response>`; client streaming →
 * `(requests, options?) => Promise<response>`; bidi → `(options?) => BidiStream`.
 * The connection is made lazily on the first call (or by `waitForReady`); `close()` ends it.
 */
export function createClient<S extends DescService>(service: S, address: string, options: ClientOptions = {}): Client<S> {
  const keepalive = options.keepaliveTimeMs;
  if (keepalive !== undefined && !(keepalive >= MIN_KEEPALIVE_MS)) {
    throw new SluiceError(
      "INVALID_ARGUMENT",
      `keepaliveTimeMs ${keepalive} for ${service.name} at ${address} is below ${MIN_KEEPALIVE_MS} ms`,
      { hint: "Beam's Java and Go servers close connections that ping more often than every 5 minutes (too_many_pings); leave it unset or use >= 300000" },
    );
  }
  const channelOptions: ChannelOptions = {
    ...BASE_OPTIONS,
    "grpc.primary_user_agent": "sluice",
    "grpc.max_reconnect_backoff_ms": 10_000,
    ...(keepalive === undefined
      ? {}
      : { "grpc.keepalive_time_ms": keepalive, "grpc.keepalive_timeout_ms": 20_000, "grpc.keepalive_permit_without_calls": 0 }),
  };
  const grpc = new GrpcClient(address, credentials.createInsecure(), channelOptions);
  const site: CallSite = { service, address, label: options.label, hint: options.hint };
  const unaryTimeout = options.unaryTimeoutMs ?? DEFAULT_UNARY_TIMEOUT_MS;

  const metadataFor = (call: CallOptions): Metadata => {
    const md = new Metadata();
    for (const [key, value] of Object.entries(options.metadata ?? {})) md.set(key, value);
    for (const [key, value] of Object.entries(call.metadata ?? {})) md.set(key, value);
    if (options.workerId !== undefined) md.set("worker_id", options.workerId);
    if (call.waitForReady ?? options.waitForReady ?? false) md.setOptions({ waitForReady: true });
    return md;
  };
  const deadlineFor = (timeoutMs: number | undefined): { deadline?: number } =>
    timeoutMs === undefined || timeoutMs === Infinity ? {} : { deadline: Date.now() + timeoutMs };
  /** Cancels `call` when `signal` aborts; returns the cleanup. */
  const onAbort = (signal: AbortSignal | undefined, cancel: () => void): (() => void) => {
    if (signal === undefined) return () => {};
    if (signal.aborted) {
      queueMicrotask(cancel);
      return () => {};
    }
    signal.addEventListener("abort", cancel, { once: true });
    return () => signal.removeEventListener("abort", cancel);
  };

  const methods: Record<string, unknown> = {};
  for (const method of service.methods) {
    if (method.localName === "waitForReady" || method.localName === "close") {
      throw new SluiceError("INTERNAL", `${service.name}.${method.name} clashes with the client's own ${method.localName}()`);
    }
    const path = `/${service.typeName}/${method.name}`;
    const ser = serialize(method.input);
    const de = deserialize(method.output);
    switch (method.methodKind) {
      case "unary":
        methods[method.localName] = (request: unknown, call: CallOptions = {}): Promise<Message> => {
          const timeoutMs = call.timeoutMs ?? unaryTimeout;
          return new Promise<Message>((resolve, reject) => {
            let message: Message;
            try {
              message = build(method.input, request);
            } catch (err) {
              reject(SluiceError.from(err, "INVALID_ARGUMENT"));
              return;
            }
            let cleanup = (): void => {};
            const handle = grpc.makeUnaryRequest<Message, Message>(
              path,
              ser,
              de,
              message,
              metadataFor(call),
              deadlineFor(timeoutMs),
              (err, response) => {
                cleanup();
                if (err !== null) reject(callError(err, site, method, timeoutMs === Infinity ? undefined : timeoutMs));
                else if (response === undefined) reject(new SluiceError("INTERNAL", `${service.name}.${method.name} returned no response`));
                else resolve(response);
              },
            );
            cleanup = onAbort(call.signal, () => handle.cancel());
          });
        };
        break;
      case "server_streaming":
        methods[method.localName] = (request: unknown, call: CallOptions = {}): AsyncIterable<Message> => {
          let message: Message;
          try {
            message = build(method.input, request);
          } catch (err) {
            const failed = new Inbox<Message>(undefined, () => {});
            failed.fail(SluiceError.from(err, "INVALID_ARGUMENT"));
            return failed;
          }
          const stream = grpc.makeServerStreamRequest<Message, Message>(path, ser, de, message, metadataFor(call), deadlineFor(call.timeoutMs));
          return readResponses(stream, call, () => stream.cancel(), method);
        };
        break;
      case "client_streaming":
        methods[method.localName] = (
          requests: AsyncIterable<unknown> | Iterable<unknown>,
          call: CallOptions = {},
        ): Promise<Message> =>
          new Promise<Message>((resolve, reject) => {
            let cleanup = (): void => {};
            let settled = false;
            const finish = (err: unknown, response?: Message): void => {
              if (settled) return;
              settled = true;
              cleanup();
              if (err !== undefined) reject(err);
              else if (response === undefined) reject(new SluiceError("INTERNAL", `${service.name}.${method.name} returned no response`));
              else resolve(response);
            };
            const stream = grpc.makeClientStreamRequest<Message, Message>(
              path,
              ser,
              de,
              metadataFor(call),
              deadlineFor(call.timeoutMs),
              (err, response) => {
                if (err !== null) finish(callError(err, site, method, call.timeoutMs));
                else finish(undefined, response);
              },
            );
            cleanup = onAbort(call.signal, () => stream.cancel());
            void (async () => {
              try {
                for await (const request of requests) {
                  if (settled) return;
                  if (!stream.write(build(method.input, request))) await drained(stream);
                }
                stream.end();
              } catch (err) {
                stream.cancel();
                finish(SluiceError.from(err, "INVALID_ARGUMENT"));
              }
            })();
          });
        break;
      case "bidi_streaming":
        methods[method.localName] = (call: CallOptions = {}): BidiStream<unknown, Message> => {
          const stream = grpc.makeBidiStreamRequest<Message, Message>(path, ser, de, metadataFor(call), deadlineFor(call.timeoutMs));
          let over: unknown;
          let ended = false;
          let draining: Promise<void> | undefined;
          stream.on("status", (s: { code: number }) => {
            over ??= new SluiceError(
              s.code === status.OK ? "FAILED_PRECONDITION" : (FROM_STATUS[s.code] ?? "INTERNAL"),
              `${service.name}.${method.name} to ${site.address} is over (${status[s.code]}); nothing more can be sent`,
            );
          });
          const responses = readResponses(stream, call, () => stream.cancel(), method);
          return {
            send: async (request: unknown): Promise<void> => {
              if (over !== undefined) throw over;
              if (ended) {
                throw new SluiceError("FAILED_PRECONDITION", `${service.name}.${method.name}: send() after end()`);
              }
              const message = build(method.input, request);
              if (!stream.write(message)) {
                // One shared wait per stall: unawaited senders must not pile up listeners.
                draining ??= drained(stream).finally(() => (draining = undefined));
                await draining;
              }
            },
            end: (): void => {
              if (ended || over !== undefined) return;
              ended = true;
              stream.end();
            },
            cancel: (): void => stream.cancel(),
            [Symbol.asyncIterator]: () => responses[Symbol.asyncIterator](),
          };
        };
        break;
    }
  }

  /** Feeds a response stream into an Inbox; errors become SluiceErrors. */
  function readResponses(
    stream: ClientReadableStream<Message> | ClientDuplexStream<Message, Message>,
    call: CallOptions,
    cancel: () => void,
    method: DescMethod,
  ): Inbox<Message> {
    const inbox = new Inbox<Message>(stream, cancel);
    let error: SluiceError | undefined;
    const cleanup = onAbort(call.signal, cancel);
    stream.on("data", (message: Message) => inbox.push(message));
    stream.on("error", (err: unknown) => {
      error = callError(err, site, method, call.timeoutMs);
    });
    stream.on("end", () => {
      cleanup();
      if (error !== undefined) inbox.fail(error);
      else inbox.end();
    });
    // grpc-js pushes end-of-stream before emitting 'error', but be safe when 'end' never comes.
    stream.on("status", () => {
      setImmediate(() => {
        if (inbox.finished || stream.readableLength > 0 || stream.isPaused()) return;
        cleanup();
        if (error !== undefined) inbox.fail(error);
        else inbox.end();
      });
    });
    return inbox;
  }

  const control: ClientControl = {
    waitForReady: (timeoutMs = DEFAULT_CONNECT_TIMEOUT_MS) =>
      new Promise<void>((resolve, reject) => {
        grpc.waitForReady(Date.now() + timeoutMs, (err) => {
          if (err === undefined || err === null) {
            resolve();
            return;
          }
          reject(
            new SluiceError("UNAVAILABLE", `could not connect to ${serverName(site)} within ${formatMs(timeoutMs)}: ${err.message}`, {
              hint: `check that it is running and listening on ${site.address}${site.hint === undefined ? "" : `; ${site.hint}`}`,
              cause: err,
            }),
          );
        });
      }),
    close: () => grpc.close(),
  };
  return Object.freeze({ ...methods, ...control }) as Client<S>;
}

// ---------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------

/** A gRPC status object for an error thrown by a server handler. */
function toStatus(err: unknown): { code: status; details: string } {
  if (SluiceError.is(err)) return { code: TO_STATUS[err.code], details: err.message };
  if (isServiceError(err)) return { code: err.code, details: err.details };
  return { code: status.UNKNOWN, details: describeError(err) };
}

function headers(md: Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(md.getMap())) {
    if (typeof value === "string") out[key] = value;
  }
  return out;
}

/** The parts of a grpc-js server call every kind shares. */
type ServerCall = ServerUnaryCall<Message, Message> | ServerReadableStream<Message, Message> | Writable;

function callContext(service: DescService, method: DescMethod, call: ServerCall): ServerCallContext {
  const controller = new AbortController();
  const cancel = (): void =>
    controller.abort(new SluiceError("CANCELLED", `${service.name}.${method.name} was cancelled by the client`));
  if (call.cancelled) cancel();
  else (call as NodeJS.EventEmitter).once("cancelled", cancel);
  const metadata = headers(call.metadata);
  return {
    method: `${service.name}.${method.name}`,
    metadata,
    workerId: metadata["worker_id"],
    signal: controller.signal,
    peer: call.getPeer(),
  };
}

type Writable = ServerWritableStream<Message, Message> | ServerDuplexStream<Message, Message>;

/** Streams responses: `send` for handlers, and the loop for handlers returning an iterable. */
function streamContext<O extends DescMessage>(
  base: ServerCallContext,
  output: DescMessage,
  call: Writable,
): ServerStreamContext<O> {
  return {
    ...base,
    send: async (message: MessageInitShape<O>): Promise<void> => {
      if (call.cancelled) throw new SluiceError("CANCELLED", `${base.method}: the client cancelled the call`);
      if (!call.write(build(output, message))) await drained(call);
    },
  };
}

/** Answers a unary or client-streaming call with what `run` resolves to, or its error as a status. */
function answer(callback: sendUnaryData<Message>, output: DescMessage, run: () => unknown): void {
  void (async () => {
    try {
      callback(null, build(output, await run()));
    } catch (err) {
      callback(toStatus(err));
    }
  })();
}

/** Runs a streaming handler's result to completion and ends the call with its status. */
function finishStream(call: Writable, context: ServerStreamContext<DescMessage>, run: () => unknown): void {
  void (async () => {
    const result = run();
    if (isAsyncIterable(result)) {
      for await (const message of result) {
        if (call.cancelled) break;
        await context.send(message as MessageInitShape<DescMessage>);
      }
    } else {
      await result;
    }
  })().then(
    () => {
      if (!call.cancelled) call.end();
    },
    (err: unknown) => {
      if (!call.cancelled) call.emit("error", toStatus(err));
    },
  );
}

/** Feeds a server-side request stream into an Inbox. */
function readRequests(call: ServerReadableStream<Message, Message> | ServerDuplexStream<Message, Message>, method: string): Inbox<Message> {
  const inbox = new Inbox<Message>(call, () => {});
  call.on("data", (message: Message) => inbox.push(message));
  call.on("end", () => inbox.end());
  call.on("error", (err: unknown) => inbox.fail(SluiceError.from(err)));
  const cancelled = (): void => inbox.fail(new SluiceError("CANCELLED", `${method}: the client cancelled the call`));
  if (call.cancelled) cancelled();
  else call.once("cancelled", cancelled);
  return inbox;
}

/**
 * Serves `service` on `server` with `implementation`, one handler per RPC (by its local name,
 * e.g. `getJobs`): unary → `(request, context) => response`; server streaming →
 * `(request, context) => AsyncIterable<response>` (or `context.send(...)` and resolve);
 * client streaming → `(requests, context) => Promise<response>`; bidi →
 * `(requests, context) => AsyncIterable<response>` (or `context.send(...)` and resolve).
 * Missing handlers answer UNIMPLEMENTED; thrown SluiceErrors reach the client with the matching
 * gRPC status and their message.
 */
export function addService<S extends DescService>(server: GrpcServer, service: S, implementation: ServiceImplementation<S>): void {
  server.addService(service, implementation);
}

function grpcService(
  service: DescService,
  implementation: Readonly<Record<string, unknown>>,
): { definition: Record<string, MethodDefinition<Message, Message>>; handlers: UntypedServiceImplementation } {
  const definition: Record<string, MethodDefinition<Message, Message>> = {};
  const handlers: UntypedServiceImplementation = {};
  for (const method of service.methods) {
    const requestStream = method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming";
    const responseStream = method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming";
    definition[method.localName] = {
      path: `/${service.typeName}/${method.name}`,
      requestStream,
      responseStream,
      requestSerialize: serialize(method.input),
      requestDeserialize: deserialize(method.input),
      responseSerialize: serialize(method.output),
      responseDeserialize: deserialize(method.output),
      originalName: method.localName,
    };
    const handler = implementation[method.localName];
    if (handler === undefined) continue;
    if (typeof handler !== "function") {
      throw new SluiceError("INVALID_ARGUMENT", `the handler for ${service.name}.${method.name} is not a function`);
    }
    const name = `${service.name}.${method.name}`;
    switch (method.methodKind) {
      case "unary":
        handlers[method.localName] = (call: ServerUnaryCall<Message, Message>, callback: sendUnaryData<Message>) => {
          const context = callContext(service, method, call);
          answer(callback, method.output, () => handler(call.request, context));
        };
        break;
      case "server_streaming":
        handlers[method.localName] = (call: ServerWritableStream<Message, Message>) => {
          const context = streamContext(callContext(service, method, call), method.output, call);
          finishStream(call, context, () => handler(call.request, context));
        };
        break;
      case "client_streaming":
        handlers[method.localName] = (call: ServerReadableStream<Message, Message>, callback: sendUnaryData<Message>) => {
          const context = callContext(service, method, call);
          const requests = readRequests(call, name);
          answer(callback, method.output, () => handler(requests, context));
        };
        break;
      case "bidi_streaming":
        handlers[method.localName] = (call: ServerDuplexStream<Message, Message>) => {
          const context = streamContext(callContext(service, method, call), method.output, call);
          const requests = readRequests(call, name);
          finishStream(call, context, () => handler(requests, context));
        };
        break;
    }
  }
  return { definition, handlers };
}

/**
 * Creates a gRPC server with Beam-friendly defaults (no message size cap). Add services, then
 * `listen()` (127.0.0.1 and a free port unless told otherwise).
 */
export function createServer(): GrpcServer {
  const server = new Server({ ...BASE_OPTIONS });
  let address: ServerAddress | undefined;
  const names: string[] = [];
  return {
    addService(service, implementation) {
      if (address !== undefined) {
        throw new SluiceError("FAILED_PRECONDITION", `cannot add ${service.name}: the server is already listening on ${address.address}`);
      }
      const { definition, handlers } = grpcService(service, implementation as Readonly<Record<string, unknown>>);
      server.addService(definition, handlers);
      names.push(service.name);
    },
    listen(options = {}) {
      const host = options.host ?? "127.0.0.1";
      const port = options.port ?? 0;
      const target = joinHostPort(host, port);
      return new Promise<ServerAddress>((resolve, reject) => {
        server.bindAsync(target, ServerCredentials.createInsecure(), (err, bound) => {
          if (err !== null) {
            reject(
              new SluiceError("IO_ERROR", `cannot serve ${names.join(", ") || "gRPC"} on ${target}: ${err.message}`, {
                hint: port === 0 ? "check that the host is an address of this machine" : `another process may be using port ${port}; pick another or use 0`,
                cause: err,
              }),
            );
            return;
          }
          address = { host, port: bound, address: joinHostPort(host, bound) };
          resolve(address);
        });
      });
    },
    get address() {
      return address;
    },
    close(options = {}) {
      const graceMs = options.graceMs ?? 2000;
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}
