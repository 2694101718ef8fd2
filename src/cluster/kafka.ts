/**
 * Apache Kafka for `sluice cluster up --kafka`: a real single-node broker in KRaft mode (broker and
 * controller in one JVM), from Maven Central's `org.apache.kafka:kafka_2.13` at the version pinned in
 * versions.json. Its classpath is resolved with Maven once into the tool cache
 * (`<cache>/tools/kafka-<version>/classpath.txt`, revalidated like the job server's), its storage is
 * formatted under the cluster's state directory on first start (kafka.tools.StorageTool `format
 * --standalone`), and it is started as `java … kafka.Kafka server.properties`. Readiness is a real
 * Kafka protocol exchange (ApiVersions, then Metadata listing an unfenced broker), spoken here over a
 * plain socket. `sluice kafka topics|produce|consume` run Kafka's own tool classes on the same
 * classpath against the running cluster's broker.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { stateDir as defaultStateDir, toolDir } from "../internal/dirs.js";
import { SluiceError } from "../internal/errors.js";
import { KafkaClient, parseBootstrapServers } from "../internal/kafka/client.js";
import { withParentDeath } from "../internal/process.js";
import { cachedClasspath } from "../runners/portable/flink.js";
import { type KafkaState, liveCluster } from "./state.js";

type Env = Readonly<Record<string, string | undefined>>;

/** The broker's two listeners. */
export interface KafkaPorts {
  /** Clients (PLAINTEXT): producers, consumers, admin tools, pipelines. */
  readonly broker: number;
  /** The KRaft controller (the node's own metadata quorum). */
  readonly controller: number;
}

export const DEFAULT_KAFKA_PORTS: KafkaPorts = { broker: 9092, controller: 9093 };

/** What each port is, for errors and status. */
export const KAFKA_PORT_NAMES: Readonly<Record<keyof KafkaPorts, string>> = {
  broker: "Kafka broker",
  controller: "Kafka KRaft controller",
};

/** The flag choosing each port on `sluice cluster up`. */
export const KAFKA_PORT_FLAGS: Readonly<Record<keyof KafkaPorts, string>> = {
  broker: "--kafka-port",
  controller: "--kafka-controller-port",
};

/** Kafka's Maven coordinates: the server (Scala 2.13, the only Scala of Kafka 4) and the tools. */
export const KAFKA_SCALA = "2.13";
export const KAFKA_ARTIFACTS = (version: string): string[] => [`org.apache.kafka:kafka_${KAFKA_SCALA}:${version}`, `org.apache.kafka:kafka-tools:${version}`];
/** Kafka 4.1 logs through slf4j 1.7 (slf4j-api 1.7.36 on its classpath): the simple binding writes to stderr, i.e. the log file. */
const SLF4J_BINDING = { groupId: "org.slf4j", artifactId: "slf4j-simple", version: "1.7.36" };

/** The classes run (verified against kafka_2.13 and kafka-tools 4.1.1). */
export const KAFKA_CLASSES = {
  /** The broker (and controller): `kafka.Kafka server.properties`. */
  server: "kafka.Kafka",
  /** `format --config F --cluster-id ID --standalone` (kafka-storage.sh). */
  storage: "kafka.tools.StorageTool",
  /** kafka-topics.sh. */
  topics: "org.apache.kafka.tools.TopicCommand",
  /** kafka-console-producer.sh. */
  producer: "org.apache.kafka.tools.ConsoleProducer",
  /** kafka-console-consumer.sh (moved into a package of its own in Kafka 4). */
  consumer: "org.apache.kafka.tools.consumer.ConsoleConsumer",
} as const;

/** The broker's node id (one node: broker and controller). */
const NODE_ID = 1;

/** Where Kafka's resolved classpath is cached: `<cache>/tools/kafka-<version>/`. */
export function kafkaToolDir(version: string, env: Env = process.env): string {
  return toolDir(`kafka-${version}`, env);
}

/** The cached classpath file of a Kafka version. */
export function kafkaClasspathFile(version: string, env: Env = process.env): string {
  return join(kafkaToolDir(version, env), "classpath.txt");
}

/** The cached classpath when every jar it names is still there (else undefined: resolve again). */
export function cachedKafkaClasspath(version: string, env: Env = process.env): string | undefined {
  return cachedClasspath(kafkaClasspathFile(version, env));
}

/** Kafka's classpath: resolved with Maven once (about 56 MB of jars into ~/.m2), then read from the cache. */
export async function kafkaClasspath(version: string, log: (m: string) => void = () => undefined, env: Env = process.env): Promise<string> {
  const dir = kafkaToolDir(version, env);
  const cp = join(dir, "classpath.txt");
  const cached = cachedClasspath(cp);
  if (cached !== undefined) return cached;
  if (existsSync(cp)) log(`the cached Kafka ${version} classpath names jars that are gone; resolving it again`);
  mkdirSync(dir, { recursive: true });
  const deps = [
    ...KAFKA_ARTIFACTS(version).map((a) => a.split(":") as [string, string, string]),
    [SLF4J_BINDING.groupId, SLF4J_BINDING.artifactId, SLF4J_BINDING.version] as [string, string, string],
  ];
  writeFileSync(
    join(dir, "pom.xml"),
    `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.sluice</groupId><artifactId>kafka</artifactId><version>${version}</version>
  <dependencies>
${deps.map(([g, a, v]) => `    <dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version></dependency>`).join("\n")}
  </dependencies>
</project>
`,
  );
  log(`resolving Apache Kafka ${version} (${KAFKA_ARTIFACTS(version).join(", ")}) with Maven (about 56 MB, once)`);
  const tmp = `${cp}.${process.pid}.tmp`;
  try {
    await new Promise<void>((resolve, reject) => {
      execFile("mvn", ["-q", "-B", "dependency:build-classpath", `-Dmdep.outputFile=${tmp}`], { cwd: dir, maxBuffer: 32 << 20, env: env as NodeJS.ProcessEnv }, (err, stdout) =>
        err ? reject(Object.assign(err, { stdout })) : resolve(),
      );
    });
  } catch (err) {
    const e = err as { code?: string; stdout?: string };
    throw new SluiceError(
      "UNAVAILABLE",
      e.code === "ENOENT" ? "Maven (mvn) is not on PATH; it resolves Apache Kafka's jars" : `Maven could not resolve org.apache.kafka:kafka_${KAFKA_SCALA}:${version}\n${String(e.stdout ?? "").slice(-1500)}`,
      { hint: "Install a JDK (17+) and Maven, and check that Maven Central is reachable (sluice doctor).", cause: err },
    );
  }
  renameSync(tmp, cp);
  return readFileSync(cp, "utf8").trim();
}

/** Where the broker's files live under the cluster's state directory. */
export function kafkaPaths(stateDir: string): { readonly dir: string; readonly config: string; readonly dataDir: string } {
  const dir = join(stateDir, "kafka");
  return { dir, config: join(dir, "server.properties"), dataDir: join(dir, "data") };
}

export interface KafkaConfigOptions {
  readonly ports: KafkaPorts;
  /** The address both listeners bind: 127.0.0.1, or 0.0.0.0 with --expose. */
  readonly bindHost: string;
  readonly dataDir: string;
}

/** The broker's server.properties: one KRaft node, broker and controller, replication factor 1 everywhere. */
export function kafkaServerProperties(o: KafkaConfigOptions): string {
  // Clients are told to come back to the address they can reach: loopback, or this host's name when exposed.
  const advertised = o.bindHost === "0.0.0.0" ? hostname() : o.bindHost;
  const props: [string, string | number][] = [
    ["process.roles", "broker,controller"],
    ["node.id", NODE_ID],
    ["controller.quorum.bootstrap.servers", `127.0.0.1:${o.ports.controller}`],
    ["listeners", `PLAINTEXT://${o.bindHost}:${o.ports.broker},CONTROLLER://${o.bindHost}:${o.ports.controller}`],
    ["advertised.listeners", `PLAINTEXT://${advertised}:${o.ports.broker},CONTROLLER://${advertised}:${o.ports.controller}`],
    ["inter.broker.listener.name", "PLAINTEXT"],
    ["controller.listener.names", "CONTROLLER"],
    ["listener.security.protocol.map", "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"],
    ["log.dirs", o.dataDir],
    ["num.partitions", 1],
    ["default.replication.factor", 1],
    ["offsets.topic.replication.factor", 1],
    ["transaction.state.log.replication.factor", 1],
    ["transaction.state.log.min.isr", 1],
    ["share.coordinator.state.topic.replication.factor", 1],
    ["share.coordinator.state.topic.min.isr", 1],
    // No deletion by age: Kafka's 7-day retention goes by record timestamps, so replayed history
    // (the game injector's 2015 events) would be deleted minutes after it is written. Bounded by
    // size instead: 1 GiB per partition.
    ["log.retention.ms", -1],
    ["log.retention.bytes", 1 << 30],
    // A single consumer joining a group starts at once (3 s by default).
    ["group.initial.rebalance.delay.ms", 0],
    // A broker restarted after a crash re-registers once its old session expired (9 s by default;
    // until then the controller answers DUPLICATE_BROKER_REGISTRATION): one local node, short session.
    ["broker.heartbeat.interval.ms", 1000],
    ["broker.session.timeout.ms", 4000],
  ];
  return `# Written by sluice cluster up --kafka; rewritten on every start.\n${props.map(([k, v]) => `${k}=${v}`).join("\n")}\n`;
}

/** The JVM options of every Kafka process: logs (slf4j-simple, on stderr) with timestamps. */
function jvmOptions(logLevel: "info" | "warn"): string[] {
  return [
    "-Djava.awt.headless=true",
    `-Dorg.slf4j.simpleLogger.defaultLogLevel=${logLevel}`,
    "-Dorg.slf4j.simpleLogger.showDateTime=true",
    "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSSZ",
    // Not every config dump (hundreds of lines, several per start).
    "-Dorg.slf4j.simpleLogger.log.org.apache.kafka.common.config.AbstractConfig=warn",
  ];
}

/** `java … kafka.Kafka <config>`: the broker's command line (the options kafka-server-start.sh uses, a smaller heap). */
export function kafkaServerLaunch(classpath: string, config: string): { command: string; args: string[] } {
  return {
    command: "java",
    args: [
      "-Xms256m",
      "-Xmx1g",
      "-XX:+UseG1GC",
      "-XX:MaxGCPauseMillis=20",
      "-XX:InitiatingHeapOccupancyPercent=35",
      "-XX:+ExplicitGCInvokesConcurrent",
      ...jvmOptions("info"),
      "-cp",
      classpath,
      KAFKA_CLASSES.server,
      config,
    ],
  };
}

/** A Kafka tool class (TopicCommand, ConsoleProducer, …) as a command line; warnings and errors only. */
export function kafkaToolLaunch(classpath: string, mainClass: string, args: readonly string[]): { command: string; args: string[] } {
  return { command: "java", args: ["-Xmx512m", ...jvmOptions("warn"), "-cp", classpath, mainClass, ...args] };
}

/** A Kafka cluster id as Kafka's Uuid.randomUuid makes them: 16 random bytes, base64url, never starting with "-". */
export function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString("base64url");
    if (!id.startsWith("-") && !/^A{21}[AQ]$/.test(id)) return id;
  }
}

/** Whether the storage under `dataDir` has been formatted (KRaft writes meta.properties). */
export function kafkaStorageFormatted(dataDir: string): boolean {
  return existsSync(join(dataDir, "meta.properties"));
}

/**
 * Formats the KRaft storage once (`kafka.tools.StorageTool format --standalone`: this node is the
 * whole controller quorum); a formatted directory is left alone, so topics survive `down` and `up`.
 * Returns whether it formatted.
 */
export async function formatKafkaStorage(classpath: string, config: string, dataDir: string, logFile: string): Promise<boolean> {
  if (kafkaStorageFormatted(dataDir)) return false;
  // No meta.properties: never formatted, or a format that was interrupted; Kafka would not start on it.
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  const { command, args } = kafkaToolLaunch(classpath, KAFKA_CLASSES.storage, ["format", "--config", config, "--cluster-id", newClusterId(), "--standalone"]);
  const [cmd, argv] = withParentDeath(command, args);
  await new Promise<void>((resolve, reject) => {
    execFile(cmd, argv, { timeout: 120_000, maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
      const output = `${stdout}${stderr}`;
      try {
        writeFileSync(logFile, `--- kafka-storage format (${new Date().toISOString()}) ---\n${output}\n`, { flag: "a" });
      } catch {
        // the log is a convenience
      }
      if (!err) return resolve();
      reject(
        new SluiceError("UNAVAILABLE", `formatting Kafka's KRaft storage in ${dataDir} failed (${KAFKA_CLASSES.storage} format): ${output.trim().split("\n").slice(-8).join("\n")}`, {
          hint: `Its output is in ${logFile}. Check \`sluice doctor\` for Java.`,
          cause: err,
        }),
      );
    });
  });
  return true;
}

// ---------------------------------------------------------------------------------------------
// Readiness: the broker answers Kafka's protocol (Sluice's own client, src/internal/kafka).

/** Whether a Kafka broker serves on host:port: it answers Metadata and lists an unfenced broker (itself). */
export async function kafkaBrokerAnswers(port: number, host = "127.0.0.1", timeoutMs = 3000): Promise<boolean> {
  const client = new KafkaClient({ bootstrap: [{ host, port }], clientId: "sluice-probe", requestTimeoutMs: timeoutMs, connectTimeoutMs: timeoutMs });
  try {
    await client.metadata([]);
    return client.knownBrokers().length > 0;
  } catch {
    return false;
  } finally {
    client.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The broker the `sluice kafka` commands use.

/** The broker to talk to and the classpath of the tools. */
export interface KafkaTarget {
  readonly bootstrapServers: string;
  /** The Kafka version whose tools are run. */
  readonly version: string;
  /** Where it came from, for messages. */
  readonly source: "cluster" | "flag";
}

/**
 * The broker of the running cluster (or the one `--bootstrap_servers` names), checked to answer
 * Kafka's protocol; a clear error when there is none.
 */
export async function resolveKafkaTarget(env: Env, pinnedVersion: string | undefined, bootstrapFlag?: string): Promise<KafkaTarget> {
  if (bootstrapFlag !== undefined) {
    const servers = parseBootstrapServers(bootstrapFlag, "--bootstrap_servers");
    const running = liveCluster(defaultStateDir(env))?.kafka;
    const version = running?.version ?? pinnedVersion;
    if (version === undefined) throw new SluiceError("FAILED_PRECONDITION", "versions.json pins no Kafka version", { hint: 'Add "kafka": "<version>" to versions.json.' });
    for (const s of servers) if (await kafkaBrokerAnswers(s.port, s.host)) return { bootstrapServers: bootstrapFlag, version, source: "flag" };
    throw new SluiceError("UNAVAILABLE", `no Kafka broker answers at ${bootstrapFlag} (ApiVersions and Metadata requests got no answer)`, {
      hint: "Check the address, or start one with `sluice cluster up --kafka` and leave --bootstrap_servers out.",
    });
  }
  const dir = defaultStateDir(env);
  const cluster = liveCluster(dir);
  if (cluster === undefined) {
    throw new SluiceError("FAILED_PRECONDITION", `no sluice cluster is running (state directory ${dir}), so there is no Kafka broker to use`, {
      hint: "Start one with `sluice cluster up --kafka --detach`, or name a broker with --bootstrap_servers host:port.",
    });
  }
  const kafka: KafkaState | undefined = cluster.kafka;
  if (kafka === undefined) {
    throw new SluiceError("FAILED_PRECONDITION", `the running sluice cluster (supervisor pid ${cluster.supervisor.pid}) has no Kafka broker: it was started without --kafka`, {
      hint: "Restart it with Kafka: `sluice cluster down`, then `sluice cluster up --kafka`; or name a broker with --bootstrap_servers host:port.",
    });
  }
  const component = cluster.components.find((c) => c.kind === "kafka");
  if (!(await kafkaBrokerAnswers(kafka.ports.broker))) {
    throw new SluiceError("UNAVAILABLE", `the cluster's Kafka broker (${kafka.bootstrapServers}) does not answer${component ? ` (it is ${component.state})` : ""}`, {
      hint: `See \`sluice cluster status\` and \`sluice cluster logs kafka\`${component ? ` (${component.log})` : ""}.`,
    });
  }
  return { bootstrapServers: kafka.bootstrapServers, version: kafka.version, source: "cluster" };
}
