/**
 * Writes game events for the Mobile Gaming examples, like Beam's Injector: teams of users scoring
 * points, one `user,team,score,timestamp_ms,readable_time` line per event, in the order a stream
 * would deliver them: event times jitter (out of order), some events arrive late (their time is
 * up to `--late_minutes` behind the stream's), and a few lines are unparsable. As in Beam's
 * injector, about a third of the teams has a robot (`Robot-N`, N < 20), a spammer that scores for
 * the team more often than its members (what game_stats detects). Deterministic: the same `--seed`
 * gives the same file.
 *
 *   npx sluice run examples/game/injector.ts --output data/game.csv [--events 10000] [--seed 1]
 *       [--start_min 2015-11-19-09-00] [--hours 4] [--late_minutes 90]
 *
 * With --topic the events go to a Kafka topic instead (as Beam's injector publishes to Pub/Sub),
 * one record per line, in stream order, each record's create time its event time (the stream
 * position for unparsable lines); the streaming examples read it with --topic:
 *
 *   npx sluice run examples/game/injector.ts --topic game [--bootstrap_servers 127.0.0.1:9092]
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { Create, Map as PMap, Pipeline, PipelineOptions, SluiceError, WithTimestamps, WriteToKafka } from "sluice";
import { formatInstant, parseMinute } from "./events.js";

const options = PipelineOptions.fromLaunch();
const topic = options.has("topic") ? options.string("topic") : undefined;
const output = topic === undefined ? options.string("output") : undefined;
const events = options.integer("events", 10_000);
const seed = options.integer("seed", 1);
const start = parseMinute(options.string("start_min", "2015-11-19-09-00"), "start_min");
const hours = options.number("hours", 4);
const lateMinutes = options.number("late_minutes", 90);
if (!(events > 0) || !(hours > 0)) throw new SluiceError("INVALID_ARGUMENT", "--events and --hours must be positive", { hint: "e.g. --events 10000 --hours 4" });

/** mulberry32: a small, well-mixed 32-bit PRNG; the same seed gives the same stream. */
function prng(s: number): () => number {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = prng(seed);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;

const COLORS = ["Amber", "Apricot", "Aqua", "Bisque", "Blue", "Coral", "Crimson", "Cyan", "Magenta", "Olive", "Orchid", "Sienna", "Teal", "Violet"];
const ANIMALS = ["Dingo", "Echidna", "Kangaroo", "Koala", "Numbat", "Platypus", "Quokka", "Wallaby", "Wombat", "Bilby"];
const teams = Array.from(new Set(Array.from({ length: 40 }, () => `${pick(COLORS)}${pick(ANIMALS)}`))).slice(0, 15);
const users = new Map(teams.map((team) => [team, Array.from({ length: 3 + Math.floor(random() * 6) }, (_, i) => `user${i}_${team}`)]));
// A robot scores with probability 1 / (members / 2) when its team does, as Beam's (at least 1/2).
const robots = new Map(teams.flatMap((team) => (random() < 1 / 3 ? [[team, `Robot-${Math.floor(random() * 20)}`] as const] : [])));

const span = hours * 3_600_000;
const lines: string[] = [];
/** Each line's stream position (when it is injected), for the records' create times. */
const positions: number[] = [];
for (let i = 0; i < events; i++) {
  // Stream position: events arrive spread over the span; event times jitter by up to 2 minutes.
  const now = start + Math.floor((i / events) * span);
  let ts = now - Math.floor(random() * 120_000);
  if (random() < 0.05) ts = now - Math.floor(random() * lateMinutes * 60_000); // late
  ts = Math.max(start, ts);
  const team = pick(teams);
  const members = users.get(team)!;
  const robot = robots.get(team);
  const user = robot !== undefined && random() < 1 / Math.max(2, Math.floor(members.length / 2)) ? robot : pick(members);
  const score = 1 + Math.floor(random() * 20);
  positions.push(now);
  const r = random();
  if (r < 0.005) lines.push(`${user},${team},${score}`); // truncated
  else if (r < 0.01) lines.push(`${user},${team},many,${ts},${formatInstant(ts)}`); // bad score
  else lines.push(`${user},${team},${score},${ts},${formatInstant(ts)}`);
}
if (output !== undefined) {
  mkdirSync(dirname(output), { recursive: true });
  writeFileSync(output, `${lines.join("\n")}\n`);
  console.log(`injector: wrote ${lines.length} events of ${teams.length} teams to ${output}`);
} else {
  const servers = options.string("bootstrap_servers", "127.0.0.1:9092");
  const eventTime = (line: string, i: number): number => {
    const t = Number(line.split(",")[3]);
    return Number.isSafeInteger(t) ? t : (positions[i] as number);
  };
  const p = Pipeline.create(options);
  p.apply("Events", Create.of(lines.map((line, i) => ({ line, time: eventTime(line, i) }))))
    .apply("EventTime", WithTimestamps((e: { line: string; time: number }) => e.time))
    .apply("Record", PMap((e: { line: string; time: number }): [null, string] => [null, e.line]))
    .apply(
      "Publish",
      WriteToKafka({
        producerConfig: { "bootstrap.servers": servers },
        topic: topic as string,
        valueSerializer: "org.apache.kafka.common.serialization.StringSerializer",
        withInputTimestamp: true,
      }),
    );
  await p.run();
  console.log(`injector: wrote ${lines.length} events of ${teams.length} teams to Kafka topic ${topic} at ${servers}`);
}
