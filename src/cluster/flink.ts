/**
 * A Flink session cluster as plain JVMs: the configuration directory we write (config.yaml and a
 * console log4j config), and the JobManager and TaskManager command lines, launched directly (not
 * through Flink's scripts, which daemonize and keep pid files in /tmp) so the supervisor owns the
 * JVM's pid. Memory sizes come from Flink's own calculator (BashJavaUtils, what the scripts call),
 * so the TaskManager gets every memory option it insists on.
 */
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import { parse } from "yaml";
import { SluiceError } from "../internal/errors.js";
import type { ClusterPorts } from "./defaults.js";

const run = promisify(execFile);

export interface FlinkConfOptions {
  readonly home: string;
  readonly confDir: string;
  /** Scratch space for Flink (io.tmp.dirs, blobs, web uploads): under the state directory, not /tmp. */
  readonly workDir: string;
  readonly ports: ClusterPorts;
  readonly slots: number;
  /** The address every Flink listener binds (127.0.0.1 unless --expose). */
  readonly bindHost: string;
  /** Allow jar uploads through the dashboard (off unless asked for). */
  readonly webSubmit: boolean;
}

/**
 * How jobs are run and submitted, the same for the local cluster and the compose/k8s files: an
 * explicit restart strategy (batch jobs Beam's job server submits use the cluster's, so a lost
 * TaskManager means a retry, not a failed job), region failover, and no jar uploads through the
 * dashboard unless asked for (jobs arrive through the job server).
 */
export function jobPolicy(webSubmit: boolean): Record<string, string> {
  return {
    "restart-strategy.type": "fixed-delay",
    "restart-strategy.fixed-delay.attempts": "10",
    "restart-strategy.fixed-delay.delay": "2 s",
    "web.submit.enable": String(webSubmit),
  };
}

/** The configuration the cluster runs with, as flat Flink keys (what `config.yaml` holds). */
export function flinkConfiguration(o: FlinkConfOptions): Record<string, string | number | boolean> {
  return {
    // The Java 17 module flags Flink's distribution ships with (its default config.yaml).
    "env.java.opts.all": defaultJavaOpts(o.home),
    "jobmanager.rpc.address": "127.0.0.1",
    "jobmanager.rpc.port": o.ports.flinkRpc,
    "jobmanager.bind-host": o.bindHost,
    "jobmanager.memory.process.size": "1024m",
    "jobmanager.execution.failover-strategy": "region",
    "taskmanager.host": "127.0.0.1",
    "taskmanager.bind-host": o.bindHost,
    "taskmanager.numberOfTaskSlots": o.slots,
    "taskmanager.memory.process.size": "1600m",
    "rest.address": "127.0.0.1",
    "rest.bind-address": o.bindHost,
    "rest.port": o.ports.flinkRest,
    "parallelism.default": 1,
    "web.cancel.enable": true,
    ...jobPolicy(o.webSubmit),
    // A lost TaskManager is noticed in seconds, not Flink's default 50, on one machine.
    "heartbeat.interval": 2000,
    "heartbeat.timeout": 12000,
    "io.tmp.dirs": join(o.workDir, "io"),
    "blob.storage.directory": join(o.workDir, "blobs"),
    "web.tmpdir": join(o.workDir, "web"),
    "web.upload.dir": join(o.workDir, "web-uploads"),
  };
}

/** Writes `config.yaml` and `log4j-console.properties` into the conf dir. */
export function writeFlinkConf(o: FlinkConfOptions): void {
  mkdirSync(o.confDir, { recursive: true });
  for (const d of ["io", "blobs", "web", "web-uploads"]) mkdirSync(join(o.workDir, d), { recursive: true });
  const conf = flinkConfiguration(o);
  const lines = Object.entries(conf).map(([k, v]) => `${k}: ${typeof v === "string" ? JSON.stringify(v) : String(v)}`);
  writeFileSync(join(o.confDir, "config.yaml"), `# Written by sluice cluster up; regenerated on every start.\n${lines.join("\n")}\n`);
  writeFileSync(
    join(o.confDir, "log4j-console.properties"),
    [
      "rootLogger.level = INFO",
      "rootLogger.appenderRef.console.ref = ConsoleAppender",
      "appender.console.name = ConsoleAppender",
      "appender.console.type = CONSOLE",
      "appender.console.layout.type = PatternLayout",
      "appender.console.layout.pattern = %d{yyyy-MM-dd HH:mm:ss,SSS} %-5p %-60c %x - %m%n",
      "logger.netty.name = org.jboss.netty.channel.DefaultChannelPipeline",
      "logger.netty.level = OFF",
      "",
    ].join("\n"),
  );
}

function defaultJavaOpts(home: string): string {
  const text = readFileSync(join(home, "conf", "config.yaml"), "utf8");
  const doc = parse(text) as { env?: { java?: { opts?: { all?: string } } } } | null;
  const opts = doc?.env?.java?.opts?.all ?? (doc as Record<string, string> | null)?.["env.java.opts.all"];
  return typeof opts === "string" ? opts : "";
}

export interface JvmLaunch {
  readonly command: string;
  readonly args: string[];
  readonly env: NodeJS.ProcessEnv;
}

interface ResourceParams {
  readonly jvm: string[];
  readonly dynamic: string[];
}

/** Flink's memory calculator: JVM flags and the `-D k=v` options for a JobManager or TaskManager. */
export async function resourceParams(home: string, confDir: string, kind: "JM" | "TM"): Promise<ResourceParams> {
  const cp = `${join(home, "bin", "bash-java-utils.jar")}:${join(home, "lib", "*")}`;
  let stdout: string;
  try {
    ({ stdout } = await run("java", ["-cp", cp, "org.apache.flink.runtime.util.bash.BashJavaUtils", `GET_${kind}_RESOURCE_PARAMS`, "--configDir", confDir], {
      maxBuffer: 8 << 20,
    }));
  } catch (err) {
    const e = err as { code?: string; stdout?: string; stderr?: string };
    throw new SluiceError(
      "FAILED_PRECONDITION",
      e.code === "ENOENT" ? "java is not on PATH: Flink needs Java 11 or newer (17 recommended)" : `Flink could not compute its ${kind === "JM" ? "JobManager" : "TaskManager"} memory from ${confDir}/config.yaml\n${String(e.stdout ?? "").slice(-1500)}${String(e.stderr ?? "").slice(-1500)}`,
      { hint: "Install a JDK 17 (see sluice doctor).", cause: err },
    );
  }
  const results = stdout
    .split("\n")
    .filter((l) => l.startsWith("BASH_JAVA_UTILS_EXEC_RESULT:"))
    .map((l) => l.slice("BASH_JAVA_UTILS_EXEC_RESULT:".length).trim());
  const [jvm, dynamic] = results;
  if (jvm === undefined || dynamic === undefined) {
    throw new SluiceError("INTERNAL", `Flink's memory calculator printed no result for the ${kind === "JM" ? "JobManager" : "TaskManager"}:\n${stdout.slice(-1500)}`);
  }
  return { jvm: jvm.split(/\s+/).filter(Boolean), dynamic: dynamic.split(/\s+/).filter(Boolean) };
}

function launch(home: string, confDir: string, javaOpts: string, params: ResourceParams, mainClass: string, extra: string[], classpath: readonly string[]): JvmLaunch {
  return {
    command: "java",
    args: [
      ...javaOpts.split(/\s+/).filter(Boolean),
      ...params.jvm,
      `-Dlog4j.configurationFile=file:${join(confDir, "log4j-console.properties")}`,
      "-cp",
      // Flink's own jars first: what the extra jars share with them is Flink's.
      [join(home, "lib", "*"), ...classpath].join(delimiter),
      mainClass,
      "--configDir",
      confDir,
      ...extra,
      ...params.dynamic,
    ],
    env: { ...process.env, FLINK_CONF_DIR: confDir, FLINK_HOME: home, FLINK_PLUGINS_DIR: join(home, "plugins"), FLINK_LIB_DIR: join(home, "lib") },
  };
}

/**
 * The JobManager (StandaloneSessionClusterEntrypoint). `classpath`: jars after Flink's lib/, e.g.
 * Beam's runner jars, so that jobs need not upload them (see `beamJarsForFlink`).
 */
export async function jobManagerLaunch(home: string, confDir: string, classpath: readonly string[] = []): Promise<JvmLaunch> {
  const params = await resourceParams(home, confDir, "JM");
  return launch(home, confDir, defaultJavaOpts(home), params, "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint", ["--executionMode", "cluster"], classpath);
}

/** A TaskManager, named `resourceId` on the dashboard; every TaskManager uses the same memory sizes. */
export function taskManagerLaunch(home: string, confDir: string, params: ResourceParams, resourceId: string, classpath: readonly string[] = []): JvmLaunch {
  return launch(home, confDir, defaultJavaOpts(home), params, "org.apache.flink.runtime.taskexecutor.TaskManagerRunner", ["-D", `taskmanager.resource-id=${resourceId}`], classpath);
}

/** Says which port is which, for errors from a call to the wrong one. */
export const FLINK_REST_NOTE = "--flink_rest takes Flink's REST API (HTTP, port 8081 by default), not the Beam job server's Job API (8099 by default)";

/** A Flink REST call; errors name the address and, for a wrong port, the other one. */
export async function flinkRestCall(rest: string, path: string, init: { method?: string; timeoutMs?: number; allow404?: boolean; json?: unknown } = {}): Promise<{ status: number; body: unknown }> {
  const method = init.method ?? "GET";
  const what = `Flink REST ${method} ${path} on ${rest}`;
  let res: Response;
  try {
    res = await fetch(`http://${rest}${path}`, {
      method,
      signal: AbortSignal.timeout(init.timeoutMs ?? 10_000),
      ...(init.json === undefined ? {} : { body: JSON.stringify(init.json), headers: { "content-type": "application/json" } }),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const name = (err as { name?: string }).name;
    if (name === "TimeoutError") {
      throw new SluiceError("DEADLINE_EXCEEDED", `${what} did not answer within ${Math.round((init.timeoutMs ?? 10_000) / 1000)} s`, {
        hint: `Flink's JobManager may be overloaded or stuck: see \`sluice cluster logs jobmanager\`. ${FLINK_REST_NOTE}.`,
        cause: err,
      });
    }
    if (cause?.code?.startsWith("HPE_")) {
      throw new SluiceError("UNAVAILABLE", `${rest} does not speak HTTP/1.1 (${cause.message ?? cause.code}): it is not Flink's REST API; it looks like a gRPC port, e.g. the Beam job server's Job API (8099)`, {
        hint: `${FLINK_REST_NOTE}.`,
        cause: err,
      });
    }
    throw new SluiceError("UNAVAILABLE", `cannot reach Flink's REST API at ${rest} (${method} ${path}): ${cause?.code ?? cause?.message ?? (err as Error).message}`, {
      hint: `Check that Flink's JobManager runs (\`sluice cluster status\`). ${FLINK_REST_NOTE}.`,
      cause: err,
    });
  }
  const text = await res.text();
  if (res.status === 404 && init.allow404) return { status: 404, body: undefined };
  if (!res.ok) {
    throw new SluiceError(res.status === 404 ? "NOT_FOUND" : "UNAVAILABLE", `${what} answered ${res.status}: ${clip(text, 500)}`, {
      hint: res.status === 404 ? `Is ${rest} Flink's REST API? ${FLINK_REST_NOTE}.` : "See `sluice cluster logs jobmanager`.",
    });
  }
  if (text === "") return { status: res.status, body: {} };
  try {
    return { status: res.status, body: JSON.parse(text) as unknown };
  } catch (err) {
    throw new SluiceError("UNAVAILABLE", `${what} answered something other than JSON: ${clip(text, 200)}`, { hint: `${FLINK_REST_NOTE}.`, cause: err });
  }
}

function clip(text: string, max: number): string {
  const t = text.trim();
  return t.length <= max ? t : `${t.slice(0, max - 1)}…`;
}

export interface FlinkOverview {
  readonly taskmanagers: number;
  readonly "slots-total": number;
  readonly "slots-available": number;
  readonly "jobs-running": number;
  readonly "flink-version": string;
}
