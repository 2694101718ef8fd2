/**
 * TestStream (Beam's): an unbounded source whose elements, watermark and processing time a test
 * scripts, so event-time behaviour (triggers, lateness, timers) can be checked deterministically.
 *
 * ```ts
 * p.apply("Events", TestStream.create<string>()
 *   .addElements({ value: "a", timestamp: 10_000 }, { value: "b", timestamp: 20_000 })
 *   .advanceWatermarkTo(70_000)
 *   .addElements({ value: "late", timestamp: 40_000 })
 *   .advanceProcessingTime(Duration.seconds(30))
 *   .advanceWatermarkToInfinity())
 * ```
 *
 * Elements given without a timestamp take the watermark current at that point of the script (the
 * start: the minimum timestamp), so they are never late. Runners execute the script: Prism (and
 * Flink, for element and watermark events) from the Runner API's TestStreamPayload.
 */
import { SluiceError } from "../../internal/errors.js";
import type { Coder } from "../coders/coder.js";
import { JsValueCoder } from "../coders/index.js";
import type { TestStreamEvent } from "../graph.js";
import type { PBegin, PCollection } from "../pvalue.js";
import { MAX_TIMESTAMP, MIN_TIMESTAMP, type Timestamp } from "../time.js";
import { type ExpandContext, PTransform } from "../transform.js";
import type { TimestampedValue } from "../transforms/core.js";
import { DEFAULT_WINDOWING } from "../windowing/windowfns.js";

function isTimestamped<T>(e: T | TimestampedValue<T>): e is TimestampedValue<T> {
  return typeof e === "object" && e !== null && "value" in e && "timestamp" in e && Object.keys(e).length === 2;
}

/** A scripted unbounded PCollection; build it with the methods, each returning a new TestStream. */
export class TestStream<T> extends PTransform<PBegin, PCollection<T>> {
  private constructor(
    private readonly events: readonly TestStreamEvent[],
    private readonly watermark: Timestamp,
    private readonly elementCoder: Coder<T> | undefined,
  ) {
    super("TestStream");
  }

  /** An empty script; `coder` encodes the elements (default: the JS value coder). */
  static create<T>(coder?: Coder<T>): TestStream<T> {
    return new TestStream<T>([], MIN_TIMESTAMP, coder);
  }

  /** Adds elements, each `{ value, timestamp }` or a plain value (timestamped at the current watermark). */
  addElements(...elements: (T | TimestampedValue<T>)[]): TestStream<T> {
    if (elements.length === 0) {
      throw new SluiceError("INVALID_ARGUMENT", "TestStream.addElements needs at least one element", { hint: "Pass the elements to add, e.g. addElements({ value: 1, timestamp: 0 })." });
    }
    const added = elements.map((e) => (isTimestamped(e) ? { value: e.value as unknown, timestamp: e.timestamp } : { value: e as unknown, timestamp: this.watermark }));
    for (const e of added) {
      if (!Number.isFinite(e.timestamp) || e.timestamp < MIN_TIMESTAMP || e.timestamp > MAX_TIMESTAMP) {
        throw new SluiceError("INVALID_ARGUMENT", `TestStream element timestamp ${e.timestamp} is outside Beam's time range`, { hint: "Use milliseconds since the epoch." });
      }
    }
    return new TestStream<T>([...this.events, { kind: "elements", elements: added }], this.watermark, this.elementCoder);
  }

  /** Advances the watermark to `timestamp` (ms); it never goes back. */
  advanceWatermarkTo(timestamp: Timestamp): TestStream<T> {
    if (!(timestamp >= this.watermark)) {
      throw new SluiceError("INVALID_ARGUMENT", `TestStream.advanceWatermarkTo(${timestamp}) would move the watermark back from ${this.watermark}`, {
        hint: "Watermarks only advance: pass a timestamp at or after the last one.",
      });
    }
    return new TestStream<T>([...this.events, { kind: "watermark", to: Math.min(timestamp, MAX_TIMESTAMP) }], timestamp, this.elementCoder);
  }

  /** Ends the stream: the watermark passes every window. */
  advanceWatermarkToInfinity(): TestStream<T> {
    return this.advanceWatermarkTo(MAX_TIMESTAMP);
  }

  /** Advances processing time by `durationMs`. */
  advanceProcessingTime(durationMs: number): TestStream<T> {
    if (!Number.isFinite(durationMs) || durationMs <= 0) {
      throw new SluiceError("INVALID_ARGUMENT", `TestStream.advanceProcessingTime needs a positive duration, got ${durationMs}`, { hint: "Pass milliseconds, e.g. advanceProcessingTime(Duration.seconds(10))." });
    }
    return new TestStream<T>([...this.events, { kind: "processing_time", advanceBy: durationMs }], this.watermark, this.elementCoder);
  }

  expand(_input: PBegin, ctx: ExpandContext): PCollection<T> {
    ctx.primitive({ kind: "test_stream", events: this.events });
    return ctx.output("main", this.elementCoder ?? (JsValueCoder as Coder<T>), DEFAULT_WINDOWING);
  }
}
