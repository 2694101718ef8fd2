/**
 * Beam's cross-SDK coder vectors (standard_coders.yaml), checked the way Beam's Python
 * standard_coders_test.py checks them: for each document, build the coder from its URN spec, and
 * for each example in each context (both when `nested` is absent) encode the expected value and
 * compare bytes (unless the coder is marked non_deterministic), and decode the bytes and compare
 * values. Stricter than Python in one way: decoding must consume every byte.
 *
 * How the YAML represents values (following the Python test):
 *   bytes: a string whose UTF-8 bytes are the value; encoded examples: strings of latin1 chars;
 *   varint/int fields: integers (parsed as bigint, compared as sluice's number-or-bigint);
 *   double: a string for Number(); interval windows: {end, span} in ms; the global window: any;
 *   windowed values: {value, timestamp (ms), windows, pane: {is_first, is_last, timing, index,
 *   on_time_index}}; timers: {userKey, dynamicTimerTag, windows, clearBit, fireTimestamp,
 *   holdTimestamp, pane}; kv: {key, value}; sharded keys: {shardId (bytes as UTF-8), key};
 *   custom windows: {window}; rows: {field: value} parsed by the schema in the payload, with
 *   logical types given as their representation — except millis_instant, whose YAML value is
 *   the wire's raw big-endian int64 (sign bit not flipped), i.e. millis + Long.MIN_VALUE.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import {
  CoderUrns,
  coderFromSpec,
  coderToSpec,
  decodeFromBytes,
  decodeSchema,
  encodeSchema,
  encodeToBytes,
  isCoderUrnRegistered,
  LogicalTypeUrns,
  ParamWindowedValueCoder,
  StateBackedIterableCoder,
  type Coder,
  type CoderSpec,
  type FieldType,
  type Schema,
} from "./index.js";
import { GLOBAL_WINDOW, IntervalWindow, type PaneInfo, type PaneTiming } from "../windowing/window.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const YAML_PATH = join(root, "build/beam-model/org/apache/beam/model/fnexecution/v1/standard_coders.yaml");

/**
 * URNs in standard_coders.yaml that sluice deliberately does not implement, with the reason.
 * Must be exactly the set of unimplemented URNs in the file (asserted below). Empty: all pass.
 */
const OUT_OF_SCOPE: Readonly<Record<string, string>> = {};

interface YamlCoder {
  urn: string;
  components?: YamlCoder[];
  payload?: string;
  non_deterministic?: boolean;
  state?: Record<string, string>;
}

interface YamlDoc {
  coder: YamlCoder;
  nested?: boolean;
  examples: Record<string, unknown>;
}

type Yaml = Record<string, unknown>;

function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) throw new Error(`not a latin1 string: U+${c.toString(16)} at ${i}`);
    out[i] = c;
  }
  return out;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

function toSpec(c: YamlCoder): CoderSpec {
  return {
    urn: c.urn,
    ...(c.components ? { components: c.components.map(toSpec) } : {}),
    ...(c.payload !== undefined ? { payload: latin1Bytes(c.payload) } : {}),
  };
}

function allUrns(c: YamlCoder, into: Set<string>): Set<string> {
  into.add(c.urn);
  for (const x of c.components ?? []) allUrns(x, into);
  return into;
}

// ---- YAML value → sluice value ---------------------------------------------------------------

const utf8 = (x: unknown): Uint8Array => new TextEncoder().encode(String(x));

/** number when safe, else bigint — sluice's int64 representation. */
function int64(x: unknown): number | bigint {
  const b = typeof x === "bigint" ? x : BigInt(x as number);
  return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
}

const millis = (x: unknown): number => Number(BigInt(x as bigint));

function intervalWindow(x: Yaml): IntervalWindow {
  const end = BigInt(x["end"] as bigint);
  const span = BigInt(x["span"] as bigint);
  return new IntervalWindow(Number(end - span), Number(end));
}

function pane(x: Yaml): PaneInfo {
  return {
    isFirst: x["is_first"] as boolean,
    isLast: x["is_last"] as boolean,
    timing: x["timing"] as PaneTiming,
    index: Number(x["index"]),
    onTimeIndex: Number(x["on_time_index"]),
  };
}

type Parser = (x: unknown) => unknown;

function valueParser(c: YamlCoder): Parser {
  if (c.urn === CoderUrns.ROW) return rowParser(decodeSchema(latin1Bytes(c.payload ?? "")));
  const parts = (c.components ?? []).map(valueParser);
  const p = (i: number): Parser => parts[i]!;
  switch (c.urn) {
    case CoderUrns.BYTES:
      return utf8;
    case CoderUrns.BOOL:
    case CoderUrns.STRING_UTF8:
      return (x) => x;
    case CoderUrns.VARINT:
      return int64;
    case CoderUrns.DOUBLE:
      return (x) => Number(x);
    case CoderUrns.KV:
      return (x) => [p(0)((x as Yaml)["key"]), p(1)((x as Yaml)["value"])];
    case CoderUrns.ITERABLE:
    case CoderUrns.STATE_BACKED_ITERABLE:
      return (x) => (x as unknown[]).map(p(0));
    case CoderUrns.GLOBAL_WINDOW:
      return () => GLOBAL_WINDOW;
    case CoderUrns.INTERVAL_WINDOW:
      return (x) => intervalWindow(x as Yaml);
    case CoderUrns.CUSTOM_WINDOW:
      return (x) => p(0)((x as Yaml)["window"]);
    case CoderUrns.WINDOWED_VALUE:
    case CoderUrns.PARAM_WINDOWED_VALUE:
      return (x) => {
        const y = x as Yaml;
        return {
          value: p(0)(y["value"]),
          timestamp: millis(y["timestamp"]),
          windows: (y["windows"] as unknown[]).map(p(1)),
          pane: pane(y["pane"] as Yaml),
        };
      };
    case CoderUrns.TIMER:
      return (x) => {
        const y = x as Yaml;
        const base = {
          userKey: p(0)(y["userKey"]),
          dynamicTimerTag: y["dynamicTimerTag"],
          windows: (y["windows"] as unknown[]).map(p(1)),
        };
        if (y["clearBit"] === true) return { ...base, clearBit: true };
        return {
          ...base,
          clearBit: false,
          fireTimestamp: millis(y["fireTimestamp"]),
          holdTimestamp: millis(y["holdTimestamp"]),
          pane: pane(y["pane"] as Yaml),
        };
      };
    case CoderUrns.SHARDED_KEY:
      return (x) => ({ shardId: utf8((x as Yaml)["shardId"]), key: p(0)((x as Yaml)["key"]) });
    case CoderUrns.NULLABLE:
      return (x) => (x === null || x === undefined ? null : p(0)(x));
    default:
      throw new Error(`no YAML value parser for ${c.urn}`);
  }
}

function fieldParser(t: FieldType): Parser {
  const inner = nonNullFieldParser(t);
  return (x) => (x === null || x === undefined ? null : inner(x));
}

function nonNullFieldParser(t: FieldType): Parser {
  switch (t.kind) {
    case "atomic":
      switch (t.atomic) {
        case "BYTES":
          return utf8;
        case "BYTE":
        case "INT16":
        case "INT32":
          return (x) => Number(x);
        case "INT64":
          return int64;
        case "FLOAT":
          return (x) => Math.fround(Number(x));
        case "DOUBLE":
          return (x) => Number(x);
        case "STRING":
        case "BOOLEAN":
          return (x) => x;
      }
      break;
    case "array":
    case "iterable": {
      const e = fieldParser(t.elementType);
      return (x) => (x as unknown[]).map(e);
    }
    case "map": {
      const k = fieldParser(t.keyType);
      const v = fieldParser(t.valueType);
      return (x) => new Map(Object.entries(x as Yaml).map(([key, value]) => [k(key), v(value)]));
    }
    case "row":
      return rowParser(t.schema);
    case "logical":
      if (t.urn === LogicalTypeUrns.MILLIS_INSTANT) {
        return (x) => Number(BigInt.asIntN(64, BigInt.asUintN(64, BigInt(x as bigint)) ^ (1n << 63n)));
      }
      if (t.urn === LogicalTypeUrns.DECIMAL) return (x) => String(x);
      return nonNullFieldParser(t.representation);
  }
  throw new Error(`no YAML parser for field type ${JSON.stringify(t)}`);
}

function rowParser(schema: Schema): Parser {
  const parsers = schema.fields.map((f) => [f.name, fieldParser(f.type)] as const);
  return (x) => {
    const y = x as Yaml;
    const extra = Object.keys(y).filter((k) => !schema.fields.some((f) => f.name === k));
    if (extra.length > 0) throw new Error(`test data has fields not in the schema: ${extra.join(", ")}`);
    const row: Yaml = {};
    for (const [name, parse] of parsers) row[name] = parse(y[name] ?? null);
    return row;
  };
}

// ---- The tests -------------------------------------------------------------------------------

function loadDocs(): YamlDoc[] {
  const docs = parseAllDocuments(readFileSync(YAML_PATH, "utf8"), { intAsBigInt: true });
  if (!Array.isArray(docs)) throw new Error("standard_coders.yaml has no documents");
  return docs.map((d, i) => {
    if (d.errors.length > 0) throw new Error(`standard_coders.yaml document #${i}: ${d.errors.map(String).join("; ")}`);
    return d.toJS() as YamlDoc;
  });
}

/** Comparable form: state-backed iterables may decode lazily. */
function comparable(urn: string, v: unknown): unknown {
  return urn === CoderUrns.STATE_BACKED_ITERABLE ? Array.from(v as Iterable<unknown>) : v;
}

if (!existsSync(YAML_PATH)) {
  describe("standard_coders.yaml", () => {
    it("is present", () => {
      throw new Error(`${YAML_PATH} is missing: run \`npm run prepare\` to fetch Beam's model files (build/beam-model/).`);
    });
  });
} else {
  const docs = loadDocs();

  describe("standard_coders.yaml", () => {
    it("has documents", () => {
      expect(docs.length).toBeGreaterThan(20);
    });

    it("every URN in the file is implemented, except exactly the listed out-of-scope ones", () => {
      const urns = new Set<string>();
      for (const d of docs) allUrns(d.coder, urns);
      const unhandled = [...urns].filter((u) => !isCoderUrnRegistered(u)).sort();
      expect(unhandled).toEqual(Object.keys(OUT_OF_SCOPE).sort());
    });

    docs.forEach((doc, index) => {
      const spec = doc.coder;
      const urns = allUrns(spec, new Set());
      if ([...urns].some((u) => u in OUT_OF_SCOPE)) return; // asserted by the test above
      const label = `#${index} ${spec.urn}${spec.components ? `(${spec.components.map((c) => c.urn.split(":")[2]).join(", ")})` : ""}`;

      describe(label, () => {
        const coderSpec = toSpec(spec);
        const build = (): Coder<unknown> => {
          const coder = coderFromSpec(coderSpec);
          if (spec.state !== undefined && coder instanceof StateBackedIterableCoder) {
            const state = spec.state;
            return coder.withStateReader((token) => {
              const key = Buffer.from(token).toString("latin1");
              const bytes = state[key];
              if (bytes === undefined) throw new Error(`no state for token ${key}`);
              return latin1Bytes(bytes);
            });
          }
          return coder;
        };

        it("rebuilds from and back to its Runner API spec", () => {
          const coder = build();
          expect(coder.urn).toBe(spec.urn);
          const back = coderToSpec(coder);
          expect(back.urn).toBe(coderSpec.urn);
          expect(hex(back.payload ?? new Uint8Array())).toBe(hex(coderSpec.payload ?? new Uint8Array()));
          expect(JSON.stringify(back.components?.map((c) => c.urn) ?? [])).toBe(
            JSON.stringify(coderSpec.components?.map((c) => c.urn) ?? []),
          );
        });

        if (spec.urn === CoderUrns.PARAM_WINDOWED_VALUE) {
          it("re-derives its payload from the decoded timestamp, windows and pane", () => {
            const coder = build() as ParamWindowedValueCoder<unknown>;
            const again = new ParamWindowedValueCoder(coder.valueCoder, coder.windowCoder, coder.params);
            expect(hex(again.payload)).toBe(hex(latin1Bytes(spec.payload ?? "")));
          });
        }

        if (spec.urn === CoderUrns.ROW) {
          it("re-serializes its schema payload byte for byte", () => {
            const payload = latin1Bytes(spec.payload ?? "");
            expect(hex(encodeSchema(decodeSchema(payload)))).toBe(hex(payload));
          });
        }

        const parse = valueParser(spec);
        const contexts = doc.nested === undefined ? [true, false] : [doc.nested];
        for (const nested of contexts) {
          for (const [encodedStr, yamlValue] of Object.entries(doc.examples)) {
            const encoded = latin1Bytes(encodedStr);
            const name = `${nested ? "nested" : "outer"}: ${JSON.stringify(encodedStr).slice(0, 60)}`;
            it(name, () => {
              const coder = build();
              const expected = parse(yamlValue);
              if (spec.non_deterministic !== true) {
                expect(hex(encodeToBytes(coder, expected, nested))).toBe(hex(encoded));
              }
              const decoded = decodeFromBytes(coder, encoded, nested);
              expect(comparable(spec.urn, decoded)).toStrictEqual(expected);
            });
          }
        }
      });
    });
  });
}
