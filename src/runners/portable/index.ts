/**
 * `sluice/portable`: the portable runner and the local job services it can start, for programs
 * that drive runs themselves (benchmarks, tests, tools). Pipelines normally pick a runner with
 * `--runner` instead.
 */
export { PortableRunner, type PortableRunnerOptions } from "./runner.js";
export { startFlinkJobServer, pinnedFlinkJobServer, type FlinkJobServerOptions } from "./flink.js";
export { startPrism, ensurePrism, prismPath } from "./prism.js";
export type { LocalService } from "./services.js";
export { dataPlaneStats } from "../../harness/bundle.js";
