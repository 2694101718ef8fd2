/**
 * A pipeline file that builds one conformance case by name, for running the corpus through the
 * real CLI (external.test.ts):
 *
 *   sluice run test/conformance/run-case.ts --case <name> --output <prefix> --input_dir <dir> [runner flags]
 *
 * On an EXTERNAL or PROCESS environment this file is what gets shipped: each worker imports it
 * and rebuilds the same case from the same flags. After the run it prints one line,
 * `sluice-case-result {"state":…,"counters":{…}}`, with the case's counters as the runner reported them.
 */
import { Pipeline, PipelineOptions } from "sluice";
import { corpus } from "./corpus.js";

const options = PipelineOptions.fromLaunch();
const name = options.string("case");
const c = corpus.find((x) => x.name === name);
if (c === undefined) {
  throw new Error(`run-case: no conformance case named "${name}" (cases: ${corpus.map((x) => x.name).join(", ")})`);
}
const p = Pipeline.create(options);
c.build(p, { output: options.string("output"), inputDir: options.string("input_dir") });
const result = await p.run();
const counters = Object.fromEntries(Object.keys(c.counters ?? {}).map((counter) => [counter, result.metrics.counter(counter)]));
console.log(`sluice-case-result ${JSON.stringify({ state: result.state, counters })}`);
