/**
 * The Mobile Gaming examples' shared parts, as in Beam's game examples: one game event per input
 * line, `user,team,score,timestamp_ms,readable_time`, parsed with unparsable lines counted
 * (`num_parse_errors`) and skipped; the per-key score sum; and, for the streaming examples
 * (leader_board, game_stats), the input as a batch of files or as an unbounded stream replayed
 * from them (`ReadGameEvents`).
 */
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { globSync } from "tinyglobby";
import {
  FlatMap,
  Map,
  Metrics,
  type PBegin,
  type PCollection,
  type PipelineOptions,
  PTransform,
  ReadFromKafka,
  ReadFromText,
  SluiceError,
  StringUtf8Coder,
  Sum,
  TestStream,
  WithTimestamps,
} from "sluice";

export interface GameEvent {
  readonly user: string;
  readonly team: string;
  readonly score: number;
  /** Event time, ms since the epoch. */
  readonly timestamp: number;
}

const parseErrors = Metrics.counter("game", "num_parse_errors");

/** One event from a line, or undefined (counted) when the line does not parse. */
export function parseEvent(line: string): GameEvent | undefined {
  const fields = line.split(",");
  const [user, team, score, timestamp] = fields;
  const s = Number(score);
  const t = Number(timestamp);
  if (fields.length < 4 || !user || !team || !/^-?\d+$/.test(score ?? "") || !/^\d+$/.test(timestamp ?? "") || !Number.isSafeInteger(s) || !Number.isSafeInteger(t)) {
    parseErrors.inc();
    return undefined;
  }
  return { user, team, score: s, timestamp: t };
}

/** Lines → events; unparsable lines are counted in `num_parse_errors` and skipped (Beam's ParseGameEventFn). */
export function ParseGameEvents(): PTransform<PCollection<string>, PCollection<GameEvent>> {
  return new (class extends PTransform<PCollection<string>, PCollection<GameEvent>> {
    expand(lines: PCollection<string>): PCollection<GameEvent> {
      return lines.apply(
        "Parse",
        FlatMap((line: string) => {
          const e = parseEvent(line);
          return e === undefined ? [] : [e];
        }),
      );
    }
  })("ParseGameEvents");
}

/** `[user or team, total score]` per key (Beam's ExtractAndSumScore). */
export function ExtractAndSumScore(field: "user" | "team"): PTransform<PCollection<GameEvent>, PCollection<[string, number]>> {
  return new (class extends PTransform<PCollection<GameEvent>, PCollection<[string, number]>> {
    expand(events: PCollection<GameEvent>): PCollection<[string, number]> {
      return events.apply("Key", Map((e: GameEvent): [string, number] => [e[field], e.score])).apply("Sum", Sum.perKey<string>());
    }
  })(`ExtractAndSumScore(${field})`);
}

/** `yyyy-MM-dd-HH-mm` (UTC, as Beam's --start_min/--stop_min) → ms since the epoch. */
export function parseMinute(text: string, flag: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$/.exec(text);
  const ms = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5])) : NaN;
  if (!m || Number.isNaN(ms)) {
    throw new SluiceError("INVALID_ARGUMENT", `--${flag}=${text} is not a minute as yyyy-MM-dd-HH-mm`, { hint: `Write it like --${flag}=2015-11-19-09-00 (UTC).` });
  }
  return ms;
}

/** `YYYY-MM-DD HH:MM:SS.000` (UTC), as Beam's game examples print window starts. */
export function formatInstant(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").replace("Z", "");
}

/**
 * The lines of the files `pattern` matches (sorted by name; `.gz` files gunzipped), read when the
 * pipeline is built: what the streaming input replays.
 */
export function readLines(pattern: string): string[] {
  const files = /[*?[{]/.test(pattern)
    ? globSync(pattern, { onlyFiles: true, absolute: true, expandDirectories: false }).sort()
    : pattern.endsWith("/")
      ? globSync(`${pattern}*`, { onlyFiles: true, absolute: true, expandDirectories: false }).sort()
      : [pattern];
  const lines: string[] = [];
  for (const f of files) {
    let text: string;
    try {
      const bytes = readFileSync(f);
      text = (f.endsWith(".gz") ? gunzipSync(bytes) : bytes).toString("utf8");
    } catch (err) {
      throw new SluiceError("NOT_FOUND", `Cannot read the game events in ${f}: ${(err as Error).message}`, { hint: "Write them first with examples/game/injector.ts, or check --input." });
    }
    for (const l of text.split("\n")) if (l.replace(/\r$/, "") !== "") lines.push(l.replace(/\r$/, ""));
  }
  if (files.length === 0) throw new SluiceError("NOT_FOUND", `No files match '${pattern}'`, { hint: "Check --input (a file or a glob)." });
  return lines;
}

/** How the replayed stream moves: one bundle per minute of stream time, the watermark two minutes behind. */
export const STREAM_STEP_MS = 60_000;
/** The watermark's lag behind stream time: the injector's jitter (on-time events are at most 2 minutes old). */
export const WATERMARK_LAG_MS = 120_000;

/** A line's event time, when its fourth field is one (unparsable lines may still carry one). */
export function lineTime(line: string): number | undefined {
  const t = line.split(",")[3];
  return t !== undefined && /^\d+$/.test(t) ? Number(t) : undefined;
}

/**
 * The lines as an unbounded stream (a TestStream), in the order of the file, as a Pub/Sub
 * subscription would deliver the injector's events, each timestamped with its event time (as
 * Beam's examples read Pub/Sub with a timestamp attribute). Stream time is the latest event time
 * seen so far; the lines of one minute of stream time are one bundle. When the stream enters a
 * later minute M, the bundle so far is delivered, processing time advances by the minutes passed,
 * and the watermark moves to M's start minus WATERMARK_LAG_MS. So processing-time triggers fire
 * as the stream goes (early panes, periodic panes), windows close as it passes their end (on-time
 * panes), and the injector's late events arrive behind the watermark (late panes, or dropped past
 * the allowed lateness). Lines without a time arrive at the watermark. The stream then ends: the
 * watermark goes to the end of time.
 */
export function eventStream(lines: readonly string[]): TestStream<string> {
  let stream = TestStream.create<string>(StringUtf8Coder);
  let minute: number | undefined;
  let bundle: (string | { value: string; timestamp: number })[] = [];
  for (const line of lines) {
    const t = lineTime(line);
    const m = t === undefined ? undefined : Math.floor(t / STREAM_STEP_MS);
    if (m !== undefined && minute !== undefined && m > minute) {
      if (bundle.length > 0) stream = stream.addElements(...bundle);
      bundle = [];
      stream = stream.advanceProcessingTime((m - minute) * STREAM_STEP_MS).advanceWatermarkTo(m * STREAM_STEP_MS - WATERMARK_LAG_MS);
    }
    if (m !== undefined && (minute === undefined || m > minute)) minute = m;
    bundle.push(t === undefined ? line : { value: line, timestamp: t });
  }
  if (bundle.length > 0) stream = stream.addElements(...bundle);
  return stream.advanceWatermarkToInfinity();
}

/**
 * The injector's Kafka topic (`--topic`, at `--bootstrap_servers`, default 127.0.0.1:9092) as an
 * unbounded stream: each record's create time is its event time, and the watermark stays
 * WATERMARK_LAG_MS behind the latest one read (the injector's jitter), as in the file's replay.
 * `--max_events N` ends the read after N records (a run with final results).
 */
export function readGameTopic(options: PipelineOptions): PTransform<PBegin, PCollection<string>> {
  const topic = options.string("topic");
  const servers = options.string("bootstrap_servers", "127.0.0.1:9092");
  const maxEvents = options.has("max_events") ? options.integer("max_events") : undefined;
  return new (class extends PTransform<PBegin, PCollection<string>> {
    expand(begin: PBegin): PCollection<string> {
      return begin.pipeline
        .apply(
          "ReadFromKafka",
          ReadFromKafka({
            consumerConfig: { "bootstrap.servers": servers, "auto.offset.reset": "earliest" },
            topics: [topic],
            valueDeserializer: "org.apache.kafka.common.serialization.StringDeserializer",
            timestampPolicy: "CreateTime",
            maxDelay: WATERMARK_LAG_MS,
            ...(maxEvents !== undefined ? { maxNumRecords: maxEvents } : {}),
          }),
        )
        .apply("Lines", Map(([, line]: [Uint8Array | null, string | null]) => line ?? ""));
    }
  })("ReadGameTopic");
}

/**
 * The game events of `--input` (a file or glob), timestamped with their event times: read as a
 * batch, or with `--streaming` replayed as an unbounded stream (eventStream); or, with `--topic`,
 * read from the injector's Kafka topic (readGameTopic).
 */
export function ReadGameEvents(options: PipelineOptions): PTransform<PBegin, PCollection<GameEvent>> {
  const fromKafka = options.has("topic");
  const input = fromKafka ? "" : options.string("input");
  const streaming = options.streaming;
  return new (class extends PTransform<PBegin, PCollection<GameEvent>> {
    expand(begin: PBegin): PCollection<GameEvent> {
      const lines = fromKafka
        ? begin.pipeline.apply("ReadGameTopic", readGameTopic(options))
        : streaming
          ? begin.pipeline.apply("ReplayGameEvents", eventStream(readLines(input)))
          : begin.pipeline.apply("ReadInputText", ReadFromText(input));
      return lines.apply("ParseGameEvents", ParseGameEvents()).apply("AddEventTimestamps", WithTimestamps((e: GameEvent) => e.timestamp));
    }
  })("ReadGameEvents");
}
