/**
 * Beam's Mobile Gaming examples (examples/game/), run as a user runs them: the injector writes a
 * deterministic event file, user_score and hourly_team_score read it through `sluice run`, and the
 * outputs are checked against totals computed here directly from the file's lines.
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
let dir: string;
let events: string[];

async function example(name: string, args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [sluice, "run", join(root, "examples", "game", name), ...args], { cwd: dir, timeout: 120_000 });
  return stdout;
}

/** The file's well-formed events, parsed independently of the examples' code. */
function parsed(): { user: string; team: string; score: number; ts: number }[] {
  return events.flatMap((line) => {
    const f = line.split(",");
    if (f.length !== 5 || !/^\d+$/.test(f[2]!) || !/^\d+$/.test(f[3]!)) return [];
    return [{ user: f[0]!, team: f[1]!, score: Number(f[2]), ts: Number(f[3]) }];
  });
}

function sums(keyed: [string, number][]): Map<string, number> {
  const m = new Map<string, number>();
  for (const [k, v] of keyed) m.set(k, (m.get(k) ?? 0) + v);
  return m;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sluice-game-"));
  await example("injector.ts", ["--output", "data/game.csv", "--events", "4000", "--seed", "11"]);
  events = (await readFile(join(dir, "data", "game.csv"), "utf8")).split("\n").filter((l) => l !== "");
}, 120_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("Mobile Gaming examples", () => {
  it("the injector is deterministic and writes out-of-order, late and unparsable events", async () => {
    await example("injector.ts", ["--output", "data/again.csv", "--events", "4000", "--seed", "11"]);
    expect(await readFile(join(dir, "data", "again.csv"), "utf8")).toBe(`${events.join("\n")}\n`);
    const ts = parsed().map((e) => e.ts);
    let outOfOrder = 0;
    let late = 0;
    let max = -Infinity;
    for (const t of ts) {
      if (t < max) outOfOrder++;
      if (t < max - 30 * 60_000) late++; // more than half an hour behind the stream
      max = Math.max(max, t);
    }
    expect(outOfOrder).toBeGreaterThan(ts.length / 10);
    expect(late).toBeGreaterThan(10);
    expect(events.length - ts.length).toBeGreaterThan(5);
  });

  it("user_score.ts: total score per user; unparsable lines counted and skipped", async () => {
    const stdout = await example("user_score.ts", ["--input", "data/game.csv", "--output", "out/users"]);
    const want = [...sums(parsed().map((e) => [e.user, e.score]))].map(([u, s]) => `user: ${u}, total_score: ${s}`).sort();
    expect(await outputLines(join(dir, "out", "users"))).toEqual(want);
    expect(stdout).toContain(`${events.length - parsed().length} unparsable lines skipped`);
  }, 120_000);

  it("hourly_team_score.ts: team totals per fixed window, strictly between --start_min and --stop_min", async () => {
    const start = Date.UTC(2015, 10, 19, 10, 0);
    const stop = Date.UTC(2015, 10, 19, 12, 30);
    await example("hourly_team_score.ts", ["--input", "data/game.csv", "--output", "out/teams", "--window_duration", "30", "--start_min", "2015-11-19-10-00", "--stop_min", "2015-11-19-12-30"]);
    const windowMs = 30 * 60_000;
    const keyed = parsed()
      .filter((e) => e.ts > start && e.ts < stop)
      .map((e): [string, number] => [`${e.team}|${Math.floor(e.ts / windowMs) * windowMs}`, e.score]);
    const want = [...sums(keyed)]
      .map(([k, s]) => {
        const [team, w] = k.split("|");
        return `team: ${team}, total_score: ${s}, window_start: ${new Date(Number(w)).toISOString().replace("T", " ").replace("Z", "")}`;
      })
      .sort();
    expect(want.length).toBeGreaterThan(20);
    expect(await outputLines(join(dir, "out", "teams"))).toEqual(want);
  }, 120_000);
});
