#!/usr/bin/env node
// Builds Beam's Prism runner at the pinned Beam version for this platform into the per-user tool
// cache (~/.cache/sluice/tools/prism-<version>-<os>-<arch>/), listening on 127.0.0.1 only; skips
// when it is already there. Needs the build (dist/); the logic is in src/runners/portable/prism.ts.
import { ensurePrism, prismPath } from "../dist/runners/portable/prism.js";

try {
  const binary = await ensurePrism(undefined, (m) => console.log(m));
  if (process.argv.includes("--print-path")) console.log(binary);
} catch (err) {
  console.error(`sluice: ${err?.message ?? err}${err?.hint ? `\n  ${err.hint}` : ""}`);
  console.error(`sluice: Prism was not built (${prismPath()}); --runner=prism needs it, nothing else does.`);
  process.exit(1);
}
