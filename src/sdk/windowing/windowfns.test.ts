import { describe, expect, it } from "vitest";
import { IntervalWindow } from "./window.js";
import { FixedWindows, GlobalWindows, Sessions, SlidingWindows } from "./windowfns.js";

const w = (start: number, end: number): IntervalWindow => new IntervalWindow(start, end);

describe("FixedWindows", () => {
  it.each([
    { size: 10, offset: 0, ts: 0, want: [0, 10] },
    { size: 10, offset: 0, ts: 9, want: [0, 10] },
    { size: 10, offset: 0, ts: 10, want: [10, 20] },
    { size: 10, offset: 0, ts: -1, want: [-10, 0] },
    { size: 10, offset: 3, ts: 2, want: [-7, 3] },
    { size: 10, offset: 13, ts: 5, want: [3, 13] },
  ])("size $size offset $offset puts $ts in $want", ({ size, offset, ts, want }) => {
    expect(FixedWindows(size, offset).assignWindows(ts)).toEqual([w(want[0]!, want[1]!)]);
  });
  it("rejects a non-positive size", () => {
    expect(() => FixedWindows(0)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT", message: expect.stringMatching(/positive/) }));
  });
});

describe("SlidingWindows", () => {
  it("assigns size/period windows, latest first", () => {
    expect(SlidingWindows(30, 10).assignWindows(25)).toEqual([w(20, 50), w(10, 40), w(0, 30)]);
    expect(SlidingWindows(30, 10).assignWindows(-5)).toEqual([w(-10, 20), w(-20, 10), w(-30, 0)]);
  });
  it("maps a main-input window to the earliest side window containing its end (Beam Python's assign(...)[-1])", () => {
    // Beam Java would pick the latest-starting one, [0, 30) and [20, 50).
    expect(SlidingWindows(30, 10).sideInputWindow(w(0, 10))).toEqual(w(-20, 10));
    expect(SlidingWindows(30, 10).sideInputWindow(w(20, 30))).toEqual(w(0, 30));
  });
  it("maps like assignWindows(end).at(-1) for sizes that are not multiples of the period, and offsets", () => {
    for (const [size, period, offset] of [[25, 10, 0], [20, 10, 0], [30, 7, 3], [10, 10, 4], [1, 1, 0]] as const) {
      const fn = SlidingWindows(size, period, offset);
      for (let start = -40; start < 40; start += 3) {
        for (const len of [1, 5, 10, 17]) {
          const main = w(start, start + len);
          expect(fn.sideInputWindow(main), `${size}/${period}/${offset} ${main.start}-${main.end}`).toEqual(fn.assignWindows(main.maxTimestamp()).at(-1));
        }
      }
    }
  });
  it("fails when the main window's end is in no side window (period > size)", () => {
    expect(() => SlidingWindows(5, 10).sideInputWindow(w(20, 30))).toThrow(/ends in no window/);
  });
});

describe("Sessions", () => {
  const fn = Sessions(10);
  it("assigns [ts, ts + gap)", () => {
    expect(fn.assignWindows(5)).toEqual([w(5, 15)]);
  });
  it("merges overlapping windows transitively and leaves gaps alone", () => {
    const merges = fn.mergeWindows([w(0, 10), w(25, 35), w(5, 15), w(14, 24), w(40, 50)]);
    expect(merges).toEqual([{ from: [w(0, 10), w(5, 15), w(14, 24)], into: w(0, 24) }]);
  });
  it("does not merge windows that only touch", () => {
    expect(fn.mergeWindows([w(0, 10), w(10, 20)])).toEqual([]);
  });
});

describe("GlobalWindows", () => {
  it("has one window for every timestamp", () => {
    const g = GlobalWindows();
    expect(g.assignWindows(-1e15)).toBe(g.assignWindows(1e15));
    expect(g.isMerging).toBe(false);
  });
});

describe("windowKey", () => {
  it("is equal for equal windows and differs between the windows a fn assigns", () => {
    for (const fn of [FixedWindows(10, 3), SlidingWindows(30, 10, 5), Sessions(10)]) {
      const windows = [-25, -1, 0, 1, 9, 10, 11, 29, 30, 31, 1e12].flatMap((ts) => fn.assignWindows(ts));
      const byKey = new Map<string | number, IntervalWindow>();
      for (const win of windows) {
        const other = byKey.get(fn.windowKey(win));
        if (other !== undefined) expect(other.equals(win), `${fn.toString()}: ${other.toString()} and ${win.toString()} share a key`).toBe(true);
        byKey.set(fn.windowKey(win), win);
        expect(fn.windowKey(w(win.start, win.end))).toBe(fn.windowKey(win));
      }
      expect(byKey.size).toBeGreaterThan(3);
    }
  });
  it("tells sessions of one start apart by their end", () => {
    const s = Sessions(10);
    expect(s.windowKey(w(0, 10))).not.toBe(s.windowKey(w(0, 25)));
  });
});
