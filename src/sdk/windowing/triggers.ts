/**
 * Triggers: when a grouping emits a window's pane. Beam's names and semantics (Beam Python's
 * `apache_beam.transforms.trigger`, Beam Java's `Trigger` classes); data, not behaviour: runners
 * execute them (the direct runner's trigger state machine, Flink's and Prism's own from the
 * Runner API's Trigger proto).
 *
 * ```ts
 * WindowInto(FixedWindows(Duration.minutes(1)), {
 *   trigger: AfterWatermark({ early: AfterProcessingTime(Duration.seconds(10)), late: AfterCount(1) }),
 *   accumulationMode: "ACCUMULATING",
 *   allowedLateness: Duration.minutes(5),
 * })
 * ```
 */
import { SluiceError } from "../../internal/errors.js";

/** A trigger, as data. Build one with the functions below. */
export type Trigger =
  /** Repeatedly(AfterWatermark()): an on-time pane at the end of the window, then a late pane for each late element. */
  | { readonly kind: "default" }
  /** Never fires; a window's contents are emitted once, when the window expires (end + allowed lateness). */
  | { readonly kind: "never" }
  /** Fires when the watermark passes the end of the window; `early` fires (repeatedly) before, `late` (repeatedly) after. */
  | { readonly kind: "after_watermark"; readonly early?: Trigger; readonly late?: Trigger }
  /** Fires `delayMs` of processing time after the first element of the pane arrived. */
  | { readonly kind: "after_processing_time"; readonly delayMs: number }
  /** Fires once the pane holds at least `count` elements. */
  | { readonly kind: "after_count"; readonly count: number }
  /** Fires whenever `subtrigger` would, forever (resetting it after each firing). */
  | { readonly kind: "repeatedly"; readonly subtrigger: Trigger }
  /** Fires as each subtrigger in turn fires; finishes after the last one finishes. */
  | { readonly kind: "after_each"; readonly subtriggers: readonly Trigger[] }
  /** Fires (and finishes) as soon as any subtrigger fires. */
  | { readonly kind: "after_any"; readonly subtriggers: readonly Trigger[] }
  /** Fires (and finishes) once every subtrigger has fired. */
  | { readonly kind: "after_all"; readonly subtriggers: readonly Trigger[] }
  /** Fires when `main` fires, and finishes when `until` fires (Beam's OrFinally). */
  | { readonly kind: "or_finally"; readonly main: Trigger; readonly until: Trigger };

/** Whether a window's successive panes each hold all its elements so far, or only the new ones. */
export type AccumulationMode = "DISCARDING" | "ACCUMULATING";

function checkAll(what: string, ts: readonly Trigger[]): readonly Trigger[] {
  if (ts.length === 0) {
    throw new SluiceError("INVALID_ARGUMENT", `${what} needs at least one subtrigger`, { hint: `Pass the triggers to combine, e.g. ${what}(AfterCount(10), AfterProcessingTime(60_000)).` });
  }
  return Object.freeze([...ts]);
}

/** The default trigger: on time at the end of the window, then once per late element. */
export function DefaultTrigger(): Trigger {
  return { kind: "default" };
}

/** A trigger that never fires: each window's contents come out once, when the window expires. */
export function Never(): Trigger {
  return { kind: "never" };
}

/** Fires when the watermark passes the end of the window, with optional early and late firings. */
export function AfterWatermark(options: { readonly early?: Trigger; readonly late?: Trigger } = {}): Trigger {
  return { kind: "after_watermark", ...(options.early ? { early: options.early } : {}), ...(options.late ? { late: options.late } : {}) };
}

/** Fires `delayMs` of processing time after the pane's first element (Duration.seconds(10), or ms). */
export function AfterProcessingTime(delayMs = 0): Trigger {
  if (!Number.isFinite(delayMs) || delayMs < 0) {
    throw new SluiceError("INVALID_ARGUMENT", `AfterProcessingTime needs a delay of 0 ms or more, got ${delayMs}`, { hint: "Pass milliseconds, e.g. AfterProcessingTime(Duration.seconds(30))." });
  }
  return { kind: "after_processing_time", delayMs };
}

/** Fires once the pane holds at least `count` elements. */
export function AfterCount(count: number): Trigger {
  if (!Number.isInteger(count) || count < 1) {
    throw new SluiceError("INVALID_ARGUMENT", `AfterCount needs a whole number of at least 1, got ${count}`, { hint: "Pass how many elements make a pane, e.g. AfterCount(100)." });
  }
  return { kind: "after_count", count };
}

/** Fires whenever `subtrigger` fires, forever. */
export function Repeatedly(subtrigger: Trigger): Trigger {
  return { kind: "repeatedly", subtrigger };
}

/** Fires each subtrigger in turn. */
export function AfterEach(...subtriggers: Trigger[]): Trigger {
  return { kind: "after_each", subtriggers: checkAll("AfterEach", subtriggers) };
}

/** Fires as soon as any subtrigger fires (Beam Java's AfterFirst). */
export function AfterAny(...subtriggers: Trigger[]): Trigger {
  return { kind: "after_any", subtriggers: checkAll("AfterAny", subtriggers) };
}

/** Fires once all subtriggers have fired. */
export function AfterAll(...subtriggers: Trigger[]): Trigger {
  return { kind: "after_all", subtriggers: checkAll("AfterAll", subtriggers) };
}

/** Fires when `main` does, until `until` fires (then finishes). */
export function OrFinally(main: Trigger, until: Trigger): Trigger {
  return { kind: "or_finally", main, until };
}

/** A readable rendering, Beam Python style: `Repeatedly(AfterCount(2))`. */
export function describeTrigger(t: Trigger): string {
  switch (t.kind) {
    case "default":
      return "DefaultTrigger()";
    case "never":
      return "Never()";
    case "after_watermark": {
      const parts = [t.early ? `early=${describeTrigger(t.early)}` : "", t.late ? `late=${describeTrigger(t.late)}` : ""].filter(Boolean);
      return `AfterWatermark(${parts.join(", ")})`;
    }
    case "after_processing_time":
      return `AfterProcessingTime(${t.delayMs} ms)`;
    case "after_count":
      return `AfterCount(${t.count})`;
    case "repeatedly":
      return `Repeatedly(${describeTrigger(t.subtrigger)})`;
    case "after_each":
      return `AfterEach(${t.subtriggers.map(describeTrigger).join(", ")})`;
    case "after_any":
      return `AfterAny(${t.subtriggers.map(describeTrigger).join(", ")})`;
    case "after_all":
      return `AfterAll(${t.subtriggers.map(describeTrigger).join(", ")})`;
    case "or_finally":
      return `OrFinally(${describeTrigger(t.main)}, ${describeTrigger(t.until)})`;
  }
}
