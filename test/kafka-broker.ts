/**
 * A real Apache Kafka broker for tests: the version versions.json pins, the classpath the cluster
 * resolves (src/cluster/kafka.ts, cached in the tool cache), one KRaft node on free 127.0.0.1
 * ports with its own data directory, tied to the test process's life. Kafka's own tools
 * (ConsoleProducer, ConsoleConsumer) run against it as Java clients.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { formatKafkaStorage, KAFKA_CLASSES, kafkaBrokerAnswers, kafkaClasspath, kafkaServerLaunch, kafkaServerProperties, kafkaToolLaunch } from "../src/cluster/kafka.js";
import { readStackVersions } from "../src/cluster/versions.js";
import { signalGroup, spawnComponent } from "../src/internal/process.js";
import { KafkaClient } from "../src/internal/kafka/client.js";
import type { ProducerRecord } from "../src/internal/kafka/wire.js";
import { until } from "./support.js";

const run = promisify(execFile);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface TestBroker {
  readonly bootstrap: string;
  readonly port: number;
  readonly client: KafkaClient;
  readonly classpath: string;
  readonly log: string;
  /** Produces with Sluice's client (acks=all), retrying while a new topic's leaders settle. */
  produce(batches: { topic: string; partition: number; records: ProducerRecord[] }[]): Promise<void>;
  /** Creates a topic (Kafka's TopicCommand). */
  createTopic(name: string, partitions: number, config?: Record<string, string>): Promise<void>;
  /** Produces lines with Kafka's ConsoleProducer (a Java client); `key\tvalue` lines when keyed. */
  produceWithJava(topic: string, lines: readonly string[], keyed?: boolean): Promise<void>;
  /** Consumes `max` records with Kafka's ConsoleConsumer: `key\tvalue\tpartition` lines. */
  consumeWithJava(topic: string, max: number): Promise<string[]>;
  stop(): Promise<void>;
}

export async function startTestBroker(): Promise<TestBroker> {
  const version = readStackVersions().kafka;
  if (version === undefined) throw new Error("versions.json pins no Kafka version");
  const classpath = await kafkaClasspath(version);
  const dir = mkdtempSync(join(tmpdir(), "sluice-kafka-"));
  const dataDir = join(dir, "data");
  mkdirSync(dataDir);
  const ports = { broker: await freePort(), controller: await freePort() };
  const config = join(dir, "server.properties");
  writeFileSync(config, kafkaServerProperties({ ports, bindHost: "127.0.0.1", dataDir }));
  const log = join(dir, "broker.log");
  await formatKafkaStorage(classpath, config, dataDir, log);
  const { command, args } = kafkaServerLaunch(classpath, config);
  const broker = spawnComponent(command, args, { env: process.env, cwd: dir, logFile: log });
  await until(`Kafka broker on 127.0.0.1:${ports.broker} (log ${log})`, 90_000, () => kafkaBrokerAnswers(ports.broker));
  const bootstrap = `127.0.0.1:${ports.broker}`;
  const client = new KafkaClient({ bootstrap: [{ host: "127.0.0.1", port: ports.broker }] });
  const tool = async (mainClass: string, argv: string[], input?: string): Promise<string> => {
    const { command: c, args: a } = kafkaToolLaunch(classpath, mainClass, argv);
    const p = run(c, a, { timeout: 120_000, maxBuffer: 64 << 20 });
    if (input !== undefined) {
      p.child.stdin?.end(input);
    }
    return (await p).stdout;
  };
  return {
    bootstrap,
    port: ports.broker,
    client,
    classpath,
    log,
    async produce(batches) {
      await client.produceAll(batches, { acks: -1, deadlineMs: 30_000 });
    },
    async createTopic(name, partitions, cfg = {}) {
      await tool(KAFKA_CLASSES.topics, [
        "--bootstrap-server", bootstrap, "--create", "--topic", name, "--partitions", String(partitions), "--replication-factor", "1",
        ...Object.entries(cfg).flatMap(([k, v]) => ["--config", `${k}=${v}`]),
      ]);
      await until(`topic ${name} has leaders`, 30_000, async () => {
        try {
          const t = await client.metadata([name]);
          return t[0]?.error === 0 && t[0].partitions.length === partitions && t[0].partitions.every((p) => p.leader >= 0);
        } catch {
          return false;
        }
      });
    },
    async produceWithJava(topic, lines, keyed = false) {
      await tool(
        KAFKA_CLASSES.producer,
        ["--bootstrap-server", bootstrap, "--topic", topic, ...(keyed ? ["--property", "parse.key=true", "--property", "key.separator=\t"] : [])],
        lines.map((l) => `${l}\n`).join(""),
      );
    },
    async consumeWithJava(topic, max) {
      const out = await tool(KAFKA_CLASSES.consumer, [
        "--bootstrap-server", bootstrap, "--topic", topic, "--from-beginning", "--max-messages", String(max), "--timeout-ms", "30000",
        "--property", "print.key=true", "--property", "print.partition=true", "--property", "key.separator=\t",
      ]);
      return out.split("\n").filter((l) => l !== "");
    },
    async stop() {
      client.close();
      signalGroup(broker.identity, "SIGKILL");
      await new Promise((r) => setTimeout(r, 200));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
