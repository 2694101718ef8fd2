/**
 * The command list's entries for the commands commands/index.ts loads only when they run (their
 * modules are the heavy ones); each module builds its Command from its entry here.
 */
import type { CommandInfo } from "../command.js";

export const CLUSTER_INFO: CommandInfo = {
  name: "cluster",
  synopsis: "up|down|status|logs|scale|compose|k8s [options]",
  summary: "run the seed's Flink + Beam stack on this machine (no Docker), or write it out for Compose or Kubernetes",
};

export const JOBS_INFO: CommandInfo = {
  name: "jobs",
  synopsis: "list|show <id>|cancel <id>|stop <id> --savepoint <dir> [options]",
  summary: "the cluster's jobs as the Beam job server and Flink see them: list, show progress, cancel, stop with a savepoint",
};

export const WORKER_POOL_INFO: CommandInfo = {
  name: "worker-pool",
  synopsis: "[--port N] [--host ADDRESS] [--max-workers N] [--worker-connect-timeout SECONDS]",
  summary: "serve SDK workers to runners (EXTERNAL environments)",
};
