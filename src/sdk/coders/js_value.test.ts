import { describe, expect, it } from "vitest";
import { ByteWriter, decodeFromBytes, encodeToBytes, JsValueCoder, JsValueCoderError } from "./index.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const enc = (v: unknown, nested = false): string => hex(encodeToBytes(JsValueCoder, v, nested));
const roundTrip = (v: unknown): unknown => decodeFromBytes(JsValueCoder, encodeToBytes(JsValueCoder, v));

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

describe("JsValueCoder", () => {
  it("is deterministic and self-describing", () => {
    expect(JsValueCoder.urn).toBe("sluice:coder:js_value:v1");
    expect(JsValueCoder.deterministic).toBe(true);
    expect(JsValueCoder.components).toEqual([]);
    expect(JsValueCoder.payload.length).toBe(0);
    expect(JsValueCoder.toString()).toBe("JsValueCoder");
  });

  describe("equal values encode equally", () => {
    const cases: [string, unknown, unknown][] = [
      ["object key order", { a: 1, b: 2 }, { b: 2, a: 1 }],
      ["nested key order", { x: { c: [1, { e: 1, d: 2 }], a: null } }, { x: { a: null, c: [1, { d: 2, e: 1 }] } }],
      ["integer-like keys", { 10: "a", 9: "b", x: "c" }, { x: "c", 9: "b", 10: "a" }],
      ["-0 and 0", -0, 0],
      ["-0 and 0 in arrays", [-0], [0]],
      ["NaN payloads", NaN, new Float64Array(new BigUint64Array([0x7ff8000000000001n]).buffer)[0]],
      ["NaN and -NaN", NaN, -NaN],
      ["Map insertion order", new Map<unknown, unknown>([["a", 1], [2, "b"]]), new Map<unknown, unknown>([[2, "b"], ["a", 1]])],
      ["Set insertion order", new Set([3, "x", [1]]), new Set([[1], "x", 3])],
      ["Buffer and Uint8Array", Buffer.from([1, 2, 3]), new Uint8Array([1, 2, 3])],
      ["null-prototype object", Object.assign(Object.create(null) as object, { a: 1 }), { a: 1 }],
      ["array hole and undefined", [, 1], [undefined, 1]], // eslint-disable-line no-sparse-arrays
      ["Dates with the same time", new Date(1234), new Date(1234)],
    ];
    it.each(cases)("%s", (_label, a, b) => {
      expect(enc(a)).toBe(enc(b));
      expect(JsValueCoder.structuralKey(a)).toStrictEqual(JsValueCoder.structuralKey(b));
    });
  });

  it("orders object keys by UTF-16 code unit whatever the insertion order", () => {
    const keys = ["b", "a", "é", "😀", "\uffff", "10", "9", "A", "", "aa", "a\u0000", "Z", "_", "k0", "k1", "k2", "k3", "k4", "k5"];
    const sorted = [...keys].sort();
    for (const n of [2, 3, 5, 8, 16, 17, keys.length]) {
      const subset = keys.slice(0, n);
      const expected = Object.fromEntries(subset.map((k) => [k, k]));
      const reversed = Object.fromEntries([...subset].reverse().map((k) => [k, k]));
      expect(enc(reversed)).toBe(enc(expected));
      const decodedKeys = Object.keys(roundTrip(reversed) as object);
      // Integer-like keys are listed first by JS itself; the rest keep the encoded (sorted) order.
      const nonIndex = (k: string): boolean => !/^(0|[1-9]\d*)$/.test(k);
      expect(decodedKeys.filter(nonIndex)).toEqual(sorted.filter((k) => subset.includes(k)).filter(nonIndex));
    }
  });

  describe("different values encode differently", () => {
    const values: [string, unknown][] = [
      ["undefined", undefined],
      ["null", null],
      ["false", false],
      ["true", true],
      ["0", 0],
      ["1", 1],
      ["-1", -1],
      ["1.5", 1.5],
      ["2^53", 2 ** 53],
      ["Infinity", Infinity],
      ["NaN", NaN],
      ["0n", 0n],
      ["1n", 1n],
      ["-1n", -1n],
      ['""', ""],
      ['"1"', "1"],
      ['"\\u0000"', "\u0000"],
      ['"\\u0000x"', "\u0000x"],
      ["[]", []],
      ["[1]", [1]],
      ['["1"]', ["1"]],
      ["[[1]]", [[1]]],
      ["{}", {}],
      ["{a: 1}", { a: 1 }],
      ["{a: undefined}", { a: undefined }],
      ["{a: [1]}", { a: [1] }],
      ["Date(1)", new Date(1)],
      ["Date(NaN)", new Date(NaN)],
      ["bytes []", new Uint8Array(0)],
      ["bytes [1]", new Uint8Array([1])],
      ["Map{}", new Map()],
      ["Map{1: 1}", new Map([[1, 1]])],
      ["Set{}", new Set()],
      ["Set{1}", new Set([1])],
    ];
    it("pairwise distinct encodings and structural keys", () => {
      const byEncoding = new Map<string, string>();
      const byKey = new Map<unknown, string>();
      for (const [label, v] of values) {
        const e = enc(v);
        expect(byEncoding.get(e), `${label} encodes like ${byEncoding.get(e) ?? ""}`).toBeUndefined();
        byEncoding.set(e, label);
        const k = JsValueCoder.structuralKey(v);
        expect(byKey.has(k), `${label} has the structural key of ${byKey.get(k) ?? ""}`).toBe(false);
        byKey.set(k, label);
      }
    });
  });

  describe("structuralKey", () => {
    const cases: [string, unknown, unknown][] = [
      ["string", "abc", "abc"],
      ["empty string", "", ""],
      ["number", 1, 1],
      ["float", 1.5, 1.5],
      ["boolean", true, true],
      ["bigint", 1n, 1n],
    ];
    it.each(cases)("%s is its own key", (_label, v, key) => {
      expect(JsValueCoder.structuralKey(v)).toBe(key);
    });
    it("1, '1', 1n and [1] have distinct keys", () => {
      const keys = [1, "1", 1n, [1]].map((v) => JsValueCoder.structuralKey(v));
      expect(new Set(keys).size).toBe(4);
    });
    it("objects, null, undefined and \\u0000-strings key as \\u0000 + latin1 encoding", () => {
      for (const v of [null, undefined, { a: 1 }, [1, 2], "\u0000abc"]) {
        const key = JsValueCoder.structuralKey(v);
        expect(typeof key).toBe("string");
        expect(key).toBe("\u0000" + Buffer.from(encodeToBytes(JsValueCoder, v)).toString("latin1"));
      }
    });
    it("-0 and NaN behave as Map keys should", () => {
      const m = new Map<unknown, number>();
      m.set(JsValueCoder.structuralKey(0), 1);
      expect(m.get(JsValueCoder.structuralKey(-0))).toBe(1);
      m.set(JsValueCoder.structuralKey(NaN), 2);
      expect(m.get(JsValueCoder.structuralKey(0 / 0))).toBe(2);
    });
  });

  describe("round trips", () => {
    const values: [string, unknown][] = [
      ["primitives", [undefined, null, true, false, 0, 1, -1, 127, 128, 2 ** 31, -(2 ** 31), 2 ** 53 - 1, -(2 ** 53 - 1)]],
      ["floats", [0.1, -2.5, 2 ** 53, -(2 ** 60), 1e300, Number.MIN_VALUE, Infinity, -Infinity, NaN]],
      ["bigints", [0n, 1n, -1n, 127n, 128n, 2n ** 64n, -(2n ** 200n) + 3n]],
      ["strings", ["", "abc", "\u0000", "ÿ", "光线", "😀 emoji", "x".repeat(1000), "é".repeat(100)]],
      ["nested", { a: [1, { b: [null, "x", { c: new Date(5) }] }], d: { e: { f: {} } } }],
      ["bytes", { data: new Uint8Array([0, 1, 255]) }],
      ["maps and sets", new Map<unknown, unknown>([["a", new Set([1, 2])], [[1, 2], { x: new Map([[1n, null]]) }]])],
      ["__proto__ key", JSON.parse('{"__proto__": {"polluted": true}, "ok": 1}') as unknown],
      ["empty containers", [[], {}, new Map(), new Set(), new Uint8Array(0)]],
      ["shared (non-cyclic) references", (() => {
        const shared = { s: 1 };
        return [shared, shared, { shared }];
      })()],
    ];
    it.each(values)("%s", (_label, v) => {
      expect(roundTrip(v)).toStrictEqual(v);
    });
    it("keeps __proto__ as data, not as the prototype", () => {
      const out = roundTrip(JSON.parse('{"__proto__": {"polluted": true}}') as unknown) as object;
      expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
      expect(Object.keys(out)).toEqual(["__proto__"]);
      expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
    });
    it("decodes -0 as 0", () => {
      expect(Object.is(roundTrip(-0), 0)).toBe(true);
    });
    it("decodes Buffers as plain Uint8Arrays", () => {
      const out = roundTrip(Buffer.from("hi"));
      expect(out).toBeInstanceOf(Uint8Array);
      expect(Buffer.isBuffer(out)).toBe(false);
    });
    it("encodes the same in both contexts", () => {
      const v = { a: ["x", 1, 2n] };
      expect(enc(v, true)).toBe(enc(v, false));
    });
    it("uses compact forms for small integers", () => {
      expect(enc(5)).toBe("0405");
      expect(enc(-5)).toBe("0505");
      expect(enc("a")).toBe("090161");
      expect(enc([true])).toBe("0c0103");
    });
  });

  describe("rejects what it cannot encode, naming type and path", () => {
    const cyclic: { self?: unknown; list: unknown[] } = { list: [] };
    cyclic.list.push({ back: cyclic });
    const selfArray: unknown[] = [];
    selfArray.push(selfArray);
    const cases: [string, unknown, RegExp][] = [
      ["top-level function", () => 1, /a function at \$:/],
      ["named function in an object", { a: { handler: function onClick() {} } }, /a function \(onClick\) at \$\.a\.handler/],
      ["symbol in an array", [1, 2, Symbol("s")], /a symbol \(Symbol\(s\)\) at \$\[2\]/],
      ["class instance", { p: new Point(1, 2) }, /an instance of Point at \$\.p/],
      ["RegExp", [/x/], /an instance of RegExp at \$\[0\]/],
      ["typed array other than Uint8Array", { f: new Float64Array(1) }, /an instance of Float64Array at \$\.f/],
      ["object cycle", cyclic, /a cyclic reference at \$\.list\[0\]\.back/],
      ["array cycle", selfArray, /a cyclic reference at \$\[0\]/],
      ["odd key in path", { "a b": [() => 0] }, /at \$\["a b"\]\[0\]/],
      ["function as map value", new Map([["k", () => 0]]), /a function at \$\.get\(<key #0>\)/],
      ["function as map key", new Map([[() => 0, 1]]), /a function at \$<map key #0>/],
      ["set element", { s: new Set([Symbol.iterator]) }, /a symbol .* at \$\.s<set element #0>/],
    ];
    it.each(cases)("%s", (_label, v, message) => {
      let error: unknown;
      try {
        encodeToBytes(JsValueCoder, v);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(JsValueCoderError);
      expect((error as Error).message).toMatch(message);
    });
    it("recovers after an error (no leftover cycle state)", () => {
      const shared = { x: 1 };
      expect(() => encodeToBytes(JsValueCoder, [shared, () => 0])).toThrow(JsValueCoderError);
      expect(roundTrip([shared, shared])).toStrictEqual([{ x: 1 }, { x: 1 }]);
      expect(() => JsValueCoder.structuralKey({ f: () => 0 })).toThrow(JsValueCoderError);
      expect(JsValueCoder.structuralKey([1])).toBe("\u0000" + Buffer.from(encodeToBytes(JsValueCoder, [1])).toString("latin1"));
    });
    it("rejects unknown tags when decoding", () => {
      expect(() => decodeFromBytes(JsValueCoder, new Uint8Array([99]))).toThrow(/invalid type tag 99/);
    });
  });

  it("writes into a shared ByteWriter without disturbing earlier bytes", () => {
    const w = new ByteWriter(4);
    JsValueCoder.encode("first", w, true);
    const mark = w.length;
    JsValueCoder.encode({ z: [1, 2, 3], a: "x".repeat(300) }, w, true);
    const bytes = w.finish();
    expect(hex(bytes.subarray(0, mark))).toBe(enc("first"));
  });
});
