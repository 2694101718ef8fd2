/**
 * The Mobile Gaming examples' shared parts, as in Beam's game examples: one game event per input
 * line, `user,team,score,timestamp_ms,readable_time`, parsed with unparsable lines counted
 * (`num_parse_errors`) and skipped; and the per-key score sum.
 */
import { FlatMap, Map, Metrics, type PCollection, PTransform, SluiceError, Sum } from "sluice";

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

