/**
 * The trigger state machine the direct runner's GroupByKey drives: one `TriggerMachine` per
 * (key, window), fed elements and time, asked whether a pane is due. Pure: no timers, no I/O, no
 * global state; the runner owns the clock, the panes, accumulation, allowed lateness and expiry.
 *
 * Semantics follow Beam Java's runners-core `TriggerStateMachine` family (finished bits per
 * subtrigger, `onElement` / `shouldFire` / `onFire` / `onMerge`) and Beam Python's
 * `apache_beam.transforms.trigger`:
 *
 * - The watermark has passed a window's end when `watermark > window.maxTimestamp()` (Java's
 *   `endOfWindowReached`: `currentEventTime.isAfter(maxTimestamp)`).
 * - `AfterProcessingTime(d)` is due once processing time `>=` first element since reset `+ d`
 *   (Java compares with `isAfter`, i.e. one millisecond later; `>=` makes
 *   `nextProcessingTimeDeadline` the exact instant `shouldFire` turns true).
 * - `AfterCount(n)`: due at `n` elements since reset; finishes when fired.
 * - `AfterWatermark()`: due once the watermark passes the end; finishes when fired. With `early`:
 *   the early subtrigger fires (and is reset) until the end; the on-time firing happens once; then
 *   `late` fires (and is reset) after each late firing; without `late` the trigger finishes at the
 *   on-time firing.
 * - `DefaultTrigger()` is `Repeatedly(AfterWatermark())`: an on-time firing, then a firing as soon
 *   as a (late) element arrives; never finishes.
 * - `Repeatedly(t)` fires when `t` would and resets `t` once `t` has finished; never finishes.
 * - `AfterAny(...)` (Java's AfterFirst) fires when any subtrigger would; on firing, the ready
 *   subtriggers fire and the others are cleared; it finishes at that first firing (Java finishes
 *   it once a subtrigger has finished, the same thing for the once-triggers Java accepts there).
 * - `AfterAll(...)` fires when every subtrigger has finished or is ready now; then finishes.
 * - `AfterEach(...)` runs its subtriggers in turn: it fires with the current one and moves on
 *   when that one finishes; finishes after the last.
 * - `OrFinally(main, until)` fires when either would; if `until` is ready it fires `until` and
 *   clears `main`; finishes when either has finished.
 * - `Never()` never fires and never finishes.
 *
 * One deliberate difference from Java: a watermark condition that was reset after firing past the
 * end of the window (`DefaultTrigger`, `Repeatedly(AfterWatermark(...))`) is due again only once
 * an element has arrived since the reset. Java's is due on every evaluation after the end and
 * leaves it to ReduceFnRunner to skip the empty panes; here `shouldFire` means "a pane is due".
 * (The first on-time firing of an `AfterWatermark` is due even if no element arrived since an
 * early firing: whether to emit an empty on-time pane is runner policy.)
 *
 * Merging (session windows) follows Java's `onMerge` rules, applied to the states of the merged
 * windows; see `TriggerMachine.merge`.
 */
import { SluiceError } from "../../internal/errors.js";
import type { Timestamp } from "../../sdk/time.js";
import { describeTrigger, type Trigger } from "../../sdk/windowing/triggers.js";
import type { BoundedWindow, PaneTiming } from "../../sdk/windowing/window.js";

/** The two clocks a trigger reads: the input watermark (event time) and processing time, both ms. */
export interface TriggerTime {
  /** The input watermark of the grouping: every element with an earlier timestamp has arrived. */
  readonly watermark: Timestamp;
  /** The current processing (wall-clock) time, in ms. */
  readonly processingTime: number;
}

/**
 * The timing of a pane the runner is about to emit, from where the watermark is: EARLY before it
 * passes the window's end, ON_TIME for the first pane at or after that, LATE after the on-time
 * pane. `onTimeFired` says whether the window already emitted its on-time pane.
 */
export function paneTiming(window: BoundedWindow, watermark: Timestamp, onTimeFired: boolean): PaneTiming {
  if (!endOfWindowReached(window, watermark)) return "EARLY";
  return onTimeFired ? "LATE" : "ON_TIME";
}

/** Whether the watermark has passed the end of `window` (Java's `endOfWindowReached`). */
export function endOfWindowReached(window: BoundedWindow, watermark: Timestamp): boolean {
  return watermark > window.maxTimestamp();
}

/** What every node method sees: the window and the clocks. */
interface Ctx {
  readonly window: BoundedWindow;
  readonly time: TriggerTime;
  readonly endReached: boolean;
}

function ctxOf(window: BoundedWindow, time: TriggerTime): Ctx {
  return { window, time, endReached: endOfWindowReached(window, time.watermark) };
}

/**
 * One node of the state tree, mirroring one node of the Trigger. `readyAt` is the earliest
 * processing time at which the node is due given its current state and watermark (no further
 * elements): -Infinity when due now whatever the processing time, Infinity when not without more
 * input. `shouldFire` is `readyAt <= processingTime` everywhere, so the two never disagree.
 */
abstract class Node {
  finished = false;
  abstract onElement(c: Ctx): void;
  abstract readyAt(c: Ctx): number;
  /** Called only when the node is due. */
  abstract onFire(c: Ctx): void;
  /** Clears the state and finished bits of the subtree (Java's resetTree). */
  abstract reset(): void;
  /** Makes this fresh node the merge of `nodes` (same kind, one per merged window). */
  abstract absorb(nodes: readonly Node[], c: Ctx): void;
  ready(c: Ctx): boolean {
    return this.readyAt(c) <= c.time.processingTime;
  }
}

const NOW = Number.NEGATIVE_INFINITY;
const NEVER = Number.POSITIVE_INFINITY;

class NeverNode extends Node {
  onElement(): void {}
  readyAt(): number {
    return NEVER;
  }
  onFire(): void {}
  reset(): void {}
  absorb(): void {}
}

class CountNode extends Node {
  count = 0;
  constructor(readonly n: number) {
    super();
  }
  onElement(): void {
    this.count++;
  }
  readyAt(): number {
    return !this.finished && this.count >= this.n ? NOW : NEVER;
  }
  onFire(): void {
    this.count = 0;
    this.finished = true;
  }
  reset(): void {
    this.count = 0;
    this.finished = false;
  }
  absorb(nodes: readonly Node[]): void {
    const ns = nodes as readonly CountNode[];
    // Java's AfterPane.onMerge: finished in any merged window -> finished; else counts add.
    if (ns.some((x) => x.finished)) {
      this.finished = true;
      this.count = 0;
    } else {
      this.count = ns.reduce((s, x) => s + x.count, 0);
    }
  }
}

class ProcessingTimeNode extends Node {
  deadline: number | undefined = undefined;
  constructor(readonly delayMs: number) {
    super();
  }
  onElement(c: Ctx): void {
    if (this.deadline === undefined) this.deadline = c.time.processingTime + this.delayMs;
  }
  readyAt(): number {
    return this.finished || this.deadline === undefined ? NEVER : this.deadline;
  }
  onFire(): void {
    this.deadline = undefined;
    this.finished = true;
  }
  reset(): void {
    this.deadline = undefined;
    this.finished = false;
  }
  absorb(nodes: readonly Node[]): void {
    // Java's AfterDelayFromFirstElement.onMerge: finished only if the merged window itself was
    // (never, for a new merged window); the earliest pending deadline of the merged windows wins.
    // A window that already fired holds no deadline, so it contributes nothing.
    for (const x of nodes as readonly ProcessingTimeNode[]) {
      if (!x.finished && x.deadline !== undefined && (this.deadline === undefined || x.deadline < this.deadline)) this.deadline = x.deadline;
    }
  }
}

/** AfterWatermark() with neither early nor late firings (Java's FromEndOfWindow). */
class EndOfWindowNode extends Node {
  /** False after a reset until the next element: see the module comment. */
  armed = true;
  onElement(): void {
    this.armed = true;
  }
  readyAt(c: Ctx): number {
    return !this.finished && this.armed && c.endReached ? NOW : NEVER;
  }
  onFire(): void {
    this.finished = true;
  }
  reset(): void {
    this.finished = false;
    this.armed = false;
  }
  absorb(nodes: readonly Node[], c: Ctx): void {
    const ns = nodes as readonly EndOfWindowNode[];
    // Java's FromEndOfWindow.onMerge: finished only if finished in every merged window and the
    // watermark is past the merged window's end.
    this.finished = ns.every((x) => x.finished) && c.endReached;
    // A merged window whose end is ahead gets its own on-time firing (Java's end-of-window timer).
    this.armed = !c.endReached || ns.some((x) => x.armed);
  }
}

/** AfterWatermark({early, late}) (Java's AfterWatermarkEarlyAndLate). */
class EarlyLateNode extends Node {
  /** Java's finished bit of the early subtrigger: the on-time firing happened. */
  onTimeDone = false;
  armed = true;
  constructor(
    readonly early: Node,
    readonly late: Node | undefined,
  ) {
    super();
  }
  onElement(c: Ctx): void {
    this.armed = true;
    if (!this.onTimeDone) this.early.onElement(c);
    else this.late?.onElement(c);
  }
  readyAt(c: Ctx): number {
    if (this.finished) return NEVER;
    if (!this.onTimeDone) return c.endReached && this.armed ? NOW : this.early.readyAt(c);
    return this.late ? this.late.readyAt(c) : NEVER;
  }
  onFire(c: Ctx): void {
    if (!this.onTimeDone) {
      if (!c.endReached) {
        // An early firing; early firings implicitly repeat.
        this.early.onFire(c);
        this.early.reset();
        return;
      }
      // The on-time firing ends the early phase.
      this.early.reset();
      this.onTimeDone = true;
      if (this.late) this.late.reset();
      else this.finished = true;
      return;
    }
    if (this.late) {
      // A late firing; late firings implicitly repeat.
      this.late.onFire(c);
      this.late.reset();
    }
  }
  reset(): void {
    this.early.reset();
    this.late?.reset();
    this.onTimeDone = false;
    this.finished = false;
    this.armed = false;
  }
  absorb(nodes: readonly Node[], c: Ctx): void {
    const ns = nodes as readonly EarlyLateNode[];
    this.armed = !c.endReached || ns.some((x) => x.armed);
    // Java: still in the early phase if any merged window is, or the merged window's end is ahead
    // (then late state is dropped). Only windows still in the early phase hold early state (Java
    // would merge the cleared early states too, which for AfterCount's "finished in any" rule
    // loses the live counts).
    if (ns.some((x) => !x.onTimeDone) || !c.endReached) {
      const live = ns.filter((x) => !x.onTimeDone).map((x) => x.early);
      if (live.length > 0) this.early.absorb(live, c);
      return;
    }
    this.onTimeDone = true;
    if (this.late) this.late.absorb(ns.map((x) => x.late as Node), c);
    else this.finished = true;
  }
}

class RepeatedlyNode extends Node {
  constructor(readonly sub: Node) {
    super();
  }
  onElement(c: Ctx): void {
    this.sub.onElement(c);
  }
  readyAt(c: Ctx): number {
    return this.sub.readyAt(c);
  }
  onFire(c: Ctx): void {
    this.sub.onFire(c);
    // Java's Repeatedly resets the subtree once the subtrigger finished.
    if (this.sub.finished) this.sub.reset();
  }
  reset(): void {
    this.sub.reset();
  }
  absorb(nodes: readonly Node[], c: Ctx): void {
    this.sub.absorb((nodes as readonly RepeatedlyNode[]).map((x) => x.sub), c);
  }
}

/** Merges the i-th subtriggers of same-shaped composite nodes into `into`. */
function absorbSubs(into: readonly Node[], nodes: readonly Node[], subsOf: (n: Node) => readonly Node[], c: Ctx): void {
  into.forEach((sub, i) => sub.absorb(nodes.map((n) => subsOf(n)[i] as Node), c));
}

class AfterAnyNode extends Node {
  constructor(readonly subs: readonly Node[]) {
    super();
  }
  onElement(c: Ctx): void {
    for (const s of this.subs) if (!s.finished) s.onElement(c);
  }
  readyAt(c: Ctx): number {
    if (this.finished) return NEVER;
    return Math.min(...this.subs.map((s) => s.readyAt(c)));
  }
  onFire(c: Ctx): void {
    // Java's AfterFirst.onFire: the ready subtriggers fire; the others lose their pending pane.
    for (const s of this.subs) {
      if (s.ready(c)) s.onFire(c);
      else if (!s.finished) s.reset();
    }
    // First-fire semantics: done at the first firing, even when the subtrigger that fired does
    // not finish (a Repeatedly, which Beam Java does not accept here and Beam Python does).
    this.finished = true;
  }
  reset(): void {
    for (const s of this.subs) s.reset();
    this.finished = false;
  }
  absorb(nodes: readonly Node[], c: Ctx): void {
    absorbSubs(this.subs, nodes, (n) => (n as AfterAnyNode).subs, c);
    this.finished = this.subs.some((s) => s.finished);
  }
}

class AfterAllNode extends Node {
  constructor(readonly subs: readonly Node[]) {
    super();
  }
  onElement(c: Ctx): void {
    for (const s of this.subs) if (!s.finished) s.onElement(c);
  }
  readyAt(c: Ctx): number {
    if (this.finished) return NEVER;
    // Every subtrigger must have finished or be due: the latest of them decides.
    return Math.max(...this.subs.map((s) => (s.finished ? NOW : s.readyAt(c))));
  }
  onFire(c: Ctx): void {
    for (const s of this.subs) if (!s.finished) s.onFire(c);
    this.finished = true;
  }
  reset(): void {
    for (const s of this.subs) s.reset();
    this.finished = false;
  }
  absorb(nodes: readonly Node[], c: Ctx): void {
    absorbSubs(this.subs, nodes, (n) => (n as AfterAllNode).subs, c);
    this.finished = this.subs.every((s) => s.finished);
  }
}

class AfterEachNode extends Node {
  constructor(readonly subs: readonly Node[]) {
    super();
  }
  private current(): Node | undefined {
    return this.subs.find((s) => !s.finished);
  }
  onElement(c: Ctx): void {
    this.current()?.onElement(c);
  }
  readyAt(c: Ctx): number {
    const cur = this.finished ? undefined : this.current();
    return cur ? cur.readyAt(c) : NEVER;
  }
  onFire(c: Ctx): void {
    this.current()?.onFire(c);
    this.finished = this.current() === undefined;
  }
  reset(): void {
    for (const s of this.subs) s.reset();
    this.finished = false;
  }
  absorb(nodes: readonly Node[], c: Ctx): void {
    // Java's AfterEach.onMerge: merge subtriggers in order while all earlier ones are finished in
    // the merged window; the later ones start afresh.
    let priorFinished = true;
    this.subs.forEach((sub, i) => {
      if (priorFinished) {
        sub.absorb(nodes.map((n) => (n as AfterEachNode).subs[i] as Node), c);
        priorFinished = sub.finished;
      } else {
        sub.reset();
      }
    });
    this.finished = this.current() === undefined;
  }
}

class OrFinallyNode extends Node {
  constructor(
    readonly main: Node,
    readonly until: Node,
  ) {
    super();
  }
  onElement(c: Ctx): void {
    if (!this.main.finished) this.main.onElement(c);
    if (!this.until.finished) this.until.onElement(c);
  }
  readyAt(c: Ctx): number {
    if (this.finished) return NEVER;
    return Math.min(this.main.readyAt(c), this.until.readyAt(c));
  }
  onFire(c: Ctx): void {
    if (this.until.ready(c)) {
      this.until.onFire(c);
      this.main.reset();
    } else {
      // `until` keeps its state across firings of `main`.
      this.main.onFire(c);
    }
    this.finished = this.main.finished || this.until.finished;
  }
  reset(): void {
    this.main.reset();
    this.until.reset();
    this.finished = false;
  }
  absorb(nodes: readonly Node[], c: Ctx): void {
    const ns = nodes as readonly OrFinallyNode[];
    this.main.absorb(ns.map((x) => x.main), c);
    this.until.absorb(ns.map((x) => x.until), c);
    this.finished = this.main.finished || this.until.finished;
  }
}

function build(t: Trigger): Node {
  switch (t.kind) {
    case "default":
      return new RepeatedlyNode(new EndOfWindowNode());
    case "never":
      return new NeverNode();
    case "after_watermark":
      if (!t.early && !t.late) return new EndOfWindowNode();
      // Java: withLateFirings alone runs Never as the early trigger.
      return new EarlyLateNode(t.early ? build(t.early) : new NeverNode(), t.late ? build(t.late) : undefined);
    case "after_processing_time":
      return new ProcessingTimeNode(t.delayMs);
    case "after_count":
      return new CountNode(t.count);
    case "repeatedly":
      return new RepeatedlyNode(build(t.subtrigger));
    case "after_each":
      return new AfterEachNode(t.subtriggers.map(build));
    case "after_any":
      return new AfterAnyNode(t.subtriggers.map(build));
    case "after_all":
      return new AfterAllNode(t.subtriggers.map(build));
    case "or_finally":
      return new OrFinallyNode(build(t.main), build(t.until));
  }
}

/**
 * The trigger state of one (key, window). The runner calls `onElement` for each element it adds
 * to the window's pane, `shouldFire` after each element and each watermark or processing-time
 * advance, emits a pane and calls `onFire` when it says so, and stops (dropping further input for
 * the window) once `isFinished`. Mutable; every method is synchronous and side-effect free beyond
 * the machine itself.
 */
export class TriggerMachine {
  private constructor(
    /** The trigger this machine runs. */
    readonly trigger: Trigger,
    private readonly root: Node,
  ) {}

  /** A fresh machine for `trigger`, as for a window that has seen no element yet. */
  static create(trigger: Trigger): TriggerMachine {
    return new TriggerMachine(trigger, build(trigger));
  }

  /** Records an element added to the window's pane. Ignored once finished. */
  onElement(timestamp: Timestamp, window: BoundedWindow, time: TriggerTime): void {
    void timestamp; // No built-in trigger reads element timestamps; kept for Beam's signature.
    if (this.root.finished) return;
    this.root.onElement(ctxOf(window, time));
  }

  /** Whether a pane is due now. Always false once finished. */
  shouldFire(window: BoundedWindow, time: TriggerTime): boolean {
    return !this.root.finished && this.root.ready(ctxOf(window, time));
  }

  /**
   * Advances the state after the runner emitted the pane `shouldFire` asked for (same window, same
   * or later time). Calling it when `shouldFire` is false is a runner bug and throws.
   */
  onFire(window: BoundedWindow, time: TriggerTime): void {
    const c = ctxOf(window, time);
    if (this.root.finished || !this.root.ready(c)) {
      throw new SluiceError("FAILED_PRECONDITION", `onFire called on trigger ${describeTrigger(this.trigger)} when it is not due`, {
        hint: "Call onFire only right after shouldFire returned true for the same window and time.",
      });
    }
    this.root.onFire(c);
  }

  /** Whether the trigger will never fire again: the window emits no more panes. */
  get isFinished(): boolean {
    return this.root.finished;
  }

  /**
   * The processing time, later than `time.processingTime`, at which `shouldFire` becomes true if
   * no element arrives and the watermark stays put; undefined if there is none (nothing pending in
   * processing time, or the trigger is due already, or finished). The runner sets a
   * processing-time timer for it and calls `shouldFire` when the timer fires. The answer changes
   * with input, so ask again after every `onElement`, `onFire`, `merge` and watermark advance
   * (e.g. AfterAll(AfterCount(2), AfterProcessingTime(d)) reports the deadline only once the
   * count is met). Takes the window and time so that a deadline already passed (a ready
   * AfterProcessingTime waiting inside AfterAll for a count) is not reported again, which would
   * spin the runner's timer loop.
   */
  nextProcessingTimeDeadline(window: BoundedWindow, time: TriggerTime): number | undefined {
    if (this.root.finished) return undefined;
    const at = this.root.readyAt(ctxOf(window, time));
    return Number.isFinite(at) && at > time.processingTime ? at : undefined;
  }

  /**
   * The machine of `mergedWindow`, made from the machines of the windows merged into it (all
   * created from the same trigger). Beam Java's `onMerge` rules, node by node:
   * - AfterCount: finished if finished in any merged window, else the counts add.
   * - AfterProcessingTime: the earliest pending deadline wins; a window that already fired
   *   contributes none (Java keeps it finished only if the merged window itself was).
   * - AfterWatermark: finished only if finished in every merged window and the watermark is past
   *   the merged window's end; else it waits for (and fires at) the merged window's end.
   * - AfterWatermark({early, late}): back in the early phase (late state dropped, early states of
   *   the windows still early merged) if any merged window is still early or the merged window's
   *   end is ahead; else in the late phase with the late states merged.
   * - Repeatedly, OrFinally: merge subtriggers; OrFinally is finished if either is.
   * - AfterAny: finished if a merged subtrigger is; AfterAll: finished if all merged subtriggers are
   *   (so one that fired through a non-finishing subtrigger, e.g. a Repeatedly, is revived).
   * - AfterEach: subtriggers merged in order while the earlier ones are finished; later ones reset.
   * So a merged machine can be finished at once (e.g. AfterCount that fired in one window), and
   * may be due at once: the runner should ask `shouldFire` after merging.
   */
  static merge(machines: readonly TriggerMachine[], mergedWindow: BoundedWindow, time: TriggerTime): TriggerMachine {
    const first = machines[0];
    if (!first) {
      throw new SluiceError("INVALID_ARGUMENT", "TriggerMachine.merge needs at least one machine", { hint: "Pass the machines of the windows being merged." });
    }
    for (const m of machines) {
      // The same trigger object is the common case (one grouping's): no description to build.
      if (m.trigger !== first.trigger && describeTrigger(m.trigger) !== describeTrigger(first.trigger)) {
        throw new SluiceError("INVALID_ARGUMENT", `cannot merge trigger machines of ${describeTrigger(first.trigger)} and ${describeTrigger(m.trigger)}`, {
          hint: "Merge only the machines of one grouping, which all run the windowing strategy's trigger.",
        });
      }
    }
    const merged = TriggerMachine.create(first.trigger);
    merged.root.absorb(machines.map((m) => m.root), ctxOf(mergedWindow, time));
    return merged;
  }
}
