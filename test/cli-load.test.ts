/**
 * What `sluice run` says about a pipeline file that does not get as far as running: built but never
 * run (a warning), syntax errors and import errors in the file or in a module it imports (file:line:col
 * of the user's file, a hint about the syntax, not about the code's behaviour), and failures while
 * loading a helper (the helper's file and line in the stack). Spawns the built CLI on files in a
 * temporary folder outside the repository. Needs `npx tsc -p tsconfig.build.json` first.
 */

import { existsSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type NodeResult, runNode } from "./support.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BIN = join(ROOT, "bin", "sluice.js");

let tmp = "";
beforeAll(() => {
  if (!existsSync(join(ROOT, "dist", "cli", "main.js"))) throw new Error("the CLI is not built: run `npx tsc -p tsconfig.build.json` first");
  tmp = realpathSync(mkdtempSync(join(tmpdir(), "sluice-cli-load-")));
});
afterAll(() => {
  if (tmp !== "") rmSync(tmp, { recursive: true, force: true });
});

function files(entries: Record<string, string>): void {
  for (const [name, text] of Object.entries(entries)) writeFileSync(join(tmp, name), text);
}

function run(file: string): Promise<NodeResult> {
  return runNode([BIN, "run", file], { cwd: tmp });
}

/** The hint line of a CLI failure. */
function hint(stderr: string): string {
  return /^ {2}hint: (.*)$/m.exec(stderr)?.[1] ?? "";
}

describe("a pipeline that is built but never run", () => {
  it("warns on stderr, naming the file and its transforms", async () => {
    files({
      "forgot-run.ts": `import { Create, Map, Pipeline } from "sluice";
const p = Pipeline.create();
p.apply("Numbers", Create.of([1, 2])).apply("Double", Map((x: number) => x * 2));
console.log("built");
`,
    });
    const r = await run("forgot-run.ts");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("built\n");
    expect(r.stderr).toMatch(/^sluice: warning: forgot-run\.ts: the pipeline was built \(Numbers, Double\) but never run, so nothing was executed$/m);
    expect(r.stderr).toContain("p.run()");
  });

  it("also when the file ends with process.exit(0), and never for a pipeline that ran", async () => {
    files({
      "exits.ts": `import { Create, Pipeline } from "sluice";
Pipeline.create().apply("Only", Create.of(["a"]));
process.exit(0);
`,
      "ran.ts": `import { Create, Pipeline } from "sluice";
const p = Pipeline.create();
p.apply("Only", Create.of(["a"]));
await p.run();
`,
    });
    const exits = await run("exits.ts");
    expect(exits.code).toBe(0);
    expect(exits.stderr).toContain("exits.ts: the pipeline was built (Only) but never run");
    const ran = await run("ran.ts");
    expect(ran.code).toBe(0);
    expect(ran.stderr).toBe("");
    files({
      "ran-on-runner.ts": `import { Create, DirectRunner, Pipeline } from "sluice";
const p = Pipeline.create();
p.apply("Only", Create.of(["a"]));
await new DirectRunner().run(p);
`,
    });
    const onRunner = await run("ran-on-runner.ts");
    expect(onRunner.code).toBe(0);
    expect(onRunner.stderr).toBe("");
  });

  it("says nothing more when the file failed before run()", async () => {
    files({
      "fails-first.ts": `import { Create, Pipeline } from "sluice";
Pipeline.create().apply("Only", Create.of(["a"]));
throw new Error("before run");
`,
    });
    const r = await run("fails-first.ts");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("before run");
    expect(r.stderr).not.toContain("never run");
  });
});

describe("syntax and import errors name the user's file:line:col", () => {
  it.each([
    ["entry.ts", "const x: number = ;\n", "entry.ts:1:19"],
    ["entry.mjs", "const ok = 1;\nconst y = ;\n", "entry.mjs:2:11"],
  ])("in the pipeline file %s", async (name, text, where) => {
    files({ [name]: text });
    const r = await run(name);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^sluice: ${name.replace(".", "\\.")} has a syntax error:\\n {2}${where}: `));
    expect(hint(r.stderr)).toBe(`fix the syntax error at ${where}, then rerun`);
  });

  it.each([
    ["helper-ts.ts", "export const a = 1;\nexport const b: number = (;\n", "helper-ts.ts:2:27"],
    ["helper-mts.mts", "export const a = 1;\n\nexport const b = (;\n", "helper-mts.mts:3:19"],
    ["helper-js.js", "export const a = 1;\nexport const b = (;\n", "helper-js.js:2:19"],
    ["helper-mjs.mjs", "export const a = 1;\n  const b = 1 +;\n", "helper-mjs.mjs:2:16"],
  ])("in an imported helper %s", async (helper, text, where) => {
    const entry = `uses-${helper.replace(/\..*$/, "")}.ts`;
    files({ [helper]: text, [entry]: `import { a } from "./${helper}";\nconsole.log(a);\n` });
    const r = await run(entry);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`sluice: ${entry} imports ${helper}, which has a syntax error:\n  ${where}: `);
    expect(hint(r.stderr)).toBe(`fix the syntax error at ${where}, then rerun`);
    expect(r.stderr).not.toContain("in your code");
  });

  it("an import of a name the helper does not export", async () => {
    files({ "exports-a.mjs": "export const a = 1;\n", "wants-b.mjs": `import { a } from "./exports-a.mjs";\nimport { b } from "./exports-a.mjs";\nconsole.log(a, b);\n` });
    const r = await run("wants-b.mjs");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("wants-b.mjs:2:10: No matching export");
    expect(hint(r.stderr)).toBe("fix the import error at wants-b.mjs:2:10, then rerun");
  });

  it("a helper that throws while loading is named with its line in the stack", async () => {
    files({
      "throws-on-load.ts": `const n: number = 1;\n\nthrow new Error("helper failed " + n);\n`,
      "loads-thrower.ts": `import "./throws-on-load.ts";\n`,
    });
    const r = await run("loads-thrower.ts");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^sluice: .*helper failed 1/);
    expect(r.stderr).toContain(`${join(tmp, "throws-on-load.ts")}:3:`);
  });
});

describe("how the file is loaded", () => {
  it("bundled, with no TypeScript loader: its import.meta.url, argv and stack lines are its own", async () => {
    files({
      "own-helper.ts": `export const helperUrl: string = import.meta.url;
export function where(): string { return new Error("here").stack!.split("\\n")[1]!.trim(); }
`,
      "own.ts": `import { Create, Pipeline } from "sluice";
import { helperUrl, where } from "./own-helper.ts";
console.log(JSON.stringify({ url: import.meta.url, helperUrl, argv1: process.argv[1], where: where() }));
const p = Pipeline.create();
p.apply(Create.of([1]));
await p.run();
`,
    });
    const r = await runNode([BIN, "run", "--verbose", "own.ts"], { cwd: tmp });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/own\.ts bundled in \d+ ms/);
    const seen = JSON.parse(r.stdout) as { url: string; helperUrl: string; argv1: string; where: string };
    expect(seen.url).toBe(`file://${join(tmp, "own.ts")}`);
    expect(seen.helperUrl).toBe(`file://${join(tmp, "own-helper.ts")}`);
    expect(seen.argv1).toBe(join(tmp, "own.ts"));
    expect(seen.where).toContain(`${join(tmp, "own-helper.ts")}:2:`);
  });

  it("with the TypeScript loader when a bundle would differ (a computed import), and runs the same", async () => {
    files({
      "computed-helper.ts": `export const answer: number = 42;\n`,
      "computed.ts": `import { Create, Pipeline } from "sluice";
const name = ["./computed", "helper.ts"].join("-");
const { answer } = (await import(name)) as { answer: number };
console.log(String(answer));
const p = Pipeline.create();
p.apply(Create.of([1]));
await p.run();
`,
    });
    const r = await runNode([BIN, "run", "--verbose", "computed.ts"], { cwd: tmp });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("42\n");
    expect(r.stderr).toContain("computed.ts with the TypeScript loader: it has imports esbuild cannot follow");
  });
});
