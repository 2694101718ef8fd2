/**
 * `sluice cluster` end to end, through the real CLI: a real Flink 1.19 session cluster (PyPI's
 * apache-flink), Beam's Flink job server, the Sluice worker pool and Beam's Python SDK worker pool.
 * First use downloads Flink and the Python SDK into the per-user cache (as a user's first
 * `cluster up` does); the cluster's state goes to a temporary state directory.
 *
 * It runs the seed's own Python pipeline with the seed's own flags, examples/seed.ts and
 * examples/wordcount.ts (outputs compared with the direct runner), scales, kills a TaskManager
 * mid-job, and brings everything down with no process and no port left. Runs alone (see
 * package.json): it binds the seed's fixed ports.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isLoopbackAddress, listenersOf, portHolders } from "../src/cluster/ports.js";
import { outputLines, pidAlive, until } from "./support.js";

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const sluice = join(root, "bin", "sluice.js");
const SEED_PORTS = [8081, 6123, 8099, 8098, 8097, 50000, 50001];

let work: string;
let env: NodeJS.ProcessEnv;
let stateDir: string;

interface StatusJson {
  status: string;
  phase?: string;
  pythonExecutable?: string;
  components: { name: string; kind: string; pid: number; alive: boolean; state: string; restarts: number; version: string; log: string; ports: Record<string, number> }[];
}

async function cli(args: string[], options: { timeout?: number; cwd?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [sluice, ...args], { env, cwd: options.cwd ?? work, timeout: options.timeout ?? 300_000, maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

async function status(): Promise<StatusJson> {
  const { stdout } = await cli(["cluster", "status", "--json"]);
  return JSON.parse(stdout) as StatusJson;
}

async function flink<T>(path: string): Promise<T> {
  const res = await fetch(`http://127.0.0.1:8081${path}`);
  return (await res.json()) as T;
}

async function heldPorts(): Promise<string[]> {
  return [...(await portHolders(SEED_PORTS))].map(([port, h]) => `${port}: ${h.command}`);
}

/** The seed's Python pipeline and its PortableRunner command line, read from the seed itself. */
function seedPipeline(): { code: string; args: string[] } {
  const seedDir = join(root, "..", "shared", "seed");
  const text = readdirSync(seedDir)
    .filter((f) => f.endsWith(".txt") || f.endsWith(".md"))
    .map((f) => readFileSync(join(seedDir, f), "utf8"))
    .join("\n");
  const blocks = [...text.matchAll(/\{% highlight (\w+)[^%]*%\}\n([\s\S]*?)\{% endhighlight %\}/g)].map((m) => ({ lang: m[1], body: m[2] as string }));
  const code = blocks.find((b) => b.lang === "python" && b.body.includes("WriteToText"))?.body;
  const command = blocks.find((b) => b.lang === "shell" && b.body.includes("--runner=PortableRunner"))?.body;
  if (!code || !command) throw new Error(`the seed in ${seedDir} has no Python pipeline or PortableRunner command`);
  const words = command.replace(/\\\n/g, " ").trim().split(/\s+/);
  // `python <script> <flags…>`: keep the flags as the seed writes them.
  return { code, args: words.slice(2) };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "sluice-cluster-test-"));
  // A long state directory: its control socket path would pass the Unix socket limit (108 bytes).
  stateDir = join(work, `state-${"long-".repeat(20)}dir`);
  env = { ...process.env, SLUICE_STATE_DIR: stateDir };
  expect(await heldPorts(), "the seed's ports must be free for this test").toEqual([]);
});

afterAll(async () => {
  // Whatever happened above, leave nothing running.
  await cli(["cluster", "down"], { timeout: 120_000 });
  await rm(work, { recursive: true, force: true });
}, 180_000);

describe("sluice cluster", () => {
  it("refuses a busy port, naming it, what it is for and who holds it", async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const r = await cli(["cluster", "up", "--rest-port", String(port)]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`port ${port}`);
      expect(r.stderr).toContain("Flink REST");
      expect(r.stderr).toContain(`pid ${process.pid}`);
      expect(r.stderr).toContain("--rest-port");
    } finally {
      blocker.close();
    }
  });

  it("killing the CLI during up leaves nothing running", async () => {
    const child: ChildProcess = spawn(process.execPath, [sluice, "cluster", "up"], { env, cwd: work, stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    child.stderr?.on("data", (b: Buffer) => (err += b.toString()));
    // Kill it once Flink is up and more is starting (first use: after the downloads).
    await until("the JobManager to be ready", 900_000, () => err.includes("starting taskmanager-1") || child.exitCode !== null);
    expect(child.exitCode, err).toBeNull();
    const state = JSON.parse(readFileSync(join(stateDir, "cluster.json"), "utf8")) as { components: { pid: number }[] };
    const pids = state.components.map((c) => c.pid);
    expect(pids.length).toBeGreaterThan(0);
    child.kill("SIGKILL");
    await until("every component to die with the CLI", 30_000, () => pids.every((pid) => !pidAlive(pid)));
    await until("the ports to be released", 30_000, async () => (await heldPorts()).length === 0);
    // The state file is stale now; down cleans it up.
    const st = await status();
    expect(st.status).toBe("stale");
    const down = await cli(["cluster", "down"]);
    expect(down.code, down.stderr).toBe(0);
    expect((await status()).status).toBe("down");
  }, 960_000);

  it("killing `up --detach` before the cluster is ready makes its background supervisor stop everything", async () => {
    const child: ChildProcess = spawn(process.execPath, [sluice, "cluster", "up", "--detach"], { env, cwd: work, stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    child.stderr?.on("data", (b: Buffer) => (err += b.toString()));
    await until("the JobManager to be ready", 300_000, () => err.includes("starting taskmanager-1") || child.exitCode !== null);
    expect(child.exitCode, err).toBeNull();
    const state = JSON.parse(readFileSync(join(stateDir, "cluster.json"), "utf8")) as { supervisor: { pid: number }; components: { pid: number }[] };
    child.kill("SIGKILL");
    const pids = [state.supervisor.pid, ...state.components.map((c) => c.pid)];
    await until("the supervisor and every component to stop", 60_000, () => pids.every((pid) => !pidAlive(pid)));
    await until("the ports to be released", 30_000, async () => (await heldPorts()).length === 0);
    expect((await status()).status).toBe("down");
    expect(readFileSync(join(stateDir, "logs", "supervisor.log"), "utf8")).toContain("interrupted; stopping what it started");
  }, 400_000);

  it("up --python --detach: every component ready, every listener on 127.0.0.1", async () => {
    const started = Date.now();
    const r = await cli(["cluster", "up", "--python", "--detach"], { timeout: 900_000 });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain("ready in");
    console.log(`cluster up --python --detach: ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const st = await status();
    expect(st.status).toBe("running");
    expect(st.phase).toBe("ready");
    expect(st.components.map((c) => [c.name, c.state, c.alive])).toEqual([
      ["jobmanager", "running", true],
      ["taskmanager-1", "running", true],
      ["jobserver", "running", true],
      ["sluice-pool", "running", true],
      ["python-pool", "running", true],
    ]);
    expect(st.pythonExecutable && existsSync(st.pythonExecutable)).toBeTruthy();
    const versions = JSON.parse(readFileSync(join(root, "versions.json"), "utf8")) as { flink: string; pythonSdk: string };
    const { stdout: beamVersion } = await run(st.pythonExecutable as string, ["-c", "import apache_beam; print(apache_beam.__version__)"]);
    expect(beamVersion.trim()).toBe(versions.pythonSdk);

    const overview = await flink<{ taskmanagers: number; "slots-total": number; "flink-version": string }>("/overview");
    expect(overview.taskmanagers).toBe(1);
    expect(overview["slots-total"]).toBe(2);
    expect(overview["flink-version"]).toBe(versions.flink);
    const config = await flink<{ features: { "web-submit": boolean } }>("/config");
    expect(config.features["web-submit"]).toBe(false);

    // Every listener of every component (and their children) binds loopback.
    const listeners = await listenersOf(st.components.map((c) => c.pid));
    expect(listeners.length).toBeGreaterThanOrEqual(7);
    expect(listeners.filter((l) => !isLoopbackAddress(l.address))).toEqual([]);
  }, 960_000);

  it("runs the seed's own Python pipeline with its own flags on the managed interpreter; the job shows in Flink", async () => {
    const st = await status();
    const seed = seedPipeline();
    const dir = join(work, "python-seed");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "simple_example.py"), seed.code);
    const out = join(dir, "outputs", "NEW_FILE.txt");
    const args = [...seed.args];
    args[args.indexOf("--output") + 1] = out;
    expect(args).toContain("--environment_config=localhost:50000");
    expect(args).toContain("--job_endpoint=localhost:8099");
    // On a timeout, SIGABRT makes Python's faulthandler print every thread's stack into the failure.
    await run(st.pythonExecutable as string, [join(dir, "simple_example.py"), ...args], { cwd: dir, timeout: 300_000, killSignal: "SIGABRT", env: { ...process.env, PYTHONFAULTHANDLER: "1" } });
    expect(await outputLines(out)).toEqual(["be", "be", "not", "or", "to", "to"]);
    const jobs = await flink<{ jobs: { name: string; state: string }[] }>("/jobs/overview");
    const name = args.find((a) => a.startsWith("--job_name="))?.split("=")[1] ?? "";
    expect(jobs.jobs.filter((j) => j.name === name).map((j) => j.state)).toEqual(["FINISHED"]);
  }, 360_000);

  it("runs examples/seed.ts with PortableRunner flags and the EXTERNAL worker pool, as the direct runner does", async () => {
    const direct = await cli(["run", join(root, "examples", "seed.ts"), "--output", join(work, "seed-direct", "out")]);
    expect(direct.code, direct.stderr).toBe(0);
    const r = await cli([
      "run",
      join(root, "examples", "seed.ts"),
      "--runner=PortableRunner",
      "--job_endpoint=localhost:8099",
      "--environment_type=EXTERNAL",
      "--environment_config=localhost:50001",
      "--output",
      join(work, "seed-flink", "out"),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("DONE");
    const expected = await outputLines(join(work, "seed-direct", "out"));
    expect(expected).toEqual(["be", "be", "not", "or", "to", "to"]);
    expect(await outputLines(join(work, "seed-flink", "out"))).toEqual(expected);
  }, 360_000);

  it("--runner=flink alone finds the running cluster: examples/wordcount.ts matches the direct runner", async () => {
    const input = join(work, "wc-in");
    await mkdir(input, { recursive: true });
    const words = ["alpha", "beta", "gamma", "δέλτα", "it's", "beta"];
    for (let f = 0; f < 3; f++) {
      const lines = Array.from({ length: 400 }, (_, i) => `${words[(i + f) % words.length]} ${words[(i * 7) % words.length]}, ${i % 13}`);
      await writeFile(join(input, `in-${f}.txt`), `${lines.join("\n")}\n`);
    }
    const direct = await cli(["run", join(root, "examples", "wordcount.ts"), "--input", join(input, "*.txt"), "--output", join(work, "wc-direct", "counts")]);
    expect(direct.code, direct.stderr).toBe(0);
    const r = await cli(["run", join(root, "examples", "wordcount.ts"), "--runner=flink", "--input", join(input, "*.txt"), "--output", join(work, "wc-flink", "counts")]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("using the running sluice cluster");
    const expected = await outputLines(join(work, "wc-direct", "counts"));
    expect(expected.length).toBeGreaterThan(5);
    expect(await outputLines(join(work, "wc-flink", "counts"))).toEqual(expected);
  }, 360_000);

  it("sluice jobs lists Beam job ids next to Flink JobIDs and shows per-vertex progress", async () => {
    const r = await cli(["jobs", "list", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const listing = JSON.parse(r.stdout) as { jobs: { beamJobId: string | null; flinkJobId: string | null; name: string; beamState: string; flinkState: string }[] };
    const seed = listing.jobs.find((j) => j.name === "SimpleExample");
    expect(seed?.beamJobId).toMatch(/^SimpleExample_/);
    expect(seed?.flinkJobId).toMatch(/^[0-9a-f]{32}$/);
    expect([seed?.beamState, seed?.flinkState]).toEqual(["DONE", "FINISHED"]);
    expect(listing.jobs.filter((j) => j.beamJobId && j.flinkJobId).length).toBeGreaterThanOrEqual(3);
    const show = await cli(["jobs", "show", seed?.flinkJobId as string]);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain(seed?.beamJobId as string);
    expect(show.stdout).toMatch(/VERTEX\s+STATUS/);
    expect(show.stdout).toContain("FINISHED");
  });

  it("scale 2 adds a TaskManager, scale 1 removes it", async () => {
    const up = await cli(["cluster", "scale", "2"], { timeout: 180_000 });
    expect(up.code, up.stderr).toBe(0);
    expect((await flink<{ taskmanagers: number }>("/overview")).taskmanagers).toBe(2);
    expect((await status()).components.filter((c) => c.kind === "taskmanager" && c.alive)).toHaveLength(2);
    const down = await cli(["cluster", "scale", "1"], { timeout: 180_000 });
    expect(down.code, down.stderr).toBe(0);
    await until("Flink to show 1 TaskManager", 60_000, async () => (await flink<{ taskmanagers: number }>("/overview")).taskmanagers === 1);
  }, 400_000);

  it("a TaskManager killed mid-job is restarted and the job finishes with exactly the expected output", async () => {
    const out = join(work, "fault", "out");
    const job = cli(["run", join(root, "test", "fixtures", "slow-numbers.ts"), "--runner=flink", "--count", "600", "--delay_ms", "20", "--output", out], { timeout: 400_000 });
    let jobId = "";
    await until("the job to run on Flink", 120_000, async () => {
      const jobs = await flink<{ jobs: { jid: string; state: string }[] }>("/jobs/overview");
      jobId = jobs.jobs.find((j) => j.state === "RUNNING")?.jid ?? "";
      return jobId !== "";
    });
    await new Promise((r) => setTimeout(r, 4000));
    const before = (await status()).components.find((c) => c.kind === "taskmanager" && c.alive);
    expect(before).toBeDefined();
    process.kill(before?.pid as number, "SIGKILL");

    const r = await job;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("DONE");
    const lines = await outputLines(out);
    expect(lines).toEqual(Array.from({ length: 600 }, (_, i) => `n${i}`).sort());
    expect(readdirSync(join(work, "fault"))).toEqual(["out-00000-of-00001"]);
    // The supervisor restarted the TaskManager, and Flink retried the job on it.
    const after = (await status()).components.find((c) => c.name === before?.name);
    expect(after?.restarts).toBe(1);
    expect(after?.alive).toBe(true);
    const exceptions = await flink<{ exceptionHistory: { entries: unknown[] } }>(`/jobs/${jobId}/exceptions`);
    expect(exceptions.exceptionHistory.entries.length).toBeGreaterThan(0);
  }, 420_000);

  it("down stops everything in reverse order: no process, no port, no state left", async () => {
    const pids = (await status()).components.map((c) => c.pid);
    const r = await cli(["cluster", "down"], { timeout: 180_000 });
    expect(r.code, r.stderr).toBe(0);
    // Reverse order of start: pools, then the job server, the TaskManagers, the JobManager.
    const order = /stopped ([\w, -]+);/.exec(r.stdout)?.[1]?.split(", ") ?? [];
    expect(order.slice(2)).toEqual(["jobserver", "taskmanager-1", "jobmanager"]);
    expect(order.slice(0, 2).sort()).toEqual(["python-pool", "sluice-pool"]);
    expect(pids.filter(pidAlive)).toEqual([]);
    expect(await heldPorts()).toEqual([]);
    expect((await status()).status).toBe("down");
    expect(existsSync(join(stateDir, "cluster.json"))).toBe(false);
  }, 200_000);
});
