/**
 * The pipelines `npm run bench -- flink` runs with Sluice, the same as bench/flink_pipelines.py
 * runs with Beam Python (and, for wordcount, Beam Java's own examples WordCount):
 *
 *   sluice run bench/flink-pipelines.ts --pipeline=wordcount|maps|gbk --input=FILE --output=PREFIX [--runner=flink …]
 *
 * wordcount: Beam Java's WordCount: words are runs of letters (split at [^\p{L}]+), "word: count".
 * maps:      a Map-heavy chain over every line (trim, upper-case, length, filter even, scale), then
 *            one global sum, "sum: N".
 * gbk:       every line keyed by its first two characters with its length, grouped (every value
 *            crosses the shuffle), "key: count sum".
 */
import { Count, Filter, FlatMap, GroupByKey, Map, Pipeline, PipelineOptions, ReadFromText, Sum, WriteToText } from "sluice";

const options = PipelineOptions.fromArgs(process.argv.slice(2));
const which = options.string("pipeline");
const input = options.string("input");
const output = options.string("output");
const NON_LETTERS = /[^\p{L}]+/u;

const p = Pipeline.create(options);
const lines = p.apply("Read", ReadFromText(input));
if (which === "wordcount") {
  lines
    .apply("ExtractWords", FlatMap((line: string) => line.split(NON_LETTERS).filter((w) => w !== "")))
    .apply("CountWords", Count.perElement())
    .apply("Format", Map(([w, n]: [string, number]) => `${w}: ${n}`))
    .apply("Write", WriteToText(output));
} else if (which === "maps") {
  lines
    .apply("Trim", Map((l: string) => l.trim()))
    .apply("Upper", Map((l: string) => l.toUpperCase()))
    .apply("Length", Map((l: string) => l.length))
    .apply("Even", Filter((n: number) => n % 2 === 0))
    .apply("Scale", Map((n: number) => n * 3 + 1))
    .apply("Sum", Sum.globally())
    .apply("Format", Map((n: number) => `sum: ${n}`))
    .apply("Write", WriteToText(output));
} else if (which === "gbk") {
  lines
    .apply("Key", Map((l: string): [string, number] => [l.slice(0, 2), l.length]))
    .apply("Group", GroupByKey<string, number>())
    .apply("Summarize", Map(([k, vs]: [string, Iterable<number>]) => {
      let n = 0;
      let sum = 0;
      for (const v of vs) {
        n++;
        sum += v;
      }
      return `${k}: ${n} ${sum}`;
    }))
    .apply("Write", WriteToText(output));
} else {
  throw new Error(`--pipeline must be wordcount, maps or gbk, got ${which}`);
}
await p.run();
