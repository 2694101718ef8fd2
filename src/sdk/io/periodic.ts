/**
 * PeriodicImpulse (Beam Python's `apache_beam.transforms.periodicsequence.PeriodicImpulse`): an
 * unbounded source that emits its own firing times, `startTimestamp`, `startTimestamp +
 * fireInterval`, … up to (not including) `stopTimestamp`, each at that time of the wall clock (a
 * start in the past emits what is due at once), each element timestamped with its firing time;
 * `applyWindowing` puts each into its own FixedWindows(fireInterval) window.
 *
 * ```ts
 * p.apply("Ticks", PeriodicImpulse({ fireInterval: Duration.seconds(10) }))
 *   .apply("Read", Map(async (t: number) => fetchReadings(t)));
 * ```
 *
 * Times are ms since the epoch (Beam Python takes seconds). The watermark follows the firings; the
 * source ends at `stopTimestamp` (default: never, so the pipeline runs until it is stopped).
 * It is an UnboundedSource (io/unbounded.ts) of one partition whose checkpoint is the next firing,
 * so it runs wherever state and timers run (not on a splittable DoFn: Beam's leaks keyed state on
 * every resume on Flink 2.62, apache/beam#27648).
 */
import { SluiceError } from "../../internal/errors.js";
import type { PBegin, PCollection } from "../pvalue.js";
import { MAX_TIMESTAMP, type Timestamp } from "../time.js";
import { PTransform } from "../transform.js";
import { WindowInto } from "../transforms/util.js";
import { FixedWindows } from "../windowing/windowfns.js";
import { ReadFromUnbounded, type UnboundedSource } from "./unbounded.js";

export interface PeriodicImpulseOptions {
  /** The first firing, ms since the epoch (default: now). */
  readonly startTimestamp?: Timestamp;
  /** No firing at or after this time (default: never stops). */
  readonly stopTimestamp?: Timestamp;
  /** Time between firings, ms (default 360 000: Beam's 360 s). */
  readonly fireInterval?: number;
  /** Window each element into FixedWindows(fireInterval) (default false). */
  readonly applyWindowing?: boolean;
}

/** The firings as a source: the checkpoint is the index of the next firing. */
function firings(start: Timestamp, stop: Timestamp, interval: number): UnboundedSource<number, number> {
  return {
    partitions: () => ["0"],
    poll(_partition, next = 0) {
      const now = Date.now();
      const records: { value: number; timestamp: Timestamp }[] = [];
      let t = start + next * interval;
      while (t <= now && t < stop) {
        records.push({ value: t, timestamp: t });
        t = start + ++next * interval;
      }
      return { records, checkpoint: next, watermark: t, done: t >= stop, pollAfterMs: Math.max(0, t - now) };
    },
  };
}

class PeriodicImpulseTransform extends PTransform<PBegin, PCollection<number>> {
  constructor(private readonly options: PeriodicImpulseOptions) {
    super("PeriodicImpulse");
  }
  expand(input: PBegin): PCollection<number> {
    const o = this.options;
    const interval = o.fireInterval ?? 360_000;
    const start = o.startTimestamp ?? Date.now();
    const stop = o.stopTimestamp ?? MAX_TIMESTAMP;
    if (!Number.isFinite(interval) || interval <= 0) {
      throw new SluiceError("INVALID_ARGUMENT", `PeriodicImpulse fireInterval must be a positive number of ms, got ${interval}`, { hint: "e.g. fireInterval: Duration.seconds(10)." });
    }
    if (!Number.isFinite(start) || !(stop > start)) {
      throw new SluiceError("INVALID_ARGUMENT", `PeriodicImpulse needs startTimestamp < stopTimestamp (ms), got ${start} and ${stop}`, { hint: "Pass times in ms since the epoch, e.g. Date.now()." });
    }
    const ticks = input.pipeline.apply("Impulses", ReadFromUnbounded(firings(start, stop, interval)));
    return o.applyWindowing ? ticks.apply("ApplyWindowing", WindowInto<number>(FixedWindows(interval))) : ticks;
  }
}

/** An unbounded source of its own firing times (see the module comment). */
export function PeriodicImpulse(options: PeriodicImpulseOptions = {}): PTransform<PBegin, PCollection<number>> {
  return new PeriodicImpulseTransform(options);
}
