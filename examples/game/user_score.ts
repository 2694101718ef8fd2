/**
 * UserScore (Beam's Mobile Gaming, part 1): the total score of each user over a batch of game
 * events, whatever their event times.
 *
 *   npx sluice run examples/game/user_score.ts --input 'data/game*.csv' --output out/user_scores
 *
 * Writes `user: USER, total_score: N` lines; unparsable input lines are counted and skipped.
 */
import { Map, Pipeline, PipelineOptions, ReadFromText, WriteToText } from "sluice";
import { ExtractAndSumScore, ParseGameEvents } from "./events.js";

const options = PipelineOptions.fromLaunch();
const p = Pipeline.create(options);
p.apply("ReadInputText", ReadFromText(options.string("input")))
  .apply("ParseGameEvents", ParseGameEvents())
  .apply("ExtractUserScore", ExtractAndSumScore("user"))
  .apply("FormatUserScoreSums", Map(([user, score]: [string, number]) => `user: ${user}, total_score: ${score}`))
  .apply("WriteUserScoreSums", WriteToText(options.string("output")));

const result = await p.run();
console.log(`user_score: done; ${result.metrics.counter("num_parse_errors")} unparsable lines skipped`);
