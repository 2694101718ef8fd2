/**
 * `npm run bench -- flink`: wordcount and a Map-heavy pipeline on Beam's Flink job server with an
 * embedded Flink ([local]), user code in the TypeScript SDK harness (LOOPBACK, in this process).
 * Reports elements/s and data-plane MB/s as seen by the harness.
 */
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import {
  Count,
  Filter,
  FlatMap,
  Impulse,
  Map,
  Pipeline,
  PipelineOptions,
  ReadFromText,
  Reshuffle,
  Sum,
  WriteToText,
} from "sluice";
import { dataPlaneStats, PortableRunner, startFlinkJobServer } from "sluice/portable";
import { ensureCorpus } from "./corpus.js";

export interface FlinkBenchResult {
  readonly name: string;
  readonly seconds: number;
  readonly elements: number;
  readonly elements_per_s: number;
  readonly data_plane_mb: number;
  readonly data_plane_mb_s: number;
}

async function measure(name: string, runner: PortableRunner, p: Pipeline): Promise<FlinkBenchResult> {
  Object.assign(dataPlaneStats, { elementsIn: 0, bytesIn: 0, elementsOut: 0, bytesOut: 0 });
  const t0 = performance.now();
  await runner.run(p);
  const seconds = (performance.now() - t0) / 1000;
  const elements = dataPlaneStats.elementsIn + dataPlaneStats.elementsOut;
  const mb = (dataPlaneStats.bytesIn + dataPlaneStats.bytesOut) / 1e6;
  const r = {
    name,
    seconds: Number(seconds.toFixed(2)),
    elements,
    elements_per_s: Math.round(elements / seconds),
    data_plane_mb: Number(mb.toFixed(1)),
    data_plane_mb_s: Number((mb / seconds).toFixed(2)),
  };
  console.log(`  ${name}: ${JSON.stringify(r)}`);
  return r;
}

export async function flinkBench(here: string): Promise<Record<string, unknown>> {
  const mb = Number(process.env.SLUICE_BENCH_FLINK_MB ?? 20);
  const n = Number(process.env.SLUICE_BENCH_FLINK_ELEMENTS ?? 2_000_000);
  const corpus = join(here, "data", `zipf-${mb}mb.txt`);
  await ensureCorpus(corpus, mb);
  const out = join(here, "data", "flink-out");
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  const server = await startFlinkJobServer({ log: (m) => console.log(m) });
  try {
    const runner = new PortableRunner(server.endpoint, { log: (l) => (l.includes("[") ? console.log(l) : undefined) });
    const WORD = /[\p{L}\p{N}_']+/gu;
    const wc = Pipeline.create(PipelineOptions.create());
    wc.apply("Read", ReadFromText(corpus))
      .apply("Split", FlatMap((line: string) => line.match(WORD) ?? []))
      .apply("Count", Count.perElement())
      .apply("Format", Map(([w, c]: [string, number]) => `${w}: ${c}`))
      .apply("Write", WriteToText(join(out, "counts")));
    const wordcount = await measure(`wordcount (${mb} MB)`, runner, wc);

    const mh = Pipeline.create(PipelineOptions.create());
    mh.apply("Impulse", new Impulse())
      .apply("Generate", FlatMap(function* () {
        for (let i = 0; i < n; i++) yield i;
      }))
      .apply("Reshuffle", Reshuffle())
      .apply("Double", Map((x: number) => x * 2))
      .apply("Describe", Map((x: number) => ({ x, even: x % 4 === 0 })))
      .apply("Even", Filter((r: { x: number; even: boolean }) => r.even))
      .apply("Back", Map((r: { x: number }) => r.x))
      .apply("Sum", Sum.globally())
      .apply("Write", WriteToText(join(out, "sum")));
    const mapHeavy = await measure(`map-heavy (${n} elements)`, runner, mh);
    return {
      benchmark: "flink",
      runner: "Beam Flink job server, Flink [local], TypeScript harness (LOOPBACK)",
      wordcount,
      map_heavy: mapHeavy,
      node: process.version,
      measured_at: new Date().toISOString(),
    };
  } finally {
    await server.stop();
    await rm(out, { recursive: true, force: true });
  }
}
