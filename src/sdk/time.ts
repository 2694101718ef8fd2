/**
 * Event time. Sluice timestamps are milliseconds since the Unix epoch, as plain numbers, the unit
 * Beam's coders put on the wire (int64 millis). Beam's bounds are ±(2^63-1)/1000 ms; those do not
 * fit a double exactly, so the bounds below are the nearest doubles, and the coders map them back
 * to Beam's exact wire values.
 */

/** A point in event time: milliseconds since the Unix epoch. */
export type Timestamp = number;

/** Beam's smallest timestamp, -9223372036854775 ms (nearest double). */
export const MIN_TIMESTAMP: Timestamp = -9223372036854775;
/** Beam's largest timestamp, 9223372036854775 ms (nearest double). */
export const MAX_TIMESTAMP: Timestamp = 9223372036854775;
/** The end of the global window: one day before MAX_TIMESTAMP, as in every Beam SDK. */
export const GLOBAL_WINDOW_MAX_TIMESTAMP: Timestamp = 9223372036854775 - 86_400_000;

/** Exact wire values (int64 millis) of the bounds above. */
export const MIN_TIMESTAMP_MILLIS = -9223372036854775n;
export const MAX_TIMESTAMP_MILLIS = 9223372036854775n;
export const GLOBAL_WINDOW_MAX_TIMESTAMP_MILLIS = 9223372036854775n - 86_400_000n;

/** Converts a timestamp to Beam's exact int64 millis, mapping the bounds to their exact values. */
export function timestampToMillis(ts: Timestamp): bigint {
  if (ts <= MIN_TIMESTAMP) return MIN_TIMESTAMP_MILLIS;
  if (ts >= MAX_TIMESTAMP) return MAX_TIMESTAMP_MILLIS;
  if (ts === GLOBAL_WINDOW_MAX_TIMESTAMP) return GLOBAL_WINDOW_MAX_TIMESTAMP_MILLIS;
  return BigInt(Math.floor(ts));
}

/** Converts Beam's int64 millis to a timestamp. */
export function millisToTimestamp(millis: bigint): Timestamp {
  return Number(millis);
}

/** Durations are milliseconds too; these helpers keep call sites readable. */
export const Duration = {
  millis: (n: number): number => n,
  seconds: (n: number): number => n * 1000,
  minutes: (n: number): number => n * 60_000,
  hours: (n: number): number => n * 3_600_000,
  days: (n: number): number => n * 86_400_000,
} as const;
