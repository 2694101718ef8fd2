/**
 * HourlyTeamScore (Beam's Mobile Gaming, part 2): each team's total score per fixed window of
 * event time (an hour by default), over the events strictly after --start_min and strictly before
 * --stop_min (UTC, yyyy-MM-dd-HH-mm), as Beam's does.
 *
 *   npx sluice run examples/game/hourly_team_score.ts --input 'data/game*.csv' --output out/team_scores \
 *       [--window_duration 60] [--start_min 2015-11-19-09-00] [--stop_min 2015-11-20-00-00]
 *
 * Writes `team: TEAM, total_score: N, window_start: YYYY-MM-DD HH:MM:SS.000` lines.
 */
import { Duration, Filter, FixedWindows, IntervalWindow, Map, Pipeline, PipelineOptions, ReadFromText, WindowInto, WithTimestamps, WriteToText } from "sluice";
import { ExtractAndSumScore, formatInstant, type GameEvent, ParseGameEvents, parseMinute } from "./events.js";

const options = PipelineOptions.fromLaunch();
const windowMinutes = options.number("window_duration", 60);
const start = parseMinute(options.string("start_min", "1970-01-01-00-00"), "start_min");
const stop = parseMinute(options.string("stop_min", "2100-01-01-00-00"), "stop_min");

const p = Pipeline.create(options);
p.apply("ReadInputText", ReadFromText(options.string("input")))
  .apply("ParseGameEvents", ParseGameEvents())
  .apply("FilterStartTime", Filter((e: GameEvent) => e.timestamp > start))
  .apply("FilterEndTime", Filter((e: GameEvent) => e.timestamp < stop))
  .apply("AddEventTimestamps", WithTimestamps((e: GameEvent) => e.timestamp))
  .apply("FixedWindowsTeam", WindowInto(FixedWindows(Duration.minutes(windowMinutes))))
  .apply("ExtractTeamScore", ExtractAndSumScore("team"))
  .apply(
    "FormatTeamScoreSums",
    Map(([team, score]: [string, number], c) => {
      const start = c.window instanceof IntervalWindow ? c.window.start : Number.NaN;
      return `team: ${team}, total_score: ${score}, window_start: ${formatInstant(start)}`;
    }),
  )
  .apply("WriteTeamScoreSums", WriteToText(options.string("output")));

const result = await p.run();
console.log(`hourly_team_score: done; ${result.metrics.counter("num_parse_errors")} unparsable lines skipped`);
