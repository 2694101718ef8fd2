/**
 * `npm run bench -- startup`: what a job costs before and after its work, phase by phase.
 *
 * - A `sluice cluster` (Flink, the job server, both worker pools; its own ports and state
 *   directory) this bench starts and stops: examples/seed.ts with `--runner=flink` (the first job
 *   after `up`, then SLUICE_BENCH_RUNS warm ones, default 5) and the seed's own Python pipeline
 *   (../shared/seed/, unchanged, on the cluster's interpreter with the seed's flags).
 * - Flink [local]: examples/seed.ts with `--runner=flink` and no cluster, which starts Beam's
 *   job server with an embedded Flink for the run.
 * - The direct runner, for reference.
 *
 * Each run is a `sluice run` (or `python`) process; its phases come from the lines it prints (when
 * they arrive), Flink's REST API (job and subtask state timestamps) and the worker pools' logs.
 * Figures are medians over the runs. With SLUICE_BENCH_BASELINE=1 the results go to the file's
 * `baseline` entry (run from a checkout of the code before a change), otherwise to `current`;
 * the other entry is kept.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const sluice = join(root, "bin", "sluice.js");
const seedTs = join(root, "examples", "seed.ts");

/** Ports of this bench's cluster: apart from the seed's (8081, 8099, 50000…) and other benches' (4xxxx). */
const PORTS = { rest: 51081, rpc: 51123, job: 51099, artifacts: 51098, expansion: 51097, pool: 51001, python: 51000 };
const PORT_ARGS = Object.entries({
  "--rest-port": PORTS.rest, "--rpc-port": PORTS.rpc, "--job-port": PORTS.job, "--artifact-port": PORTS.artifacts,
  "--expansion-port": PORTS.expansion, "--pool-port": PORTS.pool, "--python-port": PORTS.python,
}).flatMap(([k, v]) => [k, String(v)]);
const REST = `http://127.0.0.1:${PORTS.rest}`;

/** A process run: its output lines with the time each arrived (epoch ms), start and end. */
interface Run {
  readonly start: number;
  readonly end: number;
  readonly code: number | null;
  readonly lines: readonly { t: number; text: string; stream: "stdout" | "stderr" }[];
}

function runProcess(command: string, args: readonly string[], env: NodeJS.ProcessEnv, cwd: string, timeoutMs = RUN_TIMEOUT_MS): Promise<Run> {
  return new Promise((resolve, reject) => {
    const lines: { t: number; text: string; stream: "stdout" | "stderr" }[] = [];
    const start = Date.now();
    const child = spawn(command, args, { env, cwd, stdio: ["ignore", "pipe", "pipe"] });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    for (const [name, stream] of [["stdout", child.stdout], ["stderr", child.stderr]] as const) {
      let partial = "";
      stream.setEncoding("utf8").on("data", (chunk: string) => {
        const t = Date.now();
        const parts = (partial + chunk).split("\n");
        partial = parts.pop() ?? "";
        for (const text of parts) lines.push({ t, text, stream: name });
      });
    }
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ start, end: Date.now(), code, lines });
    });
  });
}

const at = (run: Run, re: RegExp): number | undefined => run.lines.find((l) => re.test(l.text))?.t;
const match = (run: Run, re: RegExp): RegExpExecArray | undefined => {
  for (const l of run.lines) {
    const m = re.exec(l.text);
    if (m) return m;
  }
  return undefined;
};
const secs = (ms: number | undefined): number | null => (ms === undefined || !Number.isFinite(ms) ? null : Number((ms / 1000).toFixed(3)));

function failed(what: string, run: Run): Error {
  return new Error(`bench startup: ${what} exited with ${run.code ?? "a kill (it ran past the bench's deadline)"}:\n${run.lines.slice(-30).map((l) => l.text).join("\n")}`);
}

/** How long one run may take before the bench kills it and counts it as failed. */
const RUN_TIMEOUT_MS = Number(process.env["SLUICE_BENCH_RUN_TIMEOUT_S"] ?? 180) * 1000;

/**
 * Runs `n` times; a run that fails (or hangs past RUN_TIMEOUT_MS) is reported and left out of the
 * medians, and counted in `failed`.
 */
async function repeat(what: string, n: number, once: (i: number) => Promise<Phases>): Promise<{ runs: Phases[]; failed: string[] }> {
  const runs: Phases[] = [];
  const failedRuns: string[] = [];
  for (let i = 1; i <= n; i++) {
    try {
      const r = await once(i);
      runs.push(r);
      console.log(`bench startup: ${what}, run ${i}: ${JSON.stringify(r)}`);
    } catch (err) {
      const message = (err as Error).message;
      failedRuns.push(message.split("\n")[0] ?? message);
      console.log(`bench startup: ${what}, run ${i} FAILED: ${message}`);
    }
  }
  return { runs, failed: failedRuns };
}

async function flink<T>(path: string): Promise<T> {
  const res = await fetch(`${REST}${path}`, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`Flink REST ${path}: ${res.status}`);
  return (await res.json()) as T;
}

interface FlinkTimes {
  /** JobGraph received by the JobManager. */
  readonly initializing: number;
  readonly finished: number;
  /** First subtask sent to a TaskManager. */
  readonly firstDeploying: number;
  /** The longest DEPLOYING → INITIALIZING of a subtask: its TaskManager fetching the job's jars and making its class loader. */
  readonly longestDeploy: number;
}

/** The Flink job the run submitted (the one that started after it began), with its state times. */
async function flinkTimes(since: number, name?: string): Promise<FlinkTimes | undefined> {
  const { jobs } = await flink<{ jobs: { jid: string; name: string; "start-time": number }[] }>("/jobs/overview");
  const job = jobs
    .filter((j) => j["start-time"] >= since && (name === undefined ? j.name !== "sluice-cluster-warm-up" : j.name === name))
    .sort((a, b) => a["start-time"] - b["start-time"])[0];
  if (job === undefined) return undefined;
  const detail = await flink<{ timestamps: Record<string, number>; vertices: { id: string }[] }>(`/jobs/${job.jid}`);
  let firstDeploying = Infinity;
  let longestDeploy = 0;
  for (const v of detail.vertices) {
    const st = await flink<{ subtasks: { timestamps: Record<string, number> }[] }>(`/jobs/${job.jid}/vertices/${v.id}/subtasktimes`);
    for (const s of st.subtasks) {
      const d = s.timestamps["DEPLOYING"] ?? 0;
      const i = s.timestamps["INITIALIZING"] ?? 0;
      if (d > 0) firstDeploying = Math.min(firstDeploying, d);
      if (d > 0 && i > 0) longestDeploy = Math.max(longestDeploy, i - d);
    }
  }
  return { initializing: detail.timestamps["INITIALIZING"] ?? NaN, finished: detail.timestamps["FINISHED"] ?? NaN, firstDeploying, longestDeploy };
}

/** Waits (up to 120 s) for the cluster's own warm-up job to finish; its duration in s, if there is one. */
async function warmUpDone(): Promise<number | undefined> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const { jobs } = await flink<{ jobs: { name: string; state: string; duration: number }[] }>("/jobs/overview");
    const job = jobs.find((j) => j.name === "sluice-cluster-warm-up");
    if (job === undefined) return undefined;
    if (job.state === "FINISHED" || job.state === "FAILED" || job.state === "CANCELED" || Date.now() > deadline) return job.duration / 1000;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Bytes appended to a log file since `from`. */
function logSince(file: string, from: number): string {
  if (!existsSync(file)) return "";
  const text = readFileSync(file);
  return text.subarray(Math.min(from, text.length)).toString("utf8");
}
const size = (file: string): number => (existsSync(file) ? statSync(file).size : 0);

type Phases = Record<string, number | null>;

function median(values: readonly (number | null)[]): number | null {
  const xs = values.filter((v): v is number => v !== null).sort((a, b) => a - b);
  if (xs.length === 0) return null;
  const m = Math.floor(xs.length / 2);
  return Number((xs.length % 2 ? xs[m]! : (xs[m - 1]! + xs[m]!) / 2).toFixed(3));
}

function medians(runs: readonly Phases[]): Phases {
  const out: Phases = {};
  for (const key of Object.keys(runs[0] ?? {})) out[key] = median(runs.map((r) => r[key] ?? null));
  return out;
}

/** examples/seed.ts on the cluster, phase by phase. */
async function seedOnCluster(env: NodeJS.ProcessEnv, work: string, poolLog: string, i: number): Promise<Phases> {
  const from = size(poolLog);
  const run = await runProcess(sluice, ["run", seedTs, "--runner=flink", "--output", join(work, `seed-${i}`, "words")], env, work);
  if (run.code !== 0) throw failed("sluice run examples/seed.ts --runner=flink", run);
  const submitted = at(run, /sluice: submitted /);
  const done = at(run, / DONE$/);
  const f = await flinkTimes(run.start);
  const pool = logSince(poolLog, from);
  const ready = [...pool.matchAll(/rebuilt pipeline \S+ \(\d+ steps\) in (\d+) ms/g)].map((m) => Number(m[1]));
  return {
    ...jobPhases(run, submitted, done, f),
    bundle_ms: Number(match(run, /bundled .* \(\d+ KB, (\d+) ms\)/)?.[1] ?? NaN) || null,
    workers_started: (pool.match(/sluice worker-pool: worker \S+ started \(pid/g) ?? []).length,
    worker_ready_ms: median(ready),
  };
}

/** The phases every cluster job has: client, job server, Flink, DONE, exit. */
function jobPhases(run: Parameters<typeof at>[0], submitted: number | undefined, done: number | undefined, f: Awaited<ReturnType<typeof flinkTimes>>): Phases {
  return {
    client_s: secs(submitted! - run.start),
    jobserver_submit_s: secs(f && submitted !== undefined ? f.initializing - submitted : undefined),
    flink_schedule_s: secs(f ? f.firstDeploying - f.initializing : undefined),
    task_deploy_s: secs(f?.longestDeploy),
    flink_run_s: secs(f ? f.finished - f.firstDeploying : undefined),
    done_detect_s: secs(f && done !== undefined ? done - f.finished : undefined),
    exit_s: secs(done !== undefined ? run.end - done : undefined),
    total_s: secs(run.end - run.start),
  };
}

/** The seed's Python pipeline and its PortableRunner flags, read from the seed itself. */
function seedPython(): { code: string; args: string[] } {
  const seedDir = join(root, "..", "shared", "seed");
  const text = readdirSync(seedDir).filter((f) => f.endsWith(".txt") || f.endsWith(".md")).map((f) => readFileSync(join(seedDir, f), "utf8")).join("\n");
  const blocks = [...text.matchAll(/\{% highlight (\w+)[^%]*%\}\n([\s\S]*?)\{% endhighlight %\}/g)].map((m) => ({ lang: m[1], body: m[2] as string }));
  const code = blocks.find((b) => b.lang === "python" && b.body.includes("WriteToText"))?.body;
  const command = blocks.find((b) => b.lang === "shell" && b.body.includes("--runner=PortableRunner"))?.body;
  if (!code || !command) throw new Error(`bench startup: the seed in ${seedDir} has no Python pipeline or PortableRunner command`);
  return { code, args: command.replace(/\\\n/g, " ").trim().split(/\s+/).slice(2) };
}

/** The seed's Python pipeline on the cluster (its flags, pointed at this bench's ports). */
async function pythonOnCluster(python: string, env: NodeJS.ProcessEnv, work: string, poolLog: string, i: number): Promise<Phases> {
  const seed = seedPython();
  const script = join(work, "simple_example.py");
  await writeFile(script, seed.code);
  const args = seed.args.map((a) =>
    a.replace("localhost:8099", `localhost:${PORTS.job}`).replace("localhost:50000", `localhost:${PORTS.python}`).replace(/^\/outputs\/NEW_FILE\.txt$/, join(work, `py-${i}`, "NEW_FILE.txt")),
  );
  const jobName = args.find((a) => a.startsWith("--job_name="))?.split("=")[1];
  const from = size(poolLog);
  const run = await runProcess(python, [script, ...args], env, work);
  if (run.code !== 0) throw failed("the seed's Python pipeline", run);
  const submitted = at(run, /Job state changed to /);
  const done = at(run, /Job state changed to DONE/);
  const f = await flinkTimes(run.start, jobName);
  const pool = logSince(poolLog, from);
  return { ...jobPhases(run, submitted, done, f), workers_started: (pool.match(/worker \S+ started \(pid/g) ?? []).length };
}

/** examples/seed.ts with --runner=flink and no cluster: a job server with Flink [local] for the run. */
async function seedOnFlinkLocal(env: NodeJS.ProcessEnv, work: string, i: number): Promise<Phases> {
  const run = await runProcess(sluice, ["run", seedTs, "--runner=flink", "--output", join(work, `local-${i}`, "words")], env, work);
  if (run.code !== 0) throw failed("sluice run examples/seed.ts --runner=flink (Flink [local])", run);
  const submitted = at(run, /sluice: submitted /);
  const done = at(run, / DONE$/);
  const jsStart = match(run, /started Beam's Flink job server .* in (\d+) ms/);
  return {
    client_s: secs(submitted! - run.start),
    jobserver_start_s: jsStart ? secs(Number(jsStart[1])) : null,
    job_s: secs(done !== undefined && submitted !== undefined ? done - submitted : undefined),
    exit_s: secs(done !== undefined ? run.end - done : undefined),
    total_s: secs(run.end - run.start),
  };
}

async function checkWords(dir: string): Promise<void> {
  const base = dirname(dir);
  const names = existsSync(base) ? readdirSync(base).filter((n) => n.startsWith("words") || n.startsWith("NEW_FILE")) : [];
  const words = (await Promise.all(names.map((n) => readFile(join(base, n), "utf8")))).join("").split("\n").filter(Boolean).sort();
  if (words.join(" ") !== "be be not or to to") throw new Error(`bench startup: ${base} holds ${JSON.stringify(words)}, not the seed's six words`);
}

export async function startupBench(): Promise<Record<string, unknown>> {
  const runs = Number(process.env["SLUICE_BENCH_RUNS"] ?? 5);
  const work = await mkdtemp(join(tmpdir(), "sluice-bench-startup-"));
  const clusterEnv = { ...process.env, SLUICE_STATE_DIR: join(work, "state") };
  // No cluster in this state directory: --runner=flink starts a job server with Flink [local].
  const localEnv = { ...process.env, SLUICE_STATE_DIR: join(work, "no-cluster") };
  const cli = async (args: string[], timeoutMs = RUN_TIMEOUT_MS): Promise<Run> => runProcess(sluice, args, clusterEnv, work, timeoutMs);
  try {
    console.log(`bench startup: ${runs} runs each; starting a sluice cluster with --python on its own ports`);
    // The first `up` on a machine downloads Flink and Beam's Python SDK: minutes.
    const up = await cli(["cluster", "up", "--python", "--detach", ...PORT_ARGS], 1_800_000);
    if (up.code !== 0) throw failed("sluice cluster up", up);
    const status = JSON.parse((await cli(["cluster", "status", "--json"])).lines.filter((l) => l.stream === "stdout").map((l) => l.text).join("\n")) as {
      pythonExecutable: string;
      components: { name: string; log: string }[];
    };
    const logOf = (name: string): string => status.components.find((c) => c.name === name)?.log ?? "";

    // Right after `up`: a cluster that warms itself up (runners/portable/warmup.ts) is doing it now.
    const first = await seedOnCluster(clusterEnv, work, logOf("sluice-pool"), 0);
    console.log(`bench startup: cluster, examples/seed.ts, first job after up: ${JSON.stringify(first)}`);
    const warmUp = await warmUpDone();
    if (warmUp !== undefined) console.log(`bench startup: the cluster's warm-up job took ${warmUp} s`);
    const seed = await repeat("cluster, examples/seed.ts", runs, async (i) => {
      const r = await seedOnCluster(clusterEnv, work, logOf("sluice-pool"), i);
      await checkWords(join(work, `seed-${i}`, "words"));
      return r;
    });
    const py = await repeat("cluster, the seed's Python pipeline", runs, async (i) => {
      const r = await pythonOnCluster(status.pythonExecutable, clusterEnv, work, logOf("python-pool"), i);
      await checkWords(join(work, `py-${i}`, "NEW_FILE.txt"));
      return r;
    });
    await cli(["cluster", "down"]);

    const local = await repeat("Flink [local], examples/seed.ts", runs, async (i) => {
      const r = await seedOnFlinkLocal(localEnv, work, i);
      await checkWords(join(work, `local-${i}`, "words"));
      return r;
    });
    const direct = await repeat("direct runner, examples/seed.ts", runs, async (i) => {
      const run = await runProcess(sluice, ["run", seedTs, "--output", join(work, `direct-${i}`, "words")], localEnv, work);
      if (run.code !== 0) throw failed("sluice run examples/seed.ts (direct)", run);
      return { total_s: secs(run.end - run.start) };
    });
    const summary = (r: { runs: Phases[]; failed: string[] }) => ({
      median: medians(r.runs),
      totals_s: r.runs.map((p) => p["total_s"]),
      ...(r.failed.length > 0 ? { failed: r.failed } : {}),
    });
    return {
      cluster_up_s: secs(up.end - up.start),
      cluster_seed_ts: { first_job_after_up: first, ...(warmUp !== undefined ? { cluster_warm_up_job_s: warmUp } : {}), warm: summary(seed) },
      cluster_seed_python: summary(py),
      flink_local_seed_ts: summary(local),
      direct_seed_ts: summary(direct),
      runs,
      cpus: cpus().length,
      node: process.version,
      measured_at: new Date().toISOString(),
    };
  } finally {
    await cli(["cluster", "down"]).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}

/** Writes the figures into bench/results/startup.json as `current` (or `baseline`), keeping the other entry. */
export async function writeStartupResult(result: Record<string, unknown>): Promise<Record<string, unknown>> {
  const file = join(here, "results", "startup.json");
  const key = process.env["SLUICE_BENCH_BASELINE"] === "1" ? "baseline" : "current";
  let previous: Record<string, unknown> = {};
  try {
    previous = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
  } catch {
    previous = {};
  }
  const out = { benchmark: "startup", ...previous, [key]: result };
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(out, null, 2)}\n`);
  return out;
}
