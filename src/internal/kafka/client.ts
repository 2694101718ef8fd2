/**
 * A small Kafka client: what Beam's KafkaIO needs of Kafka's protocol and no more. Metadata
 * (partitions and leaders), ListOffsets (earliest, latest, by time), Fetch from an offset of a
 * partition assigned by the caller (no consumer groups: as in KafkaIO, offsets are the pipeline's
 * state) and Produce. Non-flexible request versions, which every Kafka broker from 2.3 to 4.x serves:
 * Metadata v8, ListOffsets v5, Fetch v11, Produce v7.
 *
 * One connection per broker, requests pipelined on it by correlation id; each request has a
 * deadline. Sockets are unref'd while idle, so an idle client never keeps a process alive.
 */
import { createConnection, type Socket } from "node:net";
import { SluiceError } from "../errors.js";
import { decodeRecordBatches, encodeRecordBatch, KReader, KWriter, requestFrame, type ConsumedRecord, type ProducerRecord } from "./wire.js";

const API = { produce: 0, fetch: 1, listOffsets: 2, metadata: 3 } as const;
const VERSION = { produce: 7, fetch: 11, listOffsets: 5, metadata: 8 } as const;

/** Kafka error codes Sluice names or handles (the protocol guide's table). */
export const KafkaErrorCodes: Readonly<Record<number, string>> = {
  [-1]: "UNKNOWN_SERVER_ERROR",
  1: "OFFSET_OUT_OF_RANGE",
  2: "CORRUPT_MESSAGE",
  3: "UNKNOWN_TOPIC_OR_PARTITION",
  5: "LEADER_NOT_AVAILABLE",
  6: "NOT_LEADER_OR_FOLLOWER",
  7: "REQUEST_TIMED_OUT",
  10: "MESSAGE_TOO_LARGE",
  13: "NETWORK_EXCEPTION",
  17: "INVALID_TOPIC_EXCEPTION",
  18: "RECORD_LIST_TOO_LARGE",
  19: "NOT_ENOUGH_REPLICAS",
  20: "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
  29: "TOPIC_AUTHORIZATION_FAILED",
  32: "INVALID_TIMESTAMP",
  35: "UNSUPPORTED_VERSION",
  74: "FENCED_LEADER_EPOCH",
  75: "UNKNOWN_LEADER_EPOCH",
  76: "UNSUPPORTED_COMPRESSION_TYPE",
};

/** Errors after which fresh metadata (a new leader) may succeed. */
const RETRIABLE = new Set([3, 5, 6, 7, 13, 19, 20, 74, 75]);

export function kafkaErrorName(code: number): string {
  return KafkaErrorCodes[code] ?? `error code ${code}`;
}

/** A failure of the Kafka client; `code` is the broker's error code when it gave one. */
export class KafkaClientError extends Error {
  constructor(
    message: string,
    readonly code?: number,
    readonly retriable = code !== undefined && RETRIABLE.has(code),
  ) {
    super(message);
  }
}

interface Pending {
  resolve(r: KReader): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/** One broker connection: requests pipelined, answered in order by correlation id. */
class Connection {
  private socket: Socket | undefined;
  private connecting: Promise<Socket> | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private chunks: Buffer[] = [];
  private buffered = 0;
  closed = false;

  constructor(
    readonly host: string,
    readonly port: number,
    private readonly clientId: string,
    private readonly connectTimeoutMs: number,
  ) {}

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  private open(): Promise<Socket> {
    if (this.socket !== undefined) return Promise.resolve(this.socket);
    this.connecting ??= new Promise<Socket>((resolve, reject) => {
      const s = createConnection({ host: this.host, port: this.port });
      s.setNoDelay(true);
      const timer = setTimeout(() => {
        s.destroy();
        reject(new KafkaClientError(`could not connect to Kafka broker ${this.address} within ${this.connectTimeoutMs} ms`, 13, true));
      }, this.connectTimeoutMs);
      s.once("connect", () => {
        clearTimeout(timer);
        this.socket = s;
        this.connecting = undefined;
        s.unref();
        resolve(s);
      });
      s.on("data", (d: Buffer) => this.onData(d));
      s.on("error", (err) => {
        clearTimeout(timer);
        this.fail(new KafkaClientError(`Kafka broker ${this.address}: ${err.message}`, 13, true));
        reject(new KafkaClientError(`could not connect to Kafka broker ${this.address}: ${err.message}`, 13, true));
      });
      s.on("close", () => this.fail(new KafkaClientError(`Kafka broker ${this.address} closed the connection`, 13, true)));
    });
    return this.connecting;
  }

  private fail(err: Error): void {
    this.socket?.destroy();
    this.socket = undefined;
    this.connecting = undefined;
    this.chunks = [];
    this.buffered = 0;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }

  private onData(d: Buffer): void {
    this.chunks.push(d);
    this.buffered += d.length;
    for (;;) {
      if (this.buffered < 4) return;
      let head = this.chunks[0] as Buffer;
      if (head.length < 4) {
        head = Buffer.concat(this.chunks);
        this.chunks = [head];
      }
      const size = head.readInt32BE(0);
      if (this.buffered < 4 + size) return;
      const all = this.chunks.length === 1 ? head : Buffer.concat(this.chunks);
      const frame = all.subarray(4, 4 + size);
      const rest = all.subarray(4 + size);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
      const r = new KReader(frame);
      const id = r.int32();
      const p = this.pending.get(id);
      if (p === undefined) continue;
      this.pending.delete(id);
      clearTimeout(p.timer);
      if (this.pending.size === 0) this.socket?.unref();
      p.resolve(r);
    }
  }

  async request(apiKey: number, version: number, body: Uint8Array, timeoutMs: number): Promise<KReader> {
    if (this.closed) throw new KafkaClientError(`the Kafka client was closed`);
    const socket = await this.open();
    const id = this.nextId++;
    if (this.nextId > 0x7fffffff) this.nextId = 1;
    return new Promise<KReader>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        // The connection's later answers would be out of step: start over.
        this.fail(new KafkaClientError(`Kafka broker ${this.address} did not answer within ${timeoutMs} ms`, 7, true));
        reject(new KafkaClientError(`Kafka broker ${this.address} did not answer within ${timeoutMs} ms`, 7, true));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      socket.ref();
      socket.write(requestFrame(apiKey, version, id, this.clientId, body));
    });
  }

  /** Sends a request that gets no response (Produce with acks=0). */
  async send(apiKey: number, version: number, body: Uint8Array): Promise<void> {
    if (this.closed) throw new KafkaClientError(`the Kafka client was closed`);
    const socket = await this.open();
    const id = this.nextId++;
    if (this.nextId > 0x7fffffff) this.nextId = 1;
    await new Promise<void>((resolve, reject) => socket.write(requestFrame(apiKey, version, id, this.clientId, body), (err) => (err ? reject(err) : resolve())));
  }

  close(): void {
    this.closed = true;
    this.fail(new KafkaClientError("the Kafka client was closed"));
  }
}

export interface KafkaClientOptions {
  /** host:port pairs. */
  readonly bootstrap: readonly { readonly host: string; readonly port: number }[];
  readonly clientId?: string;
  /** Deadline of each request (request.timeout.ms; default 30000). */
  readonly requestTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
}

export interface PartitionMetadata {
  readonly partition: number;
  readonly leader: number;
  readonly error: number;
}

export interface TopicMetadata {
  readonly name: string;
  readonly error: number;
  readonly partitions: readonly PartitionMetadata[];
}

export interface FetchRequest {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

export interface FetchResult {
  readonly topic: string;
  readonly partition: number;
  /** 0, or the broker's error code for this partition. */
  readonly error: number;
  readonly highWatermark: number;
  readonly records: ConsumedRecord[];
  /** Where the next fetch starts: after the last complete batch, or the fetch offset when none came. */
  readonly nextOffset: number;
}

export interface ProduceResult {
  readonly topic: string;
  readonly partition: number;
  /** 0, or the broker's error code for this partition (its batch was not written). */
  readonly error: number;
  readonly baseOffset: number;
}

export interface ProduceBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly ProducerRecord[];
}

/** Items grouped by topic, in order (a request lists each topic once, with its partitions). */
function byTopic<T extends { topic: string }>(items: readonly T[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const it of items) {
    const t = out.get(it.topic);
    if (t) t.push(it);
    else out.set(it.topic, [it]);
  }
  return out;
}

/**
 * host:port pairs of a bootstrap-servers list; throws a SluiceError naming `what` (a flag or a
 * config key) on a malformed one.
 */
export function parseBootstrapServers(value: string, what: string): { host: string; port: number }[] {
  const example = "e.g. 127.0.0.1:9092";
  const out: { host: string; port: number }[] = [];
  for (const part of value.split(",").map((x) => x.trim()).filter((x) => x !== "")) {
    const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(part);
    const port = Number(m?.[2]);
    if (!m || port < 1 || port > 65535) throw new SluiceError("INVALID_ARGUMENT", `${what} takes host:port[,host:port…], not "${value}"`, { hint: example });
    out.push({ host: (m[1] as string).replace(/^\[|\]$/g, ""), port });
  }
  if (out.length === 0) throw new SluiceError("INVALID_ARGUMENT", `${what} is empty`, { hint: example });
  return out;
}

/** Special ListOffsets timestamps. */
export const LATEST = -1;
export const EARLIEST = -2;

export class KafkaClient {
  private readonly bootstrap: Connection[];
  private readonly brokers = new Map<number, Connection>();
  private readonly leaders = new Map<string, number>();
  private readonly partitionCounts = new Map<string, number>();
  private readonly clientId: string;
  private readonly timeoutMs: number;
  private readonly connectTimeoutMs: number;

  constructor(options: KafkaClientOptions) {
    this.clientId = options.clientId ?? "sluice";
    this.timeoutMs = options.requestTimeoutMs ?? 30_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.bootstrap = options.bootstrap.map((b) => new Connection(b.host, b.port, this.clientId, this.connectTimeoutMs));
  }

  /** The brokers the last Metadata answer listed (Metadata lists only unfenced brokers). */
  knownBrokers(): { nodeId: number; host: string; port: number }[] {
    return [...this.brokers].map(([nodeId, c]) => ({ nodeId, host: c.host, port: c.port }));
  }

  get servers(): string {
    return this.bootstrap.map((c) => c.address).join(",");
  }

  /** Metadata for `topics` from any bootstrap broker that answers; learns the brokers and leaders. */
  async metadata(topics: readonly string[], allowAutoCreate = false): Promise<TopicMetadata[]> {
    const body = new KWriter()
      .array(topics, (w, t) => w.string(t))
      .int8(allowAutoCreate ? 1 : 0)
      .int8(0)
      .int8(0)
      .view();
    let lastError: Error | undefined;
    const candidates = [...this.brokers.values(), ...this.bootstrap];
    for (const conn of candidates) {
      let r: KReader;
      try {
        r = await conn.request(API.metadata, VERSION.metadata, body, this.timeoutMs);
      } catch (err) {
        lastError = err as Error;
        continue;
      }
      r.int32(); // throttle
      const brokers = r.array((b) => {
        const nodeId = b.int32();
        const host = b.string();
        const port = b.int32();
        b.nullableString(); // rack
        return { nodeId, host, port };
      });
      r.nullableString(); // cluster id
      r.int32(); // controller id
      const out = r.array((t): TopicMetadata => {
        const error = t.int16();
        const name = t.string();
        t.int8(); // is_internal
        const partitions = t.array((p): PartitionMetadata => {
          const perror = p.int16();
          const partition = p.int32();
          const leader = p.int32();
          p.int32(); // leader epoch
          p.array((x) => x.int32()); // replicas
          p.array((x) => x.int32()); // isr
          p.array((x) => x.int32()); // offline
          return { partition, leader, error: perror };
        });
        t.int32(); // topic authorized operations
        return { name, error, partitions };
      });
      for (const [id, c] of this.brokers) {
        if (!brokers.some((b) => b.nodeId === id)) {
          c.close();
          this.brokers.delete(id);
        }
      }
      for (const b of brokers) {
        const known = this.brokers.get(b.nodeId);
        if (known === undefined || known.host !== b.host || known.port !== b.port) {
          known?.close();
          this.brokers.set(b.nodeId, new Connection(b.host, b.port, this.clientId, this.connectTimeoutMs));
        }
      }
      for (const t of out) {
        if (t.error !== 0) continue;
        this.partitionCounts.set(t.name, t.partitions.length);
        for (const p of t.partitions) this.leaders.set(`${t.name}\0${p.partition}`, p.leader);
      }
      return out;
    }
    throw new KafkaClientError(`no Kafka broker answered at ${this.servers}: ${lastError?.message ?? "no brokers"}`, 13, true);
  }

  /** The partitions of a topic (throws KafkaClientError naming the topic when it does not exist). */
  async partitions(topic: string, allowAutoCreate = false): Promise<number[]> {
    const [t] = await this.metadata([topic], allowAutoCreate);
    if (t === undefined || t.error !== 0) {
      const code = t?.error ?? 3;
      throw new KafkaClientError(`Kafka topic "${topic}" at ${this.servers}: ${kafkaErrorName(code)}`, code);
    }
    return t.partitions.map((p) => p.partition).sort((a, b) => a - b);
  }

  /** The partition count of a topic if metadata already told it. */
  cachedPartitionCount(topic: string): number | undefined {
    return this.partitionCounts.get(topic);
  }

  /** The cached partition count of a topic (metadata is fetched when unknown). */
  async partitionCount(topic: string, allowAutoCreate = false): Promise<number> {
    return this.partitionCounts.get(topic) ?? (await this.partitions(topic, allowAutoCreate)).length;
  }

  private async leader(topic: string, partition: number): Promise<Connection> {
    const key = `${topic}\0${partition}`;
    let id = this.leaders.get(key);
    if (id === undefined || id < 0 || !this.brokers.has(id)) {
      await this.metadata([topic]);
      id = this.leaders.get(key);
    }
    const conn = id === undefined ? undefined : this.brokers.get(id);
    if (conn === undefined) throw new KafkaClientError(`Kafka topic "${topic}" partition ${partition} has no leader at ${this.servers}`, 5);
    return conn;
  }

  /** Forgets the leaders of a topic, so the next request looks them up again. */
  invalidate(topic: string): void {
    for (const k of [...this.leaders.keys()]) if (k.startsWith(`${topic}\0`)) this.leaders.delete(k);
  }

  private async byLeader<T extends { topic: string; partition: number }>(items: readonly T[]): Promise<Map<Connection, T[]>> {
    const groups = new Map<Connection, T[]>();
    for (const it of items) {
      const c = await this.leader(it.topic, it.partition);
      const g = groups.get(c);
      if (g) g.push(it);
      else groups.set(c, [it]);
    }
    return groups;
  }

  /** The offset for `timestamp` (LATEST, EARLIEST, or the first offset whose record time is ≥ it; the end when none is). */
  async listOffset(topic: string, partition: number, timestamp: number): Promise<number> {
    const conn = await this.leader(topic, partition);
    const body = new KWriter()
      .int32(-1)
      .int8(0)
      .array([topic], (w, t) =>
        w.string(t).array([partition], (w2, p) => {
          w2.int32(p).int32(-1).int64(timestamp);
        }),
      )
      .view();
    const r = await conn.request(API.listOffsets, VERSION.listOffsets, body, this.timeoutMs);
    r.int32(); // throttle
    let result: { error: number; offset: number } | undefined;
    r.array((t) => {
      t.string();
      t.array((p) => {
        p.int32();
        const error = p.int16();
        p.int64(); // timestamp
        const offset = p.int64();
        p.int32(); // leader epoch
        result = { error, offset };
      });
    });
    if (result === undefined) throw new KafkaClientError(`ListOffsets for ${topic}-${partition}: empty answer from ${conn.address}`);
    if (result.error !== 0) {
      if (RETRIABLE.has(result.error)) this.invalidate(topic);
      throw new KafkaClientError(`ListOffsets for ${topic}-${partition} at ${conn.address}: ${kafkaErrorName(result.error)}`, result.error);
    }
    if (result.offset < 0) return this.listOffset(topic, partition, LATEST);
    return result.offset;
  }

  /**
   * Fetches from each partition at its offset; one request per leader, in parallel. Partition
   * errors come back in the results (a retriable one also forgets the leader).
   */
  async fetch(requests: readonly FetchRequest[], options: { maxWaitMs: number; minBytes?: number; maxBytes?: number; partitionMaxBytes?: number }): Promise<FetchResult[]> {
    const groups = await this.byLeader(requests);
    const answers = await Promise.all(
      [...groups].map(async ([conn, reqs]) => {
        const topics = byTopic(reqs);
        const body = new KWriter()
          .int32(-1) // replica id: a consumer
          .int32(options.maxWaitMs)
          .int32(options.minBytes ?? 1)
          .int32(options.maxBytes ?? 52428800)
          .int8(0) // read_uncommitted
          .int32(0) // session id: none
          .int32(-1) // session epoch: a full fetch outside any session
          .array([...topics], (w, [topic, ps]) =>
            w.string(topic).array(ps, (w2, q) => {
              w2.int32(q.partition).int32(-1).int64(q.offset).int64(-1).int32(options.partitionMaxBytes ?? 1048576);
            }),
          )
          .array([], () => undefined) // forgotten topics
          .string("") // rack
          .view();
        const r = await conn.request(API.fetch, VERSION.fetch, body, this.timeoutMs + options.maxWaitMs);
        r.int32(); // throttle
        const error = r.int16();
        r.int32(); // session id
        if (error !== 0) throw new KafkaClientError(`Fetch from ${conn.address}: ${kafkaErrorName(error)}`, error);
        const wanted = new Map(reqs.map((q) => [`${q.topic}\0${q.partition}`, q.offset]));
        const out: FetchResult[] = [];
        r.array((t) => {
          const topic = t.string();
          t.array((p) => {
            const partition = p.int32();
            const perror = p.int16();
            const highWatermark = p.int64();
            p.int64(); // last stable offset
            p.int64(); // log start offset
            const aborted = p.int32();
            for (let i = 0; i < aborted; i++) p.skip(16);
            p.int32(); // preferred read replica
            const bytes = p.nullableBytes();
            const from = wanted.get(`${topic}\0${partition}`) ?? 0;
            if (perror !== 0) {
              if (RETRIABLE.has(perror)) this.invalidate(topic);
              out.push({ topic, partition, error: perror, highWatermark, records: [], nextOffset: from });
              return;
            }
            const decoded = bytes === null ? { records: [], nextOffset: undefined } : decodeRecordBatches(bytes, from, `Kafka topic "${topic}" partition ${partition}`);
            out.push({ topic, partition, error: 0, highWatermark, records: decoded.records, nextOffset: Math.max(from, decoded.nextOffset ?? from) });
          });
        });
        return out;
      }),
    );
    return answers.flat();
  }

  /**
   * Produces each batch to its partition until every one is written, retrying only the partitions
   * that failed with a retriable error (a leader moving, a broker restarting), with fresh metadata,
   * until `deadlineMs` has passed; then, or on another error, throws KafkaClientError.
   */
  async produceAll(batches: readonly ProduceBatch[], options: { acks: -1 | 0 | 1; compression?: "none" | "gzip"; deadlineMs: number }): Promise<void> {
    const until = Date.now() + options.deadlineMs;
    let pending = batches;
    for (let attempt = 0; ; attempt++) {
      let failed: { batch: ProduceBatch; error: KafkaClientError }[];
      try {
        const results = await this.produce(pending, options);
        failed = [];
        results.forEach((r, i) => {
          if (r.error !== 0) failed.push({ batch: pending[i] as ProduceBatch, error: new KafkaClientError(`producing to Kafka topic "${r.topic}" partition ${r.partition}: ${kafkaErrorName(r.error)}`, r.error) });
        });
      } catch (err) {
        if (!(err instanceof KafkaClientError)) throw err;
        // Not answered: nothing is known of any batch; all are sent again.
        failed = pending.map((batch) => ({ batch, error: err }));
      }
      if (failed.length === 0) return;
      const fatal = failed.find((f) => !f.error.retriable);
      if (fatal !== undefined) throw fatal.error;
      if (Date.now() >= until) throw (failed[0] as { error: KafkaClientError }).error;
      pending = failed.map((f) => f.batch);
      await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 2000)));
    }
  }

  /**
   * Produces records to partitions (one batch each; one request per leader), once. acks: -1 (all),
   * 1 or 0 (no answer is awaited then). Results are in the order of `batches`, each with its error.
   */
  async produce(batches: readonly ProduceBatch[], options: { acks: -1 | 0 | 1; timeoutMs?: number; compression?: "none" | "gzip" }): Promise<ProduceResult[]> {
    const groups = await this.byLeader(batches);
    const answers = await Promise.all(
      [...groups].map(async ([conn, bs]) => {
        const topics = byTopic(bs);
        const body = new KWriter()
          .string(null) // transactional id
          .int16(options.acks)
          .int32(options.timeoutMs ?? this.timeoutMs)
          .array([...topics], (w, [topic, ps]) =>
            w.string(topic).array(ps, (w2, b) => {
              w2.int32(b.partition).bytes(encodeRecordBatch(b.records, options.compression ?? "none"));
            }),
          )
          .view();
        if (options.acks === 0) {
          // The broker sends no response to acks=0.
          await conn.send(API.produce, VERSION.produce, body);
          return bs.map((b) => ({ topic: b.topic, partition: b.partition, error: 0, baseOffset: -1 }));
        }
        const r = await conn.request(API.produce, VERSION.produce, body, this.timeoutMs);
        const out: ProduceResult[] = [];
        r.array((t) => {
          const topic = t.string();
          t.array((p) => {
            const partition = p.int32();
            const error = p.int16();
            const baseOffset = p.int64();
            p.int64(); // log append time
            p.int64(); // log start offset
            if (error !== 0 && RETRIABLE.has(error)) this.invalidate(topic);
            out.push({ topic, partition, error, baseOffset });
          });
        });
        return out;
      }),
    );
    const found = new Map(answers.flat().map((r) => [`${r.topic}\0${r.partition}`, r]));
    return batches.map((b) => found.get(`${b.topic}\0${b.partition}`) ?? { topic: b.topic, partition: b.partition, error: -1, baseOffset: -1 });
  }

  close(): void {
    for (const c of this.bootstrap) c.close();
    for (const c of this.brokers.values()) c.close();
  }
}
