/**
 * Runs a conformance case on a runner and reads back what it wrote. The input-writing and
 * output-reading halves are exported for tests that run cases through the CLI (external.test.ts).
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { Pipeline, PipelineOptions, type PipelineResult } from "sluice";
import { type ConformanceCase, corpus, type Exclusion, type PortableRunnerName } from "./corpus.js";
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

/**
 * The files written under the `output` prefix and their sorted lines: every file in its directory
 * whose name starts with the prefix's last part, so an unwindowed set (`result-00000-of-00001`) and
 * windowed sets (`result2026-01-01T00:00:00.000Z-2026-01-01T00:01:00.000Z-pane-0-00000-of-00001`,
 * `resultGlobalWindow-pane-1-last-…`: no separator after the prefix, as Beam Java names them) alike;
 * hidden staging and temporary files (`.sluice-…`) never match.
 */
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

/**
 * How a suite on `runner` takes case `c`: run and check it (without its counters when the exclusion
 * says `uncounted`), check that the runner still refuses it (`refused`: the exclusion's error), or
 * skip it. The test title names the exclusion and its reason.
 */
export function caseOn(
  c: ConformanceCase,
  runner: PortableRunnerName,
):
  | { readonly mode: "run"; readonly title: string; readonly counters: Readonly<Record<string, number>> }
  | { readonly mode: "refused"; readonly title: string; readonly exclusion: Exclusion & { readonly refuses: RegExp } }
  | { readonly mode: "skipped"; readonly title: string; readonly exclusion: Exclusion } {
  const exclusion = c.excludedOn?.[runner];
  if (exclusion === undefined) return { mode: "run", title: c.name, counters: c.counters ?? {} };
  const refuses = exclusion.refuses;
  if (refuses !== undefined) return { mode: "refused", title: `${c.name} (refused on ${runner}: ${exclusion.reason})`, exclusion: { ...exclusion, refuses } };
  if (exclusion.uncounted) return { mode: "run", title: `${c.name} (counters not checked on ${runner}: ${exclusion.reason})`, counters: {} };
  return { mode: "skipped", title: `${c.name} (excluded on ${runner}: ${exclusion.reason})`, exclusion };
}

/** Runs every corpus case as a test against `runner`'s job service at `endpoint()` (LOOPBACK workers). */
export function portableCorpusSuite(title: string, runner: PortableRunnerName, endpoint: () => string): void {
  describe(title, () => {
    for (const c of corpus) {
      const how = caseOn(c, runner);
      const portable = (): PortableRunner => new PortableRunner(endpoint(), { log: () => undefined });
      if (how.mode === "skipped") {
        it.skip(how.title, () => undefined);
      } else if (how.mode === "refused") {
        it(how.title, async () => {
          await expect(runCase(c, PipelineOptions.create(), (p) => portable().run(p))).rejects.toThrow(how.exclusion.refuses);
        }, 120_000);
      } else {
        it(how.title, async () => {
          const { lines, files, result } = await runCase(c, PipelineOptions.create(), (p) => portable().run(p));
          expect(lines).toEqual([...c.expected].sort());
          expect(result.state).toBe("DONE");
          if (c.shards !== undefined) expect(files).toHaveLength(c.shards);
          for (const [name, value] of Object.entries(how.counters)) {
            expect(result.metrics.counter(name), `counter ${name}`).toBe(value);
          }
        }, 120_000);
      }
    }
  });
}
