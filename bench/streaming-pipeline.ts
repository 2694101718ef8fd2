/**
 * The streaming benchmark's pipeline (bench/streaming.ts): game events (`user,team,score`) from a
 * Kafka topic, timestamped with their create times, summed per team in --window_ms fixed windows
 * with early panes every --early_ms of processing time (AfterWatermark, accumulating), each pane
 * written to --out_topic as `team,window_start,total,events,latest_event_time`. --max_records ends
 * the read (a throughput run); without it the job streams until cancelled (a latency run).
 */
import {
  AfterProcessingTime,
  AfterWatermark,
  CombinePerKey,
  Duration,
  FixedWindows,
  type IntervalWindow,
  Map,
  Pipeline,
  PipelineOptions,
  ReadFromKafka,
  WindowInto,
  WriteToKafka,
} from "sluice";

const options = PipelineOptions.fromLaunch();
const servers = options.string("bootstrap_servers");
const maxRecords = options.has("max_records") ? options.integer("max_records") : undefined;
const p = Pipeline.create(options);

type Acc = [total: number, events: number, latest: number];
p.apply(
  "ReadEvents",
  ReadFromKafka({
    consumerConfig: { "bootstrap.servers": servers, "auto.offset.reset": "earliest" },
    topics: [options.string("in_topic")],
    valueDeserializer: "org.apache.kafka.common.serialization.StringDeserializer",
    timestampPolicy: "CreateTime",
    ...(maxRecords !== undefined ? { maxNumRecords: maxRecords } : {}),
  }),
)
  .apply(
    "ParseEvents",
    Map(([, line]: [Uint8Array | null, string | null], c): [string, [number, number]] => {
      const [, team, score] = (line ?? "").split(",");
      return [team ?? "", [Number(score), c.timestamp]];
    }),
  )
  .apply(
    "TeamWindows",
    WindowInto<[string, [number, number]]>(FixedWindows(Duration.millis(options.integer("window_ms", 10_000))), {
      trigger: AfterWatermark({ early: AfterProcessingTime(Duration.millis(options.integer("early_ms", 200))) }),
      accumulationMode: "ACCUMULATING",
      allowedLateness: 0,
    }),
  )
  .apply(
    "SumTeamScores",
    CombinePerKey<string, [number, number], Acc, Acc>({
      createAccumulator: () => [0, 0, 0],
      addInput: (a, [score, t]) => [a[0] + score, a[1] + 1, Math.max(a[2], t)],
      mergeAccumulators: (accs) => {
        const out: Acc = [0, 0, 0];
        for (const a of accs) {
          out[0] += a[0];
          out[1] += a[1];
          out[2] = Math.max(out[2], a[2]);
        }
        return out;
      },
      extractOutput: (a) => a,
    }),
  )
  .apply("FormatPanes", Map(([team, [total, n, latest]]: [string, Acc], c): [string, string] => [team, `${team},${(c.window as IntervalWindow).start},${total},${n},${latest}`]))
  .apply(
    "WriteScores",
    WriteToKafka({
      producerConfig: { "bootstrap.servers": servers, acks: "1" },
      topic: options.string("out_topic"),
      keySerializer: "org.apache.kafka.common.serialization.StringSerializer",
      valueSerializer: "org.apache.kafka.common.serialization.StringSerializer",
    }),
  );
await p.run();
