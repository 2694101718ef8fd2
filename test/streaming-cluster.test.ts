/**
 * Streaming on `sluice cluster` with Kafka, and its faults, end to end through the real CLI: a real
 * Flink session cluster (two TaskManagers), Beam's Flink job server, the Sluice worker pool and a
 * Kafka broker. test/fixtures/kafka-window-counts.ts reads a topic (create-time timestamps),
 * counts per key in 2 s windows and writes each window's counts to its own files, checkpointing
 * every 500 ms; records are produced live while it runs. After each fault every window's counts are
 * compared with the counts of the records produced: no record lost, none counted twice.
 *
 * (a) SIGKILL the TaskManager running the job: Flink restores the last checkpoint (state and the
 *     Kafka offsets kept in it) on the other TaskManager.
 * (b) `sluice jobs stop --savepoint`, records produced while it is stopped, `sluice run
 *     --savepoint_path`: the resumed job goes on from the savepoint (windows written before the stop
 *     are not written again).
 * (c) SIGKILL one SDK worker of the Sluice pool: the job recovers (or would fail loudly) within 30 s.
 * And the streaming Mobile Gaming examples (leader_board, game_stats, stateful_team_score) read the
 * injector's topic on the cluster with the final results they have in-process.
 *
 * Ports are this file's own (package.json runs it after the other cluster tests, never beside them).
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KafkaClient } from "../src/internal/kafka/client.js";
import { partitionForKey, type ProducerRecord } from "../src/internal/kafka/wire.js";
import { portHolders } from "../src/cluster/ports.js";
import { until } from "./support.js";

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const sluice = join(root, "bin", "sluice.js");
const PIPELINE = join(root, "test", "fixtures", "kafka-window-counts.ts");

const PORTS = { rest: 38081, rpc: 36123, job: 38099, artifacts: 38098, expansion: 38097, pool: 35001, kafka: 39092, controller: 39093 };
const PORT_ARGS = [
  "--rest-port", String(PORTS.rest), "--rpc-port", String(PORTS.rpc), "--job-port", String(PORTS.job),
  "--artifact-port", String(PORTS.artifacts), "--expansion-port", String(PORTS.expansion), "--pool-port", String(PORTS.pool),
  "--kafka-port", String(PORTS.kafka), "--kafka-controller-port", String(PORTS.controller),
];
const BOOTSTRAP = `127.0.0.1:${PORTS.kafka}`;
const REST = `http://127.0.0.1:${PORTS.rest}`;
const WINDOW_MS = 2000;
const KEYS = 5;

let work: string;
let env: NodeJS.ProcessEnv;
let kafka: KafkaClient;
const jobs: ChildProcess[] = [];

async function cli(args: string[], timeout = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [sluice, ...args], { env, cwd: work, timeout, maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

async function rest<T>(path: string): Promise<T> {
  const res = await fetch(`${REST}${path}`);
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

interface Component {
  name: string;
  pid: number;
  state: string;
}
async function components(): Promise<Component[]> {
  return (JSON.parse((await cli(["cluster", "status", "--json"])).stdout) as { components: Component[] }).components;
}

/** What was produced: one [key, create time] per record. */
type Produced = [string, number][];

/** Produces `n` records live (create time = now), about one per `everyMs`, keys k0…k4. */
async function produce(topic: string, n: number, everyMs: number, into: Produced): Promise<void> {
  for (let i = 0; i < n; i += 10) {
    const batches = new Map<number, ProducerRecord[]>();
    for (let j = i; j < Math.min(i + 10, n); j++) {
      const key = `k${(into.length + j) % KEYS}`;
      const timestamp = Date.now();
      const p = partitionForKey(Buffer.from(key), 2);
      batches.set(p, [...(batches.get(p) ?? []), { key: Buffer.from(key), value: Buffer.from(String(j)), timestamp }]);
      into.push([key, timestamp]);
    }
    await kafka.produceAll([...batches].map(([partition, records]) => ({ topic, partition, records })), { acks: -1, deadlineMs: 30_000 });
    await new Promise((r) => setTimeout(r, everyMs * 10));
  }
}

/** "window start,key" → count, of the produced records. */
function expectedCounts(produced: Produced): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, t] of produced) {
    const id = `${Math.floor(t / WINDOW_MS) * WINDOW_MS},${k}`;
    out.set(id, (out.get(id) ?? 0) + 1);
  }
  return out;
}

/** The window files under `dir`: window start → its `key,count` lines (throws on a window written as two sets). */
function windowFiles(dir: string): Map<number, string[]> {
  const out = new Map<number, string[]>();
  if (!existsSync(dir)) return out;
  for (const f of readdirSync(dir)) {
    const m = /^counts(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)-.*-pane-0-last-00000-of-00001$/.exec(f);
    if (!m) continue;
    const start = Date.parse(m[1] as string);
    if (out.has(start)) throw new Error(`window ${m[1]} written twice in ${dir}`);
    out.set(start, readFileSync(join(dir, f), "utf8").split("\n").filter((l) => l !== ""));
  }
  return out;
}

function countsOf(files: Map<number, string[]>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [start, lines] of files) {
    for (const l of lines) {
      const [k, n] = l.split(",");
      out.set(`${start},${k}`, Number(n));
    }
  }
  return out;
}

const sorted = (m: Map<string, number>): [string, number][] => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/** Starts the pipeline on the cluster (in the background, as `sluice run` blocks while it streams); resolves to its Flink job id. */
async function startJob(topic: string, output: string, extra: string[] = []): Promise<string> {
  const before = new Set((await rest<{ jobs: { id: string }[] }>("/jobs")).jobs.map((j) => j.id));
  const child = spawn(
    process.execPath,
    [sluice, "run", PIPELINE, "--runner=flink", "--topic", topic, "--bootstrap_servers", BOOTSTRAP, "--output", join(output, "counts"), "--window_ms", String(WINDOW_MS), "--checkpointing_interval=500", ...extra],
    { env, cwd: work, stdio: ["ignore", "pipe", "pipe"] },
  );
  let log = "";
  child.stdout?.on("data", (b: Buffer) => (log += b.toString()));
  child.stderr?.on("data", (b: Buffer) => (log += b.toString()));
  jobs.push(child);
  let jid: string | undefined;
  await until(`the job on ${topic} to run on Flink (sluice run says: ${log.slice(-600)})`, 120_000, async () => {
    if (child.exitCode !== null) throw new Error(`sluice run exited ${child.exitCode}: ${log}`);
    const list = await rest<{ jobs: { id: string; status: string }[] }>("/jobs");
    jid = list.jobs.find((j) => !before.has(j.id) && j.status === "RUNNING")?.id;
    return jid !== undefined && (await completedCheckpoints(jid)) > 0;
  });
  return jid as string;
}

async function completedCheckpoints(jid: string): Promise<number> {
  return (await rest<{ counts: { completed: number } }>(`/jobs/${jid}/checkpoints`)).counts.completed;
}

/** Waits until the job restored a checkpoint, runs, and completed a checkpoint after `before` of them. */
async function recovered(jid: string, before: number, timeoutMs: number): Promise<void> {
  await until(`job ${jid} to restore a checkpoint and run again`, timeoutMs, async () => {
    const cp = await rest<{ counts: { restored: number; completed: number } }>(`/jobs/${jid}/checkpoints`);
    return cp.counts.restored >= 1 && (await rest<{ state: string }>(`/jobs/${jid}`)).state === "RUNNING" && cp.counts.completed > before;
  });
}

/** Waits until every window of `produced` that has ended (with a margin) has its files. */
async function windowsWritten(dir: string, produced: Produced, skip: ReadonlySet<number> = new Set()): Promise<void> {
  const wanted = new Set(produced.map(([, t]) => Math.floor(t / WINDOW_MS) * WINDOW_MS).filter((w) => !skip.has(w)));
  await until(`the ${wanted.size} windows' files in ${dir}`, 90_000, () => {
    const have = windowFiles(dir);
    return [...wanted].every((w) => have.has(w));
  });
}

async function cancel(jid: string): Promise<void> {
  const r = await cli(["jobs", "cancel", jid, "--job_endpoint", `127.0.0.1:${PORTS.job}`, "--flink_rest", `127.0.0.1:${PORTS.rest}`]);
  expect(r.code, r.stderr).toBe(0);
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "sluice-streaming-test-"));
  env = { ...process.env, SLUICE_STATE_DIR: join(work, "state") };
  expect([...(await portHolders(Object.values(PORTS)))], "this test's ports must be free").toEqual([]);
  const up = await cli(["cluster", "up", "--kafka", "--detach", "--taskmanagers", "2", "--slots", "1", ...PORT_ARGS], 600_000);
  expect(up.code, up.stderr + up.stdout).toBe(0);
  kafka = new KafkaClient({ bootstrap: [{ host: "127.0.0.1", port: PORTS.kafka }] });
  for (const t of ["fault-tm", "fault-savepoint", "fault-worker", "game"]) {
    const r = await cli(["kafka", "topics", "--create", t, "--partitions", "2"]);
    expect(r.code, r.stderr).toBe(0);
  }
}, 660_000);

afterAll(async () => {
  for (const j of jobs) if (j.exitCode === null) j.kill("SIGKILL");
  kafka?.close();
  await cli(["cluster", "down"], 180_000);
  await rm(work, { recursive: true, force: true });
}, 240_000);

describe("streaming from Kafka on sluice cluster, with faults", () => {
  it("(a) a SIGKILLed TaskManager: the job restores its last checkpoint elsewhere; every window exact", async () => {
    const out = join(work, "out-tm");
    const jid = await startJob("fault-tm", out);
    const produced: Produced = [];
    await produce("fault-tm", 400, 10, produced);

    // The TaskManager running the reader's stage (its resource id is the component's name).
    const job = await rest<{ vertices: { id: string; name: string }[] }>(`/jobs/${jid}`);
    const reader = job.vertices.find((v) => v.name.includes("ReadEvents")) ?? job.vertices[0]!;
    const { taskmanagers } = await rest<{ taskmanagers: { "taskmanager-id": string }[] }>(`/jobs/${jid}/vertices/${reader.id}/taskmanagers`);
    const victim = (await components()).find((c) => c.name === taskmanagers[0]?.["taskmanager-id"]);
    expect(victim, `the TaskManager of ${JSON.stringify(taskmanagers)}`).toBeDefined();
    const checkpointsBefore = await completedCheckpoints(jid);
    const killed = Date.now();
    process.kill(victim!.pid, "SIGKILL");
    const during = produce("fault-tm", 400, 10, produced);
    await recovered(jid, checkpointsBefore, 60_000);
    console.log(`TaskManager SIGKILL: job restored and checkpointing again ${((Date.now() - killed) / 1000).toFixed(1)} s later`);
    await during;
    await windowsWritten(out, produced);
    expect(sorted(countsOf(windowFiles(out)))).toEqual(sorted(expectedCounts(produced)));
    await cancel(jid);
  }, 300_000);

  it("(b) stop with a savepoint, records arrive meanwhile, resume from it: it goes on where it stopped; every window exact", async () => {
    const out = join(work, "out-sp");
    const jid = await startJob("fault-savepoint", out);
    const produced: Produced = [];
    await produce("fault-savepoint", 300, 10, produced);
    await until("a first window", 30_000, () => windowFiles(out).size > 0);

    const stopped = await cli(["jobs", "stop", jid, "--savepoint", join(work, "savepoints"), "--job_endpoint", `127.0.0.1:${PORTS.job}`, "--flink_rest", `127.0.0.1:${PORTS.rest}`]);
    expect(stopped.code, stopped.stderr).toBe(0);
    const savepoint = /savepoint: (\S+)/.exec(stopped.stdout)?.[1];
    expect(savepoint, stopped.stdout).toBeDefined();
    expect((await rest<{ state: string }>(`/jobs/${jid}`)).state).toBe("FINISHED");
    // What the first run wrote; moved away, so anything written again after the resume shows.
    const first = windowFiles(out);
    const saved = join(work, "out-sp-first");
    mkdirSync(saved);
    for (const f of readdirSync(out)) if (!f.startsWith(".")) cpSync(join(out, f), join(saved, f));
    rmSync(out, { recursive: true, force: true });

    await produce("fault-savepoint", 300, 10, produced);
    const resumed = await startJob("fault-savepoint", out, [`--savepoint_path=${savepoint}`]);
    const restored = await rest<{ latest: { restored?: { is_savepoint: boolean; external_path: string } } }>(`/jobs/${resumed}/checkpoints`);
    expect(restored.latest.restored?.is_savepoint).toBe(true);
    expect(restored.latest.restored?.external_path).toBe(savepoint);
    await produce("fault-savepoint", 300, 10, produced);
    await windowsWritten(out, produced, new Set(first.keys()));

    const second = windowFiles(out);
    expect([...second.keys()].filter((w) => first.has(w)), "windows written again after the resume").toEqual([]);
    const all = new Map([...countsOf(first), ...countsOf(second)]);
    expect(sorted(all)).toEqual(sorted(expectedCounts(produced)));
    await cancel(resumed);
  }, 300_000);

  it("(c) a SIGKILLed SDK worker: the job recovers within 30 s; every window exact", async () => {
    const out = join(work, "out-worker");
    const jid = await startJob("fault-worker", out);
    const produced: Produced = [];
    await produce("fault-worker", 300, 10, produced);
    const pool = (await components()).find((c) => c.name === "sluice-pool");
    const { stdout } = await run("pgrep", ["-P", String(pool!.pid)]);
    const workers = stdout.split("\n").filter((l) => l !== "").map(Number);
    expect(workers.length, "the pool's workers").toBeGreaterThan(0);
    const checkpointsBefore = await completedCheckpoints(jid);
    const killed = Date.now();
    for (const w of workers) process.kill(w, "SIGKILL");
    const during = produce("fault-worker", 300, 10, produced);
    await recovered(jid, checkpointsBefore, 30_000);
    console.log(`SDK worker SIGKILL: job restored and checkpointing again ${((Date.now() - killed) / 1000).toFixed(1)} s later`);
    await during;
    await windowsWritten(out, produced);
    expect(sorted(countsOf(windowFiles(out)))).toEqual(sorted(expectedCounts(produced)));
    await cancel(jid);
  }, 300_000);

  it("the game examples read the injector's Kafka topic on the cluster with the final results they have in-process", async () => {
    const example = (name: string): string => join(root, "examples", "game", name);
    const inject = await cli(["run", example("injector.ts"), "--topic", "game", "--bootstrap_servers", BOOTSTRAP, "--events", "3000"], 180_000);
    expect(inject.code, inject.stderr).toBe(0);
    const read = ["--topic", "game", "--bootstrap_servers", BOOTSTRAP, "--max_events", "3000"];
    const local = await cli(["run", example("leader_board.ts"), ...read, "--output", join(work, "lb-direct", "lb")], 180_000);
    expect(local.code, local.stderr).toBe(0);
    const cluster = await cli(["run", example("leader_board.ts"), ...read, "--runner=flink", "--output", join(work, "lb-flink", "lb")], 240_000);
    if (cluster.code !== 0) {
      const overview = await rest<{ jobs: { jid: string; state: string }[] }>("/jobs/overview").catch(() => ({ jobs: [] }));
      const details = await Promise.all(overview.jobs.map((j) => rest<unknown>(`/jobs/${j.jid}`).catch((e: unknown) => String(e))));
      expect.fail(`${cluster.stderr}\nFlink: ${JSON.stringify(details).slice(0, 4000)}`);
    }
    expect(cluster.stderr).toContain("using the running sluice cluster");

    /** Accumulating panes of positive scores only grow: each team-window's and user's final pane is its largest total. */
    const finals = (dir: string, what: "team" | "user"): [string, number][] => {
      const out = new Map<string, number>();
      for (const f of readdirSync(dir).filter((n) => n.startsWith(`lb_${what}`))) {
        for (const line of readFileSync(join(dir, f), "utf8").split("\n").filter((l) => l !== "")) {
          const m = /^(?:team|user): (\S+), total_score: (\d+)(?:, window_start: ([^,]+))?/.exec(line);
          expect(m, line).not.toBeNull();
          const id = `${m![1]}@${m![3] ?? ""}`;
          out.set(id, Math.max(out.get(id) ?? 0, Number(m![2])));
        }
      }
      return [...out].sort(([a], [b]) => (a < b ? -1 : 1));
    };
    for (const what of ["team", "user"] as const) {
      const direct = finals(join(work, "lb-direct"), what);
      expect(direct.length, `${what} panes in-process`).toBeGreaterThan(10);
      expect(finals(join(work, "lb-flink"), what), `${what} final panes (files: ${readdirSync(join(work, "lb-flink")).join(" ")}; ${cluster.stdout}${cluster.stderr})`).toEqual(direct);
    }

    // game_stats and stateful_team_score from the same topic, in-process and on the cluster.
    const both = async (name: string, extra: string[] = []): Promise<[string[], string[]]> => {
      const out: string[][] = [];
      for (const runner of [[], ["--runner=flink"]]) {
        const dir = join(work, `${name}-${runner.length}`);
        const r = await cli(["run", example(`${name}.ts`), ...read, ...extra, ...runner, "--output", join(dir, "out")], 300_000);
        expect(r.code, r.stderr).toBe(0);
        out.push(readdirSync(dir).filter((f) => !f.startsWith(".")).flatMap((f) => readFileSync(join(dir, f), "utf8").split("\n").filter((l) => l !== "")).sort());
      }
      return [out[0] ?? [], out[1] ?? []];
    };
    const [statsDirect, statsFlink] = await both("game_stats");
    expect(statsDirect.length).toBeGreaterThan(10);
    expect(statsFlink).toEqual(statsDirect);
    // Which total a team has when it passes a threshold depends on the order its events arrive in
    // (Kafka's partitions interleave differently per run); how many thresholds it passes does not.
    const passes = (lines: string[]): Record<string, number> => {
      const n: Record<string, number> = {};
      for (const l of lines) {
        const team = /^team: (\S+),/.exec(l)?.[1] ?? l;
        n[team] = (n[team] ?? 0) + 1;
      }
      return n;
    };
    const [leadersDirect, leadersFlink] = await both("stateful_team_score", ["--threshold_score", "500"]);
    expect(leadersDirect.length).toBeGreaterThan(10);
    expect(passes(leadersFlink)).toEqual(passes(leadersDirect));
  }, 900_000);
});
