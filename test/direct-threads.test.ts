/**
 * The direct runner on several threads (--direct_num_workers, src/runners/direct/parallel.ts), as
 * a user runs it: `sluice run` and plain `node --import tsx` in child processes (needs dist). The
 * same pipeline on one worker and on three gives the same output and the same user metrics; a
 * failure on a thread fails the run naming the transform and element; a file whose threads
 * cannot rebuild the pipeline still runs, on fewer threads, and says so.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const sluice = join(root, "bin", "sluice.js");
const fixture = join(root, "test", "fixtures", "threads-pipeline.ts");
let dir: string;
let input: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sluice-threads-"));
  input = join(dir, "input.txt");
  // About 10 MB: several of ReadFromText's ranges, so threads get some.
  let seed = 11;
  const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  const vocab = Array.from({ length: 5000 }, (_, i) => `w${i.toString(36)}${"é".repeat(i % 3)}`);
  const lines: string[] = [];
  for (let i = 0; i < 200_000; i++) lines.push(Array.from({ length: 1 + rand(12) }, () => vocab[Math.floor(vocab.length * (rand(1000) / 1000) ** 3)]!).join(" "));
  for (let i = 0; i < lines.length; i += 40_000) lines[i + 123] = "boom";
  await writeFile(input, lines.join("\n") + "\n");
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs node with `argv`; SLUICE_DEBUG_THREADS=only makes threads do all of a region's work. */
function run(argv: string[], debug = "only", env: Record<string, string> = {}): Promise<Outcome> {
  return new Promise((res) => {
    execFile(process.execPath, argv, { cwd: root, timeout: 120_000, maxBuffer: 1 << 24, env: { ...process.env, SLUICE_DEBUG_THREADS: debug, ...env } }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number }) | null;
      res({ code: e ? (typeof e.code === "number" ? e.code : null) : 0, stdout, stderr });
    });
  });
}

const sluiceRun = (mode: string, out: string, workers: number, debug = "only"): Promise<Outcome> =>
  run([sluice, "run", fixture, `--mode=${mode}`, `--input=${input}`, `--output=${out}`, `--direct_num_workers=${workers}`], debug);

async function lines(prefix: string): Promise<string[]> {
  const d = dirname(prefix);
  const base = prefix.slice(d.length + 1);
  const out: string[] = [];
  for (const f of (await readdir(d)).filter((n) => n.startsWith(`${base}-`) && /-\d{5}-of-\d{5}$/.test(n))) {
    for (const l of (await readFile(join(d, f), "utf8")).split("\n")) if (l !== "") out.push(l);
  }
  return out.sort();
}

/** How many of a region's elements ran on threads, from the SLUICE_DEBUG_THREADS line. */
function onThreads(stderr: string): number {
  const m = /(\d+) on threads/.exec(stderr);
  return m === null ? 0 : Number(m[1]);
}

describe("the direct runner on several threads", () => {
  it.each(["count", "upper", "group"])("gives the same output on three workers as on one (%s)", async (mode) => {
    const [one, three] = await Promise.all([sluiceRun(mode, join(dir, `${mode}-1`, "out"), 1), sluiceRun(mode, join(dir, `${mode}-3`, "out"), 3)]);
    expect(one.code, one.stderr).toBe(0);
    expect(three.code, three.stderr).toBe(0);
    expect(onThreads(one.stderr)).toBe(0);
    expect(onThreads(three.stderr), three.stderr).toBeGreaterThan(0);
    const [a, b] = await Promise.all([lines(join(dir, `${mode}-1`, "out")), lines(join(dir, `${mode}-3`, "out"))]);
    expect(a.length).toBeGreaterThan(100);
    expect(b).toEqual(a);
    // User metrics from the threads reach the result.
    expect(JSON.parse(three.stdout.trim().split("\n").pop()!)).toEqual(JSON.parse(one.stdout.trim().split("\n").pop()!));
  }, 120_000);

  it("lets each thread write a shard of its own when the runner chooses the shard count, and keeps a fixed count", async () => {
    const shardsOf = async (prefix: string): Promise<string[]> => (await readdir(dirname(prefix))).filter((n) => n.startsWith(`${basename(prefix)}-`)).sort();
    const [one, three, fixed] = await Promise.all([
      sluiceRun("upper", join(dir, "shards-1", "out"), 1),
      sluiceRun("upper", join(dir, "shards-3", "out"), 3),
      sluiceRun("fixed", join(dir, "shards-fixed", "out"), 3),
    ]);
    for (const r of [one, three, fixed]) expect(r.code, r.stderr).toBe(0);
    expect(await shardsOf(join(dir, "shards-1", "out"))).toEqual(["out-00000-of-00001"]);
    // Threads did all the work (SLUICE_DEBUG_THREADS=only): a shard per thread that got some, none empty.
    const names = await shardsOf(join(dir, "shards-3", "out"));
    const written = three.stderr.match(/a thread wrote a shard of 'Write'/g)?.length ?? 0;
    expect(written, three.stderr).toBeGreaterThanOrEqual(1);
    expect(names.length).toBe(written);
    expect(names).toEqual(names.map((_, i) => `out-${String(i).padStart(5, "0")}-of-${String(names.length).padStart(5, "0")}`));
    for (const n of names) expect((await readFile(join(dir, "shards-3", n), "utf8")).length).toBeGreaterThan(0);
    expect(await shardsOf(join(dir, "shards-fixed", "out"))).toEqual(["out-00000-of-00003", "out-00001-of-00003", "out-00002-of-00003"]);
    const expected = await lines(join(dir, "shards-1", "out"));
    expect(await lines(join(dir, "shards-3", "out"))).toEqual(expected);
    expect(await lines(join(dir, "shards-fixed", "out"))).toEqual(expected);
  }, 120_000);

  it("gives the same counts when threads hand their partial tables over early (past their bound)", async () => {
    const out = join(dir, "early", "out");
    const r = await run([sluice, "run", fixture, "--mode=count", `--input=${input}`, `--output=${out}`, "--direct_num_workers=3"], "only", { SLUICE_DEBUG_PARTIAL_GROUPS: "50" });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("hands over its partial table early");
    expect(await lines(out)).toEqual(await lines(join(dir, "count-1", "out")));
  }, 120_000);

  it("shares a region between this thread and the others by default", async () => {
    const out = join(dir, "mixed", "out");
    const r = await sluiceRun("count", out, 2, "1");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\d+ element\(s\) here, \d+ on threads/);
    expect(await lines(out)).toEqual(await lines(join(dir, "count-1", "out")));
  }, 120_000);

  it("runs a plain `node --import tsx` script on threads too", async () => {
    const out = join(dir, "tsx", "out");
    const r = await run(["--import", "tsx", fixture, "--mode=count", `--input=${input}`, `--output=${out}`, "--direct_num_workers=2"]);
    expect(r.code, r.stderr).toBe(0);
    expect(onThreads(r.stderr), r.stderr).toBeGreaterThan(0);
    expect(r.stderr).toContain(`direct threads import ${fixture} bundled`);
    expect(await lines(out)).toEqual(await lines(join(dir, "count-1", "out")));
  }, 120_000);

  it("threads import the pipeline file bundled, with no loader, and its import.meta.url is still its own", async () => {
    const [one, two] = await Promise.all([sluiceRun("where", join(dir, "where-1", "out"), 1), sluiceRun("where", join(dir, "where-2", "out"), 2)]);
    expect(one.code, one.stderr).toBe(0);
    expect(two.code, two.stderr).toBe(0);
    expect(two.stderr).toContain(`direct threads import ${fixture} bundled`);
    expect(onThreads(two.stderr), two.stderr).toBeGreaterThan(0);
    const [a, b] = await Promise.all([lines(join(dir, "where-1", "out")), lines(join(dir, "where-2", "out"))]);
    expect(new Set(a.map((l) => l.split(" ")[0]))).toEqual(new Set(["threads-pipeline.ts"]));
    expect(b).toEqual(a);
  }, 120_000);

  it("fails the run when a DoFn throws on a thread, naming the transform and element, and writes nothing", async () => {
    const out = join(dir, "fail", "out");
    const r = await sluiceRun("fail", out, 3);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("Explode");
    expect(r.stderr).toContain("the boom line");
    expect(r.stderr).toContain('"boom"');
    // The user's stack, from the thread, names the pipeline file's line.
    expect(r.stderr).toMatch(/threads-pipeline\.ts:\d+:\d+/);
    expect((await readdir(dirname(out)).catch(() => [])).filter((n) => !n.startsWith("."))).toEqual([]);
  }, 120_000);

  it("runs on fewer threads, and says so, when the threads cannot rebuild the pipeline", async () => {
    const out = join(dir, "two", "out");
    const r = await sluiceRun("two", out, 2);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("the direct runner goes on with fewer threads");
    expect(await lines(out)).toEqual(await lines(join(dir, "count-1", "out")));
    expect(await lines(join(dir, "two-small", "out"))).toEqual(["a", "b"]);
  }, 120_000);
});
