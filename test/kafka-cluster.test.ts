/**
 * `sluice cluster up --kafka` end to end, through the real CLI: a real Apache Kafka broker (KRaft,
 * from Maven Central, pinned in versions.json) supervised beside the real Flink cluster, job server
 * and Sluice worker pool. It creates a topic with two partitions, produces keyed lines and consumes
 * them back with `sluice kafka`, checks the broker listens on 127.0.0.1 only, SIGKILLs the broker and
 * sees the supervisor restart it (the records survive), and `down` leaves no process and no port.
 *
 * Every port is a non-default one (the seed's ports belong to test/cluster.test.ts), and package.json
 * runs this file after cluster.test.ts, never beside it. First use resolves Kafka's jars with Maven
 * into ~/.m2 and the tool cache, as a user's first `cluster up --kafka` does.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cachedKafkaClasspath } from "../src/cluster/kafka.js";
import { isLoopbackAddress, listenersOf, portHolders } from "../src/cluster/ports.js";
import { pidAlive, until } from "./support.js";

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const sluice = join(root, "bin", "sluice.js");

const PORTS = { rest: 28081, rpc: 26123, job: 28099, artifacts: 28098, expansion: 28097, pool: 25001, kafka: 29092, controller: 29093 };
const PORT_ARGS = [
  "--rest-port", String(PORTS.rest),
  "--rpc-port", String(PORTS.rpc),
  "--job-port", String(PORTS.job),
  "--artifact-port", String(PORTS.artifacts),
  "--expansion-port", String(PORTS.expansion),
  "--pool-port", String(PORTS.pool),
  "--kafka-port", String(PORTS.kafka),
  "--kafka-controller-port", String(PORTS.controller),
];
const ALL_PORTS = Object.values(PORTS);

let work: string;
let env: NodeJS.ProcessEnv;
let stateDir: string;

interface StatusJson {
  status: string;
  phase?: string;
  kafka?: { bootstrapServers: string; version: string; ports: { broker: number; controller: number }; dataDir: string };
  components: { name: string; kind: string; pid: number; alive: boolean; state: string; restarts: number; version: string; log: string; ports: Record<string, number> }[];
}

async function cli(args: string[], options: { timeout?: number; input?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  if (options.input !== undefined) {
    // With stdin: spawn, so the input can be written and closed.
    return new Promise((resolveRun) => {
      const child = spawn(process.execPath, [sluice, ...args], { env, cwd: work, stdio: ["pipe", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
      child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
      const timer = setTimeout(() => child.kill("SIGKILL"), options.timeout ?? 120_000);
      child.on("close", (code) => {
        clearTimeout(timer);
        resolveRun({ code: code ?? -1, stdout, stderr });
      });
      child.stdin.end(options.input);
    });
  }
  try {
    const { stdout, stderr } = await run(process.execPath, [sluice, ...args], { env, cwd: work, timeout: options.timeout ?? 120_000, maxBuffer: 64 << 20 });
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

function kafkaOf(st: StatusJson): StatusJson["components"][number] {
  const k = st.components.find((c) => c.kind === "kafka");
  if (!k) throw new Error(`no kafka component in ${JSON.stringify(st.components.map((c) => c.name))}`);
  return k;
}

async function heldPorts(): Promise<string[]> {
  return [...(await portHolders(ALL_PORTS))].map(([port, h]) => `${port}: ${h.command}`);
}

/** Records as "key\tvalue" lines, sorted. */
function records(stdout: string): string[] {
  return stdout.split("\n").filter((l) => l !== "").sort();
}

const TOPIC = "sluice-test-events";
const LINES = Array.from({ length: 24 }, (_, i) => `k${i % 6}:value ${i}`);
const EXPECTED = LINES.map((l) => l.replace(":", "\t")).sort();

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "sluice-kafka-test-"));
  stateDir = join(work, "state");
  env = { ...process.env, SLUICE_STATE_DIR: stateDir };
  expect(await heldPorts(), "this test's ports must be free").toEqual([]);
});

afterAll(async () => {
  await cli(["cluster", "down"], { timeout: 120_000 });
  await rm(work, { recursive: true, force: true });
}, 180_000);

describe("sluice cluster up --kafka", () => {
  it("refuses a busy Kafka port, naming it, what it is for, who holds it and the flag", async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(PORTS.kafka, "127.0.0.1", r));
    try {
      const r = await cli(["cluster", "up", "--kafka", ...PORT_ARGS]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`port ${PORTS.kafka} (Kafka broker)`);
      expect(r.stderr).toContain(`pid ${process.pid}`);
      expect(r.stderr).toContain("--kafka-port");
    } finally {
      await new Promise((r) => blocker.close(r));
    }
    expect((await status()).status).toBe("down");
  });

  it("without a cluster, `sluice kafka` says there is no broker and what to do", async () => {
    const r = await cli(["kafka", "topics"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no sluice cluster is running");
    expect(r.stderr).toContain("sluice cluster up --kafka");
  });

  it("up --kafka --detach: the broker is a supervised component, ready, on 127.0.0.1 only", async () => {
    const started = Date.now();
    const r = await cli(["cluster", "up", "--kafka", "--detach", ...PORT_ARGS], { timeout: 600_000 });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    console.log(`cluster up --kafka --detach: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(r.stdout).toContain(`Kafka broker        127.0.0.1:${PORTS.kafka}`);
    const versions = JSON.parse(readFileSync(join(root, "versions.json"), "utf8")) as { kafka: string };

    const st = await status();
    expect(st.phase).toBe("ready");
    expect(st.components.map((c) => [c.name, c.state, c.alive])).toEqual([
      ["kafka", "running", true],
      ["jobmanager", "running", true],
      ["taskmanager-1", "running", true],
      ["jobserver", "running", true],
      ["sluice-pool", "running", true],
    ]);
    const kafka = kafkaOf(st);
    expect(kafka.version).toContain(`Apache Kafka ${versions.kafka}`);
    expect(kafka.ports).toEqual({ broker: PORTS.kafka, controller: PORTS.controller });
    expect(st.kafka?.bootstrapServers).toBe(`127.0.0.1:${PORTS.kafka}`);
    expect(existsSync(join(st.kafka?.dataDir ?? "", "meta.properties"))).toBe(true);
    // Its classpath is cached in the tool cache, every jar on it present.
    expect(cachedKafkaClasspath(versions.kafka)).toBeDefined();

    // The broker's own listeners: exactly the two ports, both on loopback.
    const own = await listenersOf(kafka.pid);
    expect(own.map((l) => l.port).sort()).toEqual([PORTS.kafka, PORTS.controller].sort());
    expect(own.filter((l) => !isLoopbackAddress(l.address))).toEqual([]);
    // And every other component's too.
    const all = await listenersOf(st.components.map((c) => c.pid));
    expect(all.filter((l) => !isLoopbackAddress(l.address))).toEqual([]);

    const text = await cli(["cluster", "status"]);
    expect(text.stdout).toMatch(new RegExp(`kafka\\s+running\\s+${kafka.pid}\\s+broker:${PORTS.kafka} controller:${PORTS.controller}`));
    const logs = await cli(["cluster", "logs", "kafka", "--lines", "2000"]);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toContain("Kafka Server started");
  }, 660_000);

  it("creates a topic with 2 partitions, produces keyed lines from stdin and consumes them back", async () => {
    const create = await cli(["kafka", "topics", "--create", TOPIC, "--partitions", "2"]);
    expect(create.code, create.stderr).toBe(0);
    expect(create.stdout).toContain(`Created topic ${TOPIC}`);
    const list = await cli(["kafka", "topics"]);
    expect(list.stdout.split("\n")).toContain(TOPIC);
    expect(list.stdout).not.toContain("__consumer_offsets");
    const describe = await cli(["kafka", "topics", "--describe", TOPIC]);
    expect(describe.stdout).toContain("PartitionCount: 2");

    const produce = await cli(["kafka", "produce", TOPIC, "--key-separator", ":"], { input: `${LINES.join("\n")}\n` });
    expect(produce.code, produce.stderr).toBe(0);

    const consume = await cli(["kafka", "consume", TOPIC, "--from-beginning", "--max-messages", String(LINES.length), "--print-key", "--timeout-ms", "30000"]);
    expect(consume.code, consume.stderr).toBe(0);
    expect(records(consume.stdout)).toEqual(EXPECTED);
    expect(consume.stderr).toContain(`Processed a total of ${LINES.length} messages`);

    // The keys spread over both partitions, each key on one.
    const parts = await Promise.all(
      [0, 1].map(async (p) => records((await cli(["kafka", "consume", TOPIC, "--partition", String(p), "--from-beginning", "--print-key", "--timeout-ms", "5000"])).stdout)),
    );
    expect(parts.map((p) => p.length).every((n) => n > 0)).toBe(true);
    expect([...(parts[0] ?? []), ...(parts[1] ?? [])].sort()).toEqual(EXPECTED);
    const keysOf = (rs: string[]): Set<string> => new Set(rs.map((r) => r.split("\t")[0] ?? ""));
    const k0 = keysOf(parts[0] ?? []);
    expect([...keysOf(parts[1] ?? [])].filter((k) => k0.has(k))).toEqual([]);
  }, 180_000);

  it("a SIGKILLed broker is restarted by the supervisor; its records survive and it takes new ones", async () => {
    const before = kafkaOf(await status());
    const killed = Date.now();
    process.kill(before.pid, "SIGKILL");
    await until("the supervisor to restart the broker", 90_000, async () => {
      const k = kafkaOf(await status());
      return k.pid !== before.pid && k.alive && k.state === "running";
    });
    console.log(`broker restarted and ready ${((Date.now() - killed) / 1000).toFixed(1)} s after SIGKILL`);
    const after = kafkaOf(await status());
    expect(after.restarts).toBe(1);
    expect(pidAlive(before.pid)).toBe(false);
    expect(readFileSync(join(stateDir, "logs", "supervisor.log"), "utf8")).toContain("kafka was killed by SIGKILL; restarting it (restart 1)");

    const more = await cli(["kafka", "produce", TOPIC, "--key-separator", ":"], { input: "k0:after restart\n" });
    expect(more.code, more.stderr).toBe(0);
    const consume = await cli(["kafka", "consume", TOPIC, "--from-beginning", "--max-messages", String(LINES.length + 1), "--print-key", "--timeout-ms", "30000"]);
    expect(consume.code, consume.stderr).toBe(0);
    expect(records(consume.stdout)).toEqual([...EXPECTED, "k0\tafter restart"].sort());
  }, 150_000);

  it("down stops the broker with the rest: no process, no port, no state left", async () => {
    const st = await status();
    const pids = [...st.components.map((c) => c.pid)];
    const r = await cli(["cluster", "down"], { timeout: 180_000 });
    expect(r.code, r.stderr).toBe(0);
    // Kafka started first and stops last.
    const order = /stopped ([\w, -]+);/.exec(r.stdout)?.[1]?.split(", ") ?? [];
    expect(order.at(-1)).toBe("kafka");
    expect(pids.filter(pidAlive)).toEqual([]);
    expect(await heldPorts()).toEqual([]);
    expect((await status()).status).toBe("down");
    const after = await cli(["kafka", "topics"]);
    expect(after.code).toBe(1);
    expect(after.stderr).toContain("no sluice cluster is running");
  }, 200_000);
});
