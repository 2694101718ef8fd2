/**
 * The cluster's default ports: the seed's (Flink REST 8081 and RPC 6123, the job server's 8099,
 * 8098 and 8097, Beam's Python worker pool 50000), and 50001 for the Sluice worker pool beside it.
 */
export interface ClusterPorts {
  /** Flink REST API and dashboard. */
  readonly flinkRest: number;
  /** Flink JobManager RPC. */
  readonly flinkRpc: number;
  /** Beam job server: Job API. */
  readonly jobServer: number;
  /** Beam job server: artifact staging. */
  readonly artifacts: number;
  /** Beam job server: expansion service. */
  readonly expansion: number;
  /** Beam's Python SDK worker pool (EXTERNAL environments of Python pipelines). */
  readonly pythonPool: number;
  /** The Sluice worker pool (EXTERNAL environments of TypeScript pipelines). */
  readonly sluicePool: number;
}

export const DEFAULT_PORTS: ClusterPorts = {
  flinkRest: 8081,
  flinkRpc: 6123,
  jobServer: 8099,
  artifacts: 8098,
  expansion: 8097,
  pythonPool: 50000,
  sluicePool: 50001,
};

/** What each port is, for errors and status. */
export const PORT_NAMES: Readonly<Record<keyof ClusterPorts, string>> = {
  flinkRest: "Flink REST and dashboard",
  flinkRpc: "Flink JobManager RPC",
  jobServer: "Beam job server (Job API)",
  artifacts: "Beam job server (artifact staging)",
  expansion: "Beam job server (expansion service)",
  pythonPool: "Beam Python worker pool",
  sluicePool: "Sluice worker pool",
};

export const DEFAULT_TASKMANAGERS = 1;
export const DEFAULT_SLOTS = 2;
