/**
 * The command table: every `sluice <command>`. To add a command, write one module exporting a
 * Command and list it here; a command whose module is heavy (gRPC, Beam's protocol types) is
 * listed by its entry in info.ts and loaded when it runs (lazyCommand), so `sluice run` stays lean.
 */

import { type Command, lazyCommand } from "../command.js";
import { doctorCommand } from "./doctor.js";
import { helpCommand } from "./help.js";
import { CLUSTER_INFO, JOBS_INFO, WORKER_POOL_INFO } from "./info.js";
import { kafkaCommand } from "./kafka.js";
import { runCommand } from "./run.js";

export const COMMANDS: readonly Command[] = [
  runCommand,
  lazyCommand(CLUSTER_INFO, async () => (await import("./cluster.js")).clusterCommand),
  lazyCommand(JOBS_INFO, async () => (await import("./jobs.js")).jobsCommand),
  kafkaCommand,
  lazyCommand(WORKER_POOL_INFO, async () => (await import("./worker-pool.js")).workerPoolCommand),
  doctorCommand,
  helpCommand,
];
