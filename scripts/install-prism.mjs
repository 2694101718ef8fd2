#!/usr/bin/env node
// Installs Beam's Prism runner at the pinned Beam version into build/tools/prism, with the Go
// toolchain and the Go module proxy. Skips when the installed one has the right version.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { beam } = JSON.parse(readFileSync(join(root, "versions.json"), "utf8"));
const tools = join(root, "build", "tools");
const stamp = join(tools, "prism.version");
if (existsSync(join(tools, "prism")) && existsSync(stamp) && readFileSync(stamp, "utf8").trim() === beam) process.exit(0);
mkdirSync(tools, { recursive: true });
console.log(`sluice: installing Prism ${beam} (go install github.com/apache/beam/sdks/v2/go/cmd/prism@v${beam}); this takes a few minutes once`);
try {
  execFileSync("go", ["install", `github.com/apache/beam/sdks/v2/go/cmd/prism@v${beam}`], {
    stdio: "inherit",
    env: { ...process.env, GOBIN: tools },
  });
} catch (err) {
  console.error(
    err && err.code === "ENOENT"
      ? "sluice: `go` is not on PATH; install Go (>= 1.26.1 for Beam 2.73) to use the Prism runner."
      : `sluice: installing Prism failed: ${err}`,
  );
  process.exit(1);
}
writeFileSync(stamp, `${beam}\n`);
console.log(`sluice: Prism ${beam} is at ${join(tools, "prism")}`);
