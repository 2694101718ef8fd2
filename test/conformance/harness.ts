/**
 * Runs a conformance case on a runner and reads back what it wrote. The input-writing and
 * output-reading halves are exported for tests that run cases through the CLI (external.test.ts).
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { Pipeline, PipelineOptions, type PipelineResult } from "sluice";
import { type ConformanceCase, corpus } from "./corpus.js";
import { describe, expect, it } from "vitest";
import { PortableRunner } from "../../src/runners/portable/runner.js";

export interface CaseRun {
  readonly lines: string[];
  readonly files: string[];
  readonly result: PipelineResult;
}

/** Where a case reads and writes, under a fresh temporary directory. */
export interface CaseDirs {
  readonly dir: string;
  readonly inputDir: string;
  /** The WriteToText prefix. */
  readonly output: string;
}

/** Creates a temporary directory with the case's input files; remove `dir` when done. */
export async function prepareCase(c: ConformanceCase): Promise<CaseDirs> {
  const dir = await mkdtemp(join(tmpdir(), `sluice-${c.name}-`));
  const inputDir = join(dir, "in");
  await mkdir(inputDir);
  for (const [name, content] of Object.entries(c.inputs ?? {})) {
    await writeFile(join(inputDir, name), content);
  }
  return { dir, inputDir, output: join(dir, "out", "result") };
}

/** The files written under the `output` prefix and their sorted lines. */
export async function readCaseOutput(output: string): Promise<{ lines: string[]; files: string[] }> {
  const outDir = dirname(output);
  const files = (await readdir(outDir)).filter((f) => f.startsWith(basename(output))).sort();
  const lines: string[] = [];
  for (const f of files) {
    const text = await readFile(join(outDir, f), "utf8");
    if (text.length > 0) lines.push(...text.replace(/\n$/, "").split("\n"));
  }
  return { lines: lines.sort(), files };
}

/** Builds and runs `c` with `options`, returns the sorted output lines; always removes its temp dir. */
export async function runCase(
  c: ConformanceCase,
  options: PipelineOptions,
  run: (p: Pipeline) => Promise<PipelineResult> = (p) => p.run(),
): Promise<CaseRun> {
  const { dir, inputDir, output } = await prepareCase(c);
  try {
    const p = Pipeline.create(options);
    c.build(p, { output, inputDir });
    const result = await run(p);
    return { ...(await readCaseOutput(output)), result };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs every corpus case as a test against the job service `endpoint()` gives (LOOPBACK workers). */
export function portableCorpusSuite(title: string, endpoint: () => string): void {
  describe(title, () => {
    for (const c of corpus) {
      it(c.name, async () => {
        const runner = new PortableRunner(endpoint(), { log: () => undefined });
        const { lines, files, result } = await runCase(c, PipelineOptions.create(), (p) => runner.run(p));
        expect(lines).toEqual([...c.expected].sort());
        expect(result.state).toBe("DONE");
        if (c.shards !== undefined) expect(files).toHaveLength(c.shards);
        for (const [name, value] of Object.entries(c.counters ?? {})) {
          expect(result.metrics.counter(name)).toBe(value);
        }
      }, 120_000);
    }
  });
}
