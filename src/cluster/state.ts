/**
 * The cluster's state file (`<state dir>/cluster.json`): what the supervisor started — each
 * component's pid and start time, ports, version and log — rewritten atomically on every change.
 * `status`, `down`, `jobs`, `logs` and `--runner=flink` read it; a file whose supervisor is gone
 * (a stale file) is reported as such and never trusted for signalling.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ClusterPorts } from "./defaults.js";
import { isAlive, type ProcessIdentity } from "../internal/process.js";
import { stateDir } from "../internal/dirs.js";
import type { StackVersions } from "./versions.js";

export type ComponentKind = "jobmanager" | "taskmanager" | "jobserver" | "sluice-pool" | "python-pool" | "kafka";

export type ComponentPhase = "starting" | "running" | "restarting" | "stopping" | "stopped" | "failed";

export interface ComponentState {
  /** jobmanager, taskmanager-1…N, jobserver, sluice-pool, python-pool, kafka. */
  readonly name: string;
  readonly kind: ComponentKind;
  readonly pid: number;
  readonly startTime: number;
  readonly state: ComponentPhase;
  /** Named ports it serves (e.g. { rest: 8081, rpc: 6123 }). */
  readonly ports: Readonly<Record<string, number>>;
  readonly version: string;
  readonly log: string;
  readonly restarts: number;
}

/** The Kafka broker of a cluster started with --kafka (KRaft, one node: broker and controller). */
export interface KafkaState {
  /** The Apache Kafka release (versions.json's kafka). */
  readonly version: string;
  /** What clients pass as bootstrap servers: "127.0.0.1:9092". */
  readonly bootstrapServers: string;
  readonly ports: { readonly broker: number; readonly controller: number };
  /** server.properties and the KRaft storage (log.dirs), under the state directory. */
  readonly config: string;
  readonly dataDir: string;
  /** The cached classpath (the tool cache's classpath.txt) the broker and `sluice kafka` run on. */
  readonly classpathFile: string;
}

export type ClusterPhase = "starting" | "ready" | "stopping" | "failed";

export interface ClusterState {
  readonly supervisor: ProcessIdentity;
  readonly phase: ClusterPhase;
  readonly startedAt: string;
  readonly stateDir: string;
  /** The address every listener binds: 127.0.0.1 unless --expose. */
  readonly bindHost: string;
  readonly ports: ClusterPorts;
  readonly taskmanagers: number;
  readonly slots: number;
  readonly python: boolean;
  readonly versions: StackVersions;
  readonly flinkHome: string;
  readonly artifactsDir: string;
  /** The managed interpreter with apache-beam (with --python). */
  readonly pythonExecutable?: string;
  /** The Kafka broker (with --kafka). */
  readonly kafka?: KafkaState;
  readonly components: readonly ComponentState[];
}

export const STATE_FILE = "cluster.json";

export function readState(dir: string): ClusterState | undefined {
  const file = join(dir, STATE_FILE);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as ClusterState;
  } catch {
    return undefined;
  }
}

export function writeState(dir: string, state: ClusterState): void {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, STATE_FILE);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

export function removeState(dir: string): void {
  rmSync(join(dir, STATE_FILE), { force: true });
}

/** The state of the cluster whose supervisor is alive (stale files are ignored), if any. */
export function liveCluster(dir: string): ClusterState | undefined {
  const state = readState(dir);
  return state && isAlive(state.supervisor) ? state : undefined;
}

/**
 * The running cluster `--runner=flink` uses when no --job_endpoint is given: its job server's and
 * Sluice worker pool's addresses, or undefined when no ready cluster runs for this user.
 */
export function runningClusterEndpoints(env: Readonly<Record<string, string | undefined>> = process.env): { jobEndpoint: string; sluicePool: string; flinkRest: string } | undefined {
  const state = liveCluster(stateDir(env));
  if (!state || state.phase !== "ready") return undefined;
  return {
    jobEndpoint: `127.0.0.1:${state.ports.jobServer}`,
    sluicePool: `127.0.0.1:${state.ports.sluicePool}`,
    flinkRest: `127.0.0.1:${state.ports.flinkRest}`,
  };
}

/**
 * The running cluster's Kafka broker ("127.0.0.1:9092"), or undefined when no ready cluster runs for
 * this user or it was started without --kafka.
 */
export function runningClusterKafka(env: Readonly<Record<string, string | undefined>> = process.env): { bootstrapServers: string; version: string } | undefined {
  const state = liveCluster(stateDir(env));
  if (!state || state.phase !== "ready" || !state.kafka) return undefined;
  return { bootstrapServers: state.kafka.bootstrapServers, version: state.kafka.version };
}
