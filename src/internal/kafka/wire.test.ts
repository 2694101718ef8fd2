/**
 * Kafka's wire format as Sluice writes and reads it: CRC-32C, the Java partitioner's murmur2, and
 * record batches round-tripped (keys and values null or not, headers, gzip), with the cases a
 * fetch brings: a batch cut short at the byte limit, a transaction marker, corruption, a codec
 * Sluice does not read. (test/kafka-io.test.ts checks the same against a real broker and Kafka's
 * Java clients.)
 */
import { describe, expect, it } from "vitest";
import { crc32c, decodeRecordBatches, encodeRecordBatch, KafkaWireError, murmur2, partitionForKey } from "./wire.js";

const bytes = (s: string): Buffer => Buffer.from(s, "utf8");

describe("Kafka wire format", () => {
  it("CRC-32C matches the Castagnoli check value and stays the same across the slicing boundary", () => {
    expect(crc32c(bytes("123456789"))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
    // 32 zero bytes: the iSCSI test vector (RFC 3720 B.4).
    expect(crc32c(Buffer.alloc(32))).toBe(0x8a9136aa);
    const long = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 31) & 0xff));
    // Byte-at-a-time reference.
    let c = 0xffffffff;
    for (const b of long) {
      c ^= b;
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    }
    expect(crc32c(long)).toBe((c ^ 0xffffffff) >>> 0);
  });

  it("murmur2 gives the Java client's values (Kafka's UtilsTest)", () => {
    expect(murmur2(bytes("21"))).toBe(-973932308);
    expect(murmur2(bytes("foobar"))).toBe(-790332482);
    expect(murmur2(bytes("a-little-bit-long-string"))).toBe(-985981536);
    expect(murmur2(bytes("a-little-bit-longer-string"))).toBe(-1486304829);
    expect(murmur2(bytes("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"))).toBe(-58897971);
    expect(murmur2(bytes("abc"))).toBe(479470107);
    expect(partitionForKey(bytes("foobar"), 7)).toBe((-790332482 & 0x7fffffff) % 7);
  });

  it("round-trips a record batch: null keys and values, headers, timestamps, gzip", () => {
    const records = [
      { key: bytes("k1"), value: bytes("v1"), timestamp: 1_600_000_000_000 },
      { key: null, value: bytes("no key"), timestamp: 1_600_000_000_500, headers: [{ key: "h", value: bytes("x") }, { key: "n", value: null }] },
      { key: bytes("tombstone"), value: null, timestamp: 1_599_999_999_000 },
    ];
    for (const compression of ["none", "gzip"] as const) {
      const batch = encodeRecordBatch(records, compression);
      // The broker assigns offsets: put 40 where it would.
      batch.writeUInt32BE(0, 0);
      batch.writeUInt32BE(40, 4);
      const { records: out, nextOffset } = decodeRecordBatches(batch, 0, "t-0");
      expect(nextOffset).toBe(43);
      expect(out.map((r) => [r.offset, r.timestamp, r.timestampType, r.key?.toString() ?? null, r.value?.toString() ?? null])).toEqual([
        [40, 1_600_000_000_000, 0, "k1", "v1"],
        [41, 1_600_000_000_500, 0, null, "no key"],
        [42, 1_599_999_999_000, 0, "tombstone", null],
      ]);
      expect(out[1]!.headers.map((h) => [h.key, h.value?.toString() ?? null])).toEqual([["h", "x"], ["n", null]]);
      // A fetch from offset 41 gets the whole batch; records before 41 are dropped.
      expect(decodeRecordBatches(batch, 41, "t-0").records.map((r) => r.offset)).toEqual([41, 42]);
    }
  });

  it("leaves a batch cut at the byte limit for the next fetch, and skips transaction markers", () => {
    const a = encodeRecordBatch([{ key: null, value: bytes("a"), timestamp: 1 }]);
    const b = encodeRecordBatch([{ key: null, value: bytes("b"), timestamp: 2 }]);
    b.writeUInt32BE(1, 4); // offset 1
    const both = Buffer.concat([a, b]);
    const cut = decodeRecordBatches(both.subarray(0, both.length - 3), 0, "t-0");
    expect(cut.records.map((r) => r.value?.toString())).toEqual(["a"]);
    expect(cut.nextOffset).toBe(1);
    // A control batch (attribute bit 5): its offset is consumed, its record is not a record.
    const control = Buffer.from(b);
    control.writeInt16BE(0x20, 21);
    control.writeUInt32BE(crc32c(control, 21), 17);
    const skipped = decodeRecordBatches(Buffer.concat([a, control]), 0, "t-0");
    expect(skipped.records.map((r) => r.value?.toString())).toEqual(["a"]);
    expect(skipped.nextOffset).toBe(2);
  });

  it("names corruption, old message formats and codecs it does not read", () => {
    const batch = encodeRecordBatch([{ key: null, value: bytes("v"), timestamp: 1 }]);
    const corrupt = Buffer.from(batch);
    corrupt.writeUInt8(corrupt.readUInt8(corrupt.length - 2) ^ 0xff, corrupt.length - 2);
    expect(() => decodeRecordBatches(corrupt, 0, 'topic "t" partition 0')).toThrow(/topic "t" partition 0: corrupt record batch at offset 0/);
    const old = Buffer.from(batch);
    old[16] = 1;
    expect(() => decodeRecordBatches(old, 0, "t-0")).toThrow(KafkaWireError);
    expect(() => decodeRecordBatches(old, 0, "t-0")).toThrow(/message format v1/);
    const snappy = Buffer.from(batch);
    snappy.writeInt16BE(2, 21);
    snappy.writeUInt32BE(crc32c(snappy, 21), 17);
    expect(() => decodeRecordBatches(snappy, 0, "t-0")).toThrow(/compressed with snappy.*compression.type=gzip/);
  });
});
