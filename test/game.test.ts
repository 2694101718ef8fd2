/**
 * Beam's Mobile Gaming examples (examples/game/), run as a user runs them: the injector writes a
 * deterministic event file, user_score, hourly_team_score, leader_board and game_stats read it
 * through `sluice run`, and the outputs are checked against totals computed here directly from
 * the file's lines, and against each other (leader_board's panes on the file as a batch are
 * hourly_team_score's and user_score's results).
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

const MINUTE = 60_000;
/** `YYYY-MM-DD HH:MM:SS.000`, UTC. */
const instant = (ms: number): string => new Date(ms).toISOString().replace("T", " ").replace("Z", "");
const windowStart = (ts: number, size: number): number => Math.floor(ts / size) * size;

/** `team: T, total_score: N, window_start: W` lines from sums keyed `team|windowStart`. */
function teamLines(keyed: Map<string, number>, suffix = ""): string[] {
  return [...keyed]
    .map(([k, s]) => {
      const [team, w] = k.split("|");
      return `team: ${team}, total_score: ${s}, window_start: ${instant(Number(w))}${suffix}`;
    })
    .sort();
}

/** Team totals per fixed window of `size` ms, as `team|windowStart` keys. */
function teamSums(es: { team: string; score: number; ts: number }[], size: number): Map<string, number> {
  return sums(es.map((e): [string, number] => [`${e.team}|${windowStart(e.ts, size)}`, e.score]));
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
    // Robots (Beam's injector's spammers): a third of the teams has one, clicking more than its members.
    const perUser = sums(parsed().map((e) => [e.user, 1]));
    const robots = [...perUser].filter(([u]) => u.startsWith("Robot-"));
    expect(robots.length).toBeGreaterThan(1);
    const mean = [...perUser.values()].reduce((a, b) => a + b, 0) / perUser.size;
    expect(Math.max(...robots.map(([, n]) => n))).toBeGreaterThan(2.5 * mean);
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

  it("leader_board.ts on a batch: one ON_TIME pane per team and window, hourly_team_score's totals; user_score's user totals", async () => {
    const stdout = await example("leader_board.ts", ["--input", "data/game.csv", "--output", "out/lb", "--team_window_duration", "30"]);
    await example("hourly_team_score.ts", ["--input", "data/game.csv", "--output", "out/hourly30", "--window_duration", "30"]);
    await example("user_score.ts", ["--input", "data/game.csv", "--output", "out/users_lb"]);
    const teams = await outputLines(join(dir, "out", "lb_team"));
    const want = teamLines(teamSums(parsed(), 30 * MINUTE), ", timing: ON_TIME");
    expect(want.length).toBeGreaterThan(100);
    expect(teams).toEqual(want);
    expect(teams).toEqual((await outputLines(join(dir, "out", "hourly30"))).map((l) => `${l}, timing: ON_TIME`).sort());
    const users = await outputLines(join(dir, "out", "lb_user"));
    expect(users).toEqual([...sums(parsed().map((e) => [e.user, e.score]))].map(([u, n]) => `user: ${u}, total_score: ${n}`).sort());
    expect(users).toEqual(await outputLines(join(dir, "out", "users_lb")));
    expect(stdout).toContain(`${events.length - parsed().length} unparsable lines skipped, 0 late events dropped`);
  }, 120_000);

  it("game_stats.ts on a batch: spammers over 2.5 x the mean, team totals without them, mean session lengths", async () => {
    const fixed = 45 * MINUTE;
    const gap = 4 * MINUTE;
    const activity = 20 * MINUTE;
    const stdout = await example("game_stats.ts", [
      "--input", "data/game.csv", "--output", "out/gs",
      "--fixed_window_duration", "45", "--session_gap", "4", "--user_activity_window_duration", "20",
    ]);
    const es = parsed();
    // Spammers: per window, the users whose total is over 2.5 times the mean of the users' totals.
    const userSums = sums(es.map((e) => [`${e.user}|${windowStart(e.ts, fixed)}`, e.score]));
    const byWindow = new Map<number, number[]>();
    for (const [k, s] of userSums) {
      const w = Number(k.split("|")[1]);
      byWindow.set(w, [...(byWindow.get(w) ?? []), s]);
    }
    const meanOf = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    const spammers = [...userSums].filter(([k, s]) => s > meanOf(byWindow.get(Number(k.split("|")[1]))!) * 2.5).map(([k]) => k);
    expect(spammers.length).toBeGreaterThan(2);
    expect(spammers.some((k) => k.startsWith("Robot-"))).toBe(true);
    expect(await outputLines(join(dir, "out", "gs_spammers"))).toEqual(
      spammers.map((k) => `user: ${k.split("|")[0]}, total_score: ${userSums.get(k)}, window_start: ${instant(Number(k.split("|")[1]))}`).sort(),
    );
    expect(stdout).toContain(`${spammers.length} spammer users found`);
    // Teams: the window's spammers' events left out.
    const spam = new Set(spammers);
    const honest = es.filter((e) => !spam.has(`${e.user}|${windowStart(e.ts, fixed)}`));
    expect(honest.length).toBeLessThan(es.length);
    expect(await outputLines(join(dir, "out", "gs_team"))).toEqual(teamLines(teamSums(honest, fixed)));
    // Sessions: per user, a new session when an event is at or after the last one's time plus the gap;
    // its length in whole minutes, gap included; the mean per fixed window of (session end - 1 ms).
    const byUser = new Map<string, number[]>();
    for (const e of es) byUser.set(e.user, [...(byUser.get(e.user) ?? []), e.ts]);
    const lengths = new Map<number, number[]>();
    for (const tss of byUser.values()) {
      tss.sort((a, b) => a - b);
      let first = tss[0]!;
      let end = first + gap;
      const close = (): void => {
        const w = windowStart(end - 1, activity);
        lengths.set(w, [...(lengths.get(w) ?? []), Math.floor((end - first) / MINUTE)]);
      };
      for (const t of tss.slice(1)) {
        if (t >= end) {
          close();
          first = t;
        }
        end = Math.max(end, t + gap);
      }
      close();
    }
    const javaDouble = (x: number): string => (Number.isInteger(x) ? x.toFixed(1) : String(x));
    const sessions = [...lengths].map(([w, ls]) => `window_start: ${instant(w)}, mean_duration: ${javaDouble(meanOf(ls))}`).sort();
    expect(sessions.length).toBeGreaterThan(10);
    expect(await outputLines(join(dir, "out", "gs_sessions"))).toEqual(sessions);
  }, 120_000);
});
