/**
 * WriteToText outputs are all-or-nothing: staging, locks, atomic commit of a shard set, crash
 * recovery, directory prefixes, impossible locations, IO errors. Crashes are real processes
 * (`node bin/sluice.js run`, needs `npm run build`) killed in every way a run can die.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Create, DirectRunner, Pipeline, PipelineOptions, SluiceError, WriteToText } from "sluice";
import { processStartTime } from "../src/internal/process.js";
import { OutputLock, recoverStale, ShardStaging } from "../src/sdk/io/shards.js";
import { ShardWriter, TextSink } from "../src/sdk/io/text.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const BIN = join(ROOT, "bin", "sluice.js");

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "sluice-textio-write-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ls = (d = dir): string[] => readdirSync(d).sort();

/** A pid that is certainly not running: a child that has exited. */
function deadPid(): { pid: number; start: string } {
  const r = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid)+' '+require('fs').readFileSync('/proc/self/stat','utf8').split(') ')[1].split(' ')[19])"]);
  const [pid, start] = r.stdout.toString().split(" ");
  return { pid: Number(pid), start: start! };
}

async function write(prefix: string, values: unknown[], numShards = 1): Promise<void> {
  const p = Pipeline.create(PipelineOptions.create());
  p.apply("Create", Create.of(values)).apply("Write", WriteToText(prefix, { numShards }));
  await new DirectRunner().run(p);
}

describe("shard set commit", () => {
  it("a rename failing half-way publishes none of the set and restores what it would replace", async () => {
    const prefix = join(dir, "out");
    await write(prefix, ["old0", "old1"], 2);
    const before = ls().map((f) => readFileSync(join(dir, f), "utf8"));
    const sink = new TextSink(prefix, { numShards: 2 });
    const staging = sink.prepare("W");
    const temps = [0, 1, 2].map((i) => {
      writeFileSync(staging.path(`shard-${i}`), `new${i}\n`);
      return staging.path(`shard-${i}`);
    });
    // Shards 0 and 1 replace the old files; shard 2's final name is in a missing directory, so its rename fails.
    const pairs = [
      { temp: temps[0]!, final: join(dir, "out-00000-of-00002") },
      { temp: temps[1]!, final: join(dir, "out-00001-of-00002") },
      { temp: temps[2]!, final: join(dir, "missing", "out-2") },
    ];
    let err: unknown;
    try {
      staging.commitSet(pairs);
    } catch (e) {
      err = e;
    }
    staging.abortSync();
    expect(SluiceError.is(err, "IO_ERROR")).toBe(true);
    expect((err as Error).message).toContain(join(dir, "missing", "out-2"));
    expect((err as Error).message).toContain("ENOENT");
    expect(ls()).toEqual(["out-00000-of-00002", "out-00001-of-00002"]); // no staging, no lock
    expect(ls().map((f) => readFileSync(join(dir, f), "utf8"))).toEqual(before);
  });

  it("a commit killed half-way (SIGKILL) is rolled forward by the next run: the whole set", async () => {
    const prefix = join(dir, "out");
    const script = `
      const { TextSink } = await import(${JSON.stringify(join(ROOT, "dist/sdk/io/text.js"))});
      const { writeFileSync } = await import("node:fs");
      const sink = new TextSink(${JSON.stringify(prefix)}, { numShards: 3 });
      const staging = sink.prepare("W");
      const temps = [0, 1, 2].map((i) => { writeFileSync(staging.path("shard-" + i), "v" + i + "\\n"); return staging.path("shard-" + i); });
      staging.commitSet(temps.map((temp, i) => ({ temp, final: sink.shardName(i, 3) })), (i) => { if (i === 0) process.kill(process.pid, "SIGKILL"); });
    `;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script]);
    expect(r.signal).toBe("SIGKILL");
    expect(ls().filter((f) => f.startsWith("out-"))).toEqual(["out-00000-of-00003"]); // killed after one rename
    expect(ls().some((f) => f.startsWith(".sluice-lock-out"))).toBe(true);
    // The next run to the prefix's directory takes the dead run's lock and rolls its commit forward.
    const other = ShardStaging.create(join(dir, "another"), "Next");
    other.finish();
    expect(ls()).toEqual(["out-00000-of-00003", "out-00001-of-00003", "out-00002-of-00003"]);
    expect([0, 1, 2].map((i) => readFileSync(join(dir, `out-0000${i}-of-00003`), "utf8"))).toEqual(["v0\n", "v1\n", "v2\n"]);
  });

  it("staging of a dead process without a journal is removed; a live one's is left alone", () => {
    const dead = deadPid();
    const deadDir = join(dir, `.sluice-temp-out.${dead.pid}-${dead.start}-abcdef`);
    const liveDir = join(dir, `.sluice-temp-out.${process.pid}-${processStartTime(process.pid)}-abcdef`);
    mkdirSync(deadDir);
    writeFileSync(join(deadDir, "shard-0"), "half\n");
    mkdirSync(liveDir);
    expect(recoverStale(dir)).toEqual([deadDir]);
    expect(ls()).toEqual([liveDir.slice(dir.length + 1)]);
  });
});

describe("prefix lock", () => {
  it("a second live run to the prefix fails naming the prefix and the holder pid", async () => {
    const prefix = join(dir, "out");
    const holder = spawn(process.execPath, ["--input-type=module", "-e", `
      const { TextSink } = await import(${JSON.stringify(join(ROOT, "dist/sdk/io/text.js"))});
      new TextSink(${JSON.stringify(prefix)}, {}).prepare("W");
      console.log("locked");
      setInterval(() => {}, 1000);
    `]);
    try {
      await new Promise<void>((res) => holder.stdout.on("data", () => res()));
      const err = await write(prefix, ["a"]).catch((e: unknown) => e);
      expect(SluiceError.is(err, "FAILED_PRECONDITION")).toBe(true);
      expect((err as Error).message).toContain(`'${prefix}'`);
      expect((err as Error).message).toContain(`process ${holder.pid}`);
      expect((err as SluiceError).hint).toContain(String(holder.pid));
      expect(ls().filter((f) => f.startsWith("out-"))).toEqual([]);
    } finally {
      holder.kill("SIGKILL");
      await new Promise((res) => holder.once("exit", res));
    }
    // Its lock is stale now: the next run takes it over.
    await write(prefix, ["a"]);
    expect(ls()).toEqual(["out-00000-of-00001"]);
  });

  it("a lock of a reused pid (same pid, other start time) is stale", () => {
    const prefix = join(dir, "out");
    writeFileSync(OutputLock.pathFor(prefix), JSON.stringify({ pid: process.pid, start: "1", prefix }));
    const lock = OutputLock.acquire(prefix, "W");
    expect(JSON.parse(readFileSync(lock.path, "utf8")).start).toBe(String(processStartTime(process.pid)));
    lock.release();
    expect(ls()).toEqual([]);
  });
});

describe("where outputs go", () => {
  it("a prefix ending in a separator, or naming an existing directory, writes inside it (Beam's dir/-SSSSS-of-NNNNN)", async () => {
    await write(`${join(dir, "new")}/`, ["a"]);
    expect(ls(join(dir, "new"))).toEqual(["-00000-of-00001"]);
    mkdirSync(join(dir, "existing"));
    await write(join(dir, "existing"), ["b"]);
    expect(ls(join(dir, "existing"))).toEqual(["-00000-of-00001"]);
    expect(ls()).toEqual(["existing", "new"]);
  });

  it("an impossible location fails at once with IO_ERROR naming it", async () => {
    for (const prefix of ["/proc/x/y", join(dir, "file", "sub", "out")]) {
      writeFileSync(join(dir, "file"), "");
      const started = Date.now();
      const err = await write(prefix, ["a"]).catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(SluiceError.is(err, "IO_ERROR")).toBe(true);
      expect((err as Error).message).toMatch(prefix.startsWith("/proc") ? /\/proc\/x/ : /is a file, not a directory/);
    }
  });

  it("a disk-full write is an IO_ERROR naming the file and ENOSPC with a disk-full hint", async () => {
    const w = new ShardWriter("/dev/full", undefined);
    for (let i = 0; i < 10_000; i++) await w.write("x".repeat(100));
    const err = await w.close().catch((e: unknown) => e);
    expect(SluiceError.is(err, "IO_ERROR")).toBe(true);
    expect((err as Error).message).toContain("/dev/full failed: ENOSPC");
    expect((err as SluiceError).hint).toMatch(/full/);
  });
});

/** Runs `node bin/sluice.js run <file> ...` and resolves with its exit. */
function sluice(args: string[], onStdout?: (s: string, kill: (sig: NodeJS.Signals) => void) => void) {
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((res) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, env: { ...process.env, NODE_OPTIONS: "" } });
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.on("exit", () => clearTimeout(timer));
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-20_000)));
    child.stdout.on("data", (d: Buffer) => onStdout?.(d.toString(), (sig) => child.kill(sig)));
    child.on("exit", (code, signal) => res({ code, signal, stderr }));
  });
}

describe("a run that dies leaves nothing a later run or read picks up", () => {
  // The pipeline writes 200 lines; element 100 triggers the death; "ready" is printed first.
  const pipeline = (death: string): string => `
    import { Create, Map, Pipeline, PipelineOptions, WriteToText } from "sluice";
    const options = PipelineOptions.fromLaunch();
    const p = Pipeline.create(options);
    p.apply("Create", Create.of(Array.from({ length: 200 }, (_, i) => i)))
      .apply("Maybe die", Map(async (i: number) => {
        if (i === 100) { ${death} }
        return "line " + i;
      }))
      .apply("Write", WriteToText(options.string("output")));
    await p.run();
  `;
  const deaths: Record<string, string> = {
    "process.exit in a DoFn": "process.exit(3);",
    "an uncaught async error": "setTimeout(() => { throw new Error('boom'); }, 0); await new Promise((r) => setTimeout(r, 5000));",
    SIGINT: "console.log('ready'); await new Promise((r) => setTimeout(r, 30000));",
    SIGTERM: "console.log('ready'); await new Promise((r) => setTimeout(r, 30000));",
    SIGKILL: "console.log('ready'); await new Promise((r) => setTimeout(r, 30000));",
  };

  it.each(Object.keys(deaths))("%s", async (how) => {
    const file = join(dir, "die.ts");
    writeFileSync(file, pipeline(deaths[how]!));
    mkdirSync(join(dir, "out"));
    writeFileSync(join(dir, "out", "keep.txt"), "keep\n");
    const r = await sluice(["run", file, "--output", "out/words"], (s, kill) => {
      if (s.includes("ready") && how.startsWith("SIG")) kill(how as NodeJS.Signals);
    });
    expect(r.code === 0 && r.signal === null).toBe(false);
    const left = ls(join(dir, "out"));
    expect(left.filter((f) => f.startsWith("words-"))).toEqual([]);
    // Only Sluice's own (hidden, never read) staging and lock may be left, and only by a SIGKILL:
    // wherever the process still runs JS (the exit hook, the CLI's signal handler) they are removed
    // on the way out; what a SIGKILL leaves, the next run removes.
    expect(left.filter((f) => !f.startsWith(".sluice-"))).toEqual(["keep.txt"]);
    if (how !== "SIGKILL") expect(left).toEqual(["keep.txt"]);
    // Whatever is left, a read of out/* sees only the real file, and the next run cleans up and succeeds.
    const reader = join(dir, "read.ts");
    writeFileSync(reader, `
      import { Map, Pipeline, PipelineOptions, ReadFromText } from "sluice";
      const p = Pipeline.create(PipelineOptions.fromLaunch());
      p.apply("Read", ReadFromText("out/*")).apply("Print", Map((l: string) => void console.log("READ " + l)));
      await p.run();
    `);
    const writer = join(dir, "ok.ts");
    writeFileSync(writer, pipeline("/* no death */"));
    const ok = await sluice(["run", writer, "--output", "out/words"]);
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    expect(ls(join(dir, "out"))).toEqual(["keep.txt", "words-00000-of-00001"]);
    expect(readFileSync(join(dir, "out", "words-00000-of-00001"), "utf8").split("\n").filter(Boolean)).toHaveLength(200);
    let stdout = "";
    await new Promise<void>((res) => {
      const c = spawn(process.execPath, [BIN, "run", reader], { cwd: dir });
      c.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      c.on("exit", () => res());
    });
    expect(stdout.split("\n").filter((l) => l.startsWith("READ ")).length).toBe(201);
    expect(existsSync(join(dir, "out", ".sluice-lock-words"))).toBe(false);
  }, 60_000);
});
