/**
 * Side-input semantics checked against Beam Python 2.73's DirectRunner: which side window a main
 * window reads, and how a side input that does not fit its view fails.
 */
import { describe, expect, it } from "vitest";
import {
  AsDict,
  AsIterable,
  AsList,
  AsMultiMap,
  AsSingleton,
  Create,
  FixedWindows,
  type IntervalWindow,
  Map,
  type Pipeline,
  Sessions,
  SlidingWindows,
  WindowInto,
} from "sluice";
import { collect, failure, modes } from "./semantics-support.js";

const s = 1000;
const secs = (w: IntervalWindow): string => `[${w.start / s},${w.end / s})`;

for (const { name, runner } of modes) {
  describe(`side input window mapping [${name}]`, () => {
    it("a fixed main window reads the SlidingWindows side window that ends with it, as Beam Python", async () => {
      // Beam Python 2.73 DirectRunner, the same pipeline (side: 1, 11, 21, 31 s in SlidingWindows(30, 10);
      // main: 5, 25, 35 s in FixedWindows(10); Map(..., AsList(side))):
      //   main 5 in [0,10) sees [1]
      //   main 25 in [20,30) sees [1, 11, 21]
      //   main 35 in [30,40) sees [11, 21, 31]
      // (Beam Java's latest-starting mapping would give [1, 11], [21, 31] and [31].)
      const lines = await collect(runner, (p) => {
        const side = p
          .apply("Side", Create.timestamped([1, 11, 21, 31].map((v) => ({ value: v, timestamp: v * s }))))
          .apply("SideWin", WindowInto(SlidingWindows(30 * s, 10 * s)));
        return p
          .apply("Main", Create.timestamped([5, 25, 35].map((v) => ({ value: v, timestamp: v * s }))))
          .apply("MainWin", WindowInto(FixedWindows(10 * s)))
          .apply(
            "Use",
            Map((x: number, c) => `main ${x} in ${secs(c.window as IntervalWindow)} sees [${[...c.sideInputs.side].sort((a, b) => a - b).join(", ")}]`, {
              sideInputs: { side: AsList(side) },
            }),
          );
      });
      expect(lines.sort()).toEqual(["main 25 in [20,30) sees [1, 11, 21]", "main 35 in [30,40) sees [11, 21, 31]", "main 5 in [0,10) sees [1]"]);
    });

    it("a sliding main window maps through its own end too", async () => {
      // Main windows of SlidingWindows(20, 10) containing 15 s: [10,30) and [0,20); their ends 30 and 20
      // map to the side windows [0,30) and [-10,20) of SlidingWindows(30, 10). Beam Python 2.73 DirectRunner:
      //   [10,30): 1,11,21
      //   [0,20): -5,1,11
      const lines = await collect(runner, (p) => {
        const side = p
          .apply("Side", Create.timestamped([-5, 1, 11, 21, 31].map((v) => ({ value: v, timestamp: v * s }))))
          .apply("SideWin", WindowInto(SlidingWindows(30 * s, 10 * s)));
        return p
          .apply("Main", Create.timestamped([{ value: 15, timestamp: 15 * s }]))
          .apply("MainWin", WindowInto(SlidingWindows(20 * s, 10 * s)))
          .apply(
            "Use",
            Map((x: number, c) => `${secs(c.window as IntervalWindow)}: ${[...c.sideInputs.side].sort((a, b) => a - b).join(",")}`, {
              sideInputs: { side: AsIterable(side) },
            }),
          );
      });
      expect(lines.sort()).toEqual(["[0,20): -5,1,11", "[10,30): 1,11,21"]);
    });
  });

  describe(`side inputs that do not fit their view [${name}]`, () => {
    const lookup = (p: Pipeline, view: (p: Pipeline) => unknown): void => {
      p.apply("Main", Create.of([1])).apply(
        "Lookup",
        Map((x: number, c) => `${x}${String(c.sideInputs.v)}`, { sideInputs: { v: view(p) as ReturnType<typeof AsList<unknown>> } }),
      );
    };

    it("AsDict with a repeated key names the reading transform and the user's label of the side input", async () => {
      const err = await failure(runner, (p) => {
        const cats = p.apply("Cat", Create.of<[string, number]>([["tom", 1], ["tom", 2]]));
        lookup(p, () => AsDict(cats));
      });
      expect(err.code).toBe("FAILED_PRECONDITION");
      expect(err.message).toMatch(/^Transform 'Lookup' failed in side input 'v': AsDict side input 'Cat' has key "tom" more than once/);
      expect(err.message).not.toContain("Cat/FlatMap");
      expect(err.hint).toMatch(/AsMultiMap/);
      expect(err.hint).not.toMatch(/withExceptionHandling/);
    });

    it("AsSingleton with several elements or none", async () => {
      const many = await failure(runner, (p) => {
        const nums = p.apply("Nums", Create.of([1, 2]));
        lookup(p, () => AsSingleton(nums));
      });
      expect(many.code).toBe("FAILED_PRECONDITION");
      expect(many.message).toMatch(/'Lookup' failed in side input 'v': AsSingleton side input 'Nums' has 2 elements/);
      expect(many.hint).toMatch(/CombineGlobally/);
      expect(many.hint).not.toMatch(/withExceptionHandling/);

      const none = await failure(runner, (p) => {
        const empty = p.apply("Nothing", Create.of<number>([]));
        lookup(p, () => AsSingleton(empty));
      });
      expect(none.code).toBe("FAILED_PRECONDITION");
      expect(none.message).toMatch(/AsSingleton side input 'Nothing' is empty/);
      expect(none.hint).toMatch(/defaultValue/);
    });

    it("AsMultiMap of elements that are not pairs", async () => {
      const err = await failure(runner, (p) => {
        const words = p.apply("Words", Create.of(["a"]));
        lookup(p, () => AsMultiMap(words as never));
      });
      expect(err.code).toBe("FAILED_PRECONDITION");
      expect(err.message).toMatch(/AsMultiMap side input 'Words' has an element that is not a \[key, value\] pair: "a"/);
    });

    it("a windowed side input's failure says which window", async () => {
      const err = await failure(runner, (p) => {
        const side = p
          .apply("Side", Create.timestamped([{ value: 1, timestamp: 1 * s }, { value: 2, timestamp: 2 * s }]))
          .apply("SideWin", WindowInto(FixedWindows(10 * s)));
        p.apply("Main", Create.timestamped([{ value: 0, timestamp: 3 * s }]))
          .apply("MainWin", WindowInto(FixedWindows(10 * s)))
          .apply("Lookup", Map((x: number, c) => x + c.sideInputs.one, { sideInputs: { one: AsSingleton(side) } }));
      });
      expect(err.message).toMatch(/'Lookup' failed in side input 'one' for window \[1970-01-01T00:00:00.000Z, 1970-01-01T00:00:10.000Z\): AsSingleton side input 'SideWin' has 2 elements/);
    });

    it("Sessions-windowed side inputs are UNSUPPORTED, naming the transform", async () => {
      const err = await failure(runner, (p) => {
        const side = p.apply("Side", Create.of([1])).apply("Sess", WindowInto(Sessions(1000)));
        lookup(p, () => AsSingleton(side));
      });
      expect(err.code).toBe("UNSUPPORTED");
      expect(err.message).toMatch(/^Transform 'Lookup' failed in side input 'v': Sessions windowing cannot be used for side inputs/);
      expect(err.hint).toMatch(/WindowInto/);
    });
  });
}
