/**
 * WordCount: counts the words of text files, as Beam's wordcount does.
 *
 *   npx sluice run examples/wordcount.ts --input 'data/*.txt' --output out/counts
 *
 * Words are maximal runs of Unicode letters, digits, underscore and apostrophe (Beam's [\w']+,
 * made Unicode-aware). Output lines are `word: count`.
 */
import { Count, FlatMap, Map, Metrics, Pipeline, PipelineOptions, ReadFromText, WriteToText } from "sluice";

const options = PipelineOptions.fromLaunch();
const input = options.string("input");
const output = options.string("output");

const WORD = /[\p{L}\p{N}_']+/gu;
const emptyLines = Metrics.counter("wordcount", "empty_lines");

const p = Pipeline.create(options);
p.apply("Read", ReadFromText(input))
  .apply(
    "Split",
    FlatMap((line: string) => {
      const words = line.match(WORD);
      if (words === null) {
        emptyLines.inc();
        return [];
      }
      return words;
    }),
  )
  .apply("Count", Count.perElement())
  .apply("Format", Map(([word, count]: [string, number]) => `${word}: ${count}`))
  .apply("Write", WriteToText(output));

const result = await p.run();
console.log(`wordcount: done in ${result.durationMs} ms; ${result.metrics.counter("empty_lines")} lines without words`);
