/**
 * Mobile Gaming's stateful_team_score (examples/game/), run as a user runs it on the injector's
 * deterministic file, batch and --streaming; expectations computed here from the file's lines.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { outputLines } from "./support.js";

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const sluice = join(root, "bin", "sluice.js");
const THRESHOLD = 500;
let dir: string;
let events: { team: string; score: number }[];

async function example(name: string, args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [sluice, "run", join(root, "examples", "game", name), ...args], { cwd: dir, timeout: 120_000 });
  return stdout;
}

/** The file's well-formed events in file order, parsed independently of the example's code. */
async function parsedEvents(file: string): Promise<{ team: string; score: number }[]> {
  const lines = (await readFile(file, "utf8")).split("\n").filter((l) => l !== "");
  return lines.flatMap((line) => {
    const f = line.split(",");
    if (f.length !== 5 || !/^\d+$/.test(f[2]!) || !/^\d+$/.test(f[3]!)) return [];
    return [{ team: f[1]!, score: Number(f[2]) }];
  });
}

/** `team: T, total_score: N` lines → per team, the totals in ascending order. */
function byTeam(lines: string[]): Map<string, number[]> {
  const m = new Map<string, number[]>();
  for (const l of lines) {
    const r = /^team: (\S+), total_score: (\d+)$/.exec(l);
    expect(r, l).not.toBeNull();
    m.set(r![1]!, [...(m.get(r![1]!) ?? []), Number(r![2])].sort((a, b) => a - b));
  }
  return m;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sluice-game-stateful-"));
  await example("injector.ts", ["--output", "data/game.csv", "--events", "3000", "--seed", "5"]);
  events = await parsedEvents(join(dir, "data", "game.csv"));
}, 120_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("stateful_team_score", () => {
  it("--streaming: in file order, a line each time a team's running total passes a multiple of the threshold", async () => {
    await example("stateful_team_score.ts", ["--input", "data/game.csv", "--output", "out/stream", "--threshold_score", String(THRESHOLD), "--streaming"]);
    const want: string[] = [];
    const totals = new Map<string, number>();
    for (const e of events) {
      const old = totals.get(e.team) ?? 0;
      totals.set(e.team, old + e.score);
      if (Math.floor(old / THRESHOLD) < Math.floor((old + e.score) / THRESHOLD)) want.push(`team: ${e.team}, total_score: ${old + e.score}`);
    }
    expect(want.length).toBeGreaterThan(5);
    expect((await outputLines(join(dir, "out", "stream"))).sort()).toEqual(want.sort());
  });

  it("batch: as many lines per team as multiples its total passes, each just past its multiple", async () => {
    const stdout = await example("stateful_team_score.ts", ["--input", "data/game.csv", "--output", "out/batch", "--threshold_score", String(THRESHOLD)]);
    expect(stdout).toMatch(/unparsable lines skipped/);
    const final = new Map<string, number>();
    let maxScore = 0;
    for (const e of events) {
      final.set(e.team, (final.get(e.team) ?? 0) + e.score);
      maxScore = Math.max(maxScore, e.score);
    }
    const got = byTeam(await outputLines(join(dir, "out", "batch")));
    for (const [team, total] of final) {
      const passed = Math.floor(total / THRESHOLD);
      const lines = got.get(team) ?? [];
      expect(lines.length, team).toBe(passed);
      lines.forEach((t, i) => {
        expect(t, team).toBeGreaterThanOrEqual((i + 1) * THRESHOLD);
        expect(t, team).toBeLessThan((i + 1) * THRESHOLD + maxScore);
        expect(t, team).toBeLessThanOrEqual(total);
      });
    }
    expect([...got.keys()].every((t) => final.has(t))).toBe(true);
  });
});
