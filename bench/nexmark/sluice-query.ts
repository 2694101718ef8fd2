/**
 * Benchmark child: one Nexmark query on Sluice's direct runner, reading the events file and
 * writing the query's canonical lines with WriteToText. Prints a JSON line with the pipeline's
 * time (construction to the end of the run, as bench/nexmark/beam_queries.py times Beam's) and
 * the process's peak RSS (worker threads included: they share the process).
 *
 *   sluice run bench/nexmark/sluice-query.ts --query 5 --input events.jsonl --output out/q5 [runner flags]
 */
import { ParDo, Pipeline, PipelineOptions, ReadFromText, WriteToText } from "sluice";
import { type NexmarkEvent, parseEvent } from "./model.js";
import { QUERIES, QUERY_PIPELINES, type QueryName } from "./queries.js";

// `sluice run` passes the flags after the file; plain `node --import tsx` too.
const options = PipelineOptions.fromArgs(process.argv.slice(2));
const query = options.string("query", undefined);
const input = options.string("input", undefined);
const output = options.string("output", undefined);
if (query === undefined || !(QUERIES as readonly string[]).includes(query) || input === undefined || output === undefined) {
  console.error(`usage: sluice run bench/nexmark/sluice-query.ts --query <${QUERIES.join("|")}> --input <events.jsonl> --output <prefix>`);
  process.exit(2);
}

const started = performance.now();
const p = Pipeline.create(options);
const events = p
  .apply("ReadEvents", ReadFromText(input))
  .apply(
    "ParseEvents",
    ParDo<string, NexmarkEvent>({
      process(line, ctx) {
        const e = parseEvent(line);
        ctx.outputWithTimestamp(e, e.dateTime);
      },
    }),
  );
QUERY_PIPELINES[query as QueryName](events).apply("WriteResults", WriteToText(output));
await p.run();
const seconds = (performance.now() - started) / 1000;
console.log(JSON.stringify({ seconds, peakRssMb: process.resourceUsage().maxRSS / 1024 }));
