import { corruptData } from "./errors.js";
/**
 * Growable byte output and cursor-based byte input: the streams every coder writes to and reads
 * from. Big-endian for fixed-width numbers, as Beam's wire format is.
 */

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: false });

/** Copies of at most this many bytes are cut from a shared slab. */
const SLAB_MAX_COPY = 4096;
const SLAB_BYTES = 8 * SLAB_MAX_COPY;
let slab = new ArrayBuffer(SLAB_BYTES);
let slabUsed = 0;

/**
 * A copy of `src`'s first `n` bytes. A typed array of its own costs a backing-store allocation
 * (about 1 µs for 200 bytes, against 0.13 µs for a view) and is external memory the GC tracks
 * apart, so small copies are views into a shared 32 KiB slab, 8-byte aligned, as Node's
 * Buffer.allocUnsafe cuts small buffers from its pool. A live copy keeps its slab alive.
 */
function copyOut(src: Uint8Array, n: number): Uint8Array {
  if (n > SLAB_MAX_COPY) return src.slice(0, n);
  if (slabUsed + n > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabUsed = 0;
  }
  const out = new Uint8Array(slab, slabUsed, n);
  out.set(n === src.length ? src : src.subarray(0, n));
  slabUsed = (slabUsed + n + 7) & ~7;
  return out;
}

export class ByteWriter {
  private buf: Uint8Array;
  /** For fixed-width numbers, made on first use (most encodings need none: a DataView costs an allocation). */
  private dv: DataView | undefined;
  private pos = 0;

  constructor(initialCapacity = 256) {
    this.buf = new Uint8Array(initialCapacity);
  }

  private get view(): DataView {
    return (this.dv ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength));
  }

  get length(): number {
    return this.pos;
  }

  private ensure(extra: number): void {
    const need = this.pos + extra;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.dv = undefined;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** Unsigned LEB128 varint of a non-negative safe integer. */
  varUint(n: number): void {
    this.ensure(10);
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.pos++] = n;
  }

  /** Beam's varint of a signed 64-bit integer: two's complement, as unsigned LEB128 (10 bytes for negatives). */
  varInt64(n: bigint): void {
    let u = BigInt.asUintN(64, n);
    this.ensure(10);
    while (u >= 0x80n) {
      this.buf[this.pos++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    this.buf[this.pos++] = Number(u);
  }

  int32BE(n: number): void {
    this.ensure(4);
    this.view.setInt32(this.pos, n);
    this.pos += 4;
  }

  int64BE(n: bigint): void {
    this.ensure(8);
    this.view.setBigInt64(this.pos, n);
    this.pos += 8;
  }

  uint64BE(n: bigint): void {
    this.ensure(8);
    this.view.setBigUint64(this.pos, n);
    this.pos += 8;
  }

  float64BE(n: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, n);
    this.pos += 8;
  }

  /** UTF-8 bytes of `s` with no length prefix; returns the byte count. */
  utf8(s: string): number {
    this.ensure(s.length * 3);
    const { written } = textEncoder.encodeInto(s, this.buf.subarray(this.pos));
    this.pos += written;
    return written;
  }

  /** A copy of the bytes written so far (a small one shares a slab with others: see copyOut). */
  finish(): Uint8Array {
    return copyOut(this.buf, this.pos);
  }

  /**
   * A copy of the bytes written so far in an ArrayBuffer of its own: for postMessage, which
   * transfers or clones a view's whole buffer (a slab's, with finish()).
   */
  finishOwned(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
  /** The bytes written so far, without copying (valid until the next write). */
  view_(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  reset(): void {
    this.pos = 0;
  }

  /**
   * Beam's string_utf8 encoding of `s`: its UTF-8 bytes, after a varint byte length when
   * `lengthPrefixed`. Short ASCII strings (the common case for keys and words) are copied in JS,
   * several times faster than a TextEncoder call; longer ones go through TextEncoder.
   */
  stringUtf8(s: string, lengthPrefixed: boolean): void {
    const n = s.length;
    if (n <= 32) {
      const prefix = lengthPrefixed ? 1 : 0;
      this.ensure(prefix + n);
      const buf = this.buf;
      const start = this.pos;
      let p = start + prefix;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[p++] = c;
      }
      if (i === n) {
        if (lengthPrefixed) buf[start] = n;
        this.pos = p;
        return;
      }
      // Not ASCII: start over on the general path.
    }
    if (lengthPrefixed) this.varUint(Buffer.byteLength(s, "utf8"));
    this.utf8(s);
  }
}

export class ByteReader {
  /** For fixed-width numbers, made on first use (see ByteWriter). */
  private dv: DataView | undefined;
  pos: number;

  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  private get view(): DataView {
    return (this.dv ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength));
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  atEnd(): boolean {
    return this.pos >= this.end;
  }

  private need(n: number): void {
    if (this.pos + n > this.end) {
      throw corruptData(`unexpected end of input: needed ${n} byte(s) at offset ${this.pos}, have ${this.end - this.pos}`);
    }
  }

  byte(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  bytes(n: number): Uint8Array {
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Unsigned LEB128 varint that must fit a safe integer (lengths, counts). */
  varUint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.byte();
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) {
        if (!Number.isSafeInteger(result)) throw corruptData(`varint ${result} is larger than 2^53`);
        return result;
      }
      mul *= 0x80;
    }
    throw corruptData("varint longer than 10 bytes");
  }

  /** Beam's signed 64-bit varint. */
  varInt64(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      const b = this.byte();
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return BigInt.asIntN(64, result);
      shift += 7n;
    }
    throw corruptData("varint longer than 10 bytes");
  }

  int32BE(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos);
    this.pos += 4;
    return v;
  }

  int64BE(): bigint {
    this.need(8);
    const v = this.view.getBigInt64(this.pos);
    this.pos += 8;
    return v;
  }

  uint64BE(): bigint {
    this.need(8);
    const v = this.view.getBigUint64(this.pos);
    this.pos += 8;
    return v;
  }

  float64BE(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos);
    this.pos += 8;
    return v;
  }

  utf8(n: number): string {
    return textDecoder.decode(this.bytes(n));
  }
}
