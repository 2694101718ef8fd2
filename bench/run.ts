/**
 * `npm run bench -- <name>`: runs a benchmark and writes bench/results/<name>.json.
 *
 *   wordcount  ~100 MB Zipf corpus: the direct runner (its default workers, and one) vs a
 *              hand-written single-threaded Node baseline, each run by `sluice run`. Targets: ratio (direct/baseline
 *              throughput) >= 1.0 with the default workers and >= 0.8 with --direct_num_workers=1;
 *              peak RSS <= 1.5x the baseline's.
 *   grouping   GroupByKey of ten times the direct runner's memory budget (one key, and 100k
 *              keys): time, values/s, spilled MB, peak RSS over a fixed base.
 *   flink      wordcount, a Map-heavy and a GroupByKey-heavy job on one sluice cluster, by Sluice,
 *              Beam Python and (wordcount) Beam Java's WordCount: times, fixed costs, outputs
 *              checked equal; the harness coder's elements/s. Targets in bench/flink.ts.
 *   streaming  Kafka → windowed, triggered team scores → Kafka, on the direct runner and on a
 *              sluice cluster: events/s, and event-write → result-read latency p50/p99.
 *   nexmark    Nexmark queries 0, 1, 2, 5, 7, 8, 11 (batch) over Beam's generator's events
 *              (SLUICE_BENCH_NEXMARK_EVENTS, default 1 M) on the direct runner and on Beam
 *              Python's DirectRunner (a managed venv), outputs checked equal: time and peak RSS.
 *              Targets per query: >= 10x faster than Beam Python, peak RSS no higher.
 *   startup    a job's fixed cost phase by phase: examples/seed.ts and the seed's Python pipeline
 *              on a sluice cluster, examples/seed.ts on Flink [local] and on the direct runner.
 */
import { execFile } from "node:child_process";
import { mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ensureCorpus } from "./corpus.js";

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");

interface ChildResult {
  seconds: number;
  peakRssMb: number;
}

/**
 * Runs a child script as a user runs a pipeline file, by the `sluice run` command (the built CLI,
 * its shebang's node flags included); the baseline too, so both load and run alike.
 */
async function child(script: string, args: string[]): Promise<ChildResult> {
  const { stdout } = await run(join(root, "bin", "sluice.js"), ["run", join(here, script), ...args], {
    cwd: root,
    maxBuffer: 1 << 20,
  });
  const last = stdout.trim().split("\n").pop() ?? "";
  return JSON.parse(last) as ChildResult;
}

async function readCounts(prefix: string): Promise<Map<string, number>> {
  const dir = dirname(prefix);
  const base = prefix.slice(dir.length + 1);
  const counts = new Map<string, number>();
  for (const f of (await readdir(dir)).filter((n) => n.startsWith(base))) {
    for (const line of (await readFile(join(dir, f), "utf8")).split("\n")) {
      if (line === "") continue;
      const i = line.lastIndexOf(": ");
      counts.set(line.slice(0, i), Number(line.slice(i + 2)));
    }
  }
  return counts;
}

async function wordcount(): Promise<void> {
  const mb = Number(process.env.SLUICE_BENCH_MB ?? 100);
  const corpus = join(here, "data", `zipf-${mb}mb.txt`);
  console.log(`bench wordcount: corpus ${corpus} (${mb} MB, generated once)`);
  const bytes = await ensureCorpus(corpus, mb);
  const outDir = join(here, "data", "out");
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const runs = Number(process.env.SLUICE_BENCH_RUNS ?? 5);
  // Round robin (baseline, default workers, one worker; then again), keeping each one's fastest
  // run and its highest peak RSS: a machine whose speed drifts over a minute (a shared host's)
  // slows all three alike instead of whichever ran during the slow spell.
  const variants = [
    { script: "wordcount-baseline.ts", prefix: join(outDir, "baseline"), flags: [] as string[] },
    { script: "wordcount-direct.ts", prefix: join(outDir, "direct"), flags: [] as string[] },
    { script: "wordcount-direct.ts", prefix: join(outDir, "direct1"), flags: ["--direct_num_workers=1"] },
  ];
  const bests: (ChildResult | undefined)[] = variants.map(() => undefined);
  for (let i = 0; i < runs; i++) {
    for (const [v, { script, prefix, flags }] of variants.entries()) {
      const r = await child(script, [corpus, prefix, ...flags]);
      console.log(`  ${script} ${flags.join(" ")}: ${r.seconds.toFixed(2)} s, peak RSS ${r.peakRssMb.toFixed(0)} MB`);
      const b = bests[v];
      bests[v] = { seconds: Math.min(r.seconds, b?.seconds ?? Infinity), peakRssMb: Math.max(r.peakRssMb, b?.peakRssMb ?? 0) };
    }
  }
  const [baseline, direct, oneWorker] = bests as [ChildResult, ChildResult, ChildResult];

  // The benchmark is only meaningful if all produce the same counts.
  const [a, b, c] = await Promise.all([readCounts(join(outDir, "baseline")), readCounts(join(outDir, "direct")), readCounts(join(outDir, "direct1"))]);
  for (const [name, m] of [["direct runner", b], ["direct runner on one worker", c]] as const) {
    if (a.size !== m.size || [...a].some(([w, n]) => m.get(w) !== n)) {
      throw new Error(`${name} and baseline disagree: ${a.size} vs ${m.size} distinct words`);
    }
  }
  const corpusMb = bytes / 1_000_000;
  const targets = { ratio_min: 1.0, ratio_one_worker_min: 0.8, peak_rss_vs_baseline_max: 1.5 };
  const result = {
    benchmark: "wordcount",
    corpus_mb: Number(corpusMb.toFixed(1)),
    distinct_words: a.size,
    runs,
    workers: availableParallelism(),
    direct_seconds: Number(direct.seconds.toFixed(3)),
    direct_one_worker_seconds: Number(oneWorker.seconds.toFixed(3)),
    baseline_seconds: Number(baseline.seconds.toFixed(3)),
    direct_mb_s: Number((corpusMb / direct.seconds).toFixed(2)),
    baseline_mb_s: Number((corpusMb / baseline.seconds).toFixed(2)),
    ratio: Number((baseline.seconds / direct.seconds).toFixed(3)),
    ratio_one_worker: Number((baseline.seconds / oneWorker.seconds).toFixed(3)),
    peak_rss_mb: Math.round(direct.peakRssMb),
    peak_rss_one_worker_mb: Math.round(oneWorker.peakRssMb),
    baseline_peak_rss_mb: Math.round(baseline.peakRssMb),
    targets,
    node: process.version,
    measured_at: new Date().toISOString(),
  };
  await mkdir(join(here, "results"), { recursive: true });
  await writeFile(join(here, "results", "wordcount.json"), `${JSON.stringify(result, null, 2)}\n`);
  await rm(outDir, { recursive: true, force: true });
  console.log(JSON.stringify(result, null, 2));
  const rssMax = targets.peak_rss_vs_baseline_max * result.baseline_peak_rss_mb;
  const ok = result.ratio >= targets.ratio_min && result.ratio_one_worker >= targets.ratio_one_worker_min && result.peak_rss_mb <= rssMax && result.peak_rss_one_worker_mb <= rssMax;
  console.log(ok ? "bench wordcount: targets met" : "bench wordcount: TARGETS MISSED");
  if (!ok) process.exitCode = 1;
}

async function flink(): Promise<void> {
  const { flinkBench } = await import("./flink.js");
  const result = await flinkBench(root);
  await mkdir(join(here, "results"), { recursive: true });
  await writeFile(join(here, "results", "flink.json"), `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result, null, 2));
  const met = (result.targets as { met: Record<string, boolean> }).met;
  const ok = Object.values(met).every(Boolean);
  console.log(ok ? "bench flink: targets met" : `bench flink: TARGETS MISSED (${Object.entries(met).filter(([, v]) => !v).map(([k]) => k).join(", ")})`);
  if (!ok) process.exitCode = 1;
}

async function streaming(): Promise<void> {
  const { streamingBench } = await import("./streaming.js");
  const result = await streamingBench(root);
  await mkdir(join(here, "results"), { recursive: true });
  await writeFile(join(here, "results", "streaming.json"), `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result, null, 2));
}

async function nexmark(): Promise<void> {
  const { nexmarkBench, nexmarkVerdict } = await import("./nexmark.js");
  const result = await nexmarkBench(here);
  await mkdir(join(here, "results"), { recursive: true });
  await writeFile(join(here, "results", "nexmark.json"), `${JSON.stringify(result, null, 2)}\n`);
  const verdict = nexmarkVerdict(result);
  if (verdict.error !== undefined) throw new Error(verdict.error);
  console.log(verdict.targetsMet ? "bench nexmark: targets met" : "bench nexmark: TARGETS MISSED");
  if (!verdict.targetsMet) process.exitCode = 1;
}

async function startup(): Promise<void> {
  const { startupBench, writeStartupResult } = await import("./startup.js");
  const result = await writeStartupResult(await startupBench());
  console.log(JSON.stringify(result, null, 2));
}

async function grouping(): Promise<void> {
  const { groupingBench } = await import("./grouping.js");
  const result = await groupingBench(here);
  await mkdir(join(here, "results"), { recursive: true });
  await writeFile(join(here, "results", "grouping.json"), `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result, null, 2));
}

const benches: Record<string, () => Promise<void>> = { wordcount, grouping, flink, streaming, nexmark, startup };
const names = process.argv.slice(2);
if (names.length === 0 || names.some((n) => !(n in benches))) {
  console.error(`usage: npm run bench -- <${Object.keys(benches).join("|")}>`);
  process.exit(2);
}
for (const n of names) await benches[n]!();
