/**
 * Composite standard coders: kv, iterable, length_prefix, nullable, sharded_key and
 * state_backed_iterable.
 */
import { ByteReader, ByteWriter } from "./bytes.js";
import type { Coder } from "./coder.js";
import { AbstractCoder, BytesCoder, typeName } from "./primitives.js";
import { CoderUrns } from "./urns.js";
import {
  acquireScratch,
  readBytesCopy,
  readVarInt64,
  readVarLength,
  releaseScratch,
  writeVarInt64,
} from "./wire.js";
import { corruptData, invalidValue } from "./errors.js";
import { SluiceError } from "../../internal/errors.js";

/** A key/value pair, as KvCoder encodes it. */
export type KV<K, V> = [K, V];

/** beam:coder:kv:v1 — the key in the nested context, then the value in the outer context. */
export class KvCoder<K, V> extends AbstractCoder<KV<K, V>> {
  readonly urn = CoderUrns.KV;
  constructor(
    readonly keyCoder: Coder<K>,
    readonly valueCoder: Coder<V>,
  ) {
    super([keyCoder, valueCoder]);
  }
  encode(value: KV<K, V>, out: ByteWriter, nested: boolean): void {
    this.keyCoder.encode(value[0], out, true);
    this.valueCoder.encode(value[1], out, nested);
  }
  decode(input: ByteReader, nested: boolean): KV<K, V> {
    const key = this.keyCoder.decode(input, true);
    const value = this.valueCoder.decode(input, nested);
    return [key, value];
  }
  toString(): string {
    return `KvCoder(${this.keyCoder.toString()}, ${this.valueCoder.toString()})`;
  }
}

/** Writes Beam's known-length iterable: int32 count, then each element nested. */
function encodeIterable<T>(elementCoder: Coder<T>, value: Iterable<T>, out: ByteWriter): void {
  const items: readonly T[] = Array.isArray(value) ? (value as readonly T[]) : Array.from(value);
  out.int32BE(items.length);
  for (let i = 0; i < items.length; i++) elementCoder.encode(items[i]!, out, true);
}

/**
 * Reads the blocks of the unknown-length (-1) iterable form into `items`. Returns the state token
 * when the blocks end with varInt64(-1) + token (state_backed_iterable), else undefined.
 */
function decodeBlocks<T>(elementCoder: Coder<T>, input: ByteReader, items: T[], allowToken: boolean): Uint8Array | undefined {
  for (;;) {
    const count = readVarInt64(input);
    if (count === 0) return undefined;
    if (count === -1 && allowToken) return readBytesCopy(input, readVarLength(input));
    if (typeof count !== "number" || count < 0) {
      throw corruptData(`iterable: invalid block size ${String(count)} in the unknown-length form`);
    }
    for (let i = 0; i < count; i++) items.push(elementCoder.decode(input, true));
  }
}

/**
 * An iterable's elements: an int32 count then the elements, or -1 then length-prefixed blocks
 * (which, when `stateTokens`, may end in a state token for the rest).
 */
function decodeCounted<T>(
  coder: Coder<T>,
  input: ByteReader,
  owner: { toString(): string },
  stateTokens: boolean,
): { items: T[]; token: Uint8Array | undefined } {
  const n = input.int32BE();
  if (n >= 0) {
    const items = new Array<T>(n);
    for (let i = 0; i < n; i++) items[i] = coder.decode(input, true);
    return { items, token: undefined };
  }
  if (n !== -1) throw corruptData(`${owner.toString()}: invalid element count ${n}`);
  const items: T[] = [];
  const token = decodeBlocks(coder, input, items, stateTokens);
  return { items, token };
}

/**
 * beam:coder:iterable:v1 — int32 element count, then each element nested. Any iterable encodes
 * (it is materialised to get the count, so the encoding is always the deterministic known-length
 * form); decoding returns an array and also accepts the -1 "unknown length" block form.
 */
export class IterableCoder<T> extends AbstractCoder<Iterable<T>> {
  readonly urn = CoderUrns.ITERABLE;
  constructor(readonly elementCoder: Coder<T>) {
    super([elementCoder]);
  }
  encode(value: Iterable<T>, out: ByteWriter, _nested: boolean): void {
    if (value == null || typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== "function") {
      throw invalidValue(`${this.toString()}: expected an iterable, got ${typeName(value)}`);
    }
    encodeIterable(this.elementCoder, value, out);
  }
  decode(input: ByteReader, _nested: boolean): T[] {
    return decodeCounted(this.elementCoder, input, this, false).items;
  }
  toString(): string {
    return `IterableCoder(${this.elementCoder.toString()})`;
  }
}

/** Fetches the bytes behind a state_backed_iterable token: the remaining elements, each nested. */
export type StateReader = (token: Uint8Array) => Uint8Array;

/**
 * An iterable whose tail lives in runner state. Each iteration yields the inline prefix, then
 * reads the state bytes behind the token (through the coder's StateReader) and decodes them.
 */
export class StateBackedIterable<T> implements Iterable<T> {
  constructor(
    readonly prefix: readonly T[],
    readonly token: Uint8Array,
    private readonly elementCoder: Coder<T>,
    private readonly readState: StateReader,
  ) {}
  *[Symbol.iterator](): Iterator<T> {
    yield* this.prefix;
    const bytes = this.readState(this.token);
    const input = new ByteReader(bytes);
    while (!input.atEnd()) yield this.elementCoder.decode(input, true);
  }
}

/**
 * beam:coder:state_backed_iterable:v1 — the iterable encoding, where the unknown-length form may
 * end with varInt64(-1) + a token naming state that holds the rest. Encoding always writes the
 * plain known-length form. Decoding returns an array, or a StateBackedIterable when a token is
 * present; that needs a StateReader (see `withStateReader`), else decoding fails.
 */
export class StateBackedIterableCoder<T> extends AbstractCoder<Iterable<T>> {
  readonly urn = CoderUrns.STATE_BACKED_ITERABLE;
  constructor(
    readonly elementCoder: Coder<T>,
    readonly readState?: StateReader,
  ) {
    super([elementCoder]);
  }
  /** The same coder, resolving state tokens with `readState`. */
  withStateReader(readState: StateReader): StateBackedIterableCoder<T> {
    return new StateBackedIterableCoder(this.elementCoder, readState);
  }
  encode(value: Iterable<T>, out: ByteWriter, _nested: boolean): void {
    encodeIterable(this.elementCoder, value, out);
  }
  decode(input: ByteReader, _nested: boolean): T[] | StateBackedIterable<T> {
    const { items, token } = decodeCounted(this.elementCoder, input, this, true);
    if (token === undefined) return items;
    if (this.readState === undefined) {
      throw new SluiceError("FAILED_PRECONDITION", `${this.toString()}: the encoded iterable continues in runner state, but no StateReader was given`, {
        hint: "Decode state-backed iterables where the runner's State API is available (the SDK harness).",
      });
    }
    return new StateBackedIterable(items, token, this.elementCoder, this.readState);
  }
  toString(): string {
    return `StateBackedIterableCoder(${this.elementCoder.toString()})`;
  }
}

/**
 * beam:coder:length_prefix:v1 — varint byte length, then the inner coder's outer-context
 * encoding. Lets a runner skip values it cannot decode.
 */
export class LengthPrefixCoder<T> extends AbstractCoder<T> {
  readonly urn = CoderUrns.LENGTH_PREFIX;
  constructor(readonly valueCoder: Coder<T>) {
    super([valueCoder]);
  }
  encode(value: T, out: ByteWriter, _nested: boolean): void {
    const scratch = acquireScratch();
    try {
      this.valueCoder.encode(value, scratch, false);
      writeVarInt64(out, scratch.length);
      out.bytes(scratch.view_());
    } finally {
      releaseScratch();
    }
  }
  decode(input: ByteReader, _nested: boolean): T {
    const n = readVarLength(input);
    if (n > input.remaining) throw corruptData(`${this.toString()}: length ${n} exceeds the ${input.remaining} byte(s) left`);
    const end = input.pos + n;
    const inner = new ByteReader(input.buf, input.pos, end);
    const value = this.valueCoder.decode(inner, false);
    input.pos = end;
    return value;
  }
  override structuralKey(value: T): unknown {
    // The prefix is a function of the inner bytes, so the inner coder's key is exact too.
    return this.valueCoder.structuralKey(value);
  }
  toString(): string {
    return `LengthPrefixCoder(${this.valueCoder.toString()})`;
  }
}

/**
 * beam:coder:nullable:v1 — one byte (0 = null, 1 = present), then the value in the same context.
 * Encodes null and undefined as null; decodes to null.
 */
export class NullableCoder<T> extends AbstractCoder<T | null | undefined> {
  readonly urn = CoderUrns.NULLABLE;
  constructor(readonly valueCoder: Coder<T>) {
    super([valueCoder]);
  }
  encode(value: T | null | undefined, out: ByteWriter, nested: boolean): void {
    if (value === null || value === undefined) {
      out.byte(0);
    } else {
      out.byte(1);
      this.valueCoder.encode(value, out, nested);
    }
  }
  decode(input: ByteReader, nested: boolean): T | null {
    const b = input.byte();
    if (b === 0) return null;
    if (b !== 1) throw corruptData(`${this.toString()}: invalid null indicator ${b}`);
    return this.valueCoder.decode(input, nested);
  }
  toString(): string {
    return `NullableCoder(${this.valueCoder.toString()})`;
  }
}

/** A key with an opaque shard id (Beam's ShardedKey). */
export interface ShardedKey<K> {
  readonly shardId: Uint8Array;
  readonly key: K;
}

/** beam:coder:sharded_key:v1 — the shard id as nested bytes, then the key, also nested. */
export class ShardedKeyCoder<K> extends AbstractCoder<ShardedKey<K>> {
  readonly urn = CoderUrns.SHARDED_KEY;
  constructor(readonly keyCoder: Coder<K>) {
    super([keyCoder]);
  }
  encode(value: ShardedKey<K>, out: ByteWriter, _nested: boolean): void {
    BytesCoder.encode(value.shardId, out, true);
    this.keyCoder.encode(value.key, out, true);
  }
  decode(input: ByteReader, _nested: boolean): ShardedKey<K> {
    const shardId = BytesCoder.decode(input, true);
    const key = this.keyCoder.decode(input, true);
    return { shardId, key };
  }
  toString(): string {
    return `ShardedKeyCoder(${this.keyCoder.toString()})`;
  }
}
