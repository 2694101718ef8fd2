/**
 * Benchmark child for `npm run bench -- grouping`: N generated values of about 60 bytes under
 * `keys` keys, grouped with GroupByKey on the direct runner at --max_memory_mb=BUDGET; each group's
 * values are iterated twice. `event-time`: the grouping is the event-time one (a trigger set:
 * panes by the watermark, as for an unbounded input), one on-time pane per key. Prints a JSON
 * line: time, peak RSS, spilled bytes, checksum.
 *
 *   sluice run grouping-child.ts <values> <keys> <budget MB> <temp dir> [event-time]
 */
import { AfterWatermark, FlatMap, GlobalWindows, GroupByKey, Impulse, Map, Pipeline, PipelineOptions, WindowInto } from "sluice";

const [n, keys, budget, temp] = process.argv.slice(2).map((a, i) => (i < 3 ? Number(a) : a)) as [number, number, number, string];
const eventTime = process.argv[6] === "event-time";
const started = performance.now();
let checksum = 0;
const p = Pipeline.create(PipelineOptions.fromArgs([`--max_memory_mb=${budget}`, `--temp_location=${temp}`, "--direct_num_workers=1"]));
p.apply("Impulse", new Impulse())
  .apply("Generate", FlatMap(function* () {
    for (let i = 0; i < n; i++) yield [`key${i % keys}`, `value ${i} ${"v".repeat(44)}`] as [string, string];
  }))
  .apply("Window", WindowInto(GlobalWindows(), eventTime ? { trigger: AfterWatermark(), accumulationMode: "DISCARDING" } : {}))
  .apply("Group", GroupByKey<string, string>())
  .apply("Check", Map(([, vs]: [string, Iterable<string>]) => {
    let a = 0;
    for (const v of vs) a += v.length;
    let b = 0;
    for (const v of vs) b += v.length;
    if (a !== b) throw new Error("a second iteration gave other values");
    checksum += a;
  }));
const r = await p.run();
const seconds = (performance.now() - started) / 1000;
console.log(JSON.stringify({ seconds, peakRssMb: process.resourceUsage().maxRSS / 1024, spilledMb: (r.metrics.counter("spilledBytes") ?? 0) / 1048576, checksum }));
