/**
 * ReadFromKafka and WriteToKafka on the direct runner against a real Apache Kafka broker (the
 * pinned version, started by test/kafka-broker.ts), with Kafka's own Java clients on the other
 * side: records a Java producer wrote are read, records Sluice wrote are read by a Java consumer and
 * land in the partitions the Java producer's partitioner picks. Event-time windows close as the
 * watermark (from record timestamps) passes them; reads end at maxNumRecords or maxReadTime; bad
 * input fails naming the topic or the broker.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CombinePerKey,
  CombineFns,
  Duration,
  FixedWindows,
  Map,
  Pipeline,
  PipelineOptions,
  ReadFromKafka,
  WindowInto,
  WriteToKafka,
  type IntervalWindow,
  type KafkaRecord,
} from "sluice";
import { LATEST } from "../src/internal/kafka/client.js";
import { partitionForKey } from "../src/internal/kafka/wire.js";
import { startTestBroker, type TestBroker } from "./kafka-broker.js";
import { failure } from "./support.js";

const STRING = "org.apache.kafka.common.serialization.StringDeserializer" as const;
const STRING_OUT = "org.apache.kafka.common.serialization.StringSerializer" as const;

let broker: TestBroker;

beforeAll(async () => {
  broker = await startTestBroker();
}, 240_000);

afterAll(async () => {
  await broker?.stop();
});

const consumer = (extra: Record<string, string> = {}): Record<string, string> => ({ "bootstrap.servers": broker.bootstrap, "auto.offset.reset": "earliest", ...extra });

/** Produces records with explicit create times, each to the partition its key hashes to. */
async function produce(topic: string, partitions: number, records: readonly { key: string; value: string; timestamp: number }[]): Promise<void> {
  const byPartition = new globalThis.Map<number, { key: Buffer; value: Buffer; timestamp: number }[]>();
  for (const r of records) {
    const key = Buffer.from(r.key);
    const p = partitionForKey(key, partitions);
    byPartition.set(p, [...(byPartition.get(p) ?? []), { key, value: Buffer.from(r.value), timestamp: r.timestamp }]);
  }
  await broker.produce([...byPartition].map(([partition, rs]) => ({ topic, partition, records: rs })));
}

describe("ReadFromKafka / WriteToKafka on the direct runner", () => {
  it("reads every partition with CreateTime timestamps; event-time windows close as the watermark passes them", async () => {
    await broker.createTopic("events", 3);
    // 900 events over 3 minutes of 2020, keys spread over the 3 partitions; per-window counts are known.
    const base = Date.UTC(2020, 0, 1);
    const events = Array.from({ length: 900 }, (_, i) => ({ key: `user${i % 7}`, value: `${i}`, timestamp: base + i * 200 }));
    await produce("events", 3, events);
    const expected: Record<string, number> = {};
    for (const e of events) {
      const w = base + Math.floor((e.timestamp - base) / 60_000) * 60_000;
      expected[`${e.key}@${w}`] = (expected[`${e.key}@${w}`] ?? 0) + 1;
    }
    const seen: Record<string, number> = {};
    const p = Pipeline.create(PipelineOptions.create());
    p.apply("Read", ReadFromKafka({ consumerConfig: consumer(), topics: ["events"], keyDeserializer: STRING, valueDeserializer: STRING, timestampPolicy: "CreateTime", maxReadTime: 6 }))
      .apply("Minute", WindowInto<[string | null, string | null]>(FixedWindows(Duration.minutes(1))))
      .apply("One", Map(([k]: [string | null, string | null]): [string, number] => [k ?? "", 1]))
      .apply("Count", CombinePerKey(CombineFns.sum()))
      .apply(
        "Seen",
        Map(([k, n]: [string, number], c) => {
          const key = `${k}@${(c.window as IntervalWindow).start}`;
          expect(seen[key]).toBeUndefined(); // one on-time pane per window
          seen[key] = n;
        }),
      );
    await p.run();
    expect(seen).toEqual(expected);
  }, 60_000);

  it("ends after maxNumRecords across partitions; withMetadata gives topic, partition, offset, timestamp and headers", async () => {
    await broker.createTopic("meta", 2);
    await broker.produce(
      [
        { topic: "meta", partition: 0, records: Array.from({ length: 30 }, (_, i) => ({ key: null, value: Buffer.from(`p0-${i}`), timestamp: 1000 + i, headers: [{ key: "n", value: Buffer.from(String(i)) }] })) },
        { topic: "meta", partition: 1, records: Array.from({ length: 30 }, (_, i) => ({ key: Buffer.from("k"), value: Buffer.from(`p1-${i}`), timestamp: 5000 + i })) },
      ],
    );
    const got: KafkaRecord<string, string>[] = [];
    const p = Pipeline.create(PipelineOptions.create());
    p.apply("Read", ReadFromKafka({ consumerConfig: consumer(), topics: ["meta"], keyDeserializer: STRING, valueDeserializer: STRING, withMetadata: true, maxNumRecords: 45, timestampPolicy: "CreateTime" }))
      .apply("Seen", Map((r: KafkaRecord<string, string>) => void got.push(r)));
    await p.run();
    expect(got).toHaveLength(45);
    // Each partition's records in order from offset 0, none twice.
    for (const partition of [0, 1]) {
      const offsets = got.filter((r) => r.partition === partition).map((r) => r.offset);
      expect(offsets).toEqual(offsets.map((_, i) => i));
    }
    const first = got.find((r) => r.partition === 0 && r.offset === 3)!;
    expect(first).toMatchObject({ topic: "meta", partition: 0, offset: 3, timestamp: 1003, timestampType: "CreateTime", key: null, value: "p0-3" });
    expect(first.headers.map((h) => [h.key, Buffer.from(h.value!).toString()])).toEqual([["n", "3"]]);
    const second = got.find((r) => r.partition === 1 && r.offset === 0);
    if (second) expect(second).toMatchObject({ key: "k", value: "p1-0", timestamp: 5000 });
  }, 60_000);

  it("reads what Kafka's Java producer wrote; what WriteToKafka writes a Java consumer reads, in the partitions Java's partitioner picks", async () => {
    await broker.createTopic("from-java", 3);
    await broker.createTopic("from-sluice", 3);
    const lines = Array.from({ length: 60 }, (_, i) => `key-${i % 12}\tvalue ${i} ünïcode`);
    await broker.produceWithJava("from-java", lines, true);

    // Java put each key somewhere; Sluice must read each line, and write to where Java would.
    const javaPartition = new globalThis.Map<string, number>();
    for (const line of await broker.consumeWithJava("from-java", 60)) {
      const [partition, key] = line.split("\t");
      javaPartition.set(key!, Number(partition!.replace(/^Partition:/, "")));
    }
    expect(javaPartition.size).toBe(12);

    const p = Pipeline.create(PipelineOptions.create());
    p.apply("Read", ReadFromKafka({ consumerConfig: consumer(), topics: ["from-java"], keyDeserializer: STRING, valueDeserializer: STRING, maxNumRecords: 60 }))
      .apply("Upper", Map(([k, v]: [string | null, string | null]): [string | null, string | null] => [k, (v ?? "").toUpperCase()]))
      .apply("Write", WriteToKafka({ producerConfig: { "bootstrap.servers": broker.bootstrap }, topic: "from-sluice", keySerializer: STRING_OUT, valueSerializer: STRING_OUT }));
    await p.run();

    const back = await broker.consumeWithJava("from-sluice", 60);
    expect(back).toHaveLength(60);
    const values = back.map((l) => l.split("\t")[2]).sort();
    expect(values).toEqual(lines.map((l) => l.split("\t")[1]!.toUpperCase()).sort());
    for (const line of back) {
      const [partition, key] = line.split("\t");
      expect(Number(partition!.replace(/^Partition:/, "")), `partition of ${key}`).toBe(javaPartition.get(key!));
    }
  }, 120_000);

  it("starts at startReadTime, and by default (auto.offset.reset=latest) at the end", async () => {
    await broker.createTopic("times", 1);
    await produce("times", 1, Array.from({ length: 10 }, (_, i) => ({ key: "k", value: String(i), timestamp: 10_000 + i * 1000 })));
    const read = async (options: { startReadTime?: number; reset?: string }): Promise<string[]> => {
      const out: string[] = [];
      const p = Pipeline.create(PipelineOptions.create());
      p.apply(
        "Read",
        ReadFromKafka({
          consumerConfig: { "bootstrap.servers": broker.bootstrap, ...(options.reset ? { "auto.offset.reset": options.reset } : {}) },
          topics: ["times"],
          valueDeserializer: STRING,
          maxReadTime: 2,
          ...(options.startReadTime !== undefined ? { startReadTime: options.startReadTime } : {}),
        }),
      ).apply("Seen", Map(([, v]: [Uint8Array | null, string | null]) => void out.push(v ?? "")));
      await p.run();
      return out;
    };
    expect(await read({ startReadTime: 16_500 })).toEqual(["7", "8", "9"]);
    expect(await read({})).toEqual([]);
    expect(await broker.client.listOffset("times", 0, LATEST)).toBe(10);
  }, 60_000);

  it("fails naming the topic when it does not exist, and the broker when none answers", async () => {
    const missing = Pipeline.create(PipelineOptions.create());
    missing.apply("Read", ReadFromKafka({ consumerConfig: consumer({ "default.api.timeout.ms": "3000" }), topics: ["no-such-topic"] }));
    const e1 = await failure(missing.run());
    expect(e1.message).toContain('"no-such-topic"');
    expect(e1.message).toContain(broker.bootstrap);

    const nobody = Pipeline.create(PipelineOptions.create());
    nobody.apply("Read", ReadFromKafka({ consumerConfig: { "bootstrap.servers": "127.0.0.1:1", "default.api.timeout.ms": "2000" }, topics: ["t"] }));
    const started = Date.now();
    const e2 = await failure(nobody.run());
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(e2.message).toContain("127.0.0.1:1");
    expect(e2.hint ?? "").toMatch(/sluice cluster up --kafka/);
  }, 60_000);

  it("refuses bad configuration at construction, naming the parameter", () => {
    const p = Pipeline.create(PipelineOptions.create());
    expect(() => p.apply("A", ReadFromKafka({ consumerConfig: {}, topics: ["t"] }))).toThrow(/bootstrap.servers/);
    expect(() => p.apply("B", ReadFromKafka({ consumerConfig: consumer(), topics: [] }))).toThrow(/topics/);
    expect(() => p.apply("C", ReadFromKafka({ consumerConfig: consumer(), topics: ["t"], timestampPolicy: "EventTime" as never }))).toThrow(/timestampPolicy/);
    expect(() => p.apply("D", ReadFromKafka({ consumerConfig: consumer(), topics: ["t"], keyDeserializer: "com.example.Mine" as never }))).toThrow(/keyDeserializer "com.example.Mine"/);
    expect(() => p.apply("E", ReadFromKafka({ consumerConfig: consumer(), topics: ["t"], commitOffsetInFinalize: true }))).toThrow(/commitOffsetInFinalize/);
  });
});
