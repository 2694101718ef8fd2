/**
 * EXTERNAL (and PROCESS) environments end to end, through the real CLI and real runners. A
 * `sluice worker-pool --port 0` child process (its port read from its ready line) starts one worker
 * process per environment; each worker fetches the pipeline file `sluice run` bundled and staged
 * (test/conformance/run-case.ts), rebuilds the case from the shipped flags, and runs its bundles.
 * The whole corpus runs on Beam's Flink job server (embedded Flink) and on Prism; then the failure
 * paths: a DoFn calling process.exit, a worker killed outright, a pipeline file that builds a
 * different graph on the workers, a pipeline not started by `sluice run`, a pool that cannot start
 * a worker, and Ctrl-C. Needs `npm run build` first (bin/sluice.js, dist/harness/worker-main.js).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Create, Map, Pipeline, PipelineOptions } from "sluice";
import { startProcessPool } from "../../src/harness/pool.js";
import { createClient } from "../../src/model/grpc.js";
import { FnApi } from "../../src/model/protos.js";
import { startFlinkJobServer } from "../../src/runners/portable/flink.js";
import { PortableRunner } from "../../src/runners/portable/runner.js";
import { withParentDeath } from "../../src/internal/process.js";
import { startPrism } from "../../src/runners/portable/prism.js";
import type { LocalService } from "../../src/runners/portable/services.js";
import { type ConformanceCase, corpus } from "./corpus.js";
import { caseOn, prepareCase, readCaseOutput } from "./harness.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BIN = join(ROOT, "bin", "sluice.js");
const RUN_CASE = join(ROOT, "test", "conformance", "run-case.ts");
const WORKER_MAIN = join(ROOT, "dist", "harness", "worker-main.js");

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** `node bin/sluice.js ...args`, with extra environment variables. */
function sluice(args: readonly string[], env: Record<string, string> = {}, timeoutMs = 180_000): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, SLUICE_DEBUG: "", NODE_OPTIONS: "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** A `sluice worker-pool --port 0` child process. */
class PoolProcess {
  output = "";
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    private readonly child: ChildProcess,
    readonly address: string,
    output: string,
  ) {
    this.output = output;
    child.stdout?.on("data", (d: string) => (this.output += d));
    child.stderr?.on("data", (d: string) => (this.output += d));
    this.exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  }

  static start(env: Record<string, string>): Promise<PoolProcess> {
    // Tied to this test process: a suite that dies (or fails in its setup) leaves no pool running.
    const [command, args] = withParentDeath(process.execPath, [BIN, "worker-pool", "--port", "0"]);
    const child = spawn(command, args, {
      cwd: ROOT,
      env: { ...process.env, SLUICE_DEBUG: "", NODE_OPTIONS: "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    return new Promise((resolve, reject) => {
      let output = "";
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`sluice worker-pool printed no ready line within 30 s:\n${output}`));
      }, 30_000);
      const onData = (d: string): void => {
        output += d;
        const m = /sluice worker-pool: listening on (\S+)\n/.exec(output);
        if (m) {
          clearTimeout(timer);
          child.stdout?.off("data", onData);
          child.stderr?.off("data", onData);
          resolve(new PoolProcess(child, m[1]!, output));
        }
      };
      child.stdout?.setEncoding("utf8").on("data", onData);
      child.stderr?.setEncoding("utf8").on("data", onData);
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`sluice worker-pool exited (${code}) before it was ready:\n${output}`));
      });
    });
  }

  /** Waits until the pool's output matches `pattern` (worker exits are logged asynchronously). */
  async waitFor(pattern: RegExp, timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const m = pattern.exec(this.output);
      if (m) return m[0];
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`the worker pool's output never matched ${pattern}:\n${this.output.slice(-4000)}`);
  }

  /** Ctrl-C, as a user would. */
  async interrupt(timeoutMs = 20_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.child.kill("SIGINT");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    const result = await this.exited;
    clearTimeout(timer);
    return result;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
}

let pool: PoolProcess;
let flink: LocalService;
let prism: LocalService;
let scratch: string;

/** Small pipeline files for the failure tests, outside the repository (as users write them). */
const FILES: Readonly<Record<string, string>> = {
  "exit.ts": `import { Create, Map, Pipeline, PipelineOptions, WriteToText } from "sluice";
const options = PipelineOptions.fromLaunch();
const p = Pipeline.create(options);
p.apply("Numbers", Create.of([1, 2, 3]))
  .apply("Crash on 2", Map((n: number) => { if (n === 2) process.exit(3); return n; }))
  .apply("Write", WriteToText(options.string("output")));
await p.run();
`,
  "kill.ts": `import { Create, Map, Pipeline, PipelineOptions, WriteToText } from "sluice";
const options = PipelineOptions.fromLaunch();
const p = Pipeline.create(options);
p.apply("Numbers", Create.of([1, 2, 3]))
  .apply("Die on 2", Map((n: number) => { if (n === 2) process.kill(process.pid, "SIGKILL"); return n; }))
  .apply("Write", WriteToText(options.string("output")));
await p.run();
`,
  // The first label comes from an environment variable that differs between client and workers.
  "unstable.ts": `import { Create, Map, Pipeline, PipelineOptions, WriteToText } from "sluice";
const options = PipelineOptions.fromLaunch();
const p = Pipeline.create(options);
p.apply(\`Numbers from \${process.env.SLUICE_TEST_LABEL ?? "nowhere"}\`, Create.of([1, 2, 3]))
  .apply("Double", Map((n: number) => n * 2))
  .apply("Write", WriteToText(options.string("output")));
await p.run();
`,
};

beforeAll(async () => {
  for (const f of [BIN, WORKER_MAIN]) {
    if (!existsSync(f)) throw new Error(`${f} is missing: run \`npm run build\` first (npm test does)`);
  }
  scratch = await mkdtemp(join(tmpdir(), "sluice-external-"));
  for (const [name, text] of Object.entries(FILES)) await writeFile(join(scratch, name), text);
  // The workers inherit the pool's environment: a label the client does not have.
  // Each service is kept as soon as it is up, so that afterAll stops it even when another fails.
  const failures = (
    await Promise.allSettled([
      PoolProcess.start({ SLUICE_TEST_LABEL: "worker" }).then((p) => (pool = p)),
      startFlinkJobServer({ log: (m) => console.log(m) }).then((f) => (flink = f)),
      startPrism().then((p) => (prism = p)),
    ])
  ).flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
  if (failures.length > 0) throw failures[0];
}, 600_000);

afterAll(async () => {
  if (pool?.running) await pool.interrupt();
  await Promise.all([flink?.stop(), prism?.stop()]);
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const external = (): string[] => ["--environment_type=EXTERNAL", `--environment_config=${pool.address}`];
const onFlink = (): string[] => ["--runner=flink", `--job_endpoint=${flink.endpoint}`];
const onPrism = (): string[] => ["--runner=prism", `--job_endpoint=${prism.endpoint}`];

/** Runs `c` through `sluice run run-case.ts` and checks its output, shards and counters (`counters`, default the case's). */
async function runCaseCli(c: ConformanceCase, args: readonly string[], counters: Readonly<Record<string, number>> = c.counters ?? {}): Promise<Run> {
  const dirs = await prepareCase(c);
  try {
    const r = await sluice(["run", RUN_CASE, ...args, `--case=${c.name}`, `--output=${dirs.output}`, `--input_dir=${dirs.inputDir}`]);
    expect(r.code, `sluice run exited ${r.code}:\n${r.stderr}`).toBe(0);
    expect(r.stderr).toMatch(/bundled .*run-case\.ts for the workers/);
    const { lines, files } = await readCaseOutput(dirs.output);
    expect(lines).toEqual([...c.expected].sort());
    if (c.shards !== undefined) expect(files).toHaveLength(c.shards);
    const reported = /sluice-case-result (.*)\n/.exec(r.stdout);
    expect(reported, r.stdout).not.toBeNull();
    const result = JSON.parse(reported![1]!) as { state: string; counters: Record<string, number> };
    expect(result.state).toBe("DONE");
    for (const [name, value] of Object.entries(counters)) expect(result.counters[name], `counter ${name}`).toBe(value);
    return r;
  } finally {
    await rm(dirs.dir, { recursive: true, force: true });
  }
}

/** Runs `c` through `sluice run run-case.ts` and checks that it fails with `refuses` (a case excluded on the runner). */
async function refusedCaseCli(c: ConformanceCase, refuses: RegExp, args: readonly string[]): Promise<void> {
  const dirs = await prepareCase(c);
  try {
    const r = await sluice(["run", RUN_CASE, ...args, `--case=${c.name}`, `--output=${dirs.output}`, `--input_dir=${dirs.inputDir}`]);
    expect(r.code, `sluice run exited ${r.code}:\n${r.stderr}`).toBe(1);
    expect(r.stderr).toMatch(refuses);
  } finally {
    await rm(dirs.dir, { recursive: true, force: true });
  }
}

/** Every corpus case on `runner` through the CLI: run, refused (checked) or skipped, as the case's exclusions say. */
function cliCorpus(runner: "flink" | "prism", args: () => string[]): void {
  for (const c of corpus) {
    const how = caseOn(c, runner);
    if (how.mode === "skipped") {
      it.skip(how.title, () => undefined);
    } else if (how.mode === "refused") {
      it(how.title, async () => {
        await refusedCaseCli(c, how.exclusion.refuses, args());
      }, 120_000);
    } else {
      it(how.title, async () => {
        await runCaseCli(c, args(), how.counters);
      }, 120_000);
    }
  }
}

const byName = (name: string): ConformanceCase => {
  const c = corpus.find((x) => x.name === name);
  if (c === undefined) throw new Error(`no case ${name}`);
  return c;
};

describe("conformance on Flink [local], workers from a sluice worker-pool (EXTERNAL, shipped code)", () => {
  cliCorpus("flink", () => [...onFlink(), ...external()]);
});

describe("conformance on Prism, workers from a sluice worker-pool (EXTERNAL, shipped code)", () => {
  cliCorpus("prism", () => [...onPrism(), ...external()]);
});

describe("PROCESS environments: the runner starts the worker program itself", () => {
  it("side-inputs on Flink", async () => {
    await runCaseCli(byName("side-inputs"), [...onFlink(), "--environment_type=PROCESS"]);
  }, 120_000);
  it("side-inputs on Prism", async () => {
    await runCaseCli(byName("side-inputs"), [...onPrism(), "--environment_type=PROCESS"]);
  }, 120_000);
});

describe("failures", () => {
  const failing = async (file: string, args: readonly string[], env: Record<string, string> = {}): Promise<Run> => {
    const r = await sluice(["run", join(scratch, file), ...args, ...external(), `--output=${join(scratch, "out", file)}`], env, 120_000);
    expect(r.code, r.stderr).toBe(1);
    return r;
  };

  for (const [runner, args] of [["Flink", onFlink], ["Prism", onPrism]] as const) {
    it(`a DoFn calling process.exit fails its job naming the transform, the worker exits with its code, and the pool serves the next job [${runner}]`, async () => {
      const r = await failing("exit.ts", args());
      expect(r.stderr).toMatch(/Transform 'Crash on 2' failed in process on element 2: process\.exit\(3\) was called on a Sluice worker/);
      expect(r.stderr).toMatch(/ended FAILED/);
      await pool.waitFor(/worker \S+ \(pid \d+\) exited with code 3/);
      await runCaseCli(byName("seed-split"), [...args(), ...external()]);
    }, 180_000);

    it(`a pipeline file that builds a different graph on the workers is refused, naming both fingerprints [${runner}]`, async () => {
      const r = await failing("unstable.ts", args(), { SLUICE_TEST_LABEL: "client" });
      expect(r.stderr).toMatch(
        /refusing to run: the pipeline this worker rebuilt from the shipped pipeline file has fingerprint [0-9a-f]{32}, but the submitted pipeline's fingerprint is [0-9a-f]{32}/,
      );
      expect(r.stderr).toMatch(/must build the same graph every time it runs/);
    }, 180_000);
  }

  // Flink only: Prism 2.73 logs "SDK worker disconnected" for the bundle but leaves the job RUNNING.
  it("a worker killed outright fails its job on Flink; the pool logs the kill and serves the next job", async () => {
    const r = await failing("kill.ts", onFlink());
    expect(r.stderr).toMatch(/ended FAILED/);
    expect(r.stderr).toContain(`the output of the worker pool at ${pool.address}`);
    await pool.waitFor(/worker \S+ \(pid \d+\) was killed by SIGKILL; its last stderr lines:/);
    await runCaseCli(byName("group-by-key"), [...onFlink(), ...external()]);
  }, 180_000);

  it("EXTERNAL needs a pipeline started by `sluice run` (there is a file to ship)", async () => {
    const p = Pipeline.create(PipelineOptions.fromArgs(["--environment_type=EXTERNAL", `--environment_config=${pool.address}`]));
    p.apply("Create", Create.of([1])).apply("Id", Map((x: number) => x));
    const err = await new PortableRunner(flink.endpoint, { log: () => undefined }).run(p).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/was not started by `sluice run <file>`/);
    expect((err as { hint?: string }).hint).toMatch(/--environment_type=LOOPBACK/);
  });

  it("StartWorker answers with an error (not an empty one) when it cannot start a worker", async () => {
    const client = createClient(FnApi.BeamFnExternalWorkerPool, pool.address);
    try {
      const noProvision = await client.startWorker({ workerId: "w-none", controlEndpoint: { url: "127.0.0.1:9" } });
      expect(noProvision.error).toMatch(/gave no provision endpoint/);
    } finally {
      client.close();
    }
    const broken = await startProcessPool({ workerMain: join(scratch, "missing-worker-main.js"), log: () => undefined });
    const c2 = createClient(FnApi.BeamFnExternalWorkerPool, broken.address.address);
    try {
      const r = await c2.startWorker({ workerId: "w1", provisionEndpoint: { url: "127.0.0.1:9" } });
      expect(r.error).toMatch(/missing-worker-main\.js is missing/);
    } finally {
      c2.close();
      await broken.close();
    }
  });
});

describe("sluice worker-pool lifecycle", () => {
  it("Ctrl-C stops the pool and its workers, exit code 0", async () => {
    const result = await pool.interrupt();
    expect(result.code, pool.output.slice(-2000)).toBe(0);
    expect(pool.output).toMatch(/sluice worker-pool: SIGINT: stopping/);
    expect(pool.output).toMatch(/sluice worker-pool: stopped\n/);
  }, 30_000);
});
