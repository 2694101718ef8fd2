/**
 * The conformance corpus on Beam's Prism runner (Go, the pinned Beam version), through Sluice's
 * portable runner and the TypeScript SDK harness in LOOPBACK mode. One Prism serves all cases.
 */
import { afterAll, beforeAll } from "vitest";
import { startPrism } from "../../src/runners/portable/prism.js";
import type { LocalService } from "../../src/runners/portable/services.js";
import { portableCorpusSuite } from "./harness.js";

let prism: LocalService;
beforeAll(async () => {
  prism = await startPrism();
}, 60_000);
afterAll(async () => {
  await prism?.stop();
});

portableCorpusSuite("conformance on Prism (LOOPBACK)", "prism", () => prism.endpoint);
