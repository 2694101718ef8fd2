/**
 * `npm run bench -- streaming`: bench/streaming-pipeline.ts (Kafka → team scores in windows with
 * early panes → Kafka) on the direct runner and on a `sluice cluster` (Flink, the Sluice worker
 * pool, Kafka) this bench starts on its own ports and stops.
 *
 * - Throughput: SLUICE_BENCH_EVENTS (default 200 000) events already in the topic, read with
 *   --max_records: events/s over the whole run (`sluice run` start to end, so the cluster figure
 *   includes submitting the job: reported apart as the run of a 1-event topic).
 * - Latency: events produced live at SLUICE_BENCH_RATE/s (default 2000) for SLUICE_BENCH_SECONDS
 *   (default 20) while the job streams; each output pane carries the create time of the latest
 *   event in it, and its latency is when the bench reads the pane minus that time (event write →
 *   result read); p50 and p99 over the panes after a warm-up of 5 s.
 */
import { execFile, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { KafkaClient } from "../src/internal/kafka/client.js";
import type { ProducerRecord } from "../src/internal/kafka/wire.js";

const run = promisify(execFile);
const PORTS = { rest: 48081, rpc: 46123, job: 48099, artifacts: 48098, expansion: 48097, pool: 45001, kafka: 49092, controller: 49093 };
const PORT_ARGS = Object.entries({
  "--rest-port": PORTS.rest, "--rpc-port": PORTS.rpc, "--job-port": PORTS.job, "--artifact-port": PORTS.artifacts,
  "--expansion-port": PORTS.expansion, "--pool-port": PORTS.pool, "--kafka-port": PORTS.kafka, "--kafka-controller-port": PORTS.controller,
}).flatMap(([k, v]) => [k, String(v)]);
const BOOTSTRAP = `127.0.0.1:${PORTS.kafka}`;
const TEAMS = 20;

export interface StreamingResult {
  readonly events: number;
  readonly throughput: Record<"direct" | "cluster", { seconds: number; events_per_s: number }>;
  readonly cluster_fixed_cost_s: number;
  readonly latency: Record<"direct" | "cluster", { rate_per_s: number; panes: number; p50_ms: number; p99_ms: number }>;
  readonly node: string;
  readonly measured_at: string;
}

function eventRecords(from: number, n: number, time: (i: number) => number): ProducerRecord[] {
  const out: ProducerRecord[] = [];
  for (let i = from; i < from + n; i++) out.push({ key: null, value: Buffer.from(`user${i % 500},team${i % TEAMS},${1 + (i % 20)}`), timestamp: time(i) });
  return out;
}

async function fill(kafka: KafkaClient, topic: string, n: number): Promise<void> {
  const base = Date.now() - 3_600_000;
  for (let i = 0; i < n; i += 5000) {
    const records = eventRecords(i, Math.min(5000, n - i), (j) => base + j);
    await kafka.produceAll([{ topic, partition: (i / 5000) % 2, records }], { acks: -1, deadlineMs: 30_000 });
  }
}

/** The events the output topic's panes account for: per team and window, the largest pane's count. */
async function countedEvents(kafka: KafkaClient, topic: string): Promise<number> {
  const latest = new Map<string, number>();
  for (const partition of [0, 1]) {
    let offset = 0;
    for (;;) {
      const [r] = await kafka.fetch([{ topic, partition, offset }], { maxWaitMs: 0 });
      if (r === undefined || r.records.length === 0) break;
      for (const rec of r.records) {
        const [team, start, , n] = String(rec.value).split(",");
        const id = `${team},${start}`;
        latest.set(id, Math.max(latest.get(id) ?? 0, Number(n)));
      }
      offset = r.nextOffset;
    }
  }
  let total = 0;
  for (const n of latest.values()) total += n;
  return total;
}

const percentile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};

export async function streamingBench(root: string): Promise<StreamingResult> {
  const sluice = join(root, "bin", "sluice.js");
  const pipeline = join(root, "bench", "streaming-pipeline.ts");
  const work = await mkdtemp(join(tmpdir(), "sluice-bench-streaming-"));
  const env = { ...process.env, SLUICE_STATE_DIR: join(work, "state") };
  const cli = async (args: string[], timeout = 600_000): Promise<string> => (await run(sluice, args, { env, cwd: work, timeout, maxBuffer: 64 << 20 })).stdout;
  const events = Number(process.env.SLUICE_BENCH_EVENTS ?? 200_000);
  const rate = Number(process.env.SLUICE_BENCH_RATE ?? 2000);
  const seconds = Number(process.env.SLUICE_BENCH_SECONDS ?? 20);
  console.log("bench streaming: starting a sluice cluster with Kafka (its own ports)");
  await cli(["cluster", "up", "--kafka", "--detach", ...PORT_ARGS]);
  const kafka = new KafkaClient({ bootstrap: [{ host: "127.0.0.1", port: PORTS.kafka }] });
  try {
    const runners = { direct: [] as string[], cluster: ["--runner=flink"] };
    const topics = ["tp-in", "tp-direct", "tp-cluster", "one-in", "one-out", "lat-direct-in", "lat-direct-out", "lat-cluster-in", "lat-cluster-out"];
    for (const t of topics) await cli(["kafka", "topics", "--create", t, "--partitions", "2"]);
    await fill(kafka, "tp-in", events);
    await fill(kafka, "one-in", 1);

    const timed = async (args: string[]): Promise<number> => {
      const t0 = Date.now();
      await cli(["run", pipeline, "--bootstrap_servers", BOOTSTRAP, ...args]);
      return (Date.now() - t0) / 1000;
    };
    const throughput = {} as StreamingResult["throughput"];
    for (const [name, extra] of Object.entries(runners) as ["direct" | "cluster", string[]][]) {
      const s = await timed(["--in_topic", "tp-in", "--out_topic", `tp-${name}`, "--max_records", String(events), ...extra]);
      throughput[name] = { seconds: s, events_per_s: Math.round(events / s) };
      // Every event is in exactly one team-window; its last (accumulating) pane counts them all.
      const counted = await countedEvents(kafka, `tp-${name}`);
      if (counted !== events) throw new Error(`bench streaming: the ${name} run's panes count ${counted} events, not ${events}`);
      console.log(`bench streaming: ${name}: ${events} events in ${s.toFixed(1)} s (${throughput[name].events_per_s} events/s)`);
    }
    const fixed = await timed(["--in_topic", "one-in", "--out_topic", "one-out", "--max_records", "1", "--runner=flink"]);
    console.log(`bench streaming: cluster: a 1-event run takes ${fixed.toFixed(1)} s (the job's fixed cost)`);

    const latency = {} as StreamingResult["latency"];
    for (const [name, extra] of Object.entries(runners) as ["direct" | "cluster", string[]][]) {
      const inTopic = `lat-${name}-in`;
      const outTopic = `lat-${name}-out`;
      const child = spawn(sluice, ["run", pipeline, "--bootstrap_servers", BOOTSTRAP, "--in_topic", inTopic, "--out_topic", outTopic, ...extra], { env, cwd: work, stdio: "ignore" });
      try {
        // Wait until the job reads: a probe record comes out as a pane.
        const offsets = [0, 0];
        const lat: number[] = [];
        let started = 0;
        const poll = async (keep: boolean): Promise<number> => {
          const rs = await kafka.fetch([0, 1].map((p) => ({ topic: outTopic, partition: p, offset: offsets[p] as number })), { maxWaitMs: 50 });
          const now = Date.now();
          let n = 0;
          for (const r of rs) {
            offsets[r.partition] = r.nextOffset;
            for (const rec of r.records) {
              n++;
              const latest = Number(String(rec.value).split(",")[4]);
              if (keep && latest >= started) lat.push(now - latest);
            }
          }
          return n;
        };
        const t0 = Date.now();
        for (;;) {
          await kafka.produceAll([{ topic: inTopic, partition: 0, records: eventRecords(0, 1, () => Date.now()) }], { acks: 1, deadlineMs: 30_000 });
          if ((await poll(false)) > 0) break;
          if (Date.now() - t0 > 180_000) throw new Error(`bench streaming: the ${name} job produced nothing in 180 s`);
          await new Promise((r) => setTimeout(r, 500));
        }
        // Live: `rate` events/s in 10 ms steps, reading panes as they come.
        const begin = Date.now();
        started = begin + 5000;
        let sent = 0;
        while (Date.now() - begin < seconds * 1000) {
          const due = Math.floor(((Date.now() - begin) / 1000) * rate) - sent;
          if (due > 0) {
            const now = Date.now();
            await kafka.produceAll([{ topic: inTopic, partition: sent % 2, records: eventRecords(sent, due, () => now) }], { acks: 1, deadlineMs: 30_000 });
            sent += due;
          }
          await poll(true);
          await new Promise((r) => setTimeout(r, 10));
        }
        const end = Date.now() + 3000;
        while (Date.now() < end) await poll(true);
        latency[name] = { rate_per_s: rate, panes: lat.length, p50_ms: percentile(lat, 0.5), p99_ms: percentile(lat, 0.99) };
        console.log(`bench streaming: ${name}: ${rate} events/s live, ${lat.length} panes, latency p50 ${latency[name].p50_ms} ms, p99 ${latency[name].p99_ms} ms`);
      } finally {
        child.kill("SIGINT");
        await new Promise((r) => setTimeout(r, 3000));
        if (child.exitCode === null) child.kill("SIGKILL");
      }
    }
    return { events, throughput, cluster_fixed_cost_s: fixed, latency, node: process.version, measured_at: new Date().toISOString() };
  } finally {
    kafka.close();
    await cli(["cluster", "down"]).catch(() => "");
    await rm(work, { recursive: true, force: true });
  }
}
