/**
 * Atomic standard coders: bytes, string_utf8, varint, double, bool — plus the shared base class.
 */
import { ByteReader, ByteWriter } from "./bytes.js";
import type { Coder } from "./coder.js";
import { CoderUrns } from "./urns.js";
import {
  EMPTY_BYTES,
  canonicalInt64,
  encodedKeyString,
  readBytesCopy,
  readUtf8,
  readVarInt64,
  readVarLength,
  writeVarInt64,
  type Int64,
} from "./wire.js";
import { corruptData, invalidValue } from "./errors.js";

export type { Int64 } from "./wire.js";

const NO_COMPONENTS: readonly Coder<unknown>[] = Object.freeze([]);

/**
 * Defaults for a coder: no components, empty payload, deterministic, and a structural key that is
 * the encoding as a latin1 string. Subclasses override what differs.
 */
export abstract class AbstractCoder<T> implements Coder<T> {
  abstract readonly urn: string;
  private readonly componentCoders: readonly Coder<unknown>[];
  /** `components`: the component coders, in Runner API order (none for atomic coders). */
  constructor(components: readonly Coder<unknown>[] = NO_COMPONENTS) {
    this.componentCoders = components.length === 0 ? NO_COMPONENTS : Object.freeze([...components]);
  }
  get components(): readonly Coder<unknown>[] {
    return this.componentCoders;
  }
  get payload(): Uint8Array {
    return EMPTY_BYTES;
  }
  /** Deterministic when every component is (atomic coders: true unless overridden). */
  get deterministic(): boolean {
    return this.componentCoders.every((c) => c.deterministic);
  }
  abstract encode(value: T, out: ByteWriter, nested: boolean): void;
  abstract decode(input: ByteReader, nested: boolean): T;
  structuralKey(value: T): unknown {
    return encodedKeyString(this, value, "");
  }
  abstract toString(): string;
}

/** beam:coder:bytes:v1 — raw bytes; nested: varint length prefix. Decodes to a fresh copy. */
export class BytesCoderImpl extends AbstractCoder<Uint8Array> {
  readonly urn = CoderUrns.BYTES;
  encode(value: Uint8Array, out: ByteWriter, nested: boolean): void {
    if (!(value instanceof Uint8Array)) throw invalidValue(`BytesCoder: expected a Uint8Array, got ${typeName(value)}`);
    if (nested) writeVarInt64(out, value.length);
    out.bytes(value);
  }
  decode(input: ByteReader, nested: boolean): Uint8Array {
    const n = nested ? readVarLength(input) : input.remaining;
    return readBytesCopy(input, n);
  }
  toString(): string {
    return "BytesCoder";
  }
}

/** The BytesCoder singleton (see BytesCoderImpl). */
export const BytesCoder: BytesCoderImpl = new BytesCoderImpl();
export type BytesCoder = BytesCoderImpl;

/** beam:coder:string_utf8:v1 — UTF-8 bytes; nested: varint byte-length prefix. structuralKey: the string. */
export class StringUtf8CoderImpl extends AbstractCoder<string> {
  readonly urn = CoderUrns.STRING_UTF8;
  encode(value: string, out: ByteWriter, nested: boolean): void {
    if (typeof value !== "string") throw invalidValue(`StringUtf8Coder: expected a string, got ${typeName(value)}`);
    out.stringUtf8(value, nested);
  }
  decode(input: ByteReader, nested: boolean): string {
    const n = nested ? readVarLength(input) : input.remaining;
    return readUtf8(input, n);
  }
  override structuralKey(value: string): unknown {
    return value;
  }
  toString(): string {
    return "StringUtf8Coder";
  }
}

/** The StringUtf8Coder singleton (see StringUtf8CoderImpl). */
export const StringUtf8Coder: StringUtf8CoderImpl = new StringUtf8CoderImpl();
export type StringUtf8Coder = StringUtf8CoderImpl;

/**
 * beam:coder:varint:v1 — a signed 64-bit integer as Beam's varint (negatives take 10 bytes).
 *
 * JS values: encode accepts a safe-integer number or a bigint in int64 range; decode returns a
 * number whenever the value is a safe integer (|v| <= 2^53-1), and a bigint otherwise, so the
 * common case stays a plain number while Java longs beyond 2^53 survive a round trip exactly.
 * structuralKey is the same canonical form (5 and 5n share a key, as they share an encoding).
 */
export class VarIntCoderImpl extends AbstractCoder<Int64> {
  readonly urn = CoderUrns.VARINT;
  encode(value: Int64, out: ByteWriter, _nested: boolean): void {
    writeVarInt64(out, value);
  }
  decode(input: ByteReader, _nested: boolean): Int64 {
    return readVarInt64(input);
  }
  override structuralKey(value: Int64): unknown {
    return canonicalInt64(value);
  }
  toString(): string {
    return "VarIntCoder";
  }
}

/** The VarIntCoder singleton (see VarIntCoderImpl). */
export const VarIntCoder: VarIntCoderImpl = new VarIntCoderImpl();
export type VarIntCoder = VarIntCoderImpl;

/**
 * beam:coder:double:v1 — IEEE 754 float64, big-endian. Not deterministic (as in Beam Java): -0 and
 * 0 compare equal but encode differently. structuralKey: the number, except -0 → the string "-0".
 */
export class DoubleCoderImpl extends AbstractCoder<number> {
  readonly urn = CoderUrns.DOUBLE;
  override get deterministic(): boolean {
    return false;
  }
  encode(value: number, out: ByteWriter, _nested: boolean): void {
    if (typeof value !== "number") throw invalidValue(`DoubleCoder: expected a number, got ${typeName(value)}`);
    out.float64BE(value);
  }
  decode(input: ByteReader, _nested: boolean): number {
    return input.float64BE();
  }
  override structuralKey(value: number): unknown {
    return value === 0 && 1 / value < 0 ? "-0" : value;
  }
  toString(): string {
    return "DoubleCoder";
  }
}

/** The DoubleCoder singleton (see DoubleCoderImpl). */
export const DoubleCoder: DoubleCoderImpl = new DoubleCoderImpl();
export type DoubleCoder = DoubleCoderImpl;

/** beam:coder:bool:v1 — one byte, 0 or 1. structuralKey: the boolean. */
export class BoolCoderImpl extends AbstractCoder<boolean> {
  readonly urn = CoderUrns.BOOL;
  encode(value: boolean, out: ByteWriter, _nested: boolean): void {
    if (typeof value !== "boolean") throw invalidValue(`BoolCoder: expected a boolean, got ${typeName(value)}`);
    out.byte(value ? 1 : 0);
  }
  decode(input: ByteReader, _nested: boolean): boolean {
    const b = input.byte();
    if (b === 1) return true;
    if (b === 0) return false;
    throw corruptData(`BoolCoder: invalid byte ${b} (expected 0 or 1)`);
  }
  override structuralKey(value: boolean): unknown {
    return value;
  }
  toString(): string {
    return "BoolCoder";
  }
}

/** The BoolCoder singleton (see BoolCoderImpl). */
export const BoolCoder: BoolCoderImpl = new BoolCoderImpl();
export type BoolCoder = BoolCoderImpl;

/** A short description of a value's type, for error messages. */
export function typeName(v: unknown): string {
  if (v === null) return "null";
  if (typeof v !== "object") return typeof v;
  const ctor = (v as { constructor?: { name?: unknown } }).constructor;
  return typeof ctor?.name === "string" && ctor.name !== "" ? ctor.name : "object";
}
