/**
 * StatefulTeamScore (Beam's Mobile Gaming, with state): each team's running total in a value
 * state cell (per team, in the global window), written out every time it passes a new multiple
 * of --threshold_score (default 5000), as Beam Java's StatefulTeamScore does.
 *
 *   npx sluice run examples/game/stateful_team_score.ts --input 'data/game*.csv' --output out/team_leaders \
 *       [--threshold_score 5000] [--streaming]
 *
 * Writes `team: TEAM, total_score: N` lines, one per threshold a team passes (N is its total
 * right after passing it). Without --streaming the file is read as a batch (which events a team's
 * total passes each multiple with depends on the order they arrive in; how many multiples it
 * passes does not); with --streaming its events are replayed in file order as an unbounded stream
 * (events.ts: eventStream).
 */
import { Map, type PCollection, ParDo, Pipeline, PipelineOptions, StateSpec, WriteToText } from "sluice";
import type { GameEvent } from "./events.js";
import { ReadGameEvents } from "./events.js";

const options = PipelineOptions.fromLaunch();
const threshold = options.integer("threshold_score", 5000);
if (threshold <= 0) throw new Error(`--threshold_score must be positive, got ${threshold}`);

const p = Pipeline.create(options);
const leaders: PCollection<[string, number]> = p
  .apply("ReadGameEvents", ReadGameEvents(options))
  .apply("MapTeamAsKey", Map((e: GameEvent): [string, GameEvent] => [e.team, e]))
  .apply(
    "UpdateTeamScore",
    ParDo({
      state: { totalScore: StateSpec.value<number>() },
      process([team, event], ctx) {
        const old = ctx.state.totalScore.read() ?? 0;
        const total = old + event.score;
        ctx.state.totalScore.write(total);
        // Scores are never negative: a new multiple was passed when the quotient grew.
        if (Math.floor(old / threshold) < Math.floor(total / threshold)) ctx.output([team, total]);
      },
    }),
  );
leaders
  .apply("FormatTeamLeaders", Map(([team, total]: [string, number]) => `team: ${team}, total_score: ${total}`))
  .apply("WriteTeamLeaders", WriteToText(options.string("output")));

const result = await p.run();
console.log(`stateful_team_score: done; ${result.metrics.counter("num_parse_errors")} unparsable lines skipped`);
