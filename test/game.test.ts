/**
 * Beam's Mobile Gaming examples (examples/game/), run as a user runs them: the injector writes a
 * deterministic event file, user_score, hourly_team_score, leader_board and game_stats read it
 * through `sluice run` (leader_board and game_stats also with --streaming, replaying it as an
 * unbounded stream), and the outputs are checked against totals computed here directly from the
 * file's lines, and against each other (the streaming examples' final panes on the file equal
 * the batch examples' results).
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

/**
 * The replayed stream's model, as examples/game/events.ts documents it (written out again here):
 * lines arrive in file order, a bundle per minute of stream time (the latest event time so far);
 * entering minute M moves the watermark to M's start minus 2 minutes. Each well-formed event with
 * the watermark it arrives under.
 */
function arrivals(): { user: string; team: string; score: number; ts: number; watermark: number }[] {
  let minute: number | undefined;
  let watermark = -Infinity;
  const out: { user: string; team: string; score: number; ts: number; watermark: number }[] = [];
  for (const line of events) {
    const f = line.split(",");
    const t = /^\d+$/.test(f[3] ?? "") ? Number(f[3]) : undefined;
    if (t !== undefined) {
      const m = Math.floor(t / MINUTE);
      if (minute !== undefined && m > minute) watermark = m * MINUTE - 2 * MINUTE;
      if (minute === undefined || m > minute) minute = m;
    }
    if (f.length === 5 && /^\d+$/.test(f[2]!) && t !== undefined) out.push({ user: f[0]!, team: f[1]!, score: Number(f[2]), ts: t, watermark });
  }
  return out;
}

/** Lines `team: T, total_score: N, window_start: W, timing: X` → per `team|window`, its panes in output order. */
function panesOf(lines: string[]): Map<string, { total: number; timing: string }[]> {
  const m = new Map<string, { total: number; timing: string }[]>();
  for (const l of lines) {
    const r = /^team: (\S+), total_score: (\d+), window_start: (.+), timing: (EARLY|ON_TIME|LATE)$/.exec(l);
    expect(r, l).not.toBeNull();
    const key = `${r![1]}|${Date.parse(`${r![3]!.replace(" ", "T")}Z`)}`;
    const list = m.get(key) ?? [];
    list.push({ total: Number(r![2]), timing: r![4]! });
    m.set(key, list);
  }
  return m;
}

/** Accumulating panes of positive scores only grow: a key's final pane is its largest total. */
function finals(panes: Map<string, { total: number }[]>): Map<string, number> {
  return new Map([...panes].map(([k, ps]) => [k, Math.max(...ps.map((p) => p.total))]));
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

  describe("streaming (--streaming: the file replayed as an unbounded stream)", () => {
    it("leader_board.ts: early, on-time and late panes; final panes are hourly_team_score's and user_score's totals", async () => {
      const stdout = await example("leader_board.ts", ["--input", "data/game.csv", "--output", "out/lbs", "--streaming"]);
      const hour = 60 * MINUTE;
      const panes = panesOf(await outputLines(join(dir, "out", "lbs_team")));
      // Nothing is later than the default allowed lateness (120 minutes): the final panes hold every event.
      expect(finals(panes)).toEqual(teamSums(parsed(), hour));
      await example("hourly_team_score.ts", ["--input", "data/game.csv", "--output", "out/hourly60"]);
      expect(teamLines(finals(panes))).toEqual(await outputLines(join(dir, "out", "hourly60")));
      // Each window: early panes, one on-time pane holding what arrived before the watermark passed
      // the window's end, late panes. Accumulating, and each early or late pane fires for new
      // events: early totals are distinct and at most the on-time one, late ones distinct and above.
      const onTime = teamSums(
        arrivals().filter((e) => e.watermark < windowStart(e.ts, hour) + hour),
        hour,
      );
      let late = 0;
      for (const [k, ps] of panes) {
        const totals = (timing: string): number[] => ps.filter((p) => p.timing === timing).map((p) => p.total);
        const [early, on, lateTotals] = [totals("EARLY"), totals("ON_TIME"), totals("LATE")];
        expect(on, k).toEqual([onTime.get(k) ?? 0]);
        expect(early.length, k).toBeGreaterThan(3); // a pane 5 minutes after each first event, over an hour
        expect(new Set(early).size, k).toBe(early.length);
        expect(Math.max(...early), k).toBeLessThanOrEqual(on[0]!);
        expect(new Set(lateTotals).size, k).toBe(lateTotals.length);
        expect(Math.min(...lateTotals), k).toBeGreaterThan(on[0]!);
        late += lateTotals.length;
      }
      expect(late).toBeGreaterThan(10);
      // Users: a pane every 10 minutes of processing time; the last one is user_score's total.
      const users = await outputLines(join(dir, "out", "lbs_user"));
      const userPanes = new Map<string, number[]>();
      for (const l of users) {
        const r = /^user: (\S+), total_score: (\d+)$/.exec(l);
        expect(r, l).not.toBeNull();
        userPanes.set(r![1]!, [...(userPanes.get(r![1]!) ?? []), Number(r![2])]);
      }
      expect(new Map([...userPanes].map(([u, ns]) => [u, Math.max(...ns)]))).toEqual(sums(parsed().map((e) => [e.user, e.score])));
      expect(users.length).toBeGreaterThan(userPanes.size * 10);
      expect(stdout).toContain("0 late events dropped");
    }, 120_000);

    it("leader_board.ts: events later than --allowed_lateness are dropped, the rest counted in the final panes", async () => {
      const size = 30 * MINUTE;
      const lateness = 15 * MINUTE;
      const stdout = await example("leader_board.ts", [
        "--input", "data/game.csv", "--output", "out/lbl", "--streaming", "--team_window_duration", "30", "--allowed_lateness", "15",
      ]);
      const all = arrivals();
      const kept = all.filter((e) => windowStart(e.ts, size) + size - 1 + lateness >= e.watermark);
      const dropped = all.length - kept.length;
      expect(dropped).toBeGreaterThan(5);
      expect(finals(panesOf(await outputLines(join(dir, "out", "lbl_team"))))).toEqual(teamSums(kept, size));
      expect(stdout).toContain(`${dropped} late events dropped`);
    }, 120_000);

    it("game_stats.ts: spammers, team totals without them and sessions, of the events on time for them", async () => {
      const hour = 60 * MINUTE;
      const gap = 5 * MINUTE;
      const activity = 30 * MINUTE;
      await example("game_stats.ts", ["--input", "data/game.csv", "--output", "out/gss", "--streaming"]);
      // Spammers: as in the batch, over the events that arrived before the watermark passed their
      // window's end (no allowed lateness: the later ones are dropped).
      const onTime = arrivals().filter((e) => windowStart(e.ts, hour) + hour - 1 >= e.watermark);
      expect(onTime.length).toBeLessThan(arrivals().length);
      const userSums = sums(onTime.map((e) => [`${e.user}|${windowStart(e.ts, hour)}`, e.score]));
      const byWindow = new Map<number, number[]>();
      for (const [k, n] of userSums) byWindow.set(Number(k.split("|")[1]), [...(byWindow.get(Number(k.split("|")[1])) ?? []), n]);
      const spammers = [...userSums].filter(([k, n]) => {
        const all = byWindow.get(Number(k.split("|")[1]))!;
        return n > (all.reduce((a, b) => a + b, 0) / all.length) * 2.5;
      });
      expect(spammers.length).toBeGreaterThan(2);
      expect(await outputLines(join(dir, "out", "gss_spammers"))).toEqual(
        spammers.map(([k, n]) => `user: ${k.split("|")[0]}, total_score: ${n}, window_start: ${instant(Number(k.split("|")[1]))}`).sort(),
      );
      // Teams: the events on time for their window, without the window's spammers (a side input
      // of an unbounded collection: main input waits for that window of it, holding the watermark).
      const spam = new Set(spammers.map(([k]) => k));
      const honest = onTime.filter((e) => !spam.has(`${e.user}|${windowStart(e.ts, hour)}`));
      expect(honest.length).toBeLessThan(onTime.length);
      expect(await outputLines(join(dir, "out", "gss_team"))).toEqual(teamLines(teamSums(honest, hour)));
      // Beam's streaming sessions, no allowed lateness: an event whose own session window
      // [t, t + gap) has ended under the watermark it arrives with is dropped; the others merge with
      // the user's sessions still open, and a session fires (and closes) once the watermark passes
      // its end. Events arriving after a session closed start another one.
      const open = new Map<string, { start: number; end: number }[]>();
      const lengths = new Map<number, number[]>();
      const fire = (s: { start: number; end: number }): void => {
        const w = windowStart(s.end - 1, activity);
        lengths.set(w, [...(lengths.get(w) ?? []), Math.floor((s.end - s.start) / MINUTE)]);
      };
      const advance = (watermark: number): void => {
        for (const [u, ss] of open) {
          for (const s of ss.filter((x) => x.end - 1 < watermark)) fire(s);
          open.set(u, ss.filter((x) => x.end - 1 >= watermark));
        }
      };
      let dropped = 0;
      for (const e of arrivals()) {
        advance(e.watermark);
        if (e.ts + gap - 1 < e.watermark) {
          dropped++;
          continue;
        }
        let s = { start: e.ts, end: e.ts + gap };
        let rest = open.get(e.user) ?? [];
        for (;;) {
          const overlapping = rest.filter((x) => x.start < s.end && s.start < x.end);
          if (overlapping.length === 0) break;
          s = { start: Math.min(s.start, ...overlapping.map((x) => x.start)), end: Math.max(s.end, ...overlapping.map((x) => x.end)) };
          rest = rest.filter((x) => !overlapping.includes(x));
        }
        open.set(e.user, [...rest, s]);
      }
      advance(Infinity);
      expect(dropped).toBeGreaterThan(10);
      const meanOf = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
      const javaDouble = (x: number): string => (Number.isInteger(x) ? x.toFixed(1) : String(x));
      const want = [...lengths].map(([w, ls]) => `window_start: ${instant(w)}, mean_duration: ${javaDouble(meanOf(ls))}`).sort();
      expect(want.length).toBeGreaterThan(5);
      expect(await outputLines(join(dir, "out", "gss_sessions"))).toEqual(want);
    }, 120_000);

  });
});
