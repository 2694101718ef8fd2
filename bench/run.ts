/**
 * `npm run bench -- <name>`: runs a benchmark and writes bench/results/<name>.json.
 *
 *   wordcount  ~100 MB Zipf corpus: the direct runner vs a hand-written Node baseline.
 *              Targets: ratio (direct/baseline throughput) >= 0.5, direct peak RSS <= 300 MB.
 *   flink      wordcount and a Map-heavy pipeline on Flink [local] through the TypeScript harness:
 *              elements/s and data-plane MB/s.
 *   streaming  Kafka → windowed, triggered team scores → Kafka, on the direct runner and on a
 *              sluice cluster: events/s, and event-write → result-read latency p50/p99.
 */
import { execFile } from "node:child_process";
import { mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
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

async function child(script: string, args: string[]): Promise<ChildResult> {
  const { stdout } = await run(process.execPath, ["--import", "tsx", join(here, script), ...args], {
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
  const runs = Number(process.env.SLUICE_BENCH_RUNS ?? 3);
  const best = async (script: string, prefix: string): Promise<ChildResult> => {
    let bestRun: ChildResult | undefined;
    for (let i = 0; i < runs; i++) {
      const r = await child(script, [corpus, prefix]);
      console.log(`  ${script}: ${r.seconds.toFixed(2)} s, peak RSS ${r.peakRssMb.toFixed(0)} MB`);
      if (!bestRun || r.seconds < bestRun.seconds) bestRun = { seconds: r.seconds, peakRssMb: Math.max(r.peakRssMb, bestRun?.peakRssMb ?? 0) };
      else bestRun.peakRssMb = Math.max(bestRun.peakRssMb, r.peakRssMb);
    }
    return bestRun!;
  };
  const baseline = await best("wordcount-baseline.ts", join(outDir, "baseline"));
  const direct = await best("wordcount-direct.ts", join(outDir, "direct"));

  // The benchmark is only meaningful if both produce the same counts.
  const [a, b] = await Promise.all([readCounts(join(outDir, "baseline")), readCounts(join(outDir, "direct"))]);
  if (a.size !== b.size || [...a].some(([w, n]) => b.get(w) !== n)) {
    throw new Error(`direct runner and baseline disagree: ${a.size} vs ${b.size} distinct words`);
  }
  const corpusMb = bytes / 1_000_000;
  const result = {
    benchmark: "wordcount",
    corpus_mb: Number(corpusMb.toFixed(1)),
    distinct_words: a.size,
    runs,
    direct_seconds: Number(direct.seconds.toFixed(3)),
    baseline_seconds: Number(baseline.seconds.toFixed(3)),
    direct_mb_s: Number((corpusMb / direct.seconds).toFixed(2)),
    baseline_mb_s: Number((corpusMb / baseline.seconds).toFixed(2)),
    ratio: Number((baseline.seconds / direct.seconds).toFixed(3)),
    peak_rss_mb: Math.round(direct.peakRssMb),
    baseline_peak_rss_mb: Math.round(baseline.peakRssMb),
    targets: { ratio_min: 0.5, peak_rss_mb_max: 300 },
    node: process.version,
    measured_at: new Date().toISOString(),
  };
  await mkdir(join(here, "results"), { recursive: true });
  await writeFile(join(here, "results", "wordcount.json"), `${JSON.stringify(result, null, 2)}\n`);
  await rm(outDir, { recursive: true, force: true });
  console.log(JSON.stringify(result, null, 2));
  const ok = result.ratio >= 0.5 && result.peak_rss_mb <= 300;
  console.log(ok ? "bench wordcount: targets met" : "bench wordcount: TARGETS MISSED");
  if (!ok) process.exitCode = 1;
}

async function flink(): Promise<void> {
  const { flinkBench } = await import("./flink.js");
  console.log("bench flink: Flink [local] via Beam's job server, TypeScript harness");
  const result = await flinkBench(here);
  await mkdir(join(here, "results"), { recursive: true });
  await writeFile(join(here, "results", "flink.json"), `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result, null, 2));
}

async function streaming(): Promise<void> {
  const { streamingBench } = await import("./streaming.js");
  const result = await streamingBench(root);
  await mkdir(join(here, "results"), { recursive: true });
  await writeFile(join(here, "results", "streaming.json"), `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result, null, 2));
}

const benches: Record<string, () => Promise<void>> = { wordcount, flink, streaming };
const names = process.argv.slice(2);
if (names.length === 0 || names.some((n) => !(n in benches))) {
  console.error(`usage: npm run bench -- <${Object.keys(benches).join("|")}>`);
  process.exit(2);
}
for (const n of names) await benches[n]!();
