/**
 * The command table: every `sluice <command>`. To add a command (worker-pool, cluster, jobs,
 * doctor), write one module exporting a Command and list it here.
 */

import type { Command } from "../command.js";
import { doctorCommand } from "./doctor.js";
import { clusterCommand } from "./cluster.js";
import { helpCommand } from "./help.js";
import { jobsCommand } from "./jobs.js";
import { kafkaCommand } from "./kafka.js";
import { runCommand } from "./run.js";
import { workerPoolCommand } from "./worker-pool.js";

export const COMMANDS: readonly Command[] = [runCommand, clusterCommand, jobsCommand, kafkaCommand, workerPoolCommand, doctorCommand, helpCommand];
