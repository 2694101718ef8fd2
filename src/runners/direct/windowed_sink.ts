/**
 * Windowed writes on the direct runner: WriteToText of an unbounded collection (or of a bounded one
 * with `windowedWrites: true`) writes a set of shards per window and pane, each set published
 * atomically through the one mechanism of sdk/io/shards.ts (the run's staging directory and prefix
 * lock, a journalled `commitSet` per set).
 *
 * Naming, as Beam Java's windowed writes name files. Verified against Beam's Java SDK sources
 * (apache/beam, sdks/java/core/src/main/java/org/apache/beam/sdk/io/DefaultFilenamePolicy.java at
 * commit 4c927f88a94e21d8be63366332722ac495a18a44, and ShardNameTemplate.java; the same code at the
 * older 164d357f; DefaultFilenamePolicyTest.testConstructWindowedName):
 *
 * - `DEFAULT_UNWINDOWED_SHARD_TEMPLATE = ShardNameTemplate.INDEX_OF_MAX = "-SSSSS-of-NNNNN"` and
 *   `DEFAULT_WINDOWED_SHARD_TEMPLATE = "W-P" + DEFAULT_UNWINDOWED_SHARD_TEMPLATE`, i.e.
 *   `W-P-SSSSS-of-NNNNN`: there is NO separator between the prefix and the window
 *   (`out/counts2024-01-01T00:00:00.000Z-…`; Beam issue #21317 shows such a name,
 *   `anything2021-12-31T23:00:00.000Z…`). `Params.withWindowedWrites()` picks the windowed default
 *   only when the user gave no template; a user's template serves both cases.
 * - `constructName` scans the template once with `(S+|N+|W|P)`: runs of S and N become the shard
 *   index and count zero-padded to the run's length (DecimalFormat: longer numbers are not cut),
 *   each single W the window string, each single P the pane string. Without windowed writes W and
 *   P stay as they are. Sluice does the same in one pass (TextSink.render), keeping its own rule of
 *   at most one run of S and one of N.
 * - `windowToString`: `GlobalWindow` for the global window; for an IntervalWindow
 *   `String.format("%s-%s", start, end)` of Joda Instants, whose toString is ISO-8601 in UTC with
 *   milliseconds, `2024-01-01T00:00:00.000Z` (Joda's ISODateTimeFormat.dateTime(); the year signed
 *   with at least 4 digits: `-290308-12-21T19:59:05.225Z` is Beam's minimum timestamp); any other
 *   window its toString. (Beam PR #37821, merged 2026-03, replaces colons with underscores in the
 *   window string for MS Windows; its diff was not available to check, so Sluice keeps the colons
 *   of the verified source, which is also what the pinned Beam 2.62 Flink job server writes.)
 * - `paneInfoToString`: `pane-<index>` (PaneInfo.getIndex()), then `-late` when the timing is LATE,
 *   then `-last` when isLast: `pane-0`, `pane-1-late`, `pane-0-last`, `pane-3-late-last`.
 *
 * Which pane a set is (Sluice's rule, close to Beam Java's). Beam Java's WriteFiles groups the
 * lines again by shard per window with the input's windowing (its continuation trigger), and names
 * files by the panes of that grouping. The direct runner does not group again: a pane's elements
 * reach the sink within one bundle (a grouping emits its panes, then flushes downstream), so each
 * bundle end publishes, per window that received lines in the bundle, one set: the sink's next pane
 * of that window, with Beam's pane rules applied to the sink's input watermark at that moment:
 * - index: how many sets of this window were published before (0, 1, 2, …), so two keys whose panes
 *   of the same window fire in different bundles get two sets, never one name twice;
 * - timing (only LATE shows in the name): EARLY while the watermark has not passed the end of the
 *   window, ON_TIME for the first set after it did, LATE after that (triggers.ts, paneTiming);
 * - last: the window has expired (the watermark passed its end plus the allowed lateness), so no
 *   grouping upstream emits for it any more.
 * The watermark is the sink's input watermark at the bundle end (the source's, held back by the
 * groupings upstream, as the runner computes it for every collection). For a single-key grouping
 * written directly this gives the grouping's own pane info, except that the set published when the
 * window expires is marked last even where the grouping's pane is not (Beam Java marks its
 * garbage-collection pane last too).
 *
 * Dropping: an element that is no grouping's pane (timing UNKNOWN: an ungrouped write) whose window
 * has already expired when it arrives is dropped and counted in `droppedDueToLateness`, as the
 * grouping inside Beam's WriteFiles drops it. A grouping's panes are never dropped here (that
 * grouping already applied the allowed lateness, with its own input watermark): if one still comes
 * after its window's last set, it gets a set of its own, the next pane.
 *
 * A bounded collection with `windowedWrites: true` gets one set per window, published when the run
 * succeeds (commit), the pane Beam's batch grouping gives a window's only firing: `pane-0-last`
 * (ON_TIME, first and last). Nothing of a failed bounded run is published.
 *
 * Sets and shards: each set has `numShards` shards (0: one), lines spread round-robin from shard 0;
 * only shards that received lines are written, all named `-of-<numShards>` (Beam Java's windowed
 * finalize adds no empty shards: FileBasedSink.WriteOperation.finalizeDestination calls
 * createMissingEmptyShards only without windowed writes). Every file starts with the header. An
 * element in several windows (sliding windows) goes to each window's set. Two sets that would get
 * one final name (a template without W, P or S) fail the run before the second is published.
 *
 * Failure: a set is published all or nothing; sets published earlier in a run stay published when
 * the run fails later (as in Beam: a streaming pipeline's output is not withdrawn); the set being
 * written leaves no final-named file (its temporaries live in the staging directory, which abort
 * removes). At most MAX_OPEN_FILES shard files are open at once: a bounded run over many windows
 * closes the least recently used and reopens it for appending.
 */
import { SluiceError } from "../../internal/errors.js";
import { formatLine, formatWindow, ShardWriter, type TextSink } from "../../sdk/io/text.js";
import type { ShardStaging } from "../../sdk/io/shards.js";
import { MetricsContainer } from "../../sdk/metrics.js";
import { MAX_TIMESTAMP, type Timestamp } from "../../sdk/time.js";
import type { BoundedWindow, PaneInfo } from "../../sdk/windowing/window.js";
import type { WindowingStrategy } from "../../sdk/windowing/windowfns.js";
import { GLOBAL_META, type Meta, type Pending, type SinkOperator, type StepMetrics } from "./operators.js";
import { paneTiming } from "./triggers.js";

/** Shard files a windowed sink keeps open at once; beyond it the least recently used is closed (and reopened to append). */
export const MAX_OPEN_FILES = 64;

const LATE_KEY = MetricsContainer.cellKey("sluice", "droppedDueToLateness");

export interface WindowedSinkConfig {
  /** The WriteToText transform's full label. */
  readonly step: string;
  readonly sink: TextSink;
  /** Upstream edges. */
  readonly inputs: number;
  /** The input's windowing strategy (its allowed lateness decides when a window's last set is). */
  readonly windowing: WindowingStrategy;
  /**
   * The watermark of the sink's input now (the source's, held back by groupings upstream): at a
   * bundle end it decides a set's pane timing and last-ness.
   */
  readonly watermark: () => Timestamp;
  /** A bounded input: one set per window, published at commit. */
  readonly bounded: boolean;
  /** Where dropped elements are counted (droppedDueToLateness). */
  readonly metrics?: StepMetrics;
  /** Shard files open at once (default MAX_OPEN_FILES). */
  readonly maxOpenFiles?: number;
}

/** One shard file of a set, open or closed (then reopened to append). */
interface ShardFile {
  readonly path: string;
  writer: ShardWriter | undefined;
  /** Created (header written) already: a reopen appends. */
  started: boolean;
  /** An eviction's close in progress: a reopen waits for it. */
  closing: Promise<void> | undefined;
}

/** The set of one window being written (until the bundle end, or the end of a bounded input). */
interface OpenSet {
  readonly id: number;
  readonly window: BoundedWindow;
  readonly windowName: string;
  readonly files: (ShardFile | undefined)[];
  next: number;
}

/** What the sink has published for a window: its pane count and history. */
interface WindowPanes {
  panes: number;
  onTimePanes: number;
  onTimeFired: boolean;
}

/** Marks an error as this sink's, so the upstream step it surfaces through does not claim it. */
function attributed(err: SluiceError, step: string): SluiceError {
  Object.defineProperty(err, Symbol.for("sluice.attributedTo"), { value: step });
  return err;
}

/** The direct runner's WriteToText for windowed writes. */
export class WindowedSinkOperator implements SinkOperator {
  private stagingArea: ShardStaging | undefined;
  private readonly sets = new Map<string, OpenSet>();
  private readonly windows = new Map<string, WindowPanes>();
  /** Final names published by this run, with the set each belongs to (to refuse publishing a name twice). */
  private readonly published = new Map<string, string>();
  private readonly names: string[] = [];
  /** Open writers, least recently used first. */
  private readonly lru = new Map<ShardFile, true>();
  private readonly closings = new Set<Promise<void>>();
  private writeFailure: unknown;
  private remainingInputs: number;
  private setIds = 0;
  private readonly shards: number;
  private readonly maxOpen: number;

  constructor(private readonly config: WindowedSinkConfig) {
    this.remainingInputs = config.inputs;
    this.shards = config.sink.numShards || 1;
    this.maxOpen = Math.max(1, config.maxOpenFiles ?? MAX_OPEN_FILES);
  }

  /** Locks the prefix, recovers crashed runs' leftovers and creates the staging directory before any element. */
  async prepare(): Promise<void> {
    this.stagingArea = this.config.sink.prepare(this.config.step);
  }

  /** Never throws: a disk error belongs to this sink and surfaces at the bundle end. */
  receive(value: unknown, meta: Meta = GLOBAL_META): Pending {
    const staging = this.stagingArea;
    if (staging === undefined) return undefined; // aborted
    const line = formatLine(value);
    let waits: Promise<void>[] | undefined;
    for (const window of meta.windows) {
      if (this.expiredOnArrival(window, meta.pane)) {
        this.config.metrics?.bundle.inc(LATE_KEY, 1);
        continue;
      }
      const windowName = formatWindow(window);
      let set = this.sets.get(windowName);
      if (set === undefined) {
        set = { id: this.setIds++, window, windowName, files: new Array<ShardFile | undefined>(this.shards).fill(undefined), next: 0 };
        this.sets.set(windowName, set);
      }
      const i = set.next;
      set.next = (i + 1) % this.shards;
      const file = (set.files[i] ??= { path: staging.path(`set-${set.id}-shard-${i}`), writer: undefined, started: false, closing: undefined });
      const p = this.write(file, line);
      if (p !== undefined) (waits ??= []).push(p);
    }
    if (waits === undefined) return undefined;
    return waits.length === 1 ? waits[0] : Promise.all(waits).then(() => undefined);
  }

  /** Whether an element is ungrouped data behind its window's expiry (dropped, as Beam's WriteFiles grouping drops it). */
  private expiredOnArrival(window: BoundedWindow, pane: PaneInfo): boolean {
    return !this.config.bounded && pane.timing === "UNKNOWN" && this.expired(window, this.config.watermark());
  }

  private expired(window: BoundedWindow, watermark: Timestamp): boolean {
    return window.maxTimestamp() + this.config.windowing.allowedLateness < watermark;
  }

  private write(file: ShardFile, line: string): Promise<void> | undefined {
    if (file.writer !== undefined) {
      this.lru.delete(file);
      this.lru.set(file, true);
      return file.writer.write(line);
    }
    if (file.closing !== undefined) return file.closing.then(() => this.write(file, line));
    file.writer = new ShardWriter(file.path, file.started ? undefined : this.config.sink.header, file.started);
    file.started = true;
    this.lru.set(file, true);
    if (this.lru.size > this.maxOpen) this.evict(this.lru.keys().next().value!);
    return file.writer.write(line);
  }

  /** Closes an open shard file to bound open files; its failure is kept for the bundle end. */
  private evict(file: ShardFile): void {
    const w = file.writer!;
    file.writer = undefined;
    this.lru.delete(file);
    const done: Promise<void> = w
      .close()
      .catch((err: unknown) => {
        this.writeFailure ??= err;
      })
      .then(() => {
        if (file.closing === done) file.closing = undefined;
        this.closings.delete(done);
      });
    file.closing = done;
    this.closings.add(done);
  }

  /** Closes every file of `set`; throws the first write failure of this sink as an IO_ERROR naming it. */
  private async close(set: OpenSet): Promise<void> {
    const closes: Promise<void>[] = [];
    for (const f of set.files) {
      if (f === undefined) continue;
      if (f.closing !== undefined) closes.push(f.closing);
      if (f.writer !== undefined) {
        const w = f.writer;
        f.writer = undefined;
        this.lru.delete(f);
        closes.push(
          w.close().catch((err: unknown) => {
            this.writeFailure ??= err;
          }),
        );
      }
    }
    await Promise.all(closes);
    this.throwWriteFailure();
  }

  private throwWriteFailure(): void {
    if (this.writeFailure === undefined) return;
    const e = SluiceError.from(this.writeFailure, "IO_ERROR");
    throw attributed(
      new SluiceError("IO_ERROR", `Transform '${this.config.step}' could not write '${this.config.sink.prefix}': ${e.message}`, {
        hint: e.hint ?? "Check free disk space and permissions of the output directory.",
        cause: e,
      }),
      this.config.step,
    );
  }

  /** The sink's next pane of `window` at watermark `watermark` (see the rules at the top). */
  private paneOf(window: BoundedWindow, history: WindowPanes, watermark: Timestamp): PaneInfo {
    const timing = paneTiming(window, watermark, history.onTimeFired);
    return {
      isFirst: history.panes === 0,
      isLast: this.expired(window, watermark),
      timing,
      index: history.panes,
      onTimeIndex: timing === "EARLY" ? -1 : history.onTimePanes,
    };
  }

  /** Publishes one window's set as its next pane, atomically; earlier sets are not touched. */
  private async publish(set: OpenSet, watermark: Timestamp): Promise<void> {
    await this.close(set);
    const staging = this.stagingArea!;
    let history = this.windows.get(set.windowName);
    if (history === undefined) {
      history = { panes: 0, onTimePanes: 0, onTimeFired: false };
      this.windows.set(set.windowName, history);
    }
    const pane = this.paneOf(set.window, history, watermark);
    const what = `window ${set.windowName}, pane ${pane.index}`;
    const pairs: { temp: string; final: string }[] = [];
    for (let i = 0; i < set.files.length; i++) {
      const f = set.files[i];
      if (f === undefined) continue;
      const final = this.config.sink.windowedShardName(i, this.shards, set.window, pane);
      const earlier = this.published.get(final) ?? (pairs.some((p) => p.final === final) ? what : undefined);
      if (earlier !== undefined) {
        throw attributed(
          new SluiceError(
            "INVALID_ARGUMENT",
            `Transform '${this.config.step}' would write ${final} twice: for ${earlier} and for ${what}, shard ${i} (shardNameTemplate '${this.config.sink.template}')`,
            {
              hint: "With windowed writes the template needs W (the window) and P (the pane), and S when numShards > 1: leave shardNameTemplate out for Beam's 'W-P-SSSSS-of-NNNNN'.",
            },
          ),
          this.config.step,
        );
      }
      pairs.push({ temp: f.path, final });
    }
    try {
      staging.commitSet(pairs);
    } catch (err) {
      const e = SluiceError.from(err, "IO_ERROR");
      throw attributed(
        new SluiceError(e.code, `Transform '${this.config.step}' could not publish the set of ${what} of '${this.config.sink.prefix}': ${e.message} (none of this set was published)`, {
          hint: e.hint,
          cause: e,
        }),
        this.config.step,
      );
    }
    for (const p of pairs) {
      this.published.set(p.final, what);
      this.names.push(p.final);
    }
    history.panes++;
    if (pane.timing !== "EARLY") history.onTimePanes++;
    if (pane.timing === "ON_TIME") history.onTimeFired = true;
  }

  /** Publishes the sets written so far, in the order their windows first got lines. */
  private async publishAll(watermark: Timestamp): Promise<void> {
    const sets = [...this.sets.values()];
    this.sets.clear();
    for (const set of sets) await this.publish(set, watermark);
  }

  /**
   * A bundle ends: on an unbounded input each window that got lines publishes a set. Every call
   * publishes what is pending (a diamond's second flush of one bundle publishes only what its
   * branch added after the first).
   */
  flush(): Pending {
    this.config.metrics?.commit();
    if (this.config.bounded || this.sets.size === 0) return undefined;
    return this.publishAll(this.config.watermark());
  }

  async finishInput(): Promise<void> {
    if (--this.remainingInputs > 0) return;
    this.config.metrics?.commit();
    if (!this.config.bounded) {
      await this.publishAll(this.config.watermark());
      return;
    }
    // Bounded: close the files now (failures name this sink); the sets are published at commit.
    for (const set of this.sets.values()) await this.close(set);
  }

  /** The end of a successful run: a bounded input's sets are published; the staging directory goes. Returns every name published. */
  async commit(): Promise<string[]> {
    if (this.stagingArea === undefined) return [];
    // The input has ended: the watermark is at the end of time.
    await this.publishAll(MAX_TIMESTAMP);
    this.stagingArea.finish();
    this.stagingArea = undefined;
    return [...this.names];
  }

  /** For signal handlers: removes the staging directory (the sets not yet published) and the lock at once. */
  abortNow(): void {
    this.stagingArea?.abortSync();
    this.stagingArea = undefined;
  }

  /** A failed run: what is being written goes; the sets published already stay. */
  async abort(): Promise<void> {
    const staging = this.stagingArea;
    if (staging === undefined) return;
    this.stagingArea = undefined;
    const closes: Promise<unknown>[] = [...this.closings];
    for (const f of this.lru.keys()) if (f.writer !== undefined) closes.push(f.writer.close());
    this.lru.clear();
    this.sets.clear();
    await Promise.allSettled(closes);
    staging.abortSync();
  }
}
