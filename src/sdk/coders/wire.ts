/**
 * Low-level wire helpers shared by the coders: Beam's signed 64-bit varints without BigInt on the
 * common paths, the sign-flipped big-endian int64 that Beam uses for timestamps, length-prefixed
 * UTF-8, and reusable scratch writers. Internal to the coders package.
 */
import { ByteReader, ByteWriter } from "./bytes.js";
import type { Coder } from "./coder.js";
import { GLOBAL_WINDOW_MAX_TIMESTAMP, MAX_TIMESTAMP, MIN_TIMESTAMP, millisToTimestamp, timestampToMillis, type Timestamp } from "../time.js";
import { corruptData, invalidValue } from "./errors.js";

/** A Beam int64 as JS sees it: a number when it is a safe integer, otherwise a bigint. */
export type Int64 = number | bigint;

const TWO_32 = 4294967296;
const TWO_28 = 268435456;
const TWO_25 = 33554432;
const TWO_36 = 68719476736;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const SIGN_BIT = 1n << 63n;

export const EMPTY_BYTES: Uint8Array = new Uint8Array(0);

function describe(v: unknown): string {
  return typeof v === "bigint" ? `${v}n` : String(v);
}

/** Writes the unsigned 64-bit varint whose bits are `hi:lo` (two uint32 halves). */
function writeVarUint64Parts(out: ByteWriter, hi: number, lo: number): void {
  while (hi !== 0 || lo > 0x7f) {
    out.byte((lo & 0x7f) | 0x80);
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi = hi >>> 7;
  }
  out.byte(lo);
}

/**
 * Writes Beam's varint of a signed 64-bit integer (negative values take 10 bytes, as two's
 * complement). Numbers must be safe integers; bigints must fit int64.
 */
export function writeVarInt64(out: ByteWriter, v: Int64): void {
  if (typeof v === "number") {
    if (v >= 0 && v < 0x80000000 && (v | 0) === v) {
      // Small non-negative: the hot path, pure int arithmetic.
      while (v >= 0x80) {
        out.byte((v & 0x7f) | 0x80);
        v >>>= 7;
      }
      out.byte(v);
      return;
    }
    if (!Number.isSafeInteger(v)) {
      throw invalidValue(`varint: ${describe(v)} is not a safe integer (use a bigint for larger int64 values)`);
    }
    const hi = Math.floor(v / TWO_32);
    const lo = v - hi * TWO_32;
    writeVarUint64Parts(out, hi >>> 0, lo >>> 0);
    return;
  }
  if (typeof v !== "bigint") {
    throw invalidValue(`varint: expected a number or bigint, got ${typeof v}`);
  }
  if (v < INT64_MIN || v > INT64_MAX) throw invalidValue(`varint: ${v}n does not fit a signed 64-bit integer`);
  const u = BigInt.asUintN(64, v);
  writeVarUint64Parts(out, Number(u >> 32n), Number(u & 0xffffffffn));
}

/** Reads Beam's signed 64-bit varint: a number when it is a safe integer, else a bigint. */
export function readVarInt64(input: ByteReader): Int64 {
  let b = input.byte();
  if (b < 0x80) return b;
  let lo = b & 0x7f;
  b = input.byte();
  lo |= (b & 0x7f) << 7;
  if (b < 0x80) return lo;
  b = input.byte();
  lo |= (b & 0x7f) << 14;
  if (b < 0x80) return lo;
  b = input.byte();
  lo |= (b & 0x7f) << 21;
  if (b < 0x80) return lo;
  // lo holds bits 0..27; hi accumulates bits 28..63 (at most 36 bits, exact in a double).
  let hi = 0;
  let mul = 1;
  for (let i = 4; i < 10; i++) {
    b = input.byte();
    if (i === 9) {
      if (b & 0x80) throw corruptData("varint longer than 10 bytes");
      hi += (b & 0x01) * mul;
      break;
    }
    hi += (b & 0x7f) * mul;
    if (b < 0x80) break;
    mul *= 0x80;
  }
  if (hi < TWO_25) return hi * TWO_28 + lo;
  if (hi >= TWO_36 - TWO_25) {
    // Negative: magnitude 2^64 - value = (2^36 - hi) * 2^28 - lo, exact in a double here.
    const mag = (TWO_36 - hi) * TWO_28 - lo;
    if (mag <= Number.MAX_SAFE_INTEGER) return -mag;
  }
  return BigInt.asIntN(64, (BigInt(hi) << 28n) | BigInt(lo));
}

/** Reads a varint that must be a non-negative safe integer (a length or count). */
export function readVarLength(input: ByteReader): number {
  const n = readVarInt64(input);
  if (typeof n !== "number" || n < 0) throw corruptData(`invalid length ${describe(n)} in encoded data`);
  return n;
}

/** Beam's 32-bit varint (Java's VarIntCoder on an int): the value as unsigned 32 bits, so negatives take 5 bytes. */
export function writeVarInt32(out: ByteWriter, v: number): void {
  if ((v | 0) !== v) throw invalidValue(`int32: ${describe(v)} is not a 32-bit integer`);
  let u = v >>> 0;
  while (u >= 0x80) {
    out.byte((u & 0x7f) | 0x80);
    u >>>= 7;
  }
  out.byte(u);
}

/** Reads a 32-bit varint, keeping the low 32 bits (tolerates 64-bit sign-extended encodings). */
export function readVarInt32(input: ByteReader): number {
  let result = 0;
  for (let i = 0; i < 10; i++) {
    const b = input.byte();
    if (i < 5) result |= (b & 0x7f) << (7 * i);
    if (b < 0x80) return result | 0;
  }
  throw corruptData("varint longer than 10 bytes");
}

/**
 * Writes an int64 as 8 big-endian bytes with the sign bit flipped (Beam's timestamp encoding:
 * value - Long.MIN_VALUE), so byte order matches numeric order.
 */
export function writeInt64Flipped(out: ByteWriter, v: Int64): void {
  if (typeof v === "number") {
    const hi = Math.floor(v / TWO_32);
    const lo = v - hi * TWO_32;
    out.int32BE(hi ^ 0x80000000);
    out.int32BE(lo);
    return;
  }
  out.uint64BE(BigInt.asUintN(64, v) ^ SIGN_BIT);
}

/** Reads the sign-flipped big-endian int64: a number when it is exact in a double's safe range. */
export function readInt64Flipped(input: ByteReader): Int64 {
  const hi = input.int32BE() ^ 0x80000000;
  const lo = input.int32BE() >>> 0;
  if (hi >= -0x200000 && hi < 0x200000) return hi * TWO_32 + lo;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** Converts a timestamp to the exact int64 millis Beam puts on the wire (number when safe). */
export function timestampWireMillis(ts: Timestamp): Int64 {
  if (Number.isSafeInteger(ts)) return ts;
  const floored = Math.floor(ts);
  if (Number.isSafeInteger(floored)) return floored;
  if (Number.isNaN(ts)) throw invalidValue("timestamp is NaN");
  return timestampToMillis(ts);
}

/**
 * The wire words (sign-flipped high and low 32 bits) of Beam's timestamp bounds: not safe
 * integers as doubles, so the general path takes BigInts, and every element in the global window
 * carries one (its timestamp MIN_TIMESTAMP, or a window end).
 */
const BOUNDS: readonly { readonly ts: Timestamp; readonly hi: number; readonly lo: number }[] = [MIN_TIMESTAMP, MAX_TIMESTAMP, GLOBAL_WINDOW_MAX_TIMESTAMP].map((ts) => {
  const u = BigInt.asUintN(64, timestampToMillis(ts)) ^ SIGN_BIT;
  return { ts, hi: Number(u >> 32n) | 0, lo: Number(u & 0xffffffffn) | 0 };
});
const [MIN_WIRE, MAX_WIRE, GLOBAL_MAX_WIRE] = BOUNDS as [(typeof BOUNDS)[0], (typeof BOUNDS)[0], (typeof BOUNDS)[0]];

/** Beam's InstantCoder / TimestampCoder: int64 millis, sign-flipped big-endian. */
export function writeTimestamp(out: ByteWriter, ts: Timestamp): void {
  const b = ts === MIN_TIMESTAMP ? MIN_WIRE : ts === GLOBAL_WINDOW_MAX_TIMESTAMP ? GLOBAL_MAX_WIRE : ts === MAX_TIMESTAMP ? MAX_WIRE : undefined;
  if (b !== undefined) {
    out.int32BE(b.hi);
    out.int32BE(b.lo);
    return;
  }
  writeInt64Flipped(out, timestampWireMillis(ts));
}

export function readTimestamp(input: ByteReader): Timestamp {
  const hi = input.int32BE() | 0;
  const lo = input.int32BE() | 0;
  for (const b of BOUNDS) if (hi === b.hi && lo === b.lo) return b.ts;
  const h = hi ^ 0x80000000;
  const l = lo >>> 0;
  if (h >= -0x200000 && h < 0x200000) return h * TWO_32 + l;
  return millisToTimestamp((BigInt(h) << 32n) | BigInt(l));
}

const textEncoder = new TextEncoder();

/** Writes a varint byte length and the UTF-8 bytes of `s`. */
export function writeLengthPrefixedUtf8(out: ByteWriter, s: string): void {
  out.stringUtf8(s, true);
}

/** Reads `n` bytes as UTF-8 (invalid sequences become U+FFFD, as in Beam's Java/Python SDKs). */
export function readUtf8(input: ByteReader, n: number): string {
  if (n <= 24) {
    // Short strings: decoding ASCII in JS beats the TextDecoder call overhead.
    const buf = input.buf;
    const start = input.pos;
    if (start + n <= input.end) {
      let s = "";
      let i = 0;
      for (; i < n; i++) {
        const c = buf[start + i]!;
        if (c >= 0x80) break;
        s += String.fromCharCode(c);
      }
      if (i === n) {
        input.pos = start + n;
        return s;
      }
    }
  }
  return input.utf8(n);
}

/** A copy of the next `n` bytes (never a view into the input, which may be a reused buffer). */
export function readBytesCopy(input: ByteReader, n: number): Uint8Array {
  const view = input.bytes(n);
  const copy = new Uint8Array(n);
  copy.set(view);
  return copy;
}

/** UTF-8 bytes of a string (for schema protos and the like; not a hot path). */
export function utf8Bytes(s: string): Uint8Array {
  return textEncoder.encode(s);
}

const decoder = new TextDecoder("utf-8");
export function utf8String(b: Uint8Array): string {
  return decoder.decode(b);
}

/**
 * Depth-indexed scratch writers, so coders that must encode a part before writing its length
 * (length_prefix) reuse buffers without clashing when they nest. Always pair with `releaseScratch`.
 */
const scratchPool: ByteWriter[] = [];
let scratchDepth = 0;

export function acquireScratch(): ByteWriter {
  let w = scratchPool[scratchDepth];
  if (w === undefined) {
    w = new ByteWriter(256);
    scratchPool[scratchDepth] = w;
  }
  scratchDepth++;
  w.reset();
  return w;
}

export function releaseScratch(): void {
  scratchDepth--;
}

let latin1Source: ArrayBufferLike | undefined;
let latin1View: Buffer = Buffer.alloc(0);

/** The bytes written to `w` so far as a latin1 string, via a cached Buffer over its memory. */
function writtenLatin1(w: ByteWriter): string {
  const v = w.view_();
  if (v.buffer !== latin1Source) {
    latin1Source = v.buffer;
    latin1View = Buffer.from(v.buffer);
  }
  return latin1View.toString("latin1", v.byteOffset, v.byteOffset + v.length);
}

const keyScratch = new ByteWriter(256);
let keyScratchBusy = false;

/**
 * `prefix` + the nested encoding of `value` as latin1: the same key as coder.ts's encodedKey
 * (with an empty prefix), faster, and safe if an encode re-enters it.
 */
export function encodedKeyString<T>(coder: Coder<T>, value: T, prefix: string): string {
  if (keyScratchBusy) {
    const w = new ByteWriter(64);
    coder.encode(value, w, true);
    return prefix + writtenLatin1(w);
  }
  keyScratchBusy = true;
  try {
    keyScratch.reset();
    coder.encode(value, keyScratch, true);
    return prefix + writtenLatin1(keyScratch);
  } finally {
    keyScratchBusy = false;
  }
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Normalises an int64 to the canonical JS form: number when safe, else bigint. */
export function canonicalInt64(v: Int64): Int64 {
  if (typeof v === "bigint") {
    return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
  }
  return v === 0 ? 0 : v;
}
