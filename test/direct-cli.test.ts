/**
 * Direct runner robustness (issue 8) as a user meets it: the real `sluice run` in a child process
 * (needs dist: `npx tsc -p tsconfig.build.json`). A promise that never settles, process.exit in a
 * DoFn, running out of heap, and an element exploding into millions of lines are reported by name
 * instead of ending the process silently, with V8's crash, or with listener-leak warnings.
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { outputLines } from "./support.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const sluice = join(root, "bin", "sluice.js");
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sluice-direct-cli-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Outcome {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a pipeline source with `sluice run`, whatever its exit. */
async function runPipeline(name: string, source: string, args: string[] = [], nodeFlags: string[] = []): Promise<Outcome> {
  const file = join(dir, name);
  await writeFile(file, source);
  return runFile(file, args, nodeFlags);
}

function runFile(file: string, args: string[] = [], nodeFlags: string[] = []): Promise<Outcome> {
  return new Promise((res) => {
    execFile(process.execPath, [...nodeFlags, sluice, "run", file, ...args], { cwd: dir, timeout: 120_000, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number; signal?: NodeJS.Signals }) | null;
      res({ code: e ? (typeof e.code === "number" ? e.code : null) : 0, signal: e?.signal ?? null, stdout, stderr });
    });
  });
}

describe("sluice run on the direct runner", () => {
  it("fails a run whose DoFn returns a promise that never settles, naming the transform and element", async () => {
    const r = await runPipeline(
      "hang.ts",
      `import { Create, ParDo, Pipeline, WriteToText } from "sluice";
const p = Pipeline.create();
p.apply("Create", Create.of(["fine", "the stuck one"]))
  .apply("Hang", ParDo<string, string>({ process(x) { return x === "fine" ? [x] : new Promise<string[]>(() => {}); } }))
  .apply("Write", WriteToText("hung/out"));
await p.run();
console.log("not reached");
`,
    );
    // Before: Node exited with code 13 (unsettled top-level await) and printed nothing.
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Transform 'Hang' never finished process of element "the stuck one"`);
    expect(r.stderr).toContain("waiting on a promise that nothing keeps alive");
    expect(r.stdout).not.toContain("not reached");
    expect(await readdir(join(dir, "hung"))).toEqual([]);
  });

  it("reports process.exit in a DoFn as a failure of that transform instead of exiting quietly", async () => {
    const r = await runPipeline(
      "quit.ts",
      `import { Create, Map, Pipeline } from "sluice";
const p = Pipeline.create();
p.apply("Create", Create.of([1, 2])).apply("Quit early", Map((x: number) => { if (x === 2) process.exit(0); return x; }));
await p.run();
console.log("after the run");
`,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Transform 'Quit early' failed in process on element 2: process.exit(0) was called");
    expect(r.stdout).not.toContain("after the run");
  });

  it("reports a grouping that outgrows the heap as RESOURCE_EXHAUSTED naming it, not as V8's crash", async () => {
    const r = await runPipeline(
      "oom.ts",
      `import { Create, FlatMap, GroupByKey, Pipeline } from "sluice";
const p = Pipeline.create();
p.apply("Create", Create.of([50_000_000]))
  .apply("Keys", FlatMap(function* (n: number) { for (let i = 0; i < n; i++) yield [\`key \${i}\`, i] as [string, number]; }))
  .apply("Group everything", GroupByKey<string, number>());
await p.run();
`,
      ["--max_memory_mb=4096"], // a budget past the heap: the heap guard is what stops it
      ["--max-old-space-size=256"],
    );
    expect(r.signal).toBeNull(); // V8's out-of-memory abort is SIGABRT
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^sluice: Transform 'Group everything' ran out of memory: the JavaScript heap holds \d+ MB of its \d+ MB limit$/m);
    expect(r.stderr).toContain("--max-old-space-size");
    expect(r.stderr).not.toContain("JavaScript heap out of memory");
  });

  it("groups more keys than the heap holds within the default memory budget, spilling to disk", async () => {
    const r = await runPipeline(
      "spill.ts",
      `import { Create, FlatMap, GroupByKey, Map, Pipeline } from "sluice";
let groups = 0;
const p = Pipeline.create();
p.apply("Create", Create.of([1_500_000]))
  .apply("Keys", FlatMap(function* (n: number) { for (let i = 0; i < n; i++) yield [\`key \${i}\`, i] as [string, number]; }))
  .apply("Group everything", GroupByKey<string, number>())
  .apply("Count", Map(() => void groups++));
const r = await p.run();
console.log(\`groups \${groups}, spilled \${(r.metrics.counter("spilledBytes") ?? 0) > 0}\`);
`,
      [],
      ["--max-old-space-size=128"], // 1.5 M groups take about 450 MB of heap in memory
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("groups 1500000, spilled true");
  }, 120_000);

  it("writes an element exploding into millions of lines without listener-leak warnings", async () => {
    const n = 2_000_000;
    const r = await runPipeline(
      "explode.ts",
      `import { Create, FlatMap, Pipeline, WriteToText } from "sluice";
const p = Pipeline.create();
p.apply("Create", Create.of([${n}]))
  .apply("Explode", FlatMap(function* (n: number) { for (let i = 0; i < n; i++) yield "line " + i; }))
  .apply("Write", WriteToText("exploded/out"));
await p.run();
`,
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    let lines = 0;
    for (const f of await readdir(join(dir, "exploded"))) {
      const text = await readFile(join(dir, "exploded", f), "utf8");
      for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) lines++;
    }
    expect(lines).toBe(n);
  });

  it("runs the examples with a clean stderr", async () => {
    await writeFile(join(dir, "words.txt"), "to be or not to be\n".repeat(50_000));
    const wordcount = await runFile(join(root, "examples", "wordcount.ts"), ["--input", "words.txt", "--output", "counts/out"]);
    expect(wordcount.stderr).toBe("");
    expect(wordcount.code).toBe(0);
    expect(await outputLines(join(dir, "counts", "out"))).toEqual(["be: 100000", "not: 50000", "or: 50000", "to: 100000"]);
    const windowed = await runFile(join(root, "examples", "windowed.ts"), ["--output", "windowed/out"]);
    expect(windowed.stderr).toBe("");
    expect(windowed.code).toBe(0);
  });
});

describe("signals during a long synchronous drain", () => {
  it("SIGTERM ends a run whose grouping is emitting a large table through synchronous DoFns", async () => {
    const file = join(dir, "drain.ts");
    await writeFile(
      file,
      `import { Create, GroupByKey, Map, Pipeline, WriteToText } from "sluice";
const p = Pipeline.create();
let first = true;
p.apply("Create", Create.of(Array.from({ length: 100000 }, (_, i) => i)))
  .apply("Key", Map((i: number): [number, number] => [i, i]))
  .apply("Group", GroupByKey<number, number>())
  .apply("Slow", Map(([k]: [number, Iterable<number>]) => {
    if (first) { first = false; console.log("draining"); }
    const until = Date.now() + 2; while (Date.now() < until) {} // 2 ms of synchronous work per group: 200 s in all
    return String(k);
  }))
  .apply("Write", WriteToText("drained/out"));
await p.run();
`,
    );
    const { spawn } = await import("node:child_process");
    // Its own temporary folder: the run's scratch folders (the pipeline's bundle) go with it.
    const temp = join(dir, "drain-tmp");
    await mkdir(temp, { recursive: true });
    const child = spawn(process.execPath, [sluice, "run", file], { cwd: dir, env: { ...process.env, TMPDIR: temp } });
    let out = "";
    const exited = new Promise<NodeJS.Signals | number | null>((res) => child.on("exit", (code, signal) => res(signal ?? code)));
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("draining")) child.kill("SIGTERM");
    });
    // Before the grouping yielded to the event loop per bundle, the signal waited for the whole drain.
    expect(await exited).toBe("SIGTERM");
    expect((await readdir(join(dir, "drained")).catch(() => [] as string[])).filter((n) => !n.startsWith("."))).toEqual([]);
    expect(await readdir(temp)).toEqual([]);
  }, 60_000);
});
