/**
 * The direct runner's trigger state machine, scenario by scenario: sequences of elements,
 * watermark and processing-time advances, with the panes Beam's trigger semantics (Beam Java's
 * runners-core TriggerStateMachines, Beam Python's trigger.py) make due after each step.
 */
import { describe, expect, it } from "vitest";
import { TriggerMachine, endOfWindowReached, paneTiming, type TriggerTime } from "../src/runners/direct/triggers.js";
import { MIN_TIMESTAMP } from "../src/sdk/time.js";
import {
  AfterAll,
  AfterAny,
  AfterCount,
  AfterEach,
  AfterProcessingTime,
  AfterWatermark,
  DefaultTrigger,
  Never,
  OrFinally,
  Repeatedly,
  type Trigger,
  describeTrigger,
} from "../src/sdk/windowing/triggers.js";
import { type BoundedWindow, GLOBAL_WINDOW, IntervalWindow } from "../src/sdk/windowing/window.js";

/** [0, 100): maxTimestamp 99, so the watermark passes the end at 100. */
const W = new IntervalWindow(0, 100);

/**
 * A tiny runner: "e<ts>" adds an element, "w<t>" advances the watermark, "p<t>" processing time.
 * After each step it fires every due pane (labelled with its timing) and reports them joined by
 * spaces; an element reaching a finished machine is reported as "dropped".
 */
class Driver {
  readonly m: TriggerMachine;
  time: TriggerTime = { watermark: MIN_TIMESTAMP, processingTime: 0 };
  onTimeFired = false;
  constructor(
    trigger: Trigger,
    readonly window: BoundedWindow = W,
  ) {
    this.m = TriggerMachine.create(trigger);
  }
  step(s: string): string {
    const n = Number(s.slice(1));
    const out: string[] = [];
    if (s[0] === "e") {
      if (this.m.isFinished) return "dropped";
      this.m.onElement(n, this.window, this.time);
    } else if (s[0] === "w") {
      this.time = { ...this.time, watermark: n };
    } else if (s[0] === "p") {
      this.time = { ...this.time, processingTime: n };
    } else {
      throw new Error(`bad step ${s}`);
    }
    while (this.m.shouldFire(this.window, this.time)) {
      const timing = paneTiming(this.window, this.time.watermark, this.onTimeFired);
      if (timing !== "EARLY") this.onTimeFired = true;
      this.m.onFire(this.window, this.time);
      out.push(timing);
      if (out.length > 5) throw new Error(`trigger keeps firing after ${s}`);
    }
    return out.join(" ");
  }
  deadline(): number | undefined {
    return this.m.nextProcessingTimeDeadline(this.window, this.time);
  }
}

interface Scenario {
  readonly name: string;
  readonly trigger: Trigger;
  /** [step, panes fired after it]. */
  readonly steps: readonly (readonly [string, string])[];
  readonly finished: boolean;
}

const scenarios: readonly Scenario[] = [
  {
    name: "AfterWatermark(early=AfterCount(2), late=AfterCount(1))",
    trigger: AfterWatermark({ early: AfterCount(2), late: AfterCount(1) }),
    steps: [
      ["e1", ""],
      ["e2", "EARLY"],
      ["e3", ""], // the early subtrigger was reset after its firing: count starts again
      ["w50", ""],
      ["e4", "EARLY"],
      ["e5", ""],
      ["w99", ""], // the watermark at maxTimestamp has not passed it
      ["w100", "ON_TIME"], // on-time firing once the watermark passes maxTimestamp, even for 1 pending element
      ["w150", ""], // fires on time only once
      ["e6", "LATE"], // late AfterCount(1): each late element
      ["e7", "LATE"], // the late subtrigger repeats implicitly
    ],
    finished: false,
  },
  {
    name: "AfterWatermark() finishes at the on-time firing",
    trigger: AfterWatermark(),
    steps: [
      ["e1", ""],
      ["w100", "ON_TIME"],
      ["e2", "dropped"],
    ],
    finished: true,
  },
  {
    name: "AfterWatermark(early=AfterCount(1)) without late finishes on time",
    trigger: AfterWatermark({ early: AfterCount(1) }),
    steps: [
      ["e1", "EARLY"],
      ["e2", "EARLY"],
      ["w100", "ON_TIME"], // on time even with nothing new since the last early pane (emitting it empty is runner policy)
      ["e3", "dropped"],
    ],
    finished: true,
  },
  {
    name: "AfterWatermark(late=AfterCount(2)) (early defaults to Never)",
    trigger: AfterWatermark({ late: AfterCount(2) }),
    steps: [
      ["e1", ""],
      ["e2", ""],
      ["w100", "ON_TIME"],
      ["e3", ""], // late count starts from zero after the on-time firing
      ["e4", "LATE"],
    ],
    finished: false,
  },
  {
    name: "DefaultTrigger with late data",
    trigger: DefaultTrigger(),
    steps: [
      ["e1", ""],
      ["e2", ""],
      ["w100", "ON_TIME"],
      ["w200", ""], // no element since the on-time pane: nothing due
      ["e3", "LATE"], // Repeatedly(AfterWatermark()): each late element fires at once
      ["p5000", ""],
      ["e4", "LATE"],
    ],
    finished: false,
  },
  {
    name: "Repeatedly(AfterWatermark()) behaves as DefaultTrigger",
    trigger: Repeatedly(AfterWatermark()),
    steps: [
      ["e1", ""],
      ["w100", "ON_TIME"],
      ["w101", ""],
      ["e2", "LATE"],
    ],
    finished: false,
  },
  {
    name: "AfterCount(2) without Repeatedly finishes",
    trigger: AfterCount(2),
    steps: [
      ["e1", ""],
      ["e2", "EARLY"],
      ["e3", "dropped"],
      ["w100", ""],
    ],
    finished: true,
  },
  {
    name: "Repeatedly(AfterCount(3))",
    trigger: Repeatedly(AfterCount(3)),
    steps: [
      ["e1", ""],
      ["e2", ""],
      ["e3", "EARLY"],
      ["e4", ""], // reset after each firing
      ["e5", ""],
      ["e6", "EARLY"],
      ["e7", ""],
      ["w100", ""], // a count trigger ignores the watermark
      ["e8", ""],
      ["e9", "ON_TIME"], // the first pane after the end is the on-time one, whatever fired it
    ],
    finished: false,
  },
  {
    name: "AfterProcessingTime(1000)",
    trigger: AfterProcessingTime(1000),
    steps: [
      ["e1", ""],
      ["p500", ""],
      ["e2", ""], // the delay counts from the first element since reset
      ["p999", ""],
      ["p1000", "EARLY"],
      ["e3", "dropped"],
    ],
    finished: true,
  },
  {
    name: "Repeatedly(AfterProcessingTime(1000))",
    trigger: Repeatedly(AfterProcessingTime(1000)),
    steps: [
      ["e1", ""],
      ["p1000", "EARLY"],
      ["p3000", ""], // after the reset no element arrived: no deadline, nothing due
      ["e2", ""],
      ["p3999", ""],
      ["p4000", "EARLY"],
    ],
    finished: false,
  },
  {
    name: "AfterAny(AfterCount(5), AfterProcessingTime(1000)): time first",
    trigger: AfterAny(AfterCount(5), AfterProcessingTime(1000)),
    steps: [
      ["e1", ""],
      ["e2", ""],
      ["p1000", "EARLY"],
      ["e3", "dropped"], // AfterAny finishes at its first firing
    ],
    finished: true,
  },
  {
    name: "AfterAny(AfterCount(5), AfterProcessingTime(1000)): count first",
    trigger: AfterAny(AfterCount(5), AfterProcessingTime(1000)),
    steps: [
      ["e1", ""],
      ["e2", ""],
      ["e3", ""],
      ["e4", ""],
      ["e5", "EARLY"],
      ["p1000", ""],
    ],
    finished: true,
  },
  {
    name: "Repeatedly(AfterAny(AfterCount(5), AfterProcessingTime(1000)))",
    trigger: Repeatedly(AfterAny(AfterCount(5), AfterProcessingTime(1000))),
    steps: [
      ["e1", ""],
      ["p1000", "EARLY"],
      ["p1500", ""],
      ["e2", ""], // the reset restarted both: a new deadline at 2500
      ["p2499", ""],
      ["p2500", "EARLY"],
    ],
    finished: false,
  },
  {
    name: "AfterAny(Repeatedly(AfterCount(1)), AfterCount(3)) finishes at its first firing",
    trigger: AfterAny(Repeatedly(AfterCount(1)), AfterCount(3)),
    steps: [
      ["e1", "EARLY"],
      ["e2", "dropped"],
    ],
    finished: true,
  },
  {
    name: "AfterAll(AfterCount(2), AfterWatermark()): count, then watermark",
    trigger: AfterAll(AfterCount(2), AfterWatermark()),
    steps: [
      ["e1", ""],
      ["e2", ""], // the count is ready but the watermark is not past the end
      ["e3", ""],
      ["w100", "ON_TIME"],
      ["e4", "dropped"], // AfterAll finishes once it fired
    ],
    finished: true,
  },
  {
    name: "AfterAll(AfterCount(2), AfterWatermark()): watermark, then count",
    trigger: AfterAll(AfterCount(2), AfterWatermark()),
    steps: [
      ["e1", ""],
      ["w100", ""], // the watermark is past but only one element
      ["e2", "ON_TIME"], // the first pane after the end is the on-time one
    ],
    finished: true,
  },
  {
    name: "AfterEach(AfterCount(2), AfterCount(3))",
    trigger: AfterEach(AfterCount(2), AfterCount(3)),
    steps: [
      ["e1", ""],
      ["e2", "EARLY"],
      ["e3", ""], // now the second subtrigger, counting from zero
      ["e4", ""],
      ["e5", "EARLY"],
      ["e6", "dropped"], // finished after the last subtrigger
    ],
    finished: true,
  },
  {
    name: "AfterEach(AfterCount(1), AfterWatermark())",
    trigger: AfterEach(AfterCount(1), AfterWatermark()),
    steps: [
      ["e1", "EARLY"],
      ["e2", ""],
      ["w100", "ON_TIME"],
    ],
    finished: true,
  },
  {
    name: "AfterEach(Repeatedly(AfterCount(1)), AfterCount(1)) never gets past the Repeatedly",
    trigger: AfterEach(Repeatedly(AfterCount(1)), AfterCount(1)),
    steps: [
      ["e1", "EARLY"],
      ["e2", "EARLY"],
      ["w100", ""],
      ["e3", "ON_TIME"],
    ],
    finished: false,
  },
  {
    name: "OrFinally(Repeatedly(AfterCount(1)), AfterWatermark())",
    trigger: OrFinally(Repeatedly(AfterCount(1)), AfterWatermark()),
    steps: [
      ["e1", "EARLY"],
      ["e2", "EARLY"],
      ["w100", "ON_TIME"], // `until` fires: the trigger finishes
      ["e3", "dropped"],
    ],
    finished: true,
  },
  {
    name: "OrFinally(Repeatedly(AfterCount(2)), AfterCount(3)): until keeps counting across main's firings",
    trigger: OrFinally(Repeatedly(AfterCount(2)), AfterCount(3)),
    steps: [
      ["e1", ""],
      ["e2", "EARLY"],
      ["e3", "EARLY"], // main has 1, until has 3: until fires, main is cleared
      ["e4", "dropped"],
    ],
    finished: true,
  },
  {
    name: "OrFinally(AfterCount(2), Never()) finishes when main does",
    trigger: OrFinally(AfterCount(2), Never()),
    steps: [
      ["e1", ""],
      ["e2", "EARLY"],
    ],
    finished: true,
  },
  {
    name: "Never",
    trigger: Never(),
    steps: [
      ["e1", ""],
      ["e2", ""],
      ["p100000", ""],
      ["w100", ""],
      ["e3", ""],
    ],
    finished: false,
  },
];

describe("trigger scenarios", () => {
  for (const sc of scenarios) {
    it(`${sc.name} [${describeTrigger(sc.trigger)}]`, () => {
      const d = new Driver(sc.trigger);
      const got = sc.steps.map(([s]) => [s, d.step(s)] as const);
      expect(got).toEqual(sc.steps);
      expect(d.m.isFinished).toBe(sc.finished);
    });
  }
});

describe("nextProcessingTimeDeadline", () => {
  it("AfterProcessingTime: first element + delay, then none once fired", () => {
    const d = new Driver(AfterProcessingTime(1000));
    expect(d.deadline()).toBeUndefined(); // no element yet
    d.step("p200");
    d.step("e1");
    expect(d.deadline()).toBe(1200);
    d.step("p700");
    d.step("e2");
    expect(d.deadline()).toBe(1200); // later elements do not move it
    expect(d.step("p1200")).toBe("EARLY");
    expect(d.deadline()).toBeUndefined();
  });

  it("Repeatedly(AfterProcessingTime): a new deadline after the reset only with a new element", () => {
    const d = new Driver(Repeatedly(AfterProcessingTime(500)));
    d.step("e1");
    expect(d.deadline()).toBe(500);
    d.step("p500");
    expect(d.deadline()).toBeUndefined();
    d.step("p800");
    d.step("e2");
    expect(d.deadline()).toBe(1300);
  });

  it("AfterAny reports its earliest pending deadline", () => {
    const d = new Driver(AfterAny(AfterProcessingTime(3000), AfterProcessingTime(1000), AfterCount(5)));
    d.step("e1");
    expect(d.deadline()).toBe(1000);
  });

  it("AfterAll reports the latest deadline once only time is missing", () => {
    const d = new Driver(AfterAll(AfterProcessingTime(100), AfterProcessingTime(300), AfterCount(2)));
    d.step("e1");
    expect(d.deadline()).toBeUndefined(); // the count blocks it: no time alone makes it due
    d.step("e2");
    expect(d.deadline()).toBe(300); // all must be ready: the later deadline decides
    expect(d.step("p299")).toBe("");
    expect(d.step("p300")).toBe("EARLY");
  });

  it("a passed deadline waiting inside AfterAll is not reported again (no timer spin)", () => {
    const d = new Driver(AfterAll(AfterProcessingTime(100), AfterCount(2)));
    d.step("e1");
    expect(d.step("p150")).toBe("");
    expect(d.deadline()).toBeUndefined();
    expect(d.step("e2")).toBe("EARLY");
  });

  it("watermark and count triggers have no processing-time deadline", () => {
    for (const t of [DefaultTrigger(), AfterWatermark(), AfterCount(3), Never()]) {
      const d = new Driver(t);
      d.step("e1");
      expect(d.deadline()).toBeUndefined();
    }
  });

  it("AfterWatermark: the early subtrigger's deadline before the end, the late one's after", () => {
    const d = new Driver(AfterWatermark({ early: AfterProcessingTime(1000), late: AfterProcessingTime(200) }));
    d.step("e1");
    expect(d.deadline()).toBe(1000);
    expect(d.step("p1000")).toBe("EARLY");
    expect(d.deadline()).toBeUndefined();
    expect(d.step("w100")).toBe("ON_TIME");
    d.step("p1100");
    d.step("e2");
    expect(d.deadline()).toBe(1300);
    expect(d.step("p1300")).toBe("LATE");
  });

  it("finished machines have none", () => {
    const d = new Driver(AfterCount(1));
    d.step("e1");
    expect(d.m.isFinished).toBe(true);
    expect(d.deadline()).toBeUndefined();
  });
});

describe("merging (session windows)", () => {
  const A = new IntervalWindow(0, 10);
  const B = new IntervalWindow(5, 20);
  const AB = new IntervalWindow(0, 20);
  const t0: TriggerTime = { watermark: MIN_TIMESTAMP, processingTime: 0 };

  function fed(trigger: Trigger, window: BoundedWindow, elements: number, time: TriggerTime = t0): TriggerMachine {
    const m = TriggerMachine.create(trigger);
    for (let i = 0; i < elements; i++) {
      m.onElement(0, window, time);
      if (m.shouldFire(window, time)) m.onFire(window, time);
    }
    return m;
  }

  it("two AfterCount states: the counts add", () => {
    const merged = TriggerMachine.merge([fed(AfterCount(3), A, 1), fed(AfterCount(3), B, 1)], AB, t0);
    expect(merged.shouldFire(AB, t0)).toBe(false);
    merged.onElement(0, AB, t0);
    expect(merged.shouldFire(AB, t0)).toBe(true);
  });

  it("Repeatedly(AfterCount(3)): 2 + 2 elements make the merged window due at once", () => {
    const merged = TriggerMachine.merge([fed(Repeatedly(AfterCount(3)), A, 2), fed(Repeatedly(AfterCount(3)), B, 2)], AB, t0);
    expect(merged.shouldFire(AB, t0)).toBe(true);
    merged.onFire(AB, t0);
    expect(merged.shouldFire(AB, t0)).toBe(false);
    expect(merged.isFinished).toBe(false);
  });

  it("AfterCount finished in one merged window is finished in the merged window (Java's AfterPane.onMerge)", () => {
    const a = fed(AfterCount(1), A, 1);
    expect(a.isFinished).toBe(true);
    const merged = TriggerMachine.merge([a, fed(AfterCount(1), B, 0)], AB, t0);
    expect(merged.isFinished).toBe(true);
  });

  it("AfterProcessingTime: the earliest deadline wins", () => {
    const a = fed(AfterProcessingTime(1000), A, 1, { watermark: MIN_TIMESTAMP, processingTime: 500 });
    const b = fed(AfterProcessingTime(1000), B, 1, { watermark: MIN_TIMESTAMP, processingTime: 200 });
    const now: TriggerTime = { watermark: MIN_TIMESTAMP, processingTime: 600 };
    const merged = TriggerMachine.merge([a, b], AB, now);
    expect(merged.nextProcessingTimeDeadline(AB, now)).toBe(1200);
    expect(merged.shouldFire(AB, { ...now, processingTime: 1200 })).toBe(true);
  });

  it("DefaultTrigger: a window that fired on time, merged into a window whose end is ahead, waits for the new end", () => {
    const at10: TriggerTime = { watermark: 10, processingTime: 0 };
    const a = fed(DefaultTrigger(), A, 1, { watermark: 5, processingTime: 0 });
    expect(a.shouldFire(A, at10)).toBe(true);
    a.onFire(A, at10);
    const b = fed(DefaultTrigger(), B, 1, at10);
    const merged = TriggerMachine.merge([a, b], AB, at10);
    expect(merged.shouldFire(AB, at10)).toBe(false); // the merged window ends at 19
    expect(merged.shouldFire(AB, { watermark: 20, processingTime: 0 })).toBe(true);
    expect(paneTiming(AB, 20, false)).toBe("ON_TIME");
  });

  it("AfterWatermark(): finished in every merged window and past the merged end stays finished", () => {
    const late: TriggerTime = { watermark: 100, processingTime: 0 };
    const a = fed(AfterWatermark(), A, 1, late);
    const b = fed(AfterWatermark(), B, 1, late);
    expect(a.isFinished && b.isFinished).toBe(true);
    expect(TriggerMachine.merge([a, b], AB, late).isFinished).toBe(true);
    // ...but is revived when the merged window's end is still ahead.
    expect(TriggerMachine.merge([a, b], new IntervalWindow(0, 200), late).isFinished).toBe(false);
  });

  it("AfterWatermark(early, late): back in the early phase when the merged end is ahead", () => {
    const trigger = AfterWatermark({ early: AfterCount(2), late: AfterCount(1) });
    const at10: TriggerTime = { watermark: 10, processingTime: 0 };
    const a = fed(trigger, A, 1, at10); // A's on-time firing happened; now in the late phase
    expect(a.isFinished).toBe(false);
    const b = fed(trigger, B, 1, at10); // B: one early element
    const merged = TriggerMachine.merge([a, b], AB, at10);
    expect(merged.shouldFire(AB, at10)).toBe(false);
    merged.onElement(0, AB, at10);
    expect(merged.shouldFire(AB, at10)).toBe(true); // B's early count (1) + this one
    expect(paneTiming(AB, 10, false)).toBe("EARLY");
  });

  it("AfterEach: merged subtriggers in order", () => {
    const trigger = AfterEach(AfterCount(1), AfterCount(3));
    const a = fed(trigger, A, 2); // first fired; second has 1
    const b = fed(trigger, B, 0);
    const merged = TriggerMachine.merge([a, b], AB, t0);
    // The first subtrigger is finished in A, so finished in the merged window; the second
    // continues with A's count.
    merged.onElement(0, AB, t0);
    expect(merged.shouldFire(AB, t0)).toBe(false);
    merged.onElement(0, AB, t0);
    expect(merged.shouldFire(AB, t0)).toBe(true);
  });

  it("OrFinally and AfterAll merge their subtriggers", () => {
    const or = OrFinally(Repeatedly(AfterCount(2)), AfterCount(4));
    const m1 = TriggerMachine.merge([fed(or, A, 1), fed(or, B, 1)], AB, t0);
    expect(m1.shouldFire(AB, t0)).toBe(true); // main: 1 + 1
    const all = AfterAll(AfterCount(2), AfterCount(3));
    const m2 = TriggerMachine.merge([fed(all, A, 1), fed(all, B, 2)], AB, t0);
    expect(m2.shouldFire(AB, t0)).toBe(true); // 3 elements satisfy both
  });

  it("refuses machines of different triggers, and an empty list", () => {
    expect(() => TriggerMachine.merge([TriggerMachine.create(AfterCount(2)), TriggerMachine.create(AfterCount(3))], AB, t0)).toThrow(/cannot merge/);
    expect(() => TriggerMachine.merge([], AB, t0)).toThrow(/at least one/);
  });
});

describe("contract", () => {
  it("onFire when nothing is due throws", () => {
    const m = TriggerMachine.create(AfterCount(2));
    m.onElement(0, W, { watermark: 0, processingTime: 0 });
    expect(() => m.onFire(W, { watermark: 0, processingTime: 0 })).toThrow(/not due/);
  });

  it("the global window's end is never reached by a finite watermark", () => {
    const d = new Driver(DefaultTrigger(), GLOBAL_WINDOW);
    d.step("e1");
    expect(d.step("w1000000")).toBe("");
    expect(endOfWindowReached(GLOBAL_WINDOW, 1_000_000)).toBe(false);
  });

  it("paneTiming: EARLY until the watermark passes maxTimestamp, then ON_TIME once, then LATE", () => {
    expect(paneTiming(W, 99, false)).toBe("EARLY");
    expect(paneTiming(W, 100, false)).toBe("ON_TIME");
    expect(paneTiming(W, 100, true)).toBe("LATE");
  });

  it("machines of one trigger are independent", () => {
    const t = Repeatedly(AfterCount(2));
    const a = TriggerMachine.create(t);
    const b = TriggerMachine.create(t);
    const now = { watermark: 0, processingTime: 0 };
    a.onElement(0, W, now);
    a.onElement(0, W, now);
    expect(a.shouldFire(W, now)).toBe(true);
    expect(b.shouldFire(W, now)).toBe(false);
  });
});
