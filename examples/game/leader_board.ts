/**
 * LeaderBoard (Beam's Mobile Gaming, part 3): team scores per fixed window of event time with
 * speculative (early) results while the window is open, an on-time result when the watermark
 * passes its end, and late results for late data up to the allowed lateness, all accumulating;
 * and each user's running total in the global window, refreshed periodically in processing time.
 *
 *   npx sluice run examples/game/leader_board.ts --input 'data/game*.csv' --output out/leader_board \
 *       [--team_window_duration 60] [--allowed_lateness 120] [--streaming]
 *
 * As Beam's LeaderBoard:
 * - Teams: FixedWindows(--team_window_duration minutes), triggered
 *   AfterWatermark(early: 5 minutes of processing time after the pane's first element,
 *   late: 10 minutes after the pane's first element), allowed lateness --allowed_lateness
 *   minutes, ACCUMULATING.
 * - Users: the global window, Repeatedly(10 minutes of processing time after the pane's first
 *   element), ACCUMULATING (allowed lateness --allowed_lateness, as Beam's sets it).
 *
 * Writes `team: TEAM, total_score: N, window_start: YYYY-MM-DD HH:MM:SS.000, timing: EARLY|ON_TIME|LATE`
 * lines to OUTPUT_team and `user: USER, total_score: N` lines to OUTPUT_user (Beam's writes the
 * tables <name>_team and <name>_user). Each pane is a line: accumulating, a window's or user's
 * latest pane holds its total so far.
 *
 * Without --streaming the files are read as a batch: nothing is late and processing time does not
 * pass, so each team and window gets one ON_TIME line and each user one line, the totals of
 * hourly_team_score and user_score. With --streaming the events of the same files are replayed as
 * an unbounded stream (events.ts: eventStream), so early, on-time and late panes occur.
 */
import {
  AfterProcessingTime,
  AfterWatermark,
  Duration,
  FixedWindows,
  GlobalWindows,
  IntervalWindow,
  Map,
  type PCollection,
  Pipeline,
  PipelineOptions,
  PTransform,
  Repeatedly,
  WindowInto,
  WriteToText,
} from "sluice";
import { ExtractAndSumScore, formatInstant, type GameEvent, ReadGameEvents } from "./events.js";

const FIVE_MINUTES = Duration.minutes(5);
const TEN_MINUTES = Duration.minutes(10);

/** Team totals per fixed window: early (speculative) panes, the on-time pane, late panes; accumulating. */
function CalculateTeamScores(teamWindowDuration: number, allowedLateness: number): PTransform<PCollection<GameEvent>, PCollection<[string, number]>> {
  return new (class extends PTransform<PCollection<GameEvent>, PCollection<[string, number]>> {
    expand(events: PCollection<GameEvent>): PCollection<[string, number]> {
      return events
        .apply(
          "LeaderboardTeamFixedWindows",
          WindowInto(FixedWindows(teamWindowDuration), {
            trigger: AfterWatermark({ early: AfterProcessingTime(FIVE_MINUTES), late: AfterProcessingTime(TEN_MINUTES) }),
            allowedLateness,
            accumulationMode: "ACCUMULATING",
          }),
        )
        .apply("ExtractTeamScore", ExtractAndSumScore("team"));
    }
  })("CalculateTeamScores");
}

/** Each user's running total in the global window, a pane every ten minutes of processing time; accumulating. */
function CalculateUserScores(allowedLateness: number): PTransform<PCollection<GameEvent>, PCollection<[string, number]>> {
  return new (class extends PTransform<PCollection<GameEvent>, PCollection<[string, number]>> {
    expand(events: PCollection<GameEvent>): PCollection<[string, number]> {
      return events
        .apply(
          "LeaderboardUserGlobalWindow",
          WindowInto(GlobalWindows(), { trigger: Repeatedly(AfterProcessingTime(TEN_MINUTES)), accumulationMode: "ACCUMULATING", allowedLateness }),
        )
        .apply("ExtractUserScore", ExtractAndSumScore("user"));
    }
  })("CalculateUserScores");
}

const options = PipelineOptions.fromLaunch();
const teamWindow = Duration.minutes(options.number("team_window_duration", 60));
const allowedLateness = Duration.minutes(options.number("allowed_lateness", 120));
const output = options.string("output");

const p = Pipeline.create(options);
const events = p.apply("ReadGameEvents", ReadGameEvents(options));

events
  .apply("CalculateTeamScores", CalculateTeamScores(teamWindow, allowedLateness))
  .apply(
    "FormatTeamScoreSums",
    Map(([team, score]: [string, number], c) => {
      const start = c.window instanceof IntervalWindow ? c.window.start : Number.NaN;
      return `team: ${team}, total_score: ${score}, window_start: ${formatInstant(start)}, timing: ${c.pane.timing}`;
    }),
  )
  .apply("WriteTeamScoreSums", WriteToText(`${output}_team`));

events
  .apply("CalculateUserScores", CalculateUserScores(allowedLateness))
  .apply("FormatUserScoreSums", Map(([user, score]: [string, number]) => `user: ${user}, total_score: ${score}`))
  .apply("WriteUserScoreSums", WriteToText(`${output}_user`));

const result = await p.run();
console.log(
  `leader_board: done; ${result.metrics.counter("num_parse_errors")} unparsable lines skipped, ` +
    `${result.metrics.counter("droppedDueToLateness")} late events dropped`,
);
