/**
 * One's own unbounded source: `ReadFromUnbounded(source)` reads an `UnboundedSource`, a set of
 * partitions each polled for what is available after its checkpoint.
 *
 * ```ts
 * const source: UnboundedSource<string, number> = {
 *   partitions: () => ["0", "1"],
 *   async poll(partition, offset = 0) {
 *     const batch = await fetchLines(partition, offset);        // whatever the system offers
 *     return {
 *       records: batch.map((b) => ({ value: b.line, timestamp: b.time })),
 *       checkpoint: offset + batch.length,
 *       watermark: batch.at(-1)?.time,                          // later records are not earlier
 *       pollAfterMs: batch.length > 0 ? 0 : 500,
 *     };
 *   },
 * };
 * p.apply("Lines", ReadFromUnbounded(source));
 * ```
 *
 * It is built from the model's own parts, so every runner that runs state and timers runs it the
 * same way (and keeps its checkpoints where it keeps state: on Flink, in checkpoints and
 * savepoints): Impulse, a DoFn listing the partitions, and a stateful DoFn per partition whose
 * timer polls, keeping the partition's checkpoint and watermark in state. The timer's output
 * timestamp is the partition's watermark, so the output's watermark is the least of the
 * partitions' (a partition that is `done` no longer holds it). Records go out with their
 * timestamps; one behind the watermark is late downstream. The output is unbounded: the direct
 * runner runs such a pipeline on the wall clock until every partition is done.
 *
 * How the timer drives the polls depends on who schedules it. The direct runner's own runtime
 * uses a processing-time timer due `pollAfterMs` later. Through the harness, a remote runner
 * schedules it, and there it is an event-time timer at the partition's watermark, re-set after
 * each poll, with the wait before the next poll kept in state and slept off in short steps: Beam
 * 2.62's Flink runner drops processing-time timers of a global window once its input watermark
 * has passed the window's end, which Impulse's does at once (its source emits the end of time
 * right after its element), while an event-time timer at or behind the input watermark fires in
 * the runner's next bundle there, as on every portable runner. The runner's bundle rhythm
 * (`--max_bundle_time_mills` on Flink) sets the pace of polls then.
 */
import type { Coder } from "../coders/coder.js";
import type { PBegin, PCollection } from "../pvalue.js";
import { REMOTE_TIMERS, StateSpec, TimerSpec } from "../state.js";
import { GLOBAL_WINDOW_MAX_TIMESTAMP, MIN_TIMESTAMP, type Timestamp } from "../time.js";
import { PTransform } from "../transform.js";
import { Impulse, ParDo, type TimestampedValue } from "../transforms/core.js";

type MaybePromise<T> = T | Promise<T>;

/** What one poll of a partition read. */
export interface PollResult<T, C> {
  /** The records read, each with its event time. */
  readonly records: readonly TimestampedValue<T>[];
  /** Where the next poll starts: kept in the runner's state per partition. */
  readonly checkpoint: C;
  /**
   * No later record of this partition is earlier than this (default: the latest record timestamp
   * so far, right for a partition read in timestamp order). It never moves back.
   */
  readonly watermark?: Timestamp;
  /** The partition has ended: no more polls. */
  readonly done?: boolean;
  /** When to poll again, ms (default: at once after records, 1000 after none). */
  readonly pollAfterMs?: number;
}

/** A source of unbounded data (see the module comment). */
export interface UnboundedSource<T, C = unknown> {
  /** The partitions to read, each on its own (e.g. a topic's partitions). */
  partitions(): MaybePromise<readonly string[]>;
  /** Reads what is available in `partition` after `checkpoint` (undefined on the first poll). */
  poll(partition: string, checkpoint: C | undefined): MaybePromise<PollResult<T, C>>;
  /** The checkpoint coder (default: the JS value coder). */
  readonly checkpointCoder?: Coder<C>;
}

class ReadFromUnboundedTransform<T, C> extends PTransform<PBegin, PCollection<T>> {
  constructor(private readonly source: UnboundedSource<T, C>) {
    super("ReadFromUnbounded");
  }
  expand(input: PBegin): PCollection<T> {
    const source = this.source;
    const partitions: PCollection<[string, null]> = input.pipeline.apply("Impulse", new Impulse()).apply(
      "Partitions",
      ParDo({
        async process() {
          return (await source.partitions()).map((p): [string, null] => [String(p), null]);
        },
      }),
    );
    // Through the harness, a wait longer than this is slept off across several firings, so one
    // partition's wait never holds a bundle (and the others polled in it) for long.
    const MAX_SLEEP_MS = 50;
    const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
    return partitions.apply(
      "Read",
      ParDo(
        {
          state: {
            checkpoint: StateSpec.value<C>(source.checkpointCoder),
            watermark: StateSpec.value<number>(),
            due: StateSpec.value<number>(),
          },
          timers: { poll: TimerSpec.processingTime(), tick: TimerSpec.eventTime() },
          process(_partition, ctx) {
            if ((ctx as unknown as Record<symbol, boolean>)[REMOTE_TIMERS] === true) ctx.timers.tick.set(ctx.timestamp, { outputTimestamp: ctx.timestamp });
            else ctx.timers.poll.setRelative(0, { outputTimestamp: ctx.timestamp });
          },
          onTimer: {
            async poll(ctx) {
              const r = await source.poll(ctx.key, ctx.state.checkpoint.read());
              const watermark = emit(ctx, r);
              if (r.done !== true) ctx.timers.poll.setRelative(r.pollAfterMs ?? (r.records.length > 0 ? 0 : 1000), { outputTimestamp: watermark });
            },
            async tick(ctx) {
              const held = ctx.state.watermark.read() ?? ctx.fireTimestamp;
              const due = ctx.state.due.read() ?? 0;
              const wait = due - Date.now();
              if (wait > 0) {
                await sleep(Math.min(wait, MAX_SLEEP_MS));
                if (due > Date.now()) {
                  ctx.timers.tick.set(held, { outputTimestamp: held });
                  return;
                }
              }
              const r = await source.poll(ctx.key, ctx.state.checkpoint.read());
              const watermark = emit(ctx, r);
              if (r.done === true) return;
              ctx.state.due.write(Date.now() + (r.pollAfterMs ?? (r.records.length > 0 ? 0 : 1000)));
              ctx.timers.tick.set(watermark, { outputTimestamp: watermark });
            },
          },
        },
        { unboundedOutput: true },
      ),
    );

    /** Emits a poll's records, keeps its checkpoint and the partition's watermark; returns the watermark. */
    function emit(
      ctx: {
        outputWithTimestamp(v: T, t: Timestamp): void;
        readonly state: { checkpoint: { write(c: C): void }; watermark: { read(): number | undefined; write(w: number): void } };
      },
      r: PollResult<T, C>,
    ): number {
      let watermark = ctx.state.watermark.read() ?? MIN_TIMESTAMP;
      let latest = watermark;
      for (const rec of r.records) {
        ctx.outputWithTimestamp(rec.value, rec.timestamp);
        if (rec.timestamp > latest) latest = rec.timestamp;
      }
      watermark = Math.min(Math.max(watermark, r.watermark ?? latest), GLOBAL_WINDOW_MAX_TIMESTAMP);
      ctx.state.checkpoint.write(r.checkpoint);
      ctx.state.watermark.write(watermark);
      return watermark;
    }
  }
}

/** Reads an unbounded source (see the module comment). */
export function ReadFromUnbounded<T, C>(source: UnboundedSource<T, C>): PTransform<PBegin, PCollection<T>> {
  return new ReadFromUnboundedTransform(source);
}
