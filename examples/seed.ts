/**
 * The seed pipeline (../shared/seed/), in Sluice: create one line, split it into words, write them.
 *
 *   npx sluice run examples/seed.ts --output out/words
 *
 * Runs on the direct runner by default; the same file runs elsewhere with --runner=….
 */
import { Create, FlatMap, Pipeline, PipelineOptions, WriteToText } from "sluice";

const options = PipelineOptions.fromLaunch();
const output = options.string("output");

const p = Pipeline.create(options);
p.apply("Create words", Create.of(["to be or not to be"]))
  .apply("Split words", FlatMap((words: string) => words.split(" ")))
  .apply("Write to file", WriteToText(output));

await p.run();
