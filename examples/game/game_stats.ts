/**
 * GameStats (Beam's Mobile Gaming, part 4): abuse detection and usage patterns on top of the
 * LeaderBoard story.
 *
 *   npx sluice run examples/game/game_stats.ts --input 'data/game*.csv' --output out/game_stats \
 *       [--fixed_window_duration 60] [--session_gap 5] [--user_activity_window_duration 30] [--streaming]
 *
 * As Beam's GameStats:
 * - Spammy users (CalculateSpammyUsers): each user's total score per fixed window
 *   (--fixed_window_duration minutes); the mean of those totals per window, a singleton side
 *   input; the users whose total is over mean * SCORE_WEIGHT (2.5) are spammers (counted in the
 *   `SpammerUsers` metric), read as a map side input (Beam's View.asMap()).
 * - Team scores: each team's total per fixed window of the same size, without the events of that
 *   window's spammers.
 * - Sessions: each user's sessions (Sessions with --session_gap minutes, timestamped at the end of
 *   the session window), each session's length in whole minutes (its window's end minus its start,
 *   so the gap included, as Beam's UserSessionInfoFn), re-windowed into fixed windows of
 *   --user_activity_window_duration minutes by when the sessions end, and the mean length per
 *   window.
 *
 * Writes (Beam's tables <prefix>_team and <prefix>_sessions; OUTPUT_spammers is this port's, so
 * the detection can be seen):
 * - OUTPUT_team:     `team: TEAM, total_score: N, window_start: YYYY-MM-DD HH:MM:SS.000`
 * - OUTPUT_sessions: `window_start: YYYY-MM-DD HH:MM:SS.000, mean_duration: X` (minutes; X a double as Java prints it: 7.0, 7.25)
 * - OUTPUT_spammers: `user: USER, total_score: N, window_start: YYYY-MM-DD HH:MM:SS.000`
 *
 * Without --streaming the files are read as a batch; with --streaming their events are replayed as
 * an unbounded stream (events.ts: eventStream), where, as in Beam's (default trigger, no allowed
 * lateness), events that arrive after the watermark passed their window are dropped.
 */
import {
  AsDict,
  AsSingleton,
  type CombineFn,
  CombinePerKey,
  Duration,
  Filter,
  FixedWindows,
  IntervalWindow,
  Map,
  Mean,
  Metrics,
  type PCollection,
  ParDo,
  Pipeline,
  PipelineOptions,
  PTransform,
  Sessions,
  Sum,
  Values,
  WindowInto,
  WriteToText,
} from "sluice";
import { ExtractAndSumScore, formatInstant, type GameEvent, ReadGameEvents } from "./events.js";

const SCORE_WEIGHT = 2.5;
const numSpammerUsers = Metrics.counter("main", "SpammerUsers");

/**
 * The users whose total score (per window) is over SCORE_WEIGHT times the mean of all users'
 * totals in that window: likely robots.
 */
function CalculateSpammyUsers(): PTransform<PCollection<[string, number]>, PCollection<[string, number]>> {
  return new (class extends PTransform<PCollection<[string, number]>, PCollection<[string, number]>> {
    expand(userScores: PCollection<[string, number]>): PCollection<[string, number]> {
      // The sum of scores for each user.
      const sumScores = userScores.apply("UserSum", Sum.perKey<string>());
      // The global mean of the sums, as a singleton side input.
      const globalMeanScore = sumScores.apply("Values", Values<string, number>()).apply("Mean", Mean.globally<number>().withoutDefaults());
      // The sums over the mean times the weight.
      return sumScores.apply(
        "ProcessAndFilter",
        Filter(
          ([, score]: [string, number], c) => {
            const mean = c.sideInputs.globalMeanScore;
            if (!(score > mean * SCORE_WEIGHT)) return false;
            numSpammerUsers.inc();
            return true;
          },
          { sideInputs: { globalMeanScore: AsSingleton(globalMeanScore) } },
        ),
      );
    }
  })("CalculateSpammyUsers");
}

/** Beam's `Combine.perKey(x -> 0)`: only a session's existence matters, not what it holds. */
const zero: CombineFn<number, 0, 0> = {
  createAccumulator: () => 0,
  addInput: () => 0,
  mergeAccumulators: () => 0,
  extractOutput: () => 0,
};

/** A double as Java's Double.toString writes it for these values: 7.0, 7.25. */
function javaDouble(x: number): string {
  return Number.isInteger(x) ? x.toFixed(1) : String(x);
}

function windowStart(c: { readonly window: unknown }): string {
  return formatInstant(c.window instanceof IntervalWindow ? c.window.start : Number.NaN);
}

const options = PipelineOptions.fromLaunch();
const fixedWindow = Duration.minutes(options.number("fixed_window_duration", 60));
const sessionGap = Duration.minutes(options.number("session_gap", 5));
const userActivityWindow = Duration.minutes(options.number("user_activity_window_duration", 30));
const output = options.string("output");

const p = Pipeline.create(options);
const rawEvents = p.apply("ReadGameEvents", ReadGameEvents(options));

// username/score pairs.
const userEvents = rawEvents.apply(
  "ExtractUserScore",
  Map((e: GameEvent): [string, number] => [e.user, e.score]),
);

// The total score per user over fixed windows; everyone but those with SCORE_WEIGHT times the
// mean filtered out: these might be robots.
const spammyUsers = userEvents.apply("FixedWindowsUser", WindowInto(FixedWindows(fixedWindow))).apply("CalculateSpammyUsers", CalculateSpammyUsers());

spammyUsers
  .apply("FormatSpammers", Map(([user, score]: [string, number], c) => `user: ${user}, total_score: ${score}, window_start: ${windowStart(c)}`))
  .apply("WriteSpammers", WriteToText(`${output}_spammers`));

// The total score per team over fixed windows, without the suspected robots' events (the
// spammers of the same window, a map side input).
rawEvents
  .apply("WindowIntoFixedWindows", WindowInto(FixedWindows(fixedWindow)))
  .apply(
    "FilterOutSpammers",
    Filter((e: GameEvent, c) => !c.sideInputs.spammers.has(e.user.trim()), { sideInputs: { spammers: AsDict(spammyUsers) } }),
  )
  .apply("ExtractTeamScore", ExtractAndSumScore("team"))
  .apply("FormatTeamScoreSums", Map(([team, score]: [string, number], c) => `team: ${team}, total_score: ${score}, window_start: ${windowStart(c)}`))
  .apply("WriteTeamSums", WriteToText(`${output}_team`));

// User sessions (bursts of activity separated by a gap) and the mean session length per window
// of session ends.
userEvents
  .apply("WindowIntoSessions", WindowInto(Sessions(sessionGap), { timestampCombiner: "END_OF_WINDOW" }))
  .apply("CombineSessions", CombinePerKey<string, number, 0, 0>(zero))
  .apply(
    "UserSessionActivity",
    ParDo<[string, 0], number>({
      process(_session, c) {
        const w = c.window as IntervalWindow;
        c.output(Math.floor((w.end - w.start) / Duration.minutes(1)));
      },
    }),
  )
  .apply("WindowToExtractSessionMean", WindowInto(FixedWindows(userActivityWindow)))
  .apply("MeanSessionDuration", Mean.globally<number>().withoutDefaults())
  .apply("FormatAvgSessionLength", Map((mean: number, c) => `window_start: ${windowStart(c)}, mean_duration: ${javaDouble(mean)}`))
  .apply("WriteAvgSessionLength", WriteToText(`${output}_sessions`));

const result = await p.run();
console.log(
  `game_stats: done; ${result.metrics.counter("num_parse_errors")} unparsable lines skipped, ` +
    `${result.metrics.counter("SpammerUsers")} spammer users found, ${result.metrics.counter("droppedDueToLateness")} late events dropped`,
);
