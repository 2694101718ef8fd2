/**
 * The conformance corpus on Beam's Flink job server with an embedded Flink ([local]), through
 * Sluice's portable runner and the TypeScript SDK harness (LOOPBACK). One job server for all cases.
 */
import { afterAll, beforeAll } from "vitest";
import { startFlinkJobServer } from "../../src/runners/portable/flink.js";
import type { LocalService } from "../../src/runners/portable/services.js";
import { portableCorpusSuite } from "./harness.js";

let jobServer: LocalService;
beforeAll(async () => {
  jobServer = await startFlinkJobServer({ log: (m) => console.log(m) });
}, 600_000);
afterAll(async () => {
  await jobServer?.stop();
});

portableCorpusSuite("conformance on Flink [local] (LOOPBACK)", "flink", () => jobServer.endpoint);
