/**
 * Pipelines of several files: a pipeline file importing its own helper module, which imports from
 * "sluice", in every module flavour (.ts, .mts, .js, .mjs) and package setup (no package.json, one
 * without "type", one saying "type": "commonjs"). Each case runs in-process through the real CLI
 * (`node bin/sluice.js run`, direct runner) and is shipped the way EXTERNAL/PROCESS workers get it:
 * bundled by shipping.ts, written next to a `node_modules/sluice` link to this package and imported
 * with the worker hook set, as src/harness/worker-main.ts does. (No Prism or Flink here: the
 * bundle is tested directly.) Fixtures live in temporary folders outside the repository, so no
 * package.json of ours is found above them. Needs the CLI built (`npx tsc -p tsconfig.build.json`).
 */

import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runNode } from "./support.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundlePipelineFile } from "../src/runners/portable/shipping.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BIN = join(ROOT, "bin", "sluice.js");

interface Result {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function node(args: readonly string[], cwd: string): Promise<Result> {
  return runNode(args, { cwd });
}

const dirs: string[] = [];
function tempDir(prefix: string): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  dirs.push(dir);
  return dir;
}

beforeAll(() => {
  if (!existsSync(join(ROOT, "dist", "cli", "main.js")) || !existsSync(join(ROOT, "dist", "index.js"))) {
    throw new Error("the CLI is not built: run `npx tsc -p tsconfig.build.json` first");
  }
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

type Ext = "ts" | "mts" | "js" | "mjs";
type Pkg = "none" | "untyped" | "commonjs";

/** The helper module: a composite transform built from sluice's Map, and sluice's PTransform class. */
function helperSource(ext: Ext, pkg: Pkg): string {
  if (ext === "js" && pkg === "commonjs") {
    return `const { Map, PTransform, composite } = require("sluice");
exports.PT = PTransform;
exports.tripled = () => composite("Tripled", (input) => input.apply("Times three", Map((x) => x * 3)));
`;
  }
  const typed = ext === "ts" || ext === "mts";
  return `import { Map, PTransform, composite${typed ? ", type PCollection" : ""} } from "sluice";
export const PT = PTransform;
export const tripled = () =>
  composite("Tripled", (input${typed ? ": PCollection<number>" : ""}) => input.apply("Times three", Map((x${typed ? ": number" : ""}) => x * 3)));
`;
}

/**
 * The pipeline file. Under "type": "commonjs" TypeScript compiles to CommonJS, where a top-level
 * await is not allowed, so it uses then(); elsewhere the usual `await p.run()`.
 */
function mainSource(ext: Ext, pkg: Pkg): string {
  const run =
    pkg === "commonjs"
      ? `p.run().then(() => console.log("done"));`
      : `await p.run();\nconsole.log("done");`;
  return `import { Create, Map, Pipeline, PTransform } from "sluice";
import { PT, tripled } from "./helper.${ext}";

const p = Pipeline.create();
p.apply("Numbers", Create.of([1, 2, 3]))
  .apply("Helper", tripled())
  .apply("Print", Map((x: number) => { console.log("value " + x); return x; }));
console.log("same-sluice " + String(PT === PTransform));
console.log("labels " + JSON.stringify(p.leaves().map((n) => n.fullLabel)));
${run}
`;
}

function fixture(ext: Ext, pkg: Pkg): { dir: string; main: string } {
  const dir = tempDir(`sluice-cli-multi-${ext}-${pkg}-`);
  if (pkg === "untyped") writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "my-pipeline", private: true }));
  if (pkg === "commonjs") writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "my-pipeline", type: "commonjs" }));
  writeFileSync(join(dir, `helper.${ext}`), helperSource(ext, pkg));
  const main = join(dir, "pipeline.ts");
  writeFileSync(main, mainSource(ext, pkg));
  return { dir, main };
}

/** Lines of `stdout` starting with `prefix `, without it. */
function linesOf(stdout: string, prefix: string): string[] {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith(`${prefix} `))
    .map((l) => l.slice(prefix.length + 1));
}

/**
 * Imports a shipped bundle the way a worker does: `pipeline.mjs` in a fresh folder beside a
 * `node_modules/sluice` link to this package, the launch context and worker hook set. Prints the
 * labels of the pipeline that run() hands to the hook.
 */
async function importLikeAWorker(bytes: Uint8Array): Promise<Result> {
  const dir = tempDir("sluice-cli-multi-worker-");
  mkdirSync(join(dir, "node_modules"));
  symlinkSync(ROOT, join(dir, "node_modules", "sluice"), "junction");
  writeFileSync(join(dir, "pipeline.mjs"), bytes);
  writeFileSync(
    join(dir, "worker.mjs"),
    `import { pathToFileURL } from "node:url";
globalThis[Symbol.for("sluice.launch")] = Object.freeze({ argv: Object.freeze([]) });
globalThis[Symbol.for("sluice.worker")] = Object.freeze({
  register(p) {
    console.log("rebuilt " + JSON.stringify(p.leaves().map((n) => n.fullLabel)));
    process.exit(0);
  },
});
await import(pathToFileURL(${JSON.stringify(join(dir, "pipeline.mjs"))}).href);
console.log("run() was not called");
process.exit(3);
`,
  );
  return node([join(dir, "worker.mjs")], dir);
}

const CASES: [Ext, Pkg][] = (["ts", "mts", "js", "mjs"] as const).flatMap((ext) => (["none", "untyped", "commonjs"] as const).map((pkg) => [ext, pkg] as [Ext, Pkg]));

describe("a pipeline file importing its own helper module", () => {
  it.each(CASES)("helper.%s, package.json: %s — runs in-process with sluice run", async (ext, pkg) => {
    const { dir } = fixture(ext, pkg);
    const r = await node([BIN, "run", "pipeline.ts"], dir);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(linesOf(r.stdout, "value").sort()).toEqual(["3", "6", "9"]);
    expect(linesOf(r.stdout, "same-sluice")).toEqual(["true"]);
    expect(r.stdout).toContain("done\n");
  });

  it.each(CASES)("helper.%s, package.json: %s — ships to a worker as one bundle", async (ext, pkg) => {
    const { dir, main } = fixture(ext, pkg);
    const local = await node([BIN, "run", "pipeline.ts"], dir);
    expect(local.code, local.stderr).toBe(0);
    const labels = linesOf(local.stdout, "labels");
    expect(labels).toHaveLength(1);
    expect(JSON.parse(labels[0] as string)).toContain("Helper/Times three");

    const shipped = await bundlePipelineFile(main);
    const text = Buffer.from(shipped.bytes).toString("utf8");
    expect(text).toContain("Times three"); // the helper is inlined, not imported
    expect(text).not.toMatch(/from\s*["']\.\/helper/);
    const worker = await importLikeAWorker(shipped.bytes);
    expect(worker.stderr).toBe("");
    expect(worker.code).toBe(0);
    expect(linesOf(worker.stdout, "same-sluice")).toEqual(["true"]);
    expect(linesOf(worker.stdout, "rebuilt")).toEqual(labels);
    expect(worker.stdout).not.toContain("value "); // the worker rebuilds; it does not run the pipeline
  });
});

describe("shipping a pipeline whose helper does not parse", () => {
  it("names the helper's file:line:col (1-based) and says it is a syntax error", async () => {
    const dir = tempDir("sluice-cli-multi-broken-");
    writeFileSync(join(dir, "helper.mjs"), "export const ok = 1;\nexport const broken = (;\n");
    writeFileSync(join(dir, "pipeline.ts"), `import { ok } from "./helper.mjs";\nconsole.log(ok);\n`);
    const failure = await bundlePipelineFile(join(dir, "pipeline.ts")).then(
      () => undefined,
      (err: unknown) => err as { code?: string; message?: string; hint?: string },
    );
    expect(failure?.code).toBe("USER_CODE_FAILED");
    expect(failure?.message).toContain("helper.mjs:2:24: Unexpected");
    expect(failure?.hint).toContain("syntax error");
  });
});
