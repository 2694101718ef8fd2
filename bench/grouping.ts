/**
 * `npm run bench -- grouping`: GroupByKey past the direct runner's memory budget
 * (`--max_memory_mb`, SLUICE_BENCH_GROUPING_BUDGET_MB, default 32): about ten times the budget in
 * values (SLUICE_BENCH_GROUPING_VALUES, default 5 M of ~60 bytes), under one key and under
 * 100,000 keys, each group iterated twice; and under one key in the event-time grouping (a
 * trigger set: what an unbounded input's GroupByKey runs). Reports time, values/s, spilled MB and peak RSS
 * against a fixed base (the same child grouping ten values). Target (issue 11): peak RSS within
 * the budget plus that base; `over_budget_mb` is what the peak exceeds it by (V8's young
 * generation and collection lag count there).
 */
import { execFile } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

interface Child {
  readonly seconds: number;
  readonly peakRssMb: number;
  readonly spilledMb: number;
  readonly checksum: number;
}

export async function groupingBench(here: string): Promise<Record<string, unknown>> {
  const budget = Number(process.env.SLUICE_BENCH_GROUPING_BUDGET_MB ?? 32);
  const values = Number(process.env.SLUICE_BENCH_GROUPING_VALUES ?? 5_000_000);
  const temp = await mkdtemp(join(tmpdir(), "sluice-bench-grouping-"));
  const child = async (n: number, keys: number, mode = "batch"): Promise<Child> => {
    // By the `sluice run` command, as a user runs a pipeline file (its shebang's node flags included).
    const { stdout } = await run(join(here, "..", "bin", "sluice.js"), ["run", join(here, "grouping-child.ts"), String(n), String(keys), String(budget), temp, mode], {
      cwd: join(here, ".."),
      maxBuffer: 1 << 20,
      timeout: 1_800_000,
    });
    return JSON.parse(stdout.trim().split("\n").pop()!) as Child;
  };
  try {
    const base = await child(10, 1);
    console.log(`bench grouping: budget ${budget} MB, ${values.toLocaleString()} values; base RSS ${base.peakRssMb.toFixed(0)} MB`);
    const cases: Record<string, unknown> = {};
    for (const [name, keys, mode] of [["one_key", 1, "batch"], ["many_keys", 100_000, "batch"], ["event_time_one_key", 1, "event-time"]] as const) {
      const r = await child(values, keys, mode);
      const left = await readdir(temp);
      if (left.length > 0) throw new Error(`bench grouping: ${name} left ${left.join(", ")} in the temporary folder`);
      const over = r.peakRssMb - base.peakRssMb - budget;
      cases[name] = {
        keys,
        seconds: Number(r.seconds.toFixed(2)),
        values_per_s: Math.round(values / r.seconds),
        spilled_mb: Math.round(r.spilledMb),
        peak_rss_mb: Math.round(r.peakRssMb),
        over_budget_mb: Math.round(over),
      };
      console.log(`  ${name}: ${JSON.stringify(cases[name])}`);
    }
    return { benchmark: "grouping", budget_mb: budget, values, base_rss_mb: Math.round(base.peakRssMb), cases, node: process.version, measured_at: new Date().toISOString() };
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}
