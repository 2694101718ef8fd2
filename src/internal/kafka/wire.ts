/**
 * Kafka's wire format, the parts Sluice speaks: big-endian primitives, zigzag varints, request
 * framing, record batches (magic 2, the only format a Kafka 3/4 broker writes), CRC-32C and the
 * Java producer's murmur2 partitioner. Facts from Kafka's protocol guide and message format
 * documentation; only the non-flexible request versions are used, so no tagged fields.
 */
import { gunzipSync, gzipSync } from "node:zlib";

/** A growable big-endian output buffer. */
export class KWriter {
  private buf: Buffer;
  private pos = 0;
  constructor(capacity = 256) {
    this.buf = Buffer.allocUnsafe(capacity);
  }
  get length(): number {
    return this.pos;
  }
  /** Rewinds to empty, keeping the buffer. */
  reset(): this {
    this.pos = 0;
    return this;
  }
  private ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + extra) cap *= 2;
    const next = Buffer.allocUnsafe(cap);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  int8(v: number): this {
    this.ensure(1);
    this.buf.writeInt8(v, this.pos);
    this.pos += 1;
    return this;
  }
  int16(v: number): this {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.pos);
    this.pos += 2;
    return this;
  }
  int32(v: number): this {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }
  uint32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
    return this;
  }
  /** A signed 64-bit integer given as a safe JS integer. */
  int64(v: number): this {
    this.ensure(8);
    const hi = Math.floor(v / 0x100000000);
    this.buf.writeInt32BE(hi, this.pos);
    this.buf.writeUInt32BE(v - hi * 0x100000000, this.pos + 4);
    this.pos += 8;
    return this;
  }
  /** Zigzag varint (Kafka's varint and varlong; safe integers). */
  varint(v: number): this {
    let u = v >= 0 ? v * 2 : -v * 2 - 1;
    this.ensure(10);
    while (u >= 0x80) {
      this.buf[this.pos++] = (u % 0x80) | 0x80;
      u = Math.floor(u / 0x80);
    }
    this.buf[this.pos++] = u;
    return this;
  }
  raw(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }
  /** STRING / NULLABLE_STRING: int16 length (-1 for null), UTF-8. */
  string(s: string | null): this {
    if (s === null) return this.int16(-1);
    const len = Buffer.byteLength(s);
    this.int16(len);
    this.ensure(len);
    this.buf.write(s, this.pos, "utf8");
    this.pos += len;
    return this;
  }
  /** BYTES / NULLABLE_BYTES: int32 length (-1 for null). */
  bytes(b: Uint8Array | null): this {
    if (b === null) return this.int32(-1);
    this.int32(b.length);
    return this.raw(b);
  }
  array<T>(items: readonly T[], each: (w: this, item: T) => void): this {
    this.int32(items.length);
    for (const item of items) each(this, item);
    return this;
  }
  /** Overwrites an int32 at `at` (for lengths known only at the end). */
  patchInt32(at: number, v: number): void {
    this.buf.writeInt32BE(v, at);
  }
  patchUint32(at: number, v: number): void {
    this.buf.writeUInt32BE(v >>> 0, at);
  }
  view(from = 0, to = this.pos): Buffer {
    return this.buf.subarray(from, to);
  }
  toBuffer(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}

/** A cursor over a response. Throws KafkaWireError on truncated input. */
export class KReader {
  at: number;
  constructor(
    readonly buf: Buffer,
    at = 0,
    readonly end = buf.length,
  ) {
    this.at = at;
  }
  private need(n: number): void {
    if (this.at + n > this.end) throw new KafkaWireError(`truncated Kafka response (needed ${n} bytes at ${this.at} of ${this.end})`);
  }
  get remaining(): number {
    return this.end - this.at;
  }
  int8(): number {
    this.need(1);
    return this.buf.readInt8(this.at++);
  }
  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.at);
    this.at += 2;
    return v;
  }
  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.at);
    this.at += 4;
    return v;
  }
  uint32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }
  int64(): number {
    this.need(8);
    const hi = this.buf.readInt32BE(this.at);
    const lo = this.buf.readUInt32BE(this.at + 4);
    this.at += 8;
    return hi * 0x100000000 + lo;
  }
  bool(): boolean {
    return this.int8() !== 0;
  }
  varint(): number {
    let u = 0;
    let mul = 1;
    for (;;) {
      this.need(1);
      const b = this.buf[this.at++] as number;
      u += (b & 0x7f) * mul;
      if (b < 0x80) break;
      mul *= 0x80;
      if (mul > 2 ** 63) throw new KafkaWireError("malformed varint in a Kafka record");
    }
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }
  string(): string {
    const s = this.nullableString();
    return s ?? "";
  }
  nullableString(): string | null {
    const len = this.int16();
    if (len < 0) return null;
    this.need(len);
    const s = this.buf.toString("utf8", this.at, this.at + len);
    this.at += len;
    return s;
  }
  nullableBytes(): Buffer | null {
    const len = this.int32();
    if (len < 0) return null;
    this.need(len);
    const b = this.buf.subarray(this.at, this.at + len);
    this.at += len;
    return b;
  }
  array<T>(each: (r: this) => T): T[] {
    const n = this.int32();
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(each(this));
    return out;
  }
  skip(n: number): void {
    this.need(n);
    this.at += n;
  }
}

export class KafkaWireError extends Error {}

/** A request frame: size, request header v1 (api key, version, correlation id, client id), body. */
export function requestFrame(apiKey: number, apiVersion: number, correlationId: number, clientId: string, body: Uint8Array): Buffer {
  const w = new KWriter(16 + clientId.length + body.length);
  w.int32(0).int16(apiKey).int16(apiVersion).int32(correlationId).string(clientId).raw(body);
  w.patchInt32(0, w.length - 4);
  return w.toBuffer();
}

// ---------------------------------------------------------------------------------------------
// CRC-32C (Castagnoli), slicing by 8.

const CRC_TABLES: Uint32Array[] = (() => {
  const tables = Array.from({ length: 8 }, () => new Uint32Array(256));
  const t0 = tables[0] as Uint32Array;
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t0[i] = c >>> 0;
  }
  for (let i = 0; i < 256; i++) {
    let c = t0[i] as number;
    for (let t = 1; t < 8; t++) {
      c = (t0[c & 0xff] as number) ^ (c >>> 8);
      (tables[t] as Uint32Array)[i] = c >>> 0;
    }
  }
  return tables;
})();

export function crc32c(buf: Uint8Array, from = 0, to = buf.length): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = CRC_TABLES as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array];
  let c = 0xffffffff;
  let i = from;
  for (; i + 8 <= to; i += 8) {
    const a = c ^ ((buf[i] as number) | ((buf[i + 1] as number) << 8) | ((buf[i + 2] as number) << 16) | ((buf[i + 3] as number) << 24));
    c =
      (t7[a & 0xff] as number) ^
      (t6[(a >>> 8) & 0xff] as number) ^
      (t5[(a >>> 16) & 0xff] as number) ^
      (t4[a >>> 24] as number) ^
      (t3[buf[i + 4] as number] as number) ^
      (t2[buf[i + 5] as number] as number) ^
      (t1[buf[i + 6] as number] as number) ^
      (t0[buf[i + 7] as number] as number);
  }
  for (; i < to; i++) c = (t0[(c ^ (buf[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The Java client's murmur2 (Utils.murmur2), as its default partitioner hashes keys. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  const m = 0x5bd1e995;
  let h = (0x9747b28c ^ length) | 0;
  const len4 = length >> 2;
  for (let i = 0; i < len4; i++) {
    const o = i * 4;
    let k = ((data[o] as number) & 0xff) | (((data[o + 1] as number) & 0xff) << 8) | (((data[o + 2] as number) & 0xff) << 16) | (((data[o + 3] as number) & 0xff) << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const rest = length & 3;
  const base = length & ~3;
  if (rest === 3) h ^= ((data[base + 2] as number) & 0xff) << 16;
  if (rest >= 2) h ^= ((data[base + 1] as number) & 0xff) << 8;
  if (rest >= 1) {
    h ^= (data[base] as number) & 0xff;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition the Java producer's default partitioner picks for a key: toPositive(murmur2(key)) % n. */
export function partitionForKey(key: Uint8Array, numPartitions: number): number {
  return (murmur2(key) & 0x7fffffff) % numPartitions;
}

// ---------------------------------------------------------------------------------------------
// Record batches.

export interface KafkaHeader {
  readonly key: string;
  readonly value: Uint8Array | null;
}

/** A record as the consumer sees it. */
export interface ConsumedRecord {
  readonly offset: number;
  readonly timestamp: number;
  /** 0: CreateTime, 1: LogAppendTime. */
  readonly timestampType: 0 | 1;
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly headers: readonly KafkaHeader[];
}

/** A record to produce. */
export interface ProducerRecord {
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly timestamp: number;
  readonly headers?: readonly KafkaHeader[];
}

export const COMPRESSION_NAMES = ["none", "gzip", "snappy", "lz4", "zstd"] as const;
export type CompressionName = (typeof COMPRESSION_NAMES)[number];

/** Encodes records into one record batch (magic 2, CreateTime, no producer id). */
export function encodeRecordBatch(records: readonly ProducerRecord[], compression: "none" | "gzip" = "none"): Buffer {
  if (records.length === 0) throw new KafkaWireError("a record batch holds at least one record");
  let baseTs = Infinity;
  let maxTs = -Infinity;
  for (const r of records) {
    if (r.timestamp < baseTs) baseTs = r.timestamp;
    if (r.timestamp > maxTs) maxTs = r.timestamp;
  }
  const body = new KWriter(64 + records.length * 32);
  const rec = new KWriter(64);
  records.forEach((r, i) => {
    rec.reset();
    rec.int8(0).varint(r.timestamp - baseTs).varint(i);
    if (r.key === null) rec.varint(-1);
    else rec.varint(r.key.length).raw(r.key);
    if (r.value === null) rec.varint(-1);
    else rec.varint(r.value.length).raw(r.value);
    const headers = r.headers ?? [];
    rec.varint(headers.length);
    for (const h of headers) {
      const k = Buffer.from(h.key, "utf8");
      rec.varint(k.length).raw(k);
      if (h.value === null) rec.varint(-1);
      else rec.varint(h.value.length).raw(h.value);
    }
    body.varint(rec.length).raw(rec.view());
  });
  const recordsBytes = compression === "gzip" ? gzipSync(body.view()) : body.view();
  const w = new KWriter(61 + recordsBytes.length);
  w.int64(0); // baseOffset: the broker assigns
  w.int32(0); // batchLength, patched
  w.int32(-1); // partitionLeaderEpoch
  w.int8(2); // magic
  const crcAt = w.length;
  w.uint32(0); // crc, patched
  const attrsAt = w.length;
  w.int16(compression === "gzip" ? 1 : 0);
  w.int32(records.length - 1); // lastOffsetDelta
  w.int64(baseTs);
  w.int64(maxTs);
  w.int64(-1); // producerId
  w.int16(-1); // producerEpoch
  w.int32(-1); // baseSequence
  w.int32(records.length);
  w.raw(recordsBytes);
  w.patchInt32(8, w.length - 12);
  const out = w.toBuffer();
  out.writeUInt32BE(crc32c(out, attrsAt), crcAt);
  return out;
}

/** What decoding a fetched partition's records gives. */
export interface DecodedRecords {
  readonly records: ConsumedRecord[];
  /** The offset after the last complete batch read (≥ the fetch offset); undefined if none was complete. */
  readonly nextOffset: number | undefined;
}

/**
 * Decodes the record batches of a fetch response for one partition, keeping records at or after
 * `fromOffset` (a fetch returns whole batches). A truncated last batch (the broker cut at the byte
 * limit) is left for the next fetch. Control batches (transaction markers) are skipped. Throws
 * KafkaWireError naming the problem on a CRC mismatch, an old message format or a codec Sluice
 * does not read.
 */
export function decodeRecordBatches(buf: Buffer, fromOffset: number, where: string): DecodedRecords {
  const records: ConsumedRecord[] = [];
  let nextOffset: number | undefined;
  let at = 0;
  while (buf.length - at >= 12 + 49) {
    const r = new KReader(buf, at);
    const baseOffset = r.int64();
    const batchLength = r.int32();
    const end = at + 12 + batchLength;
    if (end > buf.length) break; // truncated: read it next time
    r.int32(); // partitionLeaderEpoch
    const magic = r.int8();
    if (magic !== 2) {
      throw new KafkaWireError(`${where}: message format v${magic} at offset ${baseOffset}; Sluice reads record batches (v2), which every Kafka broker since 0.11 writes`);
    }
    const crc = r.uint32();
    const actual = crc32c(buf, r.at, end);
    if (crc !== actual) throw new KafkaWireError(`${where}: corrupt record batch at offset ${baseOffset} (CRC-32C ${actual.toString(16)}, expected ${crc.toString(16)})`);
    const attributes = r.int16();
    const lastOffsetDelta = r.int32();
    const baseTimestamp = r.int64();
    const maxTimestamp = r.int64();
    r.skip(8 + 2 + 4); // producerId, producerEpoch, baseSequence
    const count = r.int32();
    at = end;
    nextOffset = baseOffset + lastOffsetDelta + 1;
    if ((attributes & 0x20) !== 0) continue; // a control batch
    const codec = attributes & 0x07;
    const logAppend = (attributes & 0x08) !== 0;
    let rr: KReader;
    if (codec === 0) rr = new KReader(buf, r.at, end);
    else if (codec === 1) {
      const inflated = gunzipSync(buf.subarray(r.at, end));
      rr = new KReader(inflated);
    } else {
      throw new KafkaWireError(
        `${where}: the record batch at offset ${baseOffset} is compressed with ${COMPRESSION_NAMES[codec] ?? `codec ${codec}`}; Sluice reads uncompressed and gzip batches. Set compression.type=gzip (or none) on the producer or the topic.`,
      );
    }
    for (let i = 0; i < count; i++) {
      const len = rr.varint();
      const recEnd = rr.at + len;
      rr.int8(); // attributes
      const tsDelta = rr.varint();
      const offsetDelta = rr.varint();
      const keyLen = rr.varint();
      let key: Buffer | null = null;
      if (keyLen >= 0) {
        key = rr.buf.subarray(rr.at, rr.at + keyLen);
        rr.skip(keyLen);
      }
      const valueLen = rr.varint();
      let value: Buffer | null = null;
      if (valueLen >= 0) {
        value = rr.buf.subarray(rr.at, rr.at + valueLen);
        rr.skip(valueLen);
      }
      const nh = rr.varint();
      let headers: KafkaHeader[] = NO_HEADERS;
      if (nh > 0) {
        headers = [];
        for (let h = 0; h < nh; h++) {
          const kl = rr.varint();
          const hk = rr.buf.toString("utf8", rr.at, rr.at + kl);
          rr.skip(kl);
          const vl = rr.varint();
          let hv: Buffer | null = null;
          if (vl >= 0) {
            hv = rr.buf.subarray(rr.at, rr.at + vl);
            rr.skip(vl);
          }
          headers.push({ key: hk, value: hv });
        }
      }
      rr.at = recEnd;
      const offset = baseOffset + offsetDelta;
      if (offset < fromOffset) continue;
      records.push({ offset, timestamp: logAppend ? maxTimestamp : baseTimestamp + tsDelta, timestampType: logAppend ? 1 : 0, key, value, headers });
    }
  }
  return { records, nextOffset };
}

const NO_HEADERS: KafkaHeader[] = [];
