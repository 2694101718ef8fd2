/**
 * Benchmark child: wordcount on the direct runner. Prints a JSON line with its time and peak RSS.
 * Flags after the input and output are pipeline options (--direct_num_workers=1).
 */
import { Count, DirectRunner, FlatMap, Map, Pipeline, PipelineOptions, ReadFromText, WriteToText } from "sluice";

const [input, output, ...flags] = process.argv.slice(2) as [string, string, ...string[]];
const WORD = /[\p{L}\p{N}_']+/gu;

const started = performance.now();
const p = Pipeline.create(PipelineOptions.fromArgs(flags)); // e.g. --direct_num_workers=1
p.apply("Read", ReadFromText(input))
  .apply("Split", FlatMap((line: string) => line.match(WORD) ?? []))
  .apply("Count", Count.perElement())
  .apply("Format", Map(([w, n]: [string, number]) => `${w}: ${n}`))
  .apply("Write", WriteToText(output));
await new DirectRunner().run(p);
const seconds = (performance.now() - started) / 1000;
console.log(JSON.stringify({ seconds, peakRssMb: process.resourceUsage().maxRSS / 1024 }));
