import { describe, expect, it } from "vitest";
import {
  BoolCoder,
  BytesCoder,
  ByteReader,
  ByteWriter,
  type Coder,
  coderFromUrn,
  codersEqual,
  coderToString,
  CoderUrns,
  decodeFromBytes,
  decodePaneInfo,
  decodeSchema,
  DoubleCoder,
  encodePaneInfo,
  encodeSchema,
  encodeToBytes,
  FieldTypes,
  formatDecimal,
  GlobalWindowCoder,
  IntervalWindowCoder,
  IterableCoder,
  JsValueCoder,
  KvCoder,
  LengthPrefixCoder,
  NullableCoder,
  ParamWindowedValueCoder,
  parseDecimal,
  registerCoder,
  RowCoder,
  type Schema,
  ShardedKeyCoder,
  StateBackedIterableCoder,
  StringUtf8Coder,
  TimerCoder,
  TimestampPrefixingWindowCoder,
  UnknownCoderUrnError,
  VarIntCoder,
  WindowedValueCoder,
} from "./index.js";
import { GLOBAL_WINDOW, IntervalWindow, PANE_NO_FIRING, PANE_ON_TIME_ONLY, type PaneInfo } from "../windowing/window.js";
import { GLOBAL_WINDOW_MAX_TIMESTAMP, MAX_TIMESTAMP, MIN_TIMESTAMP } from "../time.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const enc = <T>(c: Coder<T>, v: T, nested = false): string => hex(encodeToBytes(c, v, nested));
const dec = <T>(c: Coder<T>, h: string, nested = false): T => decodeFromBytes(c, Buffer.from(h, "hex"), nested);

/** Reference: Beam's varint of an int64, computed with bigints. */
function refVarint(v: bigint): string {
  let u = BigInt.asUintN(64, v);
  const out: number[] = [];
  while (u >= 0x80n) {
    out.push(Number(u & 0x7fn) | 0x80);
    u >>= 7n;
  }
  out.push(Number(u));
  return hex(Uint8Array.from(out));
}

describe("VarIntCoder", () => {
  const values: bigint[] = [
    0n, 1n, 127n, 128n, 300n, 16383n, 16384n, 2n ** 28n - 1n, 2n ** 28n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n,
    2n ** 35n, 2n ** 49n, 2n ** 52n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 56n + 5n, 2n ** 63n - 1n,
    -1n, -2n, -127n, -128n, -(2n ** 31n), -(2n ** 31n) - 1n, -(2n ** 32n), -(2n ** 52n) - 7n, -(2n ** 53n) + 1n, -(2n ** 53n),
    -(2n ** 53n) - 1n, -(2n ** 62n), -(2n ** 63n),
  ];
  it.each(values.map((v) => [v]))("%s matches the reference encoding and decodes canonically", (v) => {
    const safe = v >= -(2n ** 53n) + 1n && v <= 2n ** 53n - 1n;
    const expected = refVarint(v);
    expect(enc(VarIntCoder, v)).toBe(expected);
    if (safe) expect(enc(VarIntCoder, Number(v))).toBe(expected);
    const decoded = dec(VarIntCoder, expected);
    expect(decoded).toStrictEqual(safe ? Number(v) : v);
    expect(VarIntCoder.structuralKey(v)).toStrictEqual(safe ? Number(v) : v);
  });
  it("rejects non-integers, unsafe numbers and out-of-range bigints", () => {
    expect(() => enc(VarIntCoder, 1.5)).toThrow(/not a safe integer/);
    expect(() => enc(VarIntCoder, 2 ** 53)).toThrow(/not a safe integer/);
    expect(() => enc(VarIntCoder, NaN)).toThrow(/not a safe integer/);
    expect(() => enc(VarIntCoder, 2n ** 63n)).toThrow(/does not fit/);
    expect(() => enc(VarIntCoder, "1" as unknown as number)).toThrow(/number or bigint/);
  });
  it("rejects varints longer than 10 bytes", () => {
    expect(() => dec(VarIntCoder, "ffffffffffffffffffff01")).toThrow(/longer than 10 bytes/);
  });
  it("fails cleanly on truncated input", () => {
    expect(() => dec(VarIntCoder, "ff")).toThrow(/unexpected end of input/);
  });
});

describe("atomic coders", () => {
  it("BytesCoder copies on decode and length-prefixes when nested", () => {
    const input = Buffer.from("0361626364", "hex");
    const reader = new ByteReader(input);
    const out = BytesCoder.decode(reader, true);
    expect(hex(out)).toBe("616263");
    input[1] = 0;
    expect(hex(out)).toBe("616263");
    expect(Buffer.isBuffer(out)).toBe(false);
    expect(enc(BytesCoder, new Uint8Array(200).fill(1), true).slice(0, 4)).toBe("c801");
  });
  it("StringUtf8Coder writes exact UTF-8 lengths at every size", () => {
    for (const s of ["", "a", "é", "光", "😀", "a".repeat(42), "é".repeat(42), "光".repeat(42), "光".repeat(43), "x".repeat(200), "é".repeat(64)]) {
      const bytes = Buffer.from(s, "utf8");
      const lenPrefix = refVarint(BigInt(bytes.length));
      expect(enc(StringUtf8Coder, s, true)).toBe(lenPrefix + bytes.toString("hex"));
      expect(enc(StringUtf8Coder, s, false)).toBe(bytes.toString("hex"));
      expect(dec(StringUtf8Coder, lenPrefix + bytes.toString("hex"), true)).toBe(s);
    }
    expect(StringUtf8Coder.structuralKey("abc")).toBe("abc");
  });
  it("DoubleCoder is not deterministic and keys -0 apart from 0", () => {
    expect(DoubleCoder.deterministic).toBe(false);
    expect(DoubleCoder.structuralKey(0)).not.toBe(DoubleCoder.structuralKey(-0));
    expect(DoubleCoder.structuralKey(1.5)).toBe(1.5);
    expect(enc(DoubleCoder, -0)).toBe("8000000000000000");
  });
  it("BoolCoder rejects bytes other than 0 and 1", () => {
    expect(() => dec(BoolCoder, "02")).toThrow(/invalid byte 2/);
  });
});

describe("composite coders", () => {
  it("KvCoder nests the key and gives the value the outer context", () => {
    const kv = new KvCoder(StringUtf8Coder, StringUtf8Coder);
    expect(enc(kv, ["a", "b"], false)).toBe("016162");
    expect(enc(kv, ["a", "b"], true)).toBe("01610162");
    expect(kv.toString()).toBe("KvCoder(StringUtf8Coder, StringUtf8Coder)");
    expect(new KvCoder(StringUtf8Coder, DoubleCoder).deterministic).toBe(false);
  });
  it("IterableCoder encodes any iterable in the known-length form", () => {
    const c = new IterableCoder(VarIntCoder);
    expect(enc(c, new Set([1, 2]))).toBe("000000020102");
    function* gen(): Generator<number> {
      yield 3;
    }
    expect(enc(c, gen())).toBe("0000000103");
    expect(dec(c, "ffffffff020102010300")).toEqual([1, 2, 3]);
    expect(() => dec(c, "ffffffffffffffffffffffffff01")).toThrow(/invalid block size/);
  });
  it("LengthPrefixCoder prefixes the outer-context encoding, also when nested in itself", () => {
    const c = new LengthPrefixCoder(StringUtf8Coder);
    expect(enc(c, "abc", false)).toBe("03616263");
    expect(enc(c, "abc", true)).toBe("03616263");
    const cc = new LengthPrefixCoder(new KvCoder(c, new LengthPrefixCoder(new IterableCoder(c))));
    const v: [string, string[]] = ["k", ["x".repeat(300), "y"]];
    expect(dec(cc, enc(cc, v, true), true)).toEqual(v);
    expect(c.structuralKey("abc")).toBe("abc");
  });
  it("NullableCoder encodes null and undefined alike", () => {
    const c = new NullableCoder(StringUtf8Coder);
    expect(enc(c, null)).toBe("00");
    expect(enc(c, undefined)).toBe("00");
    expect(enc(c, "a", true)).toBe("010161");
    expect(dec(c, "00")).toBeNull();
  });
  it("ShardedKeyCoder round-trips", () => {
    const c = new ShardedKeyCoder(VarIntCoder);
    const v = { shardId: new Uint8Array([9, 8]), key: -1 };
    expect(dec(c, enc(c, v))).toStrictEqual(v);
  });
  it("StateBackedIterableCoder needs a state reader for tokens", () => {
    const c = new StateBackedIterableCoder(VarIntCoder);
    const withToken = "ffffffff0101" + "ffffffffffffffffff01" + "0174";
    expect(() => dec(c, withToken)).toThrow(/no StateReader/);
    let reads = 0;
    const lazy = dec(
      c.withStateReader(() => {
        reads++;
        return new Uint8Array([2, 3]);
      }),
      withToken,
    );
    expect(reads).toBe(0);
    expect([...lazy]).toEqual([1, 2, 3]);
    expect([...lazy]).toEqual([1, 2, 3]);
    expect(reads).toBe(2);
  });
});

describe("windows, panes, windowed values and timers", () => {
  const flipped = (ms: bigint): string => BigInt.asUintN(64, ms + -(2n ** 63n)).toString(16).padStart(16, "0");

  it.each([
    ["MIN_TIMESTAMP", MIN_TIMESTAMP, -9223372036854775n],
    ["MAX_TIMESTAMP", MAX_TIMESTAMP, 9223372036854775n],
    ["GLOBAL_WINDOW_MAX_TIMESTAMP", GLOBAL_WINDOW_MAX_TIMESTAMP, 9223372036854775n - 86400000n],
    ["0", 0, 0n],
    ["-1", -1, -1n],
    ["fractional 1.7 floors", 1.7, 1n],
    ["fractional -1.5 floors", -1.5, -2n],
    ["2^53 - 1", 2 ** 53 - 1, 2n ** 53n - 1n],
    ["-(2^53)", -(2 ** 53), -(2n ** 53n)],
  ] as const)("timestamp %s goes on the wire as exact millis", (_label, ts, millis) => {
    const c = new WindowedValueCoder(BoolCoder, GlobalWindowCoder);
    const bytes = enc(c, { value: true, timestamp: ts, windows: [GLOBAL_WINDOW], pane: PANE_NO_FIRING });
    expect(bytes).toBe(`${flipped(millis)}00000001` + "0f01");
    expect(dec(c, bytes).timestamp).toBe(Number(millis));
  });

  const panes: [string, PaneInfo, string, PaneInfo?][] = [
    ["NO_FIRING", PANE_NO_FIRING, "0f"],
    ["ON_TIME_ONLY", PANE_ON_TIME_ONLY, "07"],
    ["first early (on-time index -1)", { isFirst: true, isLast: false, timing: "EARLY", index: 0, onTimeIndex: -1 }, "1100"],
    ["later early", { isFirst: false, isLast: false, timing: "EARLY", index: 4, onTimeIndex: -1 }, "1004"],
    ["late, index = on-time index", { isFirst: false, isLast: true, timing: "LATE", index: 3, onTimeIndex: 3 }, "1a03"],
    ["on time after early panes", { isFirst: false, isLast: false, timing: "ON_TIME", index: 5, onTimeIndex: 0 }, "240500"],
    ["big indices", { isFirst: false, isLast: false, timing: "LATE", index: 300, onTimeIndex: 200 }, "28ac02c801"],
    [
      "unknown timing drops indices (as Java)",
      { isFirst: false, isLast: false, timing: "UNKNOWN", index: 3, onTimeIndex: 3 },
      "0c",
      { isFirst: false, isLast: false, timing: "UNKNOWN", index: 0, onTimeIndex: 0 },
    ],
  ];
  it.each(panes)("pane %s", (_label, pane, expected, decoded) => {
    const w = new ByteWriter();
    encodePaneInfo(pane, w);
    expect(hex(w.finish())).toBe(expected);
    expect(decodePaneInfo(new ByteReader(Buffer.from(expected, "hex")))).toStrictEqual(decoded ?? pane);
  });

  it("interval windows are exact at Beam's bounds", () => {
    for (const w of [
      new IntervalWindow(MIN_TIMESTAMP, MAX_TIMESTAMP),
      new IntervalWindow(MIN_TIMESTAMP, 0),
      new IntervalWindow(-5, 7),
      new IntervalWindow(0, GLOBAL_WINDOW_MAX_TIMESTAMP),
    ]) {
      expect(dec(IntervalWindowCoder, enc(IntervalWindowCoder, w))).toStrictEqual(w);
    }
    expect(enc(IntervalWindowCoder, new IntervalWindow(MIN_TIMESTAMP, MAX_TIMESTAMP))).toBe(
      flipped(9223372036854775n) + refVarint(2n * 9223372036854775n),
    );
  });

  it("custom_window prefixes the max timestamp", () => {
    const c = new TimestampPrefixingWindowCoder(IntervalWindowCoder);
    expect(enc(c, new IntervalWindow(0, 10))).toBe(flipped(9n) + flipped(10n) + "0a");
    const g = new TimestampPrefixingWindowCoder(GlobalWindowCoder);
    expect(enc(g, GLOBAL_WINDOW)).toBe(flipped(9223372036854775n - 86400000n));
  });

  it("windowed values round-trip with several windows", () => {
    const c = new WindowedValueCoder(StringUtf8Coder, IntervalWindowCoder);
    const v = {
      value: "v",
      timestamp: 42,
      windows: [new IntervalWindow(0, 100), new IntervalWindow(40, 140)],
      pane: { isFirst: false, isLast: true, timing: "LATE" as const, index: 2, onTimeIndex: 1 },
    };
    expect(dec(c, enc(c, v, true), true)).toStrictEqual(v);
    expect(enc(c, v, false).endsWith("76")).toBe(true);
  });

  it("param windowed values build their payload from metadata", () => {
    const c = new ParamWindowedValueCoder(VarIntCoder, GlobalWindowCoder, { timestamp: 1000, windows: [GLOBAL_WINDOW], pane: PANE_NO_FIRING });
    expect(hex(c.payload)).toBe(flipped(1000n) + "00000001" + "0f" + "00");
    expect(enc(c, { value: 5, timestamp: 0, windows: [], pane: PANE_ON_TIME_ONLY })).toBe("05");
    expect(dec(c, "05")).toStrictEqual({ value: 5, timestamp: 1000, windows: [GLOBAL_WINDOW], pane: PANE_NO_FIRING });
    const rebuilt = coderFromUrn(c.urn, c.components, c.payload);
    expect(codersEqual(rebuilt, c)).toBe(true);
  });

  it("timers round-trip set and cleared", () => {
    const c = new TimerCoder(StringUtf8Coder, IntervalWindowCoder);
    const set = {
      userKey: "k",
      dynamicTimerTag: "",
      windows: [new IntervalWindow(0, 10)],
      clearBit: false as const,
      fireTimestamp: 9,
      holdTimestamp: MIN_TIMESTAMP,
      pane: PANE_ON_TIME_ONLY,
    };
    expect(dec(c, enc(c, set))).toStrictEqual(set);
    const cleared = { userKey: "k", dynamicTimerTag: "t", windows: [], clearBit: true as const };
    expect(dec(c, enc(c, cleared))).toStrictEqual(cleared);
  });
});

describe("RowCoder", () => {
  const { atomic, array, map, row, nullable } = FieldTypes;
  const tenFields: Schema = {
    id: "ten",
    fields: Array.from({ length: 10 }, (_, i) => ({ name: `f${i}`, type: atomic("INT32", true) })),
  };

  it("writes the null bitmap like Java's BitSet (only up to the last null)", () => {
    const c = new RowCoder(tenFields);
    const allSet = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`f${i}`, i]));
    expect(enc(c, allSet)).toBe("0a00" + "00010203040506070809");
    expect(enc(c, { ...allSet, f0: null })).toBe("0a0101" + "010203040506070809");
    // The spec's example: nulls at 0, 4, 7, 9 → [0b10010001, 0b00000010].
    expect(enc(c, { ...allSet, f0: null, f4: null, f7: null, f9: null })).toBe("0a029102" + "010203050608");
    // Python writes the full ceil(n/8) bytes; both forms decode.
    expect(dec(c, "0a020100" + "010203040506070809")).toStrictEqual({ ...allSet, f0: null });
  });

  it("encodes INT32 like Java's VarIntCoder (negatives as 5 bytes), BYTE and INT16 signed", () => {
    const c = new RowCoder({
      fields: [
        { name: "i", type: atomic("INT32") },
        { name: "b", type: atomic("BYTE") },
        { name: "s", type: atomic("INT16") },
      ],
    });
    expect(enc(c, { i: -1, b: -1, s: -2 })).toBe("0300" + "ffffffff0f" + "ff" + "fffe");
    expect(dec(c, "0300ffffffff0fff fffe".replace(" ", ""))).toStrictEqual({ i: -1, b: -1, s: -2 });
    // A sign-extended 10-byte INT32 (older Python) also decodes.
    expect(dec(c, "0300ffffffffffffffffff01" + "01" + "0001")).toStrictEqual({ i: -1, b: 1, s: 1 });
  });

  it("round-trips nested rows, arrays with nulls, maps, logical types", () => {
    const inner: Schema = { fields: [{ name: "x", type: atomic("DOUBLE") }, { name: "tags", type: array(atomic("STRING", true)) }] };
    const schema: Schema = {
      id: "outer",
      fields: [
        { name: "name", type: atomic("STRING") },
        { name: "big", type: atomic("INT64") },
        { name: "inner", type: row(inner, true) },
        { name: "m", type: map(atomic("STRING"), nullable(row(inner))) },
        { name: "when", type: { kind: "logical", urn: "beam:logical_type:millis_instant:v1", representation: atomic("INT64") } },
        { name: "price", type: { kind: "logical", urn: "beam:logical_type:decimal:v1", representation: atomic("BYTES") } },
        { name: "raw", type: atomic("BYTES", true) },
        { name: "ok", type: atomic("BOOLEAN") },
        { name: "f", type: atomic("FLOAT") },
      ],
    };
    const c = new RowCoder(schema);
    const value = {
      name: "n",
      big: 2n ** 62n,
      inner: { x: 1.5, tags: ["a", null, "b"] },
      m: new Map([
        ["k", { x: -0, tags: [] }],
        ["none", null],
      ]),
      when: 1597328054123,
      price: "-0.050",
      raw: null,
      ok: true,
      f: Math.fround(0.1),
    };
    expect(dec(c, enc(c, value))).toStrictEqual(value);
    expect(c.deterministic).toBe(false);
    // A Date encodes as its time; a plain object as a map.
    const withDate = { ...value, when: new Date(1597328054123), m: { k: { x: 2, tags: [] } } };
    expect(dec(c, enc(c, withDate))).toStrictEqual({ ...value, m: new Map([["k", { x: 2, tags: [] }]]) });
    expect(c.toString()).toContain("inner: nullable row<x: double, tags: array<nullable string>>");
  });

  it("follows encoding positions, with null bits by encoding position (as Java)", () => {
    const c = new RowCoder({
      encodingPositionsSet: true,
      fields: [
        { name: "a", type: atomic("STRING", true), encodingPosition: 2 },
        { name: "b", type: atomic("INT32", true), encodingPosition: 0 },
        { name: "c", type: atomic("BOOLEAN", true), encodingPosition: 1 },
      ],
    });
    expect(enc(c, { a: "x", b: 5, c: true })).toBe("0300" + "05" + "01" + "0178");
    expect(enc(c, { a: null, b: 5, c: true })).toBe("030104" + "05" + "01");
    expect(dec(c, "030104" + "0501")).toStrictEqual({ a: null, b: 5, c: true });
  });

  it("tolerates schema evolution: missing trailing fields decode as null", () => {
    const v1 = new RowCoder({ fields: [{ name: "a", type: atomic("INT64") }] });
    const v2 = new RowCoder({ fields: [{ name: "a", type: atomic("INT64") }, { name: "b", type: atomic("STRING", true) }] });
    expect(decodeFromBytes(v2, encodeToBytes(v1, { a: 1 }))).toStrictEqual({ a: 1, b: null });
  });

  it("refuses null for non-nullable fields", () => {
    const c = new RowCoder({ fields: [{ name: "a", type: atomic("INT64") }] });
    expect(() => enc(c, { a: null })).toThrow(/field "a" is not nullable/);
    expect(() => enc(c, {})).toThrow(/field "a" is not nullable/);
  });

  it("keeps decimal scale and handles exponents", () => {
    for (const [s, unscaled, scale, back] of [
      ["0", 0n, 0, "0"],
      ["0.0", 0n, 1, "0.0"],
      ["-100.123", -100123n, 3, "-100.123"],
      ["1E+3", 1n, -3, "1E+3"],
      ["1.5e2", 15n, -1, "15E+1"],
      ["-0.001", -1n, 3, "-0.001"],
      [".5", 5n, 1, "0.5"],
    ] as const) {
      expect(parseDecimal(s)).toEqual({ unscaled, scale });
      expect(formatDecimal(unscaled, scale)).toBe(back);
    }
    expect(() => parseDecimal("abc")).toThrow(/invalid decimal/);
  });

  it("serializes schemas that decode back to themselves", () => {
    const schema: Schema = {
      id: "s-1",
      encodingPositionsSet: true,
      fields: [
        { name: "a", type: array(map(atomic("STRING"), atomic("INT64", true))), encodingPosition: 1, description: "doc" },
        { name: "b", type: row({ fields: [{ name: "c", type: atomic("BYTES") }] }, true), encodingPosition: 0, id: 7 },
      ],
    };
    // proto3 cannot tell encodingPosition 0 from unset, so it decodes as absent.
    const { encodingPosition: _zero, ...b } = schema.fields[1]!;
    expect(decodeSchema(encodeSchema(schema))).toStrictEqual({ ...schema, fields: [schema.fields[0], b] });
    const c = new RowCoder(schema);
    expect(codersEqual(coderFromUrn(CoderUrns.ROW, [], c.payload), c)).toBe(true);
  });
});

describe("structuralKey agrees with encodings", () => {
  const cases: [string, Coder<unknown>, unknown[]][] = [
    ["VarIntCoder", VarIntCoder as Coder<unknown>, [0, -0, 1, 1n, 2n ** 60n, 2 ** 40, BigInt(2 ** 40), -5, -5n]],
    ["DoubleCoder", DoubleCoder as Coder<unknown>, [0, -0, 1, 1.5, NaN, Infinity]],
    ["StringUtf8Coder", StringUtf8Coder as Coder<unknown>, ["", "a", "\u0000", "b"]],
    ["BoolCoder", BoolCoder as Coder<unknown>, [true, false]],
    ["KvCoder", new KvCoder(StringUtf8Coder, VarIntCoder) as Coder<unknown>, [["a", 1], ["a", 1n], ["a", 2], ["b", 1]]],
    ["NullableCoder", new NullableCoder(StringUtf8Coder) as Coder<unknown>, [null, undefined, "", "x"]],
    ["IntervalWindowCoder", IntervalWindowCoder as Coder<unknown>, [new IntervalWindow(0, 1), new IntervalWindow(0, 1), new IntervalWindow(0, 2)]],
    ["JsValueCoder", JsValueCoder, [1, "1", 1n, [1], { a: 1 }, { a: 1 }, null, undefined, "\u0000", "\u0000\u0001"]],
  ];
  it.each(cases)("%s", (_label, coder, values) => {
    for (const a of values) {
      for (const b of values) {
        const sameBytes = enc(coder, a, true) === enc(coder, b, true);
        const sameKey = new Map([[coder.structuralKey(a), true]]).has(coder.structuralKey(b));
        expect(sameKey, `${String(a)} vs ${String(b)}`).toBe(sameBytes);
      }
    }
  });
});

describe("registry", () => {
  it("rebuilds every standard coder from its urn, components and payload", () => {
    const coders: Coder<unknown>[] = [
      BytesCoder,
      StringUtf8Coder,
      VarIntCoder,
      DoubleCoder,
      BoolCoder,
      GlobalWindowCoder,
      IntervalWindowCoder,
      JsValueCoder,
      new KvCoder(StringUtf8Coder, new IterableCoder(VarIntCoder)),
      new LengthPrefixCoder(BytesCoder),
      new NullableCoder(DoubleCoder),
      new ShardedKeyCoder(StringUtf8Coder),
      new StateBackedIterableCoder(BoolCoder),
      new TimestampPrefixingWindowCoder(IntervalWindowCoder),
      new WindowedValueCoder(JsValueCoder, GlobalWindowCoder),
      new ParamWindowedValueCoder(VarIntCoder, GlobalWindowCoder, { timestamp: 5, windows: [GLOBAL_WINDOW], pane: PANE_NO_FIRING }),
      new TimerCoder(BytesCoder, IntervalWindowCoder),
      new RowCoder({ fields: [{ name: "a", type: FieldTypes.atomic("STRING") }] }),
    ] as Coder<unknown>[];
    for (const c of coders) {
      const rebuilt = coderFromUrn(c.urn, c.components, c.payload);
      expect(codersEqual(rebuilt, c), c.toString()).toBe(true);
      expect(rebuilt.toString()).toBe(c.toString());
      expect(coderToString(rebuilt)).toBe(c.toString());
    }
  });
  it("fails clearly for unknown URNs and wrong arity", () => {
    expect(() => coderFromUrn("beam:coder:nope:v1")).toThrow(UnknownCoderUrnError);
    expect(() => coderFromUrn("beam:coder:nope:v1")).toThrow(/no coder is registered for URN beam:coder:nope:v1/);
    expect(() => coderFromUrn(CoderUrns.KV, [BytesCoder])).toThrow(/takes 2 component coder\(s\), got 1/);
  });
  it("accepts registered custom coders and names them even without toString", () => {
    const custom: Coder<string> = {
      urn: "test:coder:upper:v1",
      components: [StringUtf8Coder],
      payload: new Uint8Array(0),
      deterministic: true,
      encode: (v, out, nested) => StringUtf8Coder.encode(v.toUpperCase(), out, nested),
      decode: (input, nested) => StringUtf8Coder.decode(input, nested),
      structuralKey: (v) => v.toUpperCase(),
    };
    registerCoder(custom.urn, () => custom as Coder<unknown>);
    expect(coderFromUrn(custom.urn)).toBe(custom);
    expect(coderToString(custom as Coder<unknown>)).toBe("test:coder:upper:v1(StringUtf8Coder)");
  });
});

describe("encodeToBytes's shared writer", () => {
  it("gives independent results, also for a coder that encodes with encodeToBytes inside its encode", () => {
    // Its inner value goes through encodeToBytes while the outer call is writing.
    const wrapping: Coder<string> = {
      ...StringUtf8Coder,
      encode(v: string, out: ByteWriter, nested: boolean) {
        BytesCoder.encode(encodeToBytes(StringUtf8Coder, v.toUpperCase()), out, nested);
      },
      decode(input: ByteReader, nested: boolean) {
        return decodeFromBytes(StringUtf8Coder, BytesCoder.decode(input, nested)).toLowerCase();
      },
    } as Coder<string>;
    const a = encodeToBytes(new KvCoder(wrapping, StringUtf8Coder), ["abc", "def"]);
    const b = encodeToBytes(new KvCoder(wrapping, StringUtf8Coder), ["xyz", "uvw"]);
    expect(decodeFromBytes(new KvCoder(wrapping, StringUtf8Coder), a)).toEqual(["abc", "def"]);
    expect(decodeFromBytes(new KvCoder(wrapping, StringUtf8Coder), b)).toEqual(["xyz", "uvw"]);
    expect(hex(a)).toBe(hex(encodeToBytes(new KvCoder(BytesCoder, StringUtf8Coder), [new TextEncoder().encode("ABC"), "def"])));
  });

  it("still works after a value larger than it keeps, and after a coder threw", () => {
    const big = "x".repeat(3 << 20);
    expect(decodeFromBytes(StringUtf8Coder, encodeToBytes(StringUtf8Coder, big))).toBe(big);
    const throwing = { ...StringUtf8Coder, encode() { throw new Error("no"); } } as unknown as Coder<string>;
    expect(() => encodeToBytes(throwing, "a")).toThrow("no");
    expect(hex(encodeToBytes(StringUtf8Coder, "ab"))).toBe("6162");
  });
});
