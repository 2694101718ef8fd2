/**
 * Runs a conformance case on a runner and reads back what it wrote.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { Pipeline, type PipelineOptions, type PipelineResult } from "sluice";
import type { ConformanceCase } from "./corpus.js";

export interface CaseRun {
  readonly lines: string[];
  readonly files: string[];
  readonly result: PipelineResult;
}

/** Builds and runs `c` with `options`, returns the sorted output lines; always removes its temp dir. */
export async function runCase(
  c: ConformanceCase,
  options: PipelineOptions,
  run: (p: Pipeline) => Promise<PipelineResult> = (p) => p.run(),
): Promise<CaseRun> {
  const dir = await mkdtemp(join(tmpdir(), `sluice-${c.name}-`));
  try {
    const inputDir = join(dir, "in");
    await mkdir(inputDir);
    for (const [name, content] of Object.entries(c.inputs ?? {})) {
      await writeFile(join(inputDir, name), content);
    }
    const output = join(dir, "out", "result");
    const p = Pipeline.create(options);
    c.build(p, { output, inputDir });
    const result = await run(p);
    const outDir = dirname(output);
    const files = (await readdir(outDir)).filter((f) => f.startsWith(basename(output))).sort();
    const lines: string[] = [];
    for (const f of files) {
      const text = await readFile(join(outDir, f), "utf8");
      if (text.length > 0) lines.push(...text.replace(/\n$/, "").split("\n"));
    }
    return { lines: lines.sort(), files, result };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
