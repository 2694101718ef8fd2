/**
 * beam:coder:row:v1 — rows with a Beam schema, encoded as Beam's Java and Python SDKs do.
 *
 * JS representation of a row: a plain object keyed by field name. Field values:
 *   BYTE, INT16, INT32, FLOAT, DOUBLE → number;  INT64 → number | bigint (as VarIntCoder);
 *   STRING → string;  BOOLEAN → boolean;  BYTES → Uint8Array;
 *   array / iterable → array (any iterable encodes);  map → Map (a plain object also encodes);
 *   row → nested plain object;  null fields → null (undefined also encodes as null);
 *   logical types → their representation's value, except
 *     beam:logical_type:millis_instant:v1 → Timestamp (ms number; a Date also encodes), on the
 *       wire as Beam's 8-byte sign-flipped timestamp, as Java's InstantCoder writes it;
 *     beam:logical_type:decimal:v1 → a decimal string ("-100.123", scale kept: "1.0" ≠ "1"),
 *       on the wire as Java's BigDecimalCoder (varint scale, length-prefixed two's complement).
 */
import { ByteReader, ByteWriter } from "./bytes.js";
import type { Coder } from "./coder.js";
import { AbstractCoder, BoolCoder, BytesCoder, DoubleCoder, StringUtf8Coder, VarIntCoder, typeName } from "./primitives.js";
import { decodeSchema, encodeSchema, fieldTypeToString, type FieldType, type Schema } from "./schema.js";
import { IterableCoder, NullableCoder } from "./structured.js";
import { CoderUrns } from "./urns.js";
import {
  readTimestamp,
  readVarInt32,
  readVarLength,
  writeTimestamp,
  writeVarInt32,
  writeVarInt64,
} from "./wire.js";
import type { Timestamp } from "../time.js";
import { corruptData, invalidValue } from "./errors.js";
import { SluiceError } from "../../internal/errors.js";

/** A row: field name → value (see the module comment for the value types). */
export type Row = { [field: string]: unknown };

export const LogicalTypeUrns = {
  MILLIS_INSTANT: "beam:logical_type:millis_instant:v1",
  MICROS_INSTANT: "beam:logical_type:micros_instant:v1",
  DECIMAL: "beam:logical_type:decimal:v1",
  FIXED_BYTES: "beam:logical_type:fixed_bytes:v1",
  VAR_BYTES: "beam:logical_type:var_bytes:v1",
  FIXED_CHAR: "beam:logical_type:fixed_char:v1",
  VAR_CHAR: "beam:logical_type:var_char:v1",
  DATE: "beam:logical_type:date:v1",
} as const;

// ---- Field coders that are not standard coders of their own ----------------------------------

/** BYTE: one byte, a signed 8-bit integer (Java's ByteCoder). */
class ByteFieldCoder extends AbstractCoder<number> {
  static readonly INSTANCE = new ByteFieldCoder();
  readonly urn = "sluice:coder:row_field:byte:v1";
  encode(value: number, out: ByteWriter, _nested: boolean): void {
    if (!Number.isInteger(value) || value < -128 || value > 255) throw invalidValue(`BYTE field: ${String(value)} is not a byte`);
    out.byte(value & 0xff);
  }
  decode(input: ByteReader, _nested: boolean): number {
    return (input.byte() << 24) >> 24;
  }
  override structuralKey(value: number): unknown {
    return (value << 24) >> 24;
  }
  toString(): string {
    return "ByteCoder";
  }
}

/** INT16: two bytes, big-endian (Java's BigEndianShortCoder). */
class Int16FieldCoder extends AbstractCoder<number> {
  static readonly INSTANCE = new Int16FieldCoder();
  readonly urn = "sluice:coder:row_field:int16:v1";
  encode(value: number, out: ByteWriter, _nested: boolean): void {
    if (!Number.isInteger(value) || value < -32768 || value > 32767) throw invalidValue(`INT16 field: ${String(value)} is not a 16-bit integer`);
    out.byte((value >> 8) & 0xff);
    out.byte(value & 0xff);
  }
  decode(input: ByteReader, _nested: boolean): number {
    const hi = input.byte();
    const lo = input.byte();
    return (((hi << 8) | lo) << 16) >> 16;
  }
  override structuralKey(value: number): unknown {
    return value;
  }
  toString(): string {
    return "BigEndianShortCoder";
  }
}

/** INT32: Java's VarIntCoder on an int — a varint of the unsigned 32 bits (negatives take 5 bytes). */
class Int32FieldCoder extends AbstractCoder<number> {
  static readonly INSTANCE = new Int32FieldCoder();
  readonly urn = "sluice:coder:row_field:int32:v1";
  encode(value: number, out: ByteWriter, _nested: boolean): void {
    writeVarInt32(out, value);
  }
  decode(input: ByteReader, _nested: boolean): number {
    return readVarInt32(input);
  }
  override structuralKey(value: number): unknown {
    return value;
  }
  toString(): string {
    return "VarInt32Coder";
  }
}

const f32 = new Float32Array(1);
const f32bits = new Int32Array(f32.buffer);

/** FLOAT: IEEE 754 float32, big-endian (Java's FloatCoder). Not deterministic, like DoubleCoder. */
class FloatFieldCoder extends AbstractCoder<number> {
  static readonly INSTANCE = new FloatFieldCoder();
  readonly urn = "sluice:coder:row_field:float:v1";
  override get deterministic(): boolean {
    return false;
  }
  encode(value: number, out: ByteWriter, _nested: boolean): void {
    if (typeof value !== "number") throw invalidValue(`FLOAT field: expected a number, got ${typeName(value)}`);
    f32[0] = value;
    out.int32BE(f32bits[0]!);
  }
  decode(input: ByteReader, _nested: boolean): number {
    f32bits[0] = input.int32BE();
    return f32[0]!;
  }
  toString(): string {
    return "FloatCoder";
  }
}

/** millis_instant: a Timestamp as Beam's 8-byte sign-flipped millis (Java's InstantCoder). */
class MillisInstantFieldCoder extends AbstractCoder<Timestamp | Date> {
  static readonly INSTANCE = new MillisInstantFieldCoder();
  readonly urn = "sluice:coder:row_field:millis_instant:v1";
  encode(value: Timestamp | Date, out: ByteWriter, _nested: boolean): void {
    writeTimestamp(out, value instanceof Date ? value.getTime() : value);
  }
  decode(input: ByteReader, _nested: boolean): Timestamp {
    return readTimestamp(input);
  }
  toString(): string {
    return "InstantCoder";
  }
}

const DECIMAL_RE = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/** Parses a decimal string to (unscaled, scale), keeping the scale as written ("1.0" → 10, 1). */
export function parseDecimal(s: string): { unscaled: bigint; scale: number } {
  const m = DECIMAL_RE.exec(s.trim());
  const intPart = m?.[2] ?? "";
  const fracPart = m?.[3] ?? "";
  if (m === null || intPart + fracPart === "") throw invalidValue(`invalid decimal ${JSON.stringify(s)}`);
  const digits = BigInt(intPart + fracPart);
  const exp = m[4] === undefined ? 0 : Number(m[4]);
  return { unscaled: m[1] === "-" ? -digits : digits, scale: fracPart.length - exp };
}

/** Formats (unscaled, scale) as a plain decimal string; negative scales use an exponent ("1E+3"). */
export function formatDecimal(unscaled: bigint, scale: number): string {
  const neg = unscaled < 0n;
  const digits = (neg ? -unscaled : unscaled).toString();
  let body: string;
  if (scale <= 0) {
    body = scale === 0 ? digits : `${digits}E+${-scale}`;
  } else {
    const padded = digits.padStart(scale + 1, "0");
    body = `${padded.slice(0, padded.length - scale)}.${padded.slice(padded.length - scale)}`;
  }
  return neg ? `-${body}` : body;
}

/** Minimal big-endian two's complement bytes of a bigint (Java's BigInteger.toByteArray). */
function bigintToBytes(v: bigint): Uint8Array {
  const magnitudeBits = (v < 0n ? -v - 1n : v).toString(2).length;
  const n = v === 0n || v === -1n ? 1 : (magnitudeBits + 8) >> 3;
  let u = BigInt.asUintN(n * 8, v);
  const out = new Uint8Array(n);
  for (let i = n - 1; i >= 0; i--) {
    out[i] = Number(u & 0xffn);
    u >>= 8n;
  }
  return out;
}

function bytesToBigint(b: Uint8Array): bigint {
  if (b.length === 0) return 0n;
  let hex = "";
  for (let i = 0; i < b.length; i++) hex += b[i]!.toString(16).padStart(2, "0");
  return BigInt.asIntN(b.length * 8, BigInt(`0x${hex}`));
}

/** decimal: Java's BigDecimalCoder — varint32 scale, then the unscaled value as BigIntegerCoder bytes. */
class DecimalFieldCoder extends AbstractCoder<string | number | bigint> {
  static readonly INSTANCE = new DecimalFieldCoder();
  readonly urn = "sluice:coder:row_field:decimal:v1";
  encode(value: string | number | bigint, out: ByteWriter, nested: boolean): void {
    const { unscaled, scale } = typeof value === "bigint" ? { unscaled: value, scale: 0 } : parseDecimal(String(value));
    writeVarInt32(out, scale);
    BytesCoder.encode(bigintToBytes(unscaled), out, nested);
  }
  decode(input: ByteReader, nested: boolean): string {
    const scale = readVarInt32(input);
    const unscaled = bytesToBigint(BytesCoder.decode(input, nested));
    return formatDecimal(unscaled, scale);
  }
  toString(): string {
    return "BigDecimalCoder";
  }
}

/** map: int32 entry count, then each key and value nested (Java's MapCoder). Decodes to a Map. */
class MapFieldCoder<K, V> extends AbstractCoder<Map<K, V> | { [key: string]: V }> {
  readonly urn = "sluice:coder:row_field:map:v1";
  constructor(
    readonly keyCoder: Coder<K>,
    readonly valueCoder: Coder<V>,
  ) {
    super();
  }
  override get deterministic(): boolean {
    return false;
  }
  encode(value: Map<K, V> | { [key: string]: V }, out: ByteWriter, _nested: boolean): void {
    if (value instanceof Map) {
      out.int32BE(value.size);
      for (const [k, v] of value) {
        this.keyCoder.encode(k, out, true);
        this.valueCoder.encode(v, out, true);
      }
      return;
    }
    if (typeof value !== "object" || value === null) throw invalidValue(`map field: expected a Map, got ${typeName(value)}`);
    const keys = Object.keys(value);
    out.int32BE(keys.length);
    for (const k of keys) {
      this.keyCoder.encode(k as K, out, true);
      this.valueCoder.encode(value[k]!, out, true);
    }
  }
  decode(input: ByteReader, _nested: boolean): Map<K, V> {
    const n = input.int32BE();
    if (n < 0) throw corruptData(`map field: invalid entry count ${n}`);
    const m = new Map<K, V>();
    for (let i = 0; i < n; i++) {
      const k = this.keyCoder.decode(input, true);
      m.set(k, this.valueCoder.decode(input, true));
    }
    return m;
  }
  toString(): string {
    return `MapCoder(${this.keyCoder.toString()}, ${this.valueCoder.toString()})`;
  }
}

/** The coder for a value of `type`, ignoring its top-level nullability. */
function nonNullCoderFor(type: FieldType): Coder<unknown> {
  switch (type.kind) {
    case "atomic":
      switch (type.atomic) {
        case "BYTE":
          return ByteFieldCoder.INSTANCE;
        case "INT16":
          return Int16FieldCoder.INSTANCE;
        case "INT32":
          return Int32FieldCoder.INSTANCE;
        case "INT64":
          return VarIntCoder;
        case "FLOAT":
          return FloatFieldCoder.INSTANCE;
        case "DOUBLE":
          return DoubleCoder;
        case "STRING":
          return StringUtf8Coder;
        case "BOOLEAN":
          return BoolCoder;
        case "BYTES":
          return BytesCoder;
      }
      break;
    case "array":
    case "iterable":
      return new IterableCoder(containedCoderFor(type.elementType));
    case "map":
      return new MapFieldCoder(containedCoderFor(type.keyType), containedCoderFor(type.valueType));
    case "row":
      return new RowCoder(type.schema);
    case "logical":
      if (type.urn === LogicalTypeUrns.MILLIS_INSTANT) return MillisInstantFieldCoder.INSTANCE;
      if (type.urn === LogicalTypeUrns.DECIMAL) return DecimalFieldCoder.INSTANCE;
      return nonNullCoderFor(type.representation);
  }
  throw new SluiceError("UNSUPPORTED", `row coder: unsupported field type ${fieldTypeToString(type)}`, { hint: "Use a schema with Beam's standard field types, or another coder for this collection." });
}

/** Values inside arrays and maps carry their own null marker (NullableCoder) when nullable. */
function containedCoderFor(type: FieldType): Coder<unknown> {
  const c = nonNullCoderFor(type);
  return type.nullable === true ? new NullableCoder(c) : c;
}

/**
 * beam:coder:row:v1 — a row as: varint field count; the null bitmap as bytes (varint length, bit i
 * of byte i/8 set when the field at encoding position i is null; empty when nothing is null); then
 * each non-null field, nested, in encoding-position order. Decoding tolerates schema evolution as
 * Beam does: missing trailing fields decode as null, extra trailing ones are ignored.
 *
 * The payload is the serialized Schema proto. Built from a payload, the coder keeps those exact
 * bytes (Beam matches coders by payload); built from a Schema, it serializes it.
 */
export class RowCoder extends AbstractCoder<Row> {
  readonly urn = CoderUrns.ROW;
  readonly schema: Schema;
  private readonly payloadBytes: Uint8Array;
  /** By encoding position: field name, coder, nullability. */
  private readonly names: readonly string[];
  private readonly coders: readonly Coder<unknown>[];
  private readonly nullable: readonly boolean[];
  /** Field names in schema order, and the encoding position of each. */
  private readonly fieldNames: readonly string[];
  private readonly positionOfField: readonly number[] | undefined;
  private readonly isDeterministic: boolean;
  /** A field named "__proto__" needs defineProperty; plain assignment would set the prototype. */
  private readonly protoField: boolean;

  constructor(schema: Schema | Uint8Array) {
    super();
    if (schema instanceof Uint8Array) {
      this.payloadBytes = schema;
      this.schema = decodeSchema(schema);
    } else {
      this.schema = schema;
      this.payloadBytes = encodeSchema(schema);
    }
    const fields = this.schema.fields;
    const n = fields.length;
    // Field index → encoding position.
    let positions: number[] | undefined;
    if (this.schema.encodingPositionsSet === true) {
      positions = fields.map((f) => f.encodingPosition ?? 0);
      const seen = new Set(positions);
      if (seen.size !== n || positions.some((p) => p < 0 || p >= n)) {
        throw new SluiceError("INVALID_ARGUMENT", `row coder: schema ${this.schema.id ?? ""} has invalid encoding positions ${JSON.stringify(positions)}`, {
          hint: "Encoding positions must be a permutation of 0..n-1, one per field.",
        });
      }
      if (positions.every((p, i) => p === i)) positions = undefined;
    }
    const names = new Array<string>(n);
    const coders = new Array<Coder<unknown>>(n);
    const nullable = new Array<boolean>(n);
    fields.forEach((f, i) => {
      const p = positions === undefined ? i : positions[i]!;
      names[p] = f.name;
      coders[p] = nonNullCoderFor(f.type);
      nullable[p] = f.type.nullable === true;
    });
    this.names = names;
    this.coders = coders;
    this.nullable = nullable;
    this.fieldNames = fields.map((f) => f.name);
    this.positionOfField = positions;
    this.isDeterministic = coders.every((c) => c.deterministic);
    this.protoField = this.fieldNames.includes("__proto__");
  }

  override get payload(): Uint8Array {
    return this.payloadBytes;
  }
  override get deterministic(): boolean {
    return this.isDeterministic;
  }

  encode(value: Row, out: ByteWriter, _nested: boolean): void {
    if (typeof value !== "object" || value === null) throw invalidValue(`${this.toString()}: expected a row object, got ${typeName(value)}`);
    const names = this.names;
    const n = names.length;
    writeVarInt64(out, n);
    let lastNull = -1;
    for (let p = 0; p < n; p++) {
      const v = value[names[p]!];
      if (v === null || v === undefined) {
        if (!this.nullable[p]) throw invalidValue(`${this.toString()}: field "${names[p]!}" is not nullable but is ${String(v)}`);
        lastNull = p;
      }
    }
    if (lastNull < 0) {
      out.byte(0);
    } else {
      // Java's BitSet.toByteArray: bytes up to the last one holding a set bit.
      const nbytes = (lastNull >> 3) + 1;
      writeVarInt64(out, nbytes);
      for (let b = 0; b < nbytes; b++) {
        let bits = 0;
        for (let bit = 0; bit < 8; bit++) {
          const p = b * 8 + bit;
          if (p < n) {
            const v = value[names[p]!];
            if (v === null || v === undefined) bits |= 1 << bit;
          }
        }
        out.byte(bits);
      }
    }
    const coders = this.coders;
    for (let p = 0; p < n; p++) {
      const v = value[names[p]!];
      if (v !== null && v !== undefined) coders[p]!.encode(v, out, true);
    }
  }

  decode(input: ByteReader, _nested: boolean): Row {
    const count = readVarLength(input);
    const maskLen = readVarLength(input);
    const mask = maskLen > 0 ? input.bytes(maskLen) : undefined;
    const names = this.names;
    const coders = this.coders;
    const n = names.length;
    const m = count < n ? count : n;
    const positionOfField = this.positionOfField;
    if (positionOfField === undefined && !this.protoField) {
      const row: Row = {};
      for (let p = 0; p < n; p++) {
        let v: unknown = null;
        if (p < m && !(mask !== undefined && p >> 3 < maskLen && (mask[p >> 3]! & (1 << (p & 7))) !== 0)) {
          v = coders[p]!.decode(input, true);
        }
        row[names[p]!] = v;
      }
      return row;
    }
    const values = new Array<unknown>(n).fill(null);
    for (let p = 0; p < m; p++) {
      if (!(mask !== undefined && p >> 3 < maskLen && (mask[p >> 3]! & (1 << (p & 7))) !== 0)) {
        values[p] = coders[p]!.decode(input, true);
      }
    }
    const row: Row = {};
    const fieldNames = this.fieldNames;
    for (let i = 0; i < n; i++) {
      const v = values[positionOfField === undefined ? i : positionOfField[i]!];
      const name = fieldNames[i]!;
      if (name === "__proto__") Object.defineProperty(row, name, { value: v, enumerable: true, writable: true, configurable: true });
      else row[name] = v;
    }
    return row;
  }

  toString(): string {
    return `RowCoder(${this.schema.fields.map((f) => `${f.name}: ${fieldTypeToString(f.type)}`).join(", ")})`;
  }
}
