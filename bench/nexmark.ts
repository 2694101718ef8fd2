/**
 * `npm run bench -- nexmark`: Nexmark queries 0, 1, 2, 5, 7, 8 and 11 (batch, Beam's definitions)
 * on Sluice's direct runner and, side by side, on Beam Python's DirectRunner.
 *
 * - Events: Beam's Nexmark generator (bench/nexmark/generator.ts, Beam Java's GeneratorConfig
 *   defaults), SLUICE_BENCH_NEXMARK_EVENTS of them (default 1,000,000), written once as JSON lines
 *   to bench/data/nexmark-<N>.jsonl, which both sides read; generation is timed apart.
 * - Sluice: bench/nexmark/sluice-query.ts run by `sluice run` (bin/sluice.js, the built CLI, run as
 *   a command, so its shebang's node flags apply) at the direct runner's defaults, one child
 *   process per query; SLUICE_BENCH_NEXMARK_SLUICE_FLAGS adds flags (e.g. `--direct_num_workers=1`).
 * - Beam Python: bench/nexmark/beam_queries.py (Beam's own Nexmark queries from the installed
 *   apache-beam) with the interpreter of the managed venv, `<cache>/python-beam-<version>` from
 *   versions.json (`pythonSdk`), created with pip on first use as `sluice cluster up --python`
 *   creates it, one child process per query.
 * - Each child reports its pipeline's time (construction to the end of the run, interpreter start
 *   and imports excluded) and its peak RSS; the children run one at a time.
 * - The outputs are compared as sorted multisets of lines (query 0's also with the events file
 *   itself); any disagreement fails the bench, naming the query and a differing line.
 *
 * Targets per query: Sluice >= 10x faster than Beam Python, Sluice's peak RSS no higher.
 * SLUICE_BENCH_NEXMARK_QUERIES=0,5 runs some of the queries; SLUICE_BENCH_NEXMARK_RUNS=N keeps the
 * fastest of N runs per side (default 1); SLUICE_BENCH_NEXMARK_TIMEOUT_S bounds each child (default 300 s per
 * million events, at least 300 s).
 */
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { join } from "node:path";
import { ensurePythonSdk } from "../src/cluster/provision.js";
import { cacheDir } from "../src/internal/dirs.js";
import { ensureEventsFile, type EventsFile } from "./nexmark/events-file.js";
import { QUERIES } from "./nexmark/queries.js";

const TARGET_SPEEDUP = 10;

export interface SideResult {
  /** The pipeline's time, or null when the child failed. */
  readonly seconds: number | null;
  readonly peak_rss_mb: number | null;
  /** The child's whole life, interpreter start included. */
  readonly process_seconds: number;
  readonly output_lines: number | null;
  readonly error?: string;
  readonly notes?: readonly string[];
}

export interface QueryResult {
  readonly query: string;
  readonly sluice: SideResult;
  readonly python: SideResult & { readonly children_peak_rss_mb?: number };
  /** Python's time over Sluice's. */
  readonly speedup: number | null;
  readonly agree: boolean;
  readonly disagreement?: string;
  readonly speedup_target_met: boolean;
  readonly rss_target_met: boolean;
}

export interface NexmarkResult {
  readonly benchmark: "nexmark";
  readonly events: number;
  readonly events_file_mb: number;
  readonly event_counts: EventsFile["counts"];
  readonly generation_seconds: number;
  readonly generation_cached: boolean;
  readonly runs: number;
  readonly queries: readonly QueryResult[];
  readonly targets: { readonly speedup_min: number; readonly peak_rss: "sluice <= beam python" };
  readonly all_agree: boolean;
  readonly all_targets_met: boolean;
  readonly python: { readonly apache_beam: string; readonly runner: "DirectRunner" };
  /** Flags given to every Sluice child besides the query's (SLUICE_BENCH_NEXMARK_SLUICE_FLAGS). */
  readonly sluice_flags: readonly string[];
  readonly cores: number;
  /** 1-minute load average when the queries started and ended (the machine is shared). */
  readonly load_average: { readonly start: number; readonly end: number };
  readonly node: string;
  readonly measured_at: string;
}

interface ChildOutcome {
  readonly report?: Record<string, number>;
  readonly processSeconds: number;
  readonly error?: string;
  /** What the child said on stderr in lines starting with "sluice:" (the runner's notes). */
  readonly notes: readonly string[];
}

/** Runs a child to its end (SIGKILLed past the timeout); its last stdout line is its JSON report. */
function runChild(command: string, args: readonly string[], cwd: string, timeoutS: number): Promise<ChildOutcome> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
    child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString("utf8")).slice(-8000)));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutS * 1000);
    const done = (error: string | undefined): void => {
      clearTimeout(timer);
      const processSeconds = (performance.now() - started) / 1000;
      const notes = [...new Set(stderr.split("\n").filter((l) => l.startsWith("sluice:")))];
      if (error !== undefined) return resolve({ processSeconds, error, notes });
      try {
        resolve({ processSeconds, notes, report: JSON.parse(stdout.trim().split("\n").pop() ?? "") as Record<string, number> });
      } catch {
        resolve({ processSeconds, notes, error: `no report on stdout: ${stdout.slice(-500)}` });
      }
    };
    child.once("error", (err) => done(`cannot start ${command}: ${err.message}`));
    child.once("exit", (code, signal) => {
      if (timedOut) return done(`timed out after ${timeoutS} s (SLUICE_BENCH_NEXMARK_TIMEOUT_S)`);
      if (code !== 0) return done(`exited with ${signal ?? `code ${code}`}: ${stderr.trim().split("\n").slice(-6).join(" | ")}`);
      done(undefined);
    });
  });
}

/** The shards WriteToText wrote for `prefix` (`prefix-SSSSS-of-NNNNN`, on both sides). */
function shards(prefix: string): string[] {
  const dir = join(prefix, "..");
  const base = `${prefix.slice(dir.length + 1)}-`;
  return readdirSync(dir)
    .filter((n) => n.startsWith(base))
    .sort()
    .map((n) => join(dir, n));
}

/** The lines of the files, sorted. */
function sortedLines(files: readonly string[]): string[] {
  const lines: string[] = [];
  for (const f of files) {
    for (const line of readFileSync(f, "utf8").split("\n")) if (line !== "") lines.push(line);
  }
  return lines.sort();
}

/** Undefined when equal as multisets, else where their sorted lines first differ. */
function firstDifference(a: readonly string[], b: readonly string[], aName: string, bName: string): string | undefined {
  const show = (line: string | undefined): string => (line === undefined ? "no more lines" : JSON.stringify(line.length > 300 ? `${line.slice(0, 300)}…` : line));
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return `${a.length} vs ${b.length} lines; sorted line ${i + 1}: ${aName} ${show(a[i])}, ${bName} ${show(b[i])}`;
  }
  return undefined;
}

const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

function side(best: ChildOutcome | undefined, lines: number | null): SideResult {
  const notes = best !== undefined && best.notes.length > 0 ? { notes: best.notes } : {};
  if (best === undefined || best.report === undefined) {
    return { seconds: null, peak_rss_mb: null, process_seconds: round(best?.processSeconds ?? 0), output_lines: null, error: best?.error ?? "not run", ...notes };
  }
  return { seconds: round(best.report["seconds"]!), peak_rss_mb: Math.round(best.report["peakRssMb"]!), process_seconds: round(best.processSeconds), output_lines: lines, ...notes };
}

export async function nexmarkBench(here: string): Promise<NexmarkResult> {
  const root = join(here, "..");
  const numEvents = Number(process.env["SLUICE_BENCH_NEXMARK_EVENTS"] ?? 1_000_000);
  if (!Number.isSafeInteger(numEvents) || numEvents <= 0) throw new Error(`SLUICE_BENCH_NEXMARK_EVENTS must be a positive integer, got ${process.env["SLUICE_BENCH_NEXMARK_EVENTS"]}`);
  const runs = Number(process.env["SLUICE_BENCH_NEXMARK_RUNS"] ?? 1);
  // Beam Python takes about a minute for its slowest query on 1 M events; far past that a child is hung or quadratic.
  const timeoutS = Number(process.env["SLUICE_BENCH_NEXMARK_TIMEOUT_S"] ?? Math.max(300, Math.ceil((300 * numEvents) / 1e6)));
  const wanted = (process.env["SLUICE_BENCH_NEXMARK_QUERIES"] ?? QUERIES.join(",")).split(",").map((q) => q.trim().replace(/^q/, ""));
  const unknown = wanted.filter((q) => !(QUERIES as readonly string[]).includes(q));
  if (unknown.length > 0) throw new Error(`SLUICE_BENCH_NEXMARK_QUERIES names unknown queries ${unknown.join(", ")}; known: ${QUERIES.join(", ")}`);
  const queries = QUERIES.filter((q) => wanted.includes(q));
  const sluiceFlags = (process.env["SLUICE_BENCH_NEXMARK_SLUICE_FLAGS"] ?? "").split(/\s+/).filter(Boolean);

  const versions = JSON.parse(readFileSync(join(root, "versions.json"), "utf8")) as { pythonSdk: string };
  const sdk = await ensurePythonSdk(cacheDir(), versions.pythonSdk, (line) => console.log(`  ${line}`));
  console.log(`bench nexmark: Beam Python apache-beam==${sdk.version} (${sdk.python}), DirectRunner`);

  const data = join(here, "data");
  mkdirSync(data, { recursive: true });
  const events = ensureEventsFile(join(data, `nexmark-${numEvents}.jsonl`), numEvents);
  console.log(
    `bench nexmark: ${numEvents.toLocaleString("en-US")} events (${events.counts.person} people, ${events.counts.auction} auctions, ${events.counts.bid} bids), ` +
      `${(events.bytes / 1e6).toFixed(1)} MB, ${events.cached ? `generated earlier in ${events.generationSeconds.toFixed(2)} s` : `generated in ${events.generationSeconds.toFixed(2)} s`}: ${events.path}`,
  );

  const loadStart = loadavg()[0]!;
  const outRoot = join(data, "nexmark-out");
  rmSync(outRoot, { recursive: true, force: true });
  const results: QueryResult[] = [];
  let keepOutputs = false;
  for (const q of queries) {
    const dir = join(outRoot, `q${q}`);
    // The fastest of the runs, with the largest peak RSS of any of them.
    const best = async (name: string, command: string, args: (prefix: string) => string[]): Promise<{ outcome: ChildOutcome | undefined; prefix: string }> => {
      let outcome: ChildOutcome | undefined;
      let bestPrefix = "";
      let peak = 0;
      for (let i = 0; i < runs; i++) {
        const prefix = join(dir, `run${i}`, name);
        mkdirSync(join(prefix, ".."), { recursive: true });
        const r = await runChild(command, args(prefix), root, timeoutS);
        console.log(`  q${q} ${name}: ${r.report ? `${r.report["seconds"]!.toFixed(2)} s, peak RSS ${r.report["peakRssMb"]!.toFixed(0)} MB` : `FAILED: ${r.error}`}`);
        if (r.report === undefined) {
          outcome ??= r;
          continue;
        }
        peak = Math.max(peak, r.report["peakRssMb"]!);
        if (outcome?.report === undefined || r.report["seconds"]! < outcome.report["seconds"]!) {
          outcome = r;
          bestPrefix = prefix;
        }
      }
      if (outcome?.report !== undefined) outcome = { ...outcome, report: { ...outcome.report, peakRssMb: peak } };
      return { outcome, prefix: bestPrefix };
    };
    // The `sluice` command itself, as a user runs it (its shebang's node flags included).
    const ts = await best("sluice", join(root, "bin", "sluice.js"), (prefix) => [
      "run",
      join(here, "nexmark", "sluice-query.ts"),
      "--query",
      q,
      "--input",
      events.path,
      "--output",
      prefix,
      ...sluiceFlags,
    ]);
    const py = await best("python", sdk.python, (prefix) => [join(here, "nexmark", "beam_queries.py"), "--query", q, "--input", events.path, "--output", prefix]);

    let tsLines: string[] | undefined;
    let pyLines: string[] | undefined;
    let disagreement: string | undefined;
    if (ts.outcome?.report && py.outcome?.report) {
      tsLines = sortedLines(shards(ts.prefix));
      pyLines = sortedLines(shards(py.prefix));
      disagreement = firstDifference(tsLines, pyLines, "Sluice", "Beam Python");
      if (disagreement === undefined && q === "0") {
        // Query 0 passes every event through: both must have written the events file itself.
        const input = sortedLines([events.path]);
        const vsInput = firstDifference(tsLines, input, "both sides", "the events file");
        if (vsInput !== undefined) disagreement = `query 0 is not the events file: ${vsInput}`;
      }
    } else {
      disagreement = `no output to compare: ${[ts.outcome?.error && `Sluice ${ts.outcome.error}`, py.outcome?.error && `Beam Python ${py.outcome.error}`].filter(Boolean).join("; ")}`;
    }
    const sluice = side(ts.outcome, tsLines?.length ?? null);
    const python = { ...side(py.outcome, pyLines?.length ?? null), ...(py.outcome?.report ? { children_peak_rss_mb: Math.round(py.outcome.report["childrenPeakRssMb"] ?? 0) } : {}) };
    tsLines = pyLines = undefined;
    const speedup = sluice.seconds !== null && python.seconds !== null ? round(python.seconds / sluice.seconds, 2) : null;
    const agree = disagreement === undefined;
    if (!agree) keepOutputs = true;
    // Beam Python's peak: the larger of the interpreter's and any child's (never their sum).
    const pyPeak = python.peak_rss_mb === null ? null : Math.max(python.peak_rss_mb, python.children_peak_rss_mb ?? 0);
    results.push({
      query: q,
      sluice,
      python,
      speedup,
      agree,
      ...(disagreement !== undefined ? { disagreement } : {}),
      speedup_target_met: agree && speedup !== null && speedup >= TARGET_SPEEDUP,
      rss_target_met: agree && sluice.peak_rss_mb !== null && pyPeak !== null && sluice.peak_rss_mb <= pyPeak,
    });
    console.log(`  q${q}: ${agree ? "outputs agree" : `OUTPUTS DISAGREE: ${disagreement}`}${speedup !== null ? `, ${speedup}x` : ""}`);
  }
  if (!keepOutputs) rmSync(outRoot, { recursive: true, force: true });
  else console.log(`bench nexmark: outputs kept for inspection in ${outRoot}`);

  printTable(results);
  return {
    benchmark: "nexmark",
    events: numEvents,
    events_file_mb: round(events.bytes / 1e6, 1),
    event_counts: events.counts,
    generation_seconds: round(events.generationSeconds),
    generation_cached: events.cached,
    runs,
    queries: results,
    targets: { speedup_min: TARGET_SPEEDUP, peak_rss: "sluice <= beam python" },
    all_agree: results.every((r) => r.agree),
    all_targets_met: results.every((r) => r.speedup_target_met && r.rss_target_met),
    python: { apache_beam: sdk.version, runner: "DirectRunner" },
    sluice_flags: sluiceFlags,
    cores: availableParallelism(),
    load_average: { start: round(loadStart, 2), end: round(loadavg()[0]!, 2) },
    node: process.version,
    measured_at: new Date().toISOString(),
  };
}

function printTable(results: readonly QueryResult[]): void {
  const cell = (v: number | null, unit = ""): string => (v === null ? "failed" : `${v}${unit}`);
  const rows = [
    ["query", "Sluice s", "Sluice RSS MB", "Python s", "Python RSS MB", "speedup", "agree", "speedup >= 10x", "RSS <= Python", "lines"],
    ...results.map((r) => [
      `q${r.query}`,
      cell(r.sluice.seconds),
      cell(r.sluice.peak_rss_mb),
      cell(r.python.seconds),
      cell(r.python.peak_rss_mb),
      cell(r.speedup, "x"),
      r.agree ? "yes" : "NO",
      r.speedup_target_met ? "met" : "MISSED",
      r.rss_target_met ? "met" : "MISSED",
      String(r.python.output_lines ?? r.sluice.output_lines ?? "-"),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const row of rows) console.log(`  ${row.map((c, i) => c.padStart(widths[i]!)).join("  ")}`);
}

/** The bench's verdict: an error naming every disagreement (the numbers mean nothing then), or whether the targets were met. */
export function nexmarkVerdict(result: NexmarkResult): { error?: string; targetsMet: boolean } {
  const bad = result.queries.filter((r) => !r.agree);
  if (bad.length > 0) {
    return { error: `bench nexmark: outputs disagree: ${bad.map((r) => `q${r.query}: ${r.disagreement}`).join("; ")}`, targetsMet: false };
  }
  return { targetsMet: result.all_targets_met };
}
