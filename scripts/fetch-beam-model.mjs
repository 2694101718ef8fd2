#!/usr/bin/env node
// Fetches Beam's model definitions (the .proto files and standard_coders.yaml) from the pinned
// Maven Central artifacts into build/beam-model/. They are build products: gitignored, never
// committed. Runs during `npm ci` (the `prepare` script); safe to run again (skips when present).
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { beam } = JSON.parse(readFileSync(join(root, "versions.json"), "utf8"));
const outDir = join(root, "build", "beam-model");
const stamp = join(outDir, "VERSION");
const artifacts = ["beam-model-pipeline", "beam-model-job-management", "beam-model-fn-execution"];

if (existsSync(stamp) && readFileSync(stamp, "utf8").trim() === beam) {
  process.exit(0);
}

const tmp = `${outDir}.tmp-${process.pid}`;
rmSync(tmp, { recursive: true, force: true });
mkdirSync(tmp, { recursive: true });
console.log(`sluice: fetching Beam ${beam} model definitions from Maven Central (${artifacts.join(", ")})`);
try {
  await Promise.all(
    artifacts.map((artifact) =>
      run(
        "mvn",
        [
          "-q",
          "-B",
          "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:unpack",
          `-Dartifact=org.apache.beam:${artifact}:${beam}`,
          `-DoutputDirectory=${tmp}`,
          "-Dmdep.unpack.includes=**/*.proto,**/*.yaml",
        ],
        // Maven's unpack goal leaves marker files under "${project.basedir}" in its working directory.
        { maxBuffer: 16 * 1024 * 1024, cwd: tmp },
      ),
    ),
  );
} catch (err) {
  rmSync(tmp, { recursive: true, force: true });
  const detail = err && typeof err === "object" && "stdout" in err ? String(err.stdout).slice(-2000) : String(err);
  const missing = err && typeof err === "object" && err.code === "ENOENT";
  console.error(
    missing
      ? "sluice: cannot fetch Beam's model definitions: `mvn` is not on PATH. Install a JDK (17+) and Maven, then run `npm run prepare`."
      : `sluice: fetching org.apache.beam model artifacts ${beam} with Maven failed. Check that Maven Central is reachable, then run \`npm run prepare\`.\n${detail}`,
  );
  process.exit(1);
}
rmSync(join(tmp, "${project.basedir}"), { recursive: true, force: true });
writeFileSync(join(tmp, "VERSION"), `${beam}\n`);
rmSync(outDir, { recursive: true, force: true });
renameSync(tmp, outDir);
console.log(`sluice: Beam ${beam} model definitions are in ${outDir}`);
