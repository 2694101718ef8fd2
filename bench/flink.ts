/**
 * `npm run bench -- flink`: the same jobs on one `sluice cluster` (Flink, Beam's Flink job server,
 * the Sluice and Beam Python worker pools; its own ports and state, stopped at the end), submitted
 * by Sluice (TypeScript harness), by Beam Python (its SDK harness, apache-beam at the job server's
 * version in the cluster's managed interpreter), and for wordcount by Beam Java's own examples
 * WordCount on the classic FlinkRunner (no Fn API; its jars resolved from Maven Central once).
 *
 *   wordcount  Beam Java's WordCount over the Zipf corpus (SLUICE_BENCH_FLINK_MB, default 100 MB)
 *   maps       a chain of Maps and a Filter over every line, one global sum
 *   gbk        every line keyed by its first two characters, grouped (all values cross the shuffle)
 *
 * Every job's output is checked to be the same for every SDK. Each SDK's fixed cost of a job (the
 * same wordcount over a one-line file: submission, staging, worker start) is reported apart, and
 * each time net of it. Targets (issue 11): Sluice at least 1.5x faster than Beam Python on each
 * job and faster than Beam Java's WordCount, whole job times; and the harness's data-plane coder
 * at 5 M small elements/s or more (measured here in-process, encode and decode).
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ByteReader, ByteWriter, GlobalWindowCoder, KvCoder, StringUtf8Coder, VarIntCoder, WindowedValueCoder } from "../src/sdk/coders/index.js";
import { GLOBAL_WINDOW, PANE_NO_FIRING } from "../src/sdk/windowing/window.js";
import { MIN_TIMESTAMP } from "../src/sdk/time.js";
import { ensureCorpus } from "./corpus.js";

const run = promisify(execFile);
const PORTS = { rest: 47081, rpc: 46124, job: 47099, artifacts: 47098, expansion: 47097, pool: 45011, python: 45010 };
const PORT_ARGS = Object.entries({
  "--rest-port": PORTS.rest, "--rpc-port": PORTS.rpc, "--job-port": PORTS.job, "--artifact-port": PORTS.artifacts,
  "--expansion-port": PORTS.expansion, "--pool-port": PORTS.pool, "--python-port": PORTS.python,
}).flatMap(([k, v]) => [k, String(v)]);

type Sdk = "sluice" | "python" | "java";
const JOBS = ["wordcount", "maps", "gbk"] as const;

interface Timing {
  readonly seconds: number;
  readonly net_seconds: number;
}

/** Sorted non-empty lines of every shard `prefix-*` (Beam's shard names). */
async function shardLines(prefix: string): Promise<string[]> {
  const dir = join(prefix, "..");
  const base = prefix.slice(dir.length + 1);
  const out: string[] = [];
  for (const f of (await readdir(dir)).filter((n) => n.startsWith(`${base}-`))) {
    for (const l of (await readFile(join(dir, f), "utf8")).split("\n")) if (l !== "") out.push(l);
  }
  return out.sort();
}

/** Beam Java's examples and Flink runner, resolved with Maven into a classpath file, once. */
async function javaClasspath(beamVersion: string, flinkMinor: string): Promise<string> {
  const cache = process.env.SLUICE_CACHE_DIR ?? join(homedir(), ".cache", "sluice");
  const dir = join(cache, "tools", `beam-java-wordcount-${beamVersion}-flink-${flinkMinor}`);
  const cpFile = join(dir, "classpath.txt");
  if (existsSync(cpFile)) {
    const cp = (await readFile(cpFile, "utf8")).trim();
    if (cp.split(":").every((j) => existsSync(j))) return cp;
  }
  await mkdir(dir, { recursive: true });
  // The examples jar without its dependencies (its Kafka IO needs Confluent's repository, which is
  // not Maven Central): WordCount needs only the SDK core, which the Flink runner brings.
  const dep = (g: string, a: string, bare = false): string =>
    `<dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${beamVersion}</version>${bare ? "<exclusions><exclusion><groupId>*</groupId><artifactId>*</artifactId></exclusion></exclusions>" : ""}</dependency>`;
  await writeFile(
    join(dir, "pom.xml"),
    `<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>dev.sluice.bench</groupId><artifactId>beam-java-wordcount</artifactId><version>1</version>
<dependencies>${dep("org.apache.beam", "beam-examples-java", true)}${dep("org.apache.beam", `beam-runners-flink-${flinkMinor}`)}</dependencies></project>\n`,
  );
  console.log(`bench flink: resolving Beam Java ${beamVersion} examples and FlinkRunner (Maven, once)`);
  await run("mvn", ["-q", "-B", "dependency:build-classpath", `-Dmdep.outputFile=${cpFile}`], { cwd: dir, timeout: 900_000, maxBuffer: 64 << 20 });
  return (await readFile(cpFile, "utf8")).trim();
}

/** Encodes then decodes `n` small windowed KVs as the harness's data plane does; elements/s. */
function coderThroughput(n: number): number {
  const coder = new WindowedValueCoder(new KvCoder(StringUtf8Coder, VarIntCoder), GlobalWindowCoder);
  const words = Array.from({ length: 1000 }, (_, i) => `w${i.toString(36)}`);
  const best: number[] = [];
  for (let round = 0; round < 3; round++) {
    const started = performance.now();
    const w = new ByteWriter(1 << 20);
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      coder.encode({ value: [words[i % 1000]!, i & 1023], timestamp: MIN_TIMESTAMP, windows: [GLOBAL_WINDOW], pane: PANE_NO_FIRING }, w, true);
      if (w.length >= 1 << 20) {
        chunks.push(w.finish());
        w.reset();
      }
    }
    chunks.push(w.finish());
    let decoded = 0;
    for (const c of chunks) {
      const r = new ByteReader(c);
      while (!r.atEnd()) {
        coder.decode(r, true);
        decoded++;
      }
    }
    if (decoded !== n) throw new Error(`coder bench decoded ${decoded} of ${n} elements`);
    best.push(n / ((performance.now() - started) / 1000));
  }
  return Math.max(...best);
}

export async function flinkBench(root: string): Promise<Record<string, unknown>> {
  const here = join(root, "bench");
  const versions = JSON.parse(await readFile(join(root, "versions.json"), "utf8")) as { flinkJobServer: { beam: string; flink: string } };
  const beam = versions.flinkJobServer.beam;
  const flinkMinor = versions.flinkJobServer.flink;
  const mb = Number(process.env.SLUICE_BENCH_FLINK_MB ?? 100);
  const corpus = join(here, "data", `zipf-${mb}mb.txt`);
  await ensureCorpus(corpus, mb);
  const work = await mkdtemp(join(tmpdir(), "sluice-bench-flink-"));
  const tiny = join(work, "tiny.txt");
  await writeFile(tiny, "one line of words\n");
  const sluice = join(root, "bin", "sluice.js");
  const env = { ...process.env, SLUICE_STATE_DIR: join(work, "state") };
  const cli = async (args: string[], timeout = 900_000): Promise<string> => (await run(sluice, args, { env, cwd: root, timeout, maxBuffer: 64 << 20 })).stdout;
  const classpath = await javaClasspath(beam, flinkMinor);

  console.log("bench flink: starting a sluice cluster with the Python worker pool (its own ports)");
  await cli(["cluster", "up", "--python", "--detach", ...PORT_ARGS]);
  try {
    const status = JSON.parse(await cli(["cluster", "status", "--json"])) as { pythonExecutable?: string };
    const python = status.pythonExecutable;
    if (python === undefined) throw new Error("the cluster reports no Python interpreter");

    const submit = async (sdk: Sdk, job: string, input: string, output: string): Promise<number> => {
      const started = performance.now();
      if (sdk === "sluice") {
        await cli(["run", join(here, "flink-pipelines.ts"), "--runner=flink", `--pipeline=${job}`, `--input=${input}`, `--output=${output}`]);
      } else if (sdk === "python") {
        await run(
          python,
          [
            join(here, "flink_pipelines.py"),
            `--pipeline=${job}`,
            `--input=${input}`,
            `--output=${output}`,
            "--runner=PortableRunner",
            `--job_endpoint=127.0.0.1:${PORTS.job}`,
            "--environment_type=EXTERNAL",
            `--environment_config=127.0.0.1:${PORTS.python}`,
          ],
          { cwd: work, timeout: 1_800_000, maxBuffer: 64 << 20 },
        );
      } else {
        await run(
          "java",
          ["-cp", classpath, "org.apache.beam.examples.WordCount", "--runner=FlinkRunner", `--flinkMaster=127.0.0.1:${PORTS.rest}`, `--inputFile=${input}`, `--output=${output}`],
          { cwd: work, timeout: 1_800_000, maxBuffer: 64 << 20 },
        );
      }
      return (performance.now() - started) / 1000;
    };

    const sdksOf = (job: string): Sdk[] => (job === "wordcount" ? ["sluice", "python", "java"] : ["sluice", "python"]);
    // The fixed cost of a job per SDK: wordcount over one line.
    const fixed: Partial<Record<Sdk, number>> = {};
    for (const sdk of ["sluice", "python", "java"] as Sdk[]) {
      await submit(sdk, "wordcount", tiny, join(work, `warm-${sdk}`, "out")); // first job of each SDK warms caches
      fixed[sdk] = await submit(sdk, "wordcount", tiny, join(work, `fixed-${sdk}`, "out"));
      console.log(`  fixed cost, ${sdk}: ${fixed[sdk]!.toFixed(1)} s`);
    }

    const jobs: Record<string, Partial<Record<Sdk, Timing>> & { agree: boolean; ratio_python: number; ratio_java?: number }> = {};
    for (const job of JOBS) {
      const outputs: Partial<Record<Sdk, string[]>> = {};
      const times: Partial<Record<Sdk, Timing>> = {};
      for (const sdk of sdksOf(job)) {
        const out = join(work, `${job}-${sdk}`, "out");
        const seconds = await submit(sdk, job, corpus, out);
        times[sdk] = { seconds: Number(seconds.toFixed(1)), net_seconds: Number((seconds - fixed[sdk]!).toFixed(1)) };
        outputs[sdk] = await shardLines(out);
        console.log(`  ${job}, ${sdk}: ${seconds.toFixed(1)} s (${outputs[sdk]!.length} lines)`);
      }
      const reference = outputs.sluice!;
      for (const sdk of sdksOf(job)) {
        const o = outputs[sdk]!;
        if (o.length !== reference.length || o.some((l, i) => l !== reference[i])) {
          const i = o.findIndex((l, k) => l !== reference[k]);
          throw new Error(`bench flink: ${job}: ${sdk}'s output differs from Sluice's (${o.length} vs ${reference.length} lines; first difference: ${JSON.stringify(o[i])} vs ${JSON.stringify(reference[i])})`);
        }
      }
      jobs[job] = {
        ...times,
        agree: true,
        ratio_python: Number((times.python!.seconds / times.sluice!.seconds).toFixed(2)),
        ...(times.java ? { ratio_java: Number((times.java.seconds / times.sluice!.seconds).toFixed(2)) } : {}),
      };
    }
    const coder = Math.round(coderThroughput(2_000_000));
    console.log(`  harness coder: ${(coder / 1e6).toFixed(1)} M elements/s (encode + decode, KV<string, int> in the global window)`);
    const met = {
      python_1_5x: JOBS.every((j) => jobs[j]!.ratio_python >= 1.5),
      java_faster: (jobs.wordcount!.ratio_java ?? 0) > 1,
      coder_5m: coder >= 5_000_000,
    };
    return {
      benchmark: "flink",
      cluster: "sluice cluster: 1 TaskManager, 2 slots; Beam Flink job server; Sluice and Beam Python worker pools",
      corpus_mb: mb,
      fixed_cost_s: Object.fromEntries(Object.entries(fixed).map(([k, v]) => [k, Number(v!.toFixed(1))])),
      jobs,
      coder_elements_per_s: coder,
      targets: { python_ratio_min: 1.5, java_ratio_min: 1, coder_elements_per_s_min: 5_000_000, met },
      node: process.version,
      measured_at: new Date().toISOString(),
    };
  } finally {
    await cli(["cluster", "down"]).catch(() => "");
    await rm(work, { recursive: true, force: true });
  }
}
