/**
 * JsValueCoder (sluice:coder:js_value:v1): sluice's default, deterministic coder for plain JS data.
 *
 * Wire format: one tag byte, then a payload:
 *   0 undefined · 1 null · 2 false · 3 true
 *   4 non-negative safe integer: varint · 5 negative safe integer: varint of its magnitude
 *   6 any other number: float64 BE (all NaNs as one NaN; -0 is the integer 0, since 0 === -0)
 *   7 / 8 bigint ≥ 0 / < 0: magnitude as unbounded LEB128
 *   9 string: varint UTF-8 length + bytes · 10 Date: float64 BE of getTime() (invalid → NaN)
 *   11 Uint8Array (Buffer too; decodes as Uint8Array): varint length + bytes
 *   12 array: varint length + elements (holes encode as undefined)
 *   13 plain object (prototype Object.prototype or null): varint count + (key: varint length +
 *      UTF-8, value) with own enumerable string keys sorted by UTF-16 code unit, so key order
 *      never matters; symbol keys are ignored
 *   14 Map: varint count + (key, value), sorted by encoded key (then encoded value)
 *   15 Set: varint count + elements, sorted by encoding
 * Anything else — functions, symbols, class instances other than Date/Map/Set/Uint8Array, and
 * cyclic references — throws a JsValueCoderError naming the type and the path ($.a[2].b).
 *
 * Equal values (SameValueZero on primitives, structural on containers) encode to equal bytes, so
 * the coder is deterministic and fit for grouping keys. structuralKey: strings, numbers, booleans
 * and bigints are their own key (no encoding at all); everything else, and strings starting with
 * "\u0000", is "\u0000" + the encoding as latin1 — never equal to a key of another value.
 */
import { ByteReader, ByteWriter } from "./bytes.js";
import { AbstractCoder, typeName } from "./primitives.js";
import { CoderUrns } from "./urns.js";
import { encodedKeyString, readBytesCopy, readUtf8, readVarLength, writeLengthPrefixedUtf8, writeVarInt64 } from "./wire.js";
import { SluiceError } from "../../internal/errors.js";
import { corruptData } from "./errors.js";

const T_UNDEFINED = 0;
const T_NULL = 1;
const T_FALSE = 2;
const T_TRUE = 3;
const T_UINT = 4;
const T_NINT = 5;
const T_FLOAT = 6;
const T_BIGINT_POS = 7;
const T_BIGINT_NEG = 8;
const T_STRING = 9;
const T_DATE = 10;
const T_BYTES = 11;
const T_ARRAY = 12;
const T_OBJECT = 13;
const T_MAP = 14;
const T_SET = 15;

/** Thrown when a value cannot be encoded by JsValueCoder. `path` locates it, e.g. `$.items[3].fn`. */
export class JsValueCoderError extends SluiceError {
  constructor(
    readonly what: string,
    readonly path: string,
  ) {
    super(
      "INVALID_DATA",
      `JsValueCoder cannot encode ${what} at ${path}: only undefined, null, booleans, numbers, bigints, strings, ` +
        `Dates, Uint8Arrays, arrays, plain objects, Maps and Sets (without cycles) are supported; use a custom Coder for other types`,
      { hint: "Emit plain data (convert class instances and functions), or choose a coder for the collection with pcoll.withCoder(...)." },
    );
    this.name = "JsValueCoderError";
  }
}

/** Internal: carries what failed up to the top-level call, which adds the path. */
class Unencodable {
  constructor(readonly what: string) {}
}

class PathLabel {
  constructor(readonly text: string) {}
}

// The containers being encoded (for cycle detection) and, per level, the child being encoded.
const stack: (object | undefined)[] = [];
const pathKeys: (string | number | PathLabel | undefined)[] = [];
let stackTop = 0;

function formatPath(from: number, to: number): string {
  let s = "$";
  for (let i = from; i < to; i++) {
    const k = pathKeys[i];
    if (typeof k === "number") s += `[${k}]`;
    else if (typeof k === "string") s += /^[A-Za-z_$][\w$]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`;
    else if (k instanceof PathLabel) s += k.text;
  }
  return s;
}

function writeNumber(out: ByteWriter, v: number): void {
  if (Number.isSafeInteger(v)) {
    if (v >= 0) {
      out.byte(T_UINT);
      writeVarInt64(out, v === 0 ? 0 : v);
    } else {
      out.byte(T_NINT);
      writeVarInt64(out, -v);
    }
    return;
  }
  out.byte(T_FLOAT);
  writeFloat(out, v);
}

function writeFloat(out: ByteWriter, v: number): void {
  if (v !== v) {
    // One canonical NaN, whatever bits the NaN had.
    out.int32BE(0x7ff80000);
    out.int32BE(0);
  } else {
    out.float64BE(v);
  }
}

function writeBigint(out: ByteWriter, v: bigint): void {
  let m = v;
  if (m < 0n) {
    out.byte(T_BIGINT_NEG);
    m = -m;
  } else {
    out.byte(T_BIGINT_POS);
  }
  while (m >= 0x80n) {
    out.byte(Number(m & 0x7fn) | 0x80);
    m >>= 7n;
  }
  out.byte(Number(m));
}

function readBigintMagnitude(input: ByteReader): bigint {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    const b = input.byte();
    result |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) return result;
    shift += 7n;
  }
}

function encodeValue(out: ByteWriter, v: unknown): void {
  switch (typeof v) {
    case "string":
      out.byte(T_STRING);
      writeLengthPrefixedUtf8(out, v);
      return;
    case "number":
      writeNumber(out, v);
      return;
    case "boolean":
      out.byte(v ? T_TRUE : T_FALSE);
      return;
    case "undefined":
      out.byte(T_UNDEFINED);
      return;
    case "bigint":
      writeBigint(out, v);
      return;
    case "object":
      if (v === null) out.byte(T_NULL);
      else encodeObject(out, v);
      return;
    case "function":
      throw new Unencodable(v.name ? `a function (${v.name})` : "a function");
    case "symbol":
      throw new Unencodable(`a symbol (${v.toString()})`);
  }
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

function encodeDetached(v: unknown): Uint8Array {
  const w = new ByteWriter(32);
  encodeValue(w, v);
  return w.finish();
}

/** Sorts keys by UTF-16 code unit (as Array.prototype.sort does), cheaply for the usual few keys. */
function sortKeys(keys: string[]): string[] {
  const n = keys.length;
  if (n > 16) return keys.sort();
  for (let i = 1; i < n; i++) {
    const k = keys[i]!;
    let j = i - 1;
    if (keys[j]! <= k) continue;
    while (j >= 0 && keys[j]! > k) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = k;
  }
  return keys;
}

function encodeObject(out: ByteWriter, obj: object): void {
  for (let i = 0; i < stackTop; i++) {
    if (stack[i] === obj) throw new Unencodable("a cyclic reference");
  }
  const depth = stackTop;
  stack[stackTop++] = obj;
  if (Array.isArray(obj)) {
    const arr = obj as readonly unknown[];
    const n = arr.length;
    out.byte(T_ARRAY);
    writeVarInt64(out, n);
    for (let i = 0; i < n; i++) {
      pathKeys[depth] = i;
      encodeValue(out, arr[i]);
    }
  } else {
    const proto: unknown = Object.getPrototypeOf(obj);
    if (proto === Object.prototype || proto === null) {
      const rec = obj as { readonly [key: string]: unknown };
      const keys = sortKeys(Object.keys(rec));
      out.byte(T_OBJECT);
      writeVarInt64(out, keys.length);
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        pathKeys[depth] = k;
        writeLengthPrefixedUtf8(out, k);
        encodeValue(out, rec[k]);
      }
    } else if (obj instanceof Uint8Array) {
      out.byte(T_BYTES);
      writeVarInt64(out, obj.length);
      out.bytes(obj);
    } else if (obj instanceof Date) {
      out.byte(T_DATE);
      writeFloat(out, obj.getTime());
    } else if (obj instanceof Map) {
      encodeMap(out, obj, depth);
    } else if (obj instanceof Set) {
      encodeSet(out, obj, depth);
    } else {
      throw new Unencodable(`an instance of ${typeName(obj)}`);
    }
  }
  stack[--stackTop] = undefined;
  pathKeys[depth] = undefined;
}

function encodeMap(out: ByteWriter, map: Map<unknown, unknown>, depth: number): void {
  const entries: { key: Uint8Array; value: Uint8Array }[] = [];
  let i = 0;
  for (const [k, v] of map) {
    pathKeys[depth] = new PathLabel(`<map key #${i}>`);
    const key = encodeDetached(k);
    pathKeys[depth] = new PathLabel(`.get(<key #${i}>)`);
    entries.push({ key, value: encodeDetached(v) });
    i++;
  }
  entries.sort((a, b) => compareBytes(a.key, b.key) || compareBytes(a.value, b.value));
  out.byte(T_MAP);
  writeVarInt64(out, entries.length);
  for (const e of entries) {
    out.bytes(e.key);
    out.bytes(e.value);
  }
}

function encodeSet(out: ByteWriter, set: Set<unknown>, depth: number): void {
  const items: Uint8Array[] = [];
  let i = 0;
  for (const v of set) {
    pathKeys[depth] = new PathLabel(`<set element #${i}>`);
    items.push(encodeDetached(v));
    i++;
  }
  items.sort(compareBytes);
  out.byte(T_SET);
  writeVarInt64(out, items.length);
  for (const item of items) out.bytes(item);
}

function decodeValue(input: ByteReader): unknown {
  const tag = input.byte();
  switch (tag) {
    case T_UNDEFINED:
      return undefined;
    case T_NULL:
      return null;
    case T_FALSE:
      return false;
    case T_TRUE:
      return true;
    case T_UINT:
      return readVarLength(input);
    case T_NINT:
      return -readVarLength(input);
    case T_FLOAT:
      return input.float64BE();
    case T_BIGINT_POS:
      return readBigintMagnitude(input);
    case T_BIGINT_NEG:
      return -readBigintMagnitude(input);
    case T_STRING:
      return readUtf8(input, readVarLength(input));
    case T_DATE:
      return new Date(input.float64BE());
    case T_BYTES:
      return readBytesCopy(input, readVarLength(input));
    case T_ARRAY: {
      const n = readVarLength(input);
      const arr = new Array<unknown>(n);
      for (let i = 0; i < n; i++) arr[i] = decodeValue(input);
      return arr;
    }
    case T_OBJECT: {
      const n = readVarLength(input);
      const obj: { [key: string]: unknown } = {};
      for (let i = 0; i < n; i++) {
        const k = readUtf8(input, readVarLength(input));
        const v = decodeValue(input);
        if (k === "__proto__") Object.defineProperty(obj, k, { value: v, enumerable: true, writable: true, configurable: true });
        else obj[k] = v;
      }
      return obj;
    }
    case T_MAP: {
      const n = readVarLength(input);
      const map = new Map<unknown, unknown>();
      for (let i = 0; i < n; i++) {
        const k = decodeValue(input);
        map.set(k, decodeValue(input));
      }
      return map;
    }
    case T_SET: {
      const n = readVarLength(input);
      const set = new Set<unknown>();
      for (let i = 0; i < n; i++) set.add(decodeValue(input));
      return set;
    }
    default:
      throw corruptData(`JsValueCoder: invalid type tag ${tag} at offset ${input.pos - 1}`);
  }
}

/**
 * sluice:coder:js_value:v1 — deterministic coder for plain JS data (see the module comment for
 * the supported types and wire format). The encoding is self-delimiting, so both contexts agree.
 */
export class JsValueCoderImpl extends AbstractCoder<unknown> {
  readonly urn = CoderUrns.JS_VALUE;

  encode(value: unknown, out: ByteWriter, _nested: boolean): void {
    const base = stackTop;
    try {
      encodeValue(out, value);
    } catch (e) {
      if (e instanceof Unencodable) {
        const path = formatPath(base, stackTop);
        throw new JsValueCoderError(e.what, path);
      }
      throw e;
    } finally {
      for (let i = base; i < stackTop; i++) {
        stack[i] = undefined;
        pathKeys[i] = undefined;
      }
      stackTop = base;
    }
  }

  decode(input: ByteReader, _nested: boolean): unknown {
    return decodeValue(input);
  }

  override structuralKey(value: unknown): unknown {
    switch (typeof value) {
      case "string":
        return value.length !== 0 && value.charCodeAt(0) === 0 ? this.encodedKey(value) : value;
      case "number":
        return value === 0 ? 0 : value; // -0 → 0, as it encodes
      case "boolean":
      case "bigint":
        return value;
      default:
        return this.encodedKey(value);
    }
  }

  /** "\u0000" + the encoding as latin1. */
  private encodedKey(value: unknown): string {
    return encodedKeyString(this, value, "\u0000");
  }

  toString(): string {
    return "JsValueCoder";
  }
}

/** The JsValueCoder singleton (see JsValueCoderImpl). */
export const JsValueCoder: JsValueCoderImpl = new JsValueCoderImpl();
export type JsValueCoder = JsValueCoderImpl;
