/**
 * Kafka: `ReadFromKafka` and `WriteToKafka`, with Beam Python's names and main parameters.
 *
 * ```ts
 * p.apply("Events", ReadFromKafka({
 *     consumerConfig: { "bootstrap.servers": "127.0.0.1:9092", "auto.offset.reset": "earliest" },
 *     topics: ["game-events"],
 *     valueDeserializer: "org.apache.kafka.common.serialization.StringDeserializer",
 *     timestampPolicy: "CreateTime",
 *   }))
 *  .apply("Values", Map(([, line]) => line));
 * …
 * scores.apply("Publish", WriteToKafka({ producerConfig: { "bootstrap.servers": "127.0.0.1:9092" }, topic: "scores",
 *   keySerializer: "org.apache.kafka.common.serialization.StringSerializer",
 *   valueSerializer: "org.apache.kafka.common.serialization.StringSerializer" }));
 * ```
 *
 * The read is an UnboundedSource (io/unbounded.ts) run by the model's own state and timers, so it
 * runs the same way on the direct runner, Prism and Flink: one reader per topic partition (one for
 * all of them with `maxNumRecords`, which counts across partitions as Beam's bounded read does),
 * each keeping its next offset in state (on Flink: in checkpoints and savepoints), fetching from
 * the partition's leader with Sluice's own Kafka client (src/internal/kafka). Partitions are
 * assigned by the pipeline, not by a consumer group, as in KafkaIO; `group.id` is not used.
 *
 * Timestamps and watermarks per partition (Beam Java's timestamp policies):
 * - `ProcessingTime` (the default, as in Beam): each record at the time it is read; the watermark is now.
 * - `CreateTime`: the record's timestamp; the watermark is the latest record time read less
 *   `maxDelay` (default 0), and once the reader has caught up with the partition's end it moves to
 *   the wall clock less `maxDelay` (Beam Java's TimestampPolicyFactory.withCreateTime(maxDelay)).
 *   Unlike Beam Java, a partition that has never had a record does not hold the watermark at the
 *   beginning of time.
 * - `LogAppendTime`: the broker's append time (the topic must use it); the watermark follows the
 *   records, and the wall clock less 2 s once caught up.
 * The read's watermark is the least of its partitions'.
 *
 * The write produces each bundle's records before the bundle ends (acks: all by default), so a
 * checkpointed runner never loses one; after a failure some may be written twice (Beam's KafkaIO
 * without exactly-once sinks does the same). Keys are partitioned as Kafka's Java producer does
 * (murmur2), records without a key spread round-robin.
 */
import { SluiceError } from "../../internal/errors.js";
import { EARLIEST, KafkaClient, KafkaClientError, kafkaErrorName, LATEST, parseBootstrapServers, type FetchResult } from "../../internal/kafka/client.js";
import type { ConsumedRecord, KafkaHeader, ProducerRecord } from "../../internal/kafka/wire.js";
import { partitionForKey } from "../../internal/kafka/wire.js";
import type { Coder } from "../coders/coder.js";
import { JsValueCoder } from "../coders/js_value.js";
import { BytesCoder, DoubleCoder, StringUtf8Coder, VarIntCoder, type Int64 } from "../coders/primitives.js";
import { KvCoder, NullableCoder } from "../coders/structured.js";
import type { PBegin, PCollection } from "../pvalue.js";
import { MIN_TIMESTAMP, type Timestamp } from "../time.js";
import { PTransform } from "../transform.js";
import { ParDo } from "../transforms/core.js";
import { ReadFromUnbounded, type PollResult, type UnboundedSource } from "./unbounded.js";

// ---------------------------------------------------------------------------------------------
// Serialization

/** Turns a record's key or value bytes into a value. */
export interface KafkaDeserializer<T> {
  deserialize(data: Uint8Array): T;
  /** How the values travel between transforms. */
  readonly coder: Coder<T>;
}

/** Turns a value into a record's key or value bytes. */
export interface KafkaSerializer<T> {
  serialize(value: T): Uint8Array;
}

const SER = "org.apache.kafka.common.serialization.";

/** The Java deserializers Beam Python users name, and what each gives. */
interface JavaDeserializers {
  "org.apache.kafka.common.serialization.ByteArrayDeserializer": Uint8Array;
  "org.apache.kafka.common.serialization.StringDeserializer": string;
  "org.apache.kafka.common.serialization.LongDeserializer": Int64;
  "org.apache.kafka.common.serialization.IntegerDeserializer": number;
  "org.apache.kafka.common.serialization.DoubleDeserializer": number;
}
interface JavaSerializers {
  "org.apache.kafka.common.serialization.ByteArraySerializer": Uint8Array;
  "org.apache.kafka.common.serialization.StringSerializer": string;
  "org.apache.kafka.common.serialization.LongSerializer": Int64;
  "org.apache.kafka.common.serialization.IntegerSerializer": number;
  "org.apache.kafka.common.serialization.DoubleSerializer": number;
}

export type DeserializerSpec = keyof JavaDeserializers | KafkaDeserializer<unknown>;
export type SerializerSpec = keyof JavaSerializers | KafkaSerializer<never>;
export type Deserialized<D> = D extends KafkaDeserializer<infer T> ? T : D extends keyof JavaDeserializers ? JavaDeserializers[D] : never;
export type Serialized<S> = S extends KafkaSerializer<infer T> ? T : S extends keyof JavaSerializers ? JavaSerializers[S] : never;

const BYTES_DESERIALIZER = `${SER}ByteArrayDeserializer` as const;
const BYTES_SERIALIZER = `${SER}ByteArraySerializer` as const;

function fixed(data: Uint8Array, width: number, what: string): DataView {
  if (data.length !== width) throw new SluiceError("INVALID_ARGUMENT", `${what} got ${data.length} bytes, expected ${width}`, { hint: "Check the topic's serializer." });
  return new DataView(data.buffer, data.byteOffset, data.byteLength);
}

const builtinDeserializers: Record<keyof JavaDeserializers, KafkaDeserializer<unknown>> = {
  [`${SER}ByteArrayDeserializer`]: { deserialize: (d) => new Uint8Array(d), coder: BytesCoder },
  [`${SER}StringDeserializer`]: { deserialize: (d) => Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString("utf8"), coder: StringUtf8Coder },
  [`${SER}LongDeserializer`]: {
    deserialize: (d) => {
      const v = fixed(d, 8, "LongDeserializer").getBigInt64(0);
      return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    },
    coder: VarIntCoder,
  },
  [`${SER}IntegerDeserializer`]: { deserialize: (d) => fixed(d, 4, "IntegerDeserializer").getInt32(0), coder: VarIntCoder as Coder<unknown> },
  [`${SER}DoubleDeserializer`]: { deserialize: (d) => fixed(d, 8, "DoubleDeserializer").getFloat64(0), coder: DoubleCoder },
} as Record<keyof JavaDeserializers, KafkaDeserializer<unknown>>;

function numberBytes(width: 4 | 8, write: (v: DataView) => void): Uint8Array {
  const b = new Uint8Array(width);
  write(new DataView(b.buffer));
  return b;
}

const builtinSerializers: Record<keyof JavaSerializers, KafkaSerializer<never>> = {
  [`${SER}ByteArraySerializer`]: { serialize: (v: Uint8Array) => v },
  [`${SER}StringSerializer`]: { serialize: (v: string) => Buffer.from(String(v), "utf8") },
  [`${SER}LongSerializer`]: { serialize: (v: Int64) => numberBytes(8, (d) => d.setBigInt64(0, BigInt(v))) },
  [`${SER}IntegerSerializer`]: { serialize: (v: number) => numberBytes(4, (d) => d.setInt32(0, v)) },
  [`${SER}DoubleSerializer`]: { serialize: (v: number) => numberBytes(8, (d) => d.setFloat64(0, v)) },
} as Record<keyof JavaSerializers, KafkaSerializer<never>>;

function resolveDeserializer(spec: DeserializerSpec, param: string): KafkaDeserializer<unknown> {
  if (typeof spec !== "string") {
    if (typeof spec?.deserialize !== "function" || spec.coder === undefined) {
      throw new SluiceError("INVALID_ARGUMENT", `ReadFromKafka ${param} must be a Kafka deserializer class name or { deserialize(bytes), coder }`);
    }
    return spec;
  }
  const d = builtinDeserializers[spec];
  if (d === undefined) {
    throw new SluiceError("INVALID_ARGUMENT", `ReadFromKafka ${param} "${spec}" is not one Sluice provides`, {
      hint: `Use one of ${Object.keys(builtinDeserializers).join(", ")}, or pass { deserialize(bytes), coder }.`,
    });
  }
  return d;
}

function resolveSerializer(spec: SerializerSpec, param: string): KafkaSerializer<unknown> {
  if (typeof spec !== "string") {
    if (typeof spec?.serialize !== "function") throw new SluiceError("INVALID_ARGUMENT", `WriteToKafka ${param} must be a Kafka serializer class name or { serialize(value) }`);
    return spec as KafkaSerializer<unknown>;
  }
  const s = builtinSerializers[spec];
  if (s === undefined) {
    throw new SluiceError("INVALID_ARGUMENT", `WriteToKafka ${param} "${spec}" is not one Sluice provides`, {
      hint: `Use one of ${Object.keys(builtinSerializers).join(", ")}, or pass { serialize(value) }.`,
    });
  }
  return s as KafkaSerializer<unknown>;
}

// ---------------------------------------------------------------------------------------------
// Configuration

/** host:port pairs of `bootstrap.servers`. */
function bootstrapOf(config: Readonly<Record<string, string>>, transform: string, param: string): { host: string; port: number }[] {
  const value = config["bootstrap.servers"];
  if (value === undefined || String(value).trim() === "") {
    throw new SluiceError("INVALID_ARGUMENT", `${transform} needs "bootstrap.servers" in ${param}`, { hint: `e.g. ${param}: { "bootstrap.servers": "127.0.0.1:9092" }` });
  }
  return parseBootstrapServers(String(value), `${transform} "bootstrap.servers"`);
}

function intConfig(config: Readonly<Record<string, string>>, key: string, fallback: number, transform: string): number {
  const v = config[key];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new SluiceError("INVALID_ARGUMENT", `${transform} config "${key}" must be a non-negative integer, got "${v}"`);
  return n;
}

/** One client per process and configuration: readers and writers in the same worker share it. */
const clients = new Map<string, KafkaClient>();

function clientFor(bootstrap: readonly { host: string; port: number }[], config: Readonly<Record<string, string>>): KafkaClient {
  const requestTimeoutMs = intConfig(config, "request.timeout.ms", 30_000, "Kafka");
  const clientId = config["client.id"] ?? "sluice";
  const key = JSON.stringify([bootstrap, clientId, requestTimeoutMs]);
  let c = clients.get(key);
  if (c === undefined) {
    c = new KafkaClient({ bootstrap, clientId, requestTimeoutMs });
    clients.set(key, c);
  }
  return c;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Retries a retriable Kafka failure until `deadlineMs`, then throws a SluiceError naming the broker. */
async function withRetry<T>(what: string, client: KafkaClient, deadlineMs: number, f: () => Promise<T>): Promise<T> {
  const until = Date.now() + deadlineMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await f();
    } catch (err) {
      const retriable = err instanceof KafkaClientError && err.retriable;
      if (!retriable || Date.now() >= until) {
        throw new SluiceError(retriable ? "UNAVAILABLE" : "FAILED_PRECONDITION", `${what}: ${(err as Error).message}`, {
          hint: retriable
            ? `Check that a Kafka broker is running at ${client.servers} (sluice cluster up --kafka starts one on 127.0.0.1:9092).`
            : "Check the topic name and that it exists (sluice kafka topics --list).",
          cause: err,
        });
      }
      await sleep(Math.min(100 * 2 ** attempt, 2000));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// ReadFromKafka

export type TimestampPolicy = "ProcessingTime" | "CreateTime" | "LogAppendTime";

/** A record with its Kafka metadata (`withMetadata: true`). */
export interface KafkaRecord<K, V> {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: Timestamp;
  readonly timestampType: "CreateTime" | "LogAppendTime";
  readonly key: K | null;
  readonly value: V | null;
  readonly headers: readonly KafkaHeader[];
}

export interface ReadFromKafkaOptions<KD extends DeserializerSpec, VD extends DeserializerSpec> {
  /**
   * The consumer's configuration, with Kafka's keys: `bootstrap.servers` (required),
   * `auto.offset.reset` (`latest`, the default, or `earliest`: where a partition starts without a
   * checkpoint), `fetch.max.wait.ms` (500), `fetch.max.bytes`, `max.partition.fetch.bytes`,
   * `request.timeout.ms`, `client.id`, `default.api.timeout.ms` (how long to wait for a broker at
   * start, 60000). Other keys are accepted and not used.
   */
  readonly consumerConfig: Readonly<Record<string, string>>;
  readonly topics: readonly string[];
  /** Default: ByteArrayDeserializer (the key as bytes). */
  readonly keyDeserializer?: KD;
  readonly valueDeserializer?: VD;
  /** Start each partition at the first record at or after this time (ms since the epoch) instead of `auto.offset.reset`. */
  readonly startReadTime?: Timestamp;
  /** Read this many records in all, then end (one reader reads every partition then). */
  readonly maxNumRecords?: number;
  /** Read for this long, in seconds, then end. */
  readonly maxReadTime?: number;
  readonly timestampPolicy?: TimestampPolicy;
  /**
   * With `CreateTime`: how far behind the latest record time a later record may be and still be on
   * time, ms (default 0). Beam Java's withCreateTime(maxDelay); Beam Python has no such parameter.
   */
  readonly maxDelay?: number;
  /** Emit KafkaRecord objects (topic, partition, offset, timestamp, key, value, headers) instead of [key, value]. */
  readonly withMetadata?: boolean;
  /** Not supported: offsets live in the pipeline's state, and no consumer group is joined. */
  readonly commitOffsetInFinalize?: boolean;
}

interface PartitionProgress {
  /** Next offset to read. */
  next: number;
  /** Latest record timestamp seen (CreateTime / LogAppendTime). */
  latest: number;
}

interface SplitCheckpoint {
  /** "topic:partition" → progress. */
  readonly partitions: Record<string, PartitionProgress>;
  /** Records read so far by this split. */
  readonly read: number;
  /** When this split first ran (ms), for maxReadTime. */
  readonly started: number;
}

const ALL = "*";

function splitPartitions(key: string): { topic: string; partition: number } {
  const at = key.lastIndexOf(":");
  return { topic: key.slice(0, at), partition: Number(key.slice(at + 1)) };
}

class KafkaSource<T> implements UnboundedSource<T, SplitCheckpoint> {
  readonly checkpointCoder = JsValueCoder as Coder<SplitCheckpoint>;
  private warnedAt = 0;

  constructor(
    private readonly o: {
      readonly bootstrap: { host: string; port: number }[];
      readonly config: Readonly<Record<string, string>>;
      readonly topics: readonly string[];
      readonly key: KafkaDeserializer<unknown>;
      readonly value: KafkaDeserializer<unknown>;
      readonly policy: TimestampPolicy;
      readonly maxDelay: number;
      readonly reset: "earliest" | "latest" | "none";
      readonly startReadTime: number | undefined;
      readonly maxNumRecords: number | undefined;
      readonly maxReadTimeMs: number | undefined;
      readonly withMetadata: boolean;
    },
  ) {}

  private client(): KafkaClient {
    return clientFor(this.o.bootstrap, this.o.config);
  }

  private apiTimeoutMs(): number {
    return intConfig(this.o.config, "default.api.timeout.ms", 60_000, "ReadFromKafka");
  }

  private async topicPartitions(): Promise<string[]> {
    const client = this.client();
    const out: string[] = [];
    for (const topic of this.o.topics) {
      const ps = await withRetry(`ReadFromKafka could not list the partitions of topic "${topic}"`, client, this.apiTimeoutMs(), () => client.partitions(topic));
      for (const p of ps) out.push(`${topic}:${p}`);
    }
    return out;
  }

  async partitions(): Promise<string[]> {
    return this.o.maxNumRecords !== undefined ? [ALL] : this.topicPartitions();
  }

  private async startOffset(key: string, afterLoss = false): Promise<number> {
    const { topic, partition } = splitPartitions(key);
    const client = this.client();
    if (this.o.startReadTime !== undefined && !afterLoss) {
      const t = this.o.startReadTime;
      return withRetry(`ReadFromKafka could not find the offset of time ${t} in ${key}`, client, this.apiTimeoutMs(), () => client.listOffset(topic, partition, t));
    }
    if (this.o.reset === "none") {
      throw new SluiceError("FAILED_PRECONDITION", `ReadFromKafka has no offset to start ${key} from: auto.offset.reset is "none" and Sluice keeps offsets in the pipeline's state, not in a consumer group`, {
        hint: 'Set "auto.offset.reset" to "earliest" or "latest", or pass startReadTime.',
      });
    }
    return withRetry(`ReadFromKafka could not find where ${key} starts`, client, this.apiTimeoutMs(), () => client.listOffset(topic, partition, this.o.reset === "earliest" ? EARLIEST : LATEST));
  }

  private warn(message: string): void {
    const now = Date.now();
    if (now - this.warnedAt < 10_000) return;
    this.warnedAt = now;
    console.warn(`ReadFromKafka: ${message} (retrying)`);
  }

  async poll(split: string, checkpoint: SplitCheckpoint | undefined): Promise<PollResult<T, SplitCheckpoint>> {
    const o = this.o;
    const now = Date.now();
    const cp: SplitCheckpoint = checkpoint ?? { partitions: {}, read: 0, started: now };
    const keys = split === ALL ? (Object.keys(cp.partitions).length > 0 ? Object.keys(cp.partitions) : await this.topicPartitions()) : [split];
    const partitions: Record<string, PartitionProgress> = { ...cp.partitions };
    for (const k of keys) if (partitions[k] === undefined) partitions[k] = { next: await this.startOffset(k), latest: -Infinity };

    const timedOut = o.maxReadTimeMs !== undefined && now - cp.started >= o.maxReadTimeMs;
    if (timedOut || (o.maxNumRecords !== undefined && cp.read >= o.maxNumRecords)) {
      return { records: [], checkpoint: { ...cp, partitions }, done: true };
    }

    const client = this.client();
    let results: FetchResult[];
    try {
      results = await client.fetch(
        keys.map((k) => ({ ...splitPartitions(k), offset: (partitions[k] as PartitionProgress).next })),
        {
          maxWaitMs: intConfig(o.config, "fetch.max.wait.ms", 500, "ReadFromKafka"),
          maxBytes: intConfig(o.config, "fetch.max.bytes", 52428800, "ReadFromKafka"),
          partitionMaxBytes: intConfig(o.config, "max.partition.fetch.bytes", 1048576, "ReadFromKafka"),
        },
      );
    } catch (err) {
      if (!(err instanceof KafkaClientError) || !err.retriable) throw new SluiceError("FAILED_PRECONDITION", `ReadFromKafka fetching ${keys.join(", ")}: ${(err as Error).message}`, { cause: err });
      this.warn(`fetching ${keys.join(", ")} from ${client.servers}: ${err.message}`);
      return { records: [], checkpoint: { ...cp, partitions }, pollAfterMs: 1000 };
    }

    const records: { value: T; timestamp: Timestamp }[] = [];
    let read = cp.read;
    let watermark = Infinity;
    let retryLater = false;
    for (const r of results) {
      const key = `${r.topic}:${r.partition}`;
      const prog = partitions[key] as PartitionProgress;
      if (r.error === 1) {
        // OFFSET_OUT_OF_RANGE: the records were deleted (retention) or the offset is past the end.
        if (o.reset === "none") throw new SluiceError("FAILED_PRECONDITION", `ReadFromKafka: offset ${prog.next} of ${key} is out of range and auto.offset.reset is "none"`);
        const to = await this.startOffset(key, true);
        console.warn(`ReadFromKafka: offset ${prog.next} of ${key} is out of range (deleted by retention?); resuming at ${to} (auto.offset.reset=${o.reset})`);
        partitions[key] = { ...prog, next: to };
        retryLater = true;
        watermark = Math.min(watermark, this.partitionWatermark(prog.latest, false, now));
        continue;
      }
      if (r.error !== 0) {
        if (![3, 5, 6, 7, 13, 74, 75].includes(r.error)) throw new SluiceError("FAILED_PRECONDITION", `ReadFromKafka fetching ${key}: ${kafkaErrorName(r.error)}`);
        this.warn(`fetching ${key}: ${kafkaErrorName(r.error)}`);
        retryLater = true;
        // Not read this time: it still holds the watermark where its records got it.
        watermark = Math.min(watermark, this.partitionWatermark(prog.latest, false, now));
        continue;
      }
      let next = r.nextOffset;
      let latest = prog.latest;
      for (const rec of r.records) {
        if (o.maxNumRecords !== undefined && read >= o.maxNumRecords) {
          next = rec.offset;
          break;
        }
        const ts = this.timestampOf(rec, key, now);
        if (ts > latest) latest = ts;
        records.push({ value: this.valueOf(rec, r.topic, r.partition), timestamp: ts });
        read++;
        next = rec.offset + 1;
      }
      partitions[key] = { next, latest };
      const caughtUp = next >= r.highWatermark;
      watermark = Math.min(watermark, this.partitionWatermark(latest, caughtUp, now));
    }
    const done = o.maxNumRecords !== undefined && read >= o.maxNumRecords;
    return {
      records,
      checkpoint: { partitions, read, started: cp.started },
      // A partition with no record time yet (and not caught up) holds the source where it was:
      // the source's watermark never moves back, so MIN keeps it.
      ...(watermark === -Infinity ? { watermark: MIN_TIMESTAMP } : Number.isFinite(watermark) ? { watermark } : {}),
      done,
      pollAfterMs: retryLater && records.length === 0 ? 1000 : 0,
    };
  }

  private timestampOf(rec: ConsumedRecord, key: string, now: number): number {
    switch (this.o.policy) {
      case "ProcessingTime":
        return now;
      case "CreateTime":
        return rec.timestamp;
      case "LogAppendTime":
        if (rec.timestampType !== 1) {
          throw new SluiceError("FAILED_PRECONDITION", `ReadFromKafka timestampPolicy "LogAppendTime": the record at offset ${rec.offset} of ${key} has a CreateTime timestamp`, {
            hint: "Set message.timestamp.type=LogAppendTime on the topic, or use timestampPolicy: \"CreateTime\".",
          });
        }
        return rec.timestamp;
    }
  }

  private partitionWatermark(latest: number, caughtUp: boolean, now: number): number {
    switch (this.o.policy) {
      case "ProcessingTime":
        return now;
      case "CreateTime":
        return (caughtUp ? Math.max(latest, now) : latest) - this.o.maxDelay;
      case "LogAppendTime":
        return caughtUp ? Math.max(latest, now - 2000) : latest;
    }
  }

  private valueOf(rec: ConsumedRecord, topic: string, partition: number): T {
    const key = rec.key === null ? null : this.o.key.deserialize(rec.key);
    const value = rec.value === null ? null : this.o.value.deserialize(rec.value);
    if (!this.o.withMetadata) return [key, value] as T;
    return {
      topic,
      partition,
      offset: rec.offset,
      timestamp: rec.timestamp,
      timestampType: rec.timestampType === 1 ? "LogAppendTime" : "CreateTime",
      key,
      value,
      headers: rec.headers.map((h) => ({ key: h.key, value: h.value === null ? null : new Uint8Array(h.value) })),
    } as T;
  }
}

class ReadFromKafkaTransform<T> extends PTransform<PBegin, PCollection<T>> {
  constructor(private readonly options: ReadFromKafkaOptions<DeserializerSpec, DeserializerSpec>) {
    super("ReadFromKafka");
  }

  expand(input: PBegin): PCollection<T> {
    const o = this.options;
    const config = o.consumerConfig ?? {};
    const bootstrap = bootstrapOf(config, "ReadFromKafka", "consumerConfig");
    if (!Array.isArray(o.topics) || o.topics.length === 0 || o.topics.some((t) => typeof t !== "string" || !/^[a-zA-Z0-9._-]{1,249}$/.test(t))) {
      throw new SluiceError("INVALID_ARGUMENT", `ReadFromKafka topics must be a non-empty list of topic names (letters, digits, '.', '_', '-'), got ${JSON.stringify(o.topics)}`);
    }
    const policy = o.timestampPolicy ?? "ProcessingTime";
    if (!["ProcessingTime", "CreateTime", "LogAppendTime"].includes(policy)) {
      throw new SluiceError("INVALID_ARGUMENT", `ReadFromKafka timestampPolicy must be one of ProcessingTime, CreateTime, LogAppendTime, got "${policy}"`);
    }
    const reset = config["auto.offset.reset"] ?? "latest";
    if (reset !== "earliest" && reset !== "latest" && reset !== "none") {
      throw new SluiceError("INVALID_ARGUMENT", `ReadFromKafka "auto.offset.reset" must be earliest, latest or none, got "${reset}"`);
    }
    if (o.maxNumRecords !== undefined && !(Number.isInteger(o.maxNumRecords) && o.maxNumRecords > 0)) {
      throw new SluiceError("INVALID_ARGUMENT", `ReadFromKafka maxNumRecords must be a positive integer, got ${o.maxNumRecords}`);
    }
    if (o.maxDelay !== undefined && !(Number.isFinite(o.maxDelay) && o.maxDelay >= 0)) {
      throw new SluiceError("INVALID_ARGUMENT", `ReadFromKafka maxDelay must be a non-negative number of ms, got ${o.maxDelay}`);
    }
    if (o.maxDelay !== undefined && policy !== "CreateTime") {
      throw new SluiceError("INVALID_ARGUMENT", `ReadFromKafka maxDelay applies to timestampPolicy "CreateTime", not "${policy}"`);
    }
    if (o.maxReadTime !== undefined && !(o.maxReadTime > 0)) throw new SluiceError("INVALID_ARGUMENT", `ReadFromKafka maxReadTime must be a positive number of seconds, got ${o.maxReadTime}`);
    if (o.commitOffsetInFinalize === true) {
      throw new SluiceError("UNSUPPORTED", "ReadFromKafka commitOffsetInFinalize is not supported: Sluice keeps the offsets in the pipeline's state (checkpoints and savepoints) and joins no consumer group", {
        hint: "Leave it out; to resume where a job stopped, stop it with a savepoint and start from it (--savepoint_path).",
      });
    }
    const key = resolveDeserializer(o.keyDeserializer ?? BYTES_DESERIALIZER, "keyDeserializer");
    const value = resolveDeserializer(o.valueDeserializer ?? BYTES_DESERIALIZER, "valueDeserializer");
    const source = new KafkaSource<T>({
      bootstrap,
      config,
      topics: o.topics,
      key,
      value,
      policy,
      maxDelay: o.maxDelay ?? 0,
      reset,
      startReadTime: o.startReadTime,
      maxNumRecords: o.maxNumRecords,
      maxReadTimeMs: o.maxReadTime === undefined ? undefined : o.maxReadTime * 1000,
      withMetadata: o.withMetadata === true,
    });
    const out = input.pipeline.apply("Read", ReadFromUnbounded(source));
    const coder = o.withMetadata === true ? JsValueCoder : new KvCoder(new NullableCoder(key.coder), new NullableCoder(value.coder));
    return out.withCoder(coder as Coder<T>);
  }
}

/** Reads Kafka topics (see the module comment): `[key, value]` pairs, or KafkaRecords with `withMetadata`. */
export function ReadFromKafka<KD extends DeserializerSpec = typeof BYTES_DESERIALIZER, VD extends DeserializerSpec = typeof BYTES_DESERIALIZER>(
  options: ReadFromKafkaOptions<KD, VD> & { readonly withMetadata: true },
): PTransform<PBegin, PCollection<KafkaRecord<Deserialized<KD>, Deserialized<VD>>>>;
export function ReadFromKafka<KD extends DeserializerSpec = typeof BYTES_DESERIALIZER, VD extends DeserializerSpec = typeof BYTES_DESERIALIZER>(
  options: ReadFromKafkaOptions<KD, VD> & { readonly withMetadata?: false },
): PTransform<PBegin, PCollection<[Deserialized<KD> | null, Deserialized<VD> | null]>>;
export function ReadFromKafka(options: ReadFromKafkaOptions<DeserializerSpec, DeserializerSpec>): PTransform<PBegin, PCollection<unknown>> {
  return new ReadFromKafkaTransform(options);
}

// ---------------------------------------------------------------------------------------------
// WriteToKafka

export interface WriteToKafkaOptions<KS extends SerializerSpec, VS extends SerializerSpec> {
  /**
   * The producer's configuration, with Kafka's keys: `bootstrap.servers` (required), `acks`
   * (`all`, the default, `1` or `0`), `compression.type` (`none` or `gzip`), `batch.size` (bytes
   * buffered per bundle before a send, default 1 MiB), `request.timeout.ms`, `client.id`.
   */
  readonly producerConfig: Readonly<Record<string, string>>;
  readonly topic: string;
  /** Default: ByteArraySerializer. */
  readonly keySerializer?: KS;
  readonly valueSerializer?: VS;
  /** Give each record its element's event time instead of the time it is written (Beam Java's withInputTimestamp). */
  readonly withInputTimestamp?: boolean;
}

class WriteToKafkaTransform<K, V> extends PTransform<PCollection<[K | null, V | null]>, PCollection<never>> {
  constructor(private readonly options: WriteToKafkaOptions<SerializerSpec, SerializerSpec>) {
    super("WriteToKafka");
  }

  expand(input: PCollection<[K | null, V | null]>): PCollection<never> {
    const o = this.options;
    const config = o.producerConfig ?? {};
    const bootstrap = bootstrapOf(config, "WriteToKafka", "producerConfig");
    const topic = o.topic;
    if (typeof topic !== "string" || !/^[a-zA-Z0-9._-]{1,249}$/.test(topic)) {
      throw new SluiceError("INVALID_ARGUMENT", `WriteToKafka topic must be a topic name (letters, digits, '.', '_', '-'), got ${JSON.stringify(topic)}`);
    }
    const acksText = config["acks"] ?? "all";
    const acks = acksText === "all" || acksText === "-1" ? -1 : acksText === "1" ? 1 : acksText === "0" ? 0 : undefined;
    if (acks === undefined) throw new SluiceError("INVALID_ARGUMENT", `WriteToKafka "acks" must be all, -1, 1 or 0, got "${acksText}"`);
    const compression = config["compression.type"] ?? "none";
    if (compression !== "none" && compression !== "gzip") {
      throw new SluiceError("INVALID_ARGUMENT", `WriteToKafka "compression.type" ${compression} is not supported`, { hint: "Use none or gzip." });
    }
    const batchBytes = intConfig(config, "batch.size", 1 << 20, "WriteToKafka");
    const keySer = resolveSerializer(o.keySerializer ?? BYTES_SERIALIZER, "keySerializer");
    const valueSer = resolveSerializer(o.valueSerializer ?? BYTES_SERIALIZER, "valueSerializer");
    const withInputTimestamp = o.withInputTimestamp === true;
    const apiTimeoutMs = intConfig(config, "default.api.timeout.ms", 60_000, "WriteToKafka");

    const writer = new BufferedWriter(topic, batchBytes, async (batches) => {
      const client = clientFor(bootstrap, config);
      try {
        await client.produceAll(batches, { acks, compression, deadlineMs: apiTimeoutMs });
      } catch (err) {
        throw new SluiceError("UNAVAILABLE", `WriteToKafka could not write to topic "${topic}": ${(err as Error).message}`, {
          hint: `Check that a Kafka broker is running at ${client.servers} and that the topic accepts writes.`,
          cause: err,
        });
      }
    });
    let roundRobin = 0;
    return input.apply(
      "Write",
      ParDo<[K | null, V | null], never>({
        setup() {
          // A new instance (a first start, or a restart after a failure) starts clean.
          writer.reset();
        },
        async process([k, v], ctx) {
          const client = clientFor(bootstrap, config);
          const n = client.cachedPartitionCount(topic) ?? (await withRetry(`WriteToKafka could not find topic "${topic}"`, client, apiTimeoutMs, () => client.partitionCount(topic, true)));
          const key = k === null || k === undefined ? null : keySer.serialize(k);
          const value = v === null || v === undefined ? null : valueSer.serialize(v);
          const partition = key === null ? roundRobin++ % n : partitionForKey(key, n);
          await writer.add(partition, { key, value, timestamp: withInputTimestamp ? ctx.timestamp : Date.now() });
        },
        async finishBundle() {
          await writer.drain();
        },
      }),
    );
  }
}

/**
 * The records a write transform has buffered in this process, sent when `batchBytes` are buffered
 * and at every bundle's end. Bundles running at once share it, so a bundle's end waits for every
 * send in flight (one of them may hold its records), and a failed send fails every bundle after it
 * until the DoFn is set up again: no bundle ends as if its records were written when they were not.
 */
class BufferedWriter {
  private buffered = new Map<number, ProducerRecord[]>();
  private bytes = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private failure: unknown;

  constructor(
    private readonly topic: string,
    private readonly batchBytes: number,
    private readonly send: (batches: { topic: string; partition: number; records: ProducerRecord[] }[]) => Promise<void>,
  ) {}

  async add(partition: number, rec: ProducerRecord): Promise<void> {
    this.check();
    const list = this.buffered.get(partition);
    if (list) list.push(rec);
    else this.buffered.set(partition, [rec]);
    this.bytes += (rec.key?.length ?? 0) + (rec.value?.length ?? 0) + 16;
    if (this.bytes >= this.batchBytes) await this.flush();
  }

  private flush(): Promise<void> {
    if (this.buffered.size === 0) return Promise.resolve();
    const batches = [...this.buffered].map(([partition, records]) => ({ topic: this.topic, partition, records }));
    this.buffered = new Map();
    this.bytes = 0;
    const sent = this.send(batches).catch((err: unknown) => {
      this.failure ??= err;
    });
    this.inFlight.add(sent);
    void sent.finally(() => this.inFlight.delete(sent));
    return sent.then(() => this.check());
  }

  reset(): void {
    this.failure = undefined;
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  async drain(): Promise<void> {
    void this.flush();
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
    this.check();
  }
}

/** Writes `[key, value]` pairs to a Kafka topic (see the module comment). */
export function WriteToKafka<KS extends SerializerSpec = typeof BYTES_SERIALIZER, VS extends SerializerSpec = typeof BYTES_SERIALIZER>(
  options: WriteToKafkaOptions<KS, VS>,
): PTransform<PCollection<[Serialized<KS> | null, Serialized<VS> | null]>, PCollection<never>> {
  return new WriteToKafkaTransform(options as WriteToKafkaOptions<SerializerSpec, SerializerSpec>);
}
