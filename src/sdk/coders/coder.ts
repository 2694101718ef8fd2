/**
 * The Coder contract. A coder turns values into Beam's wire bytes and back; groupings compare keys
 * by their encoded bytes, so a key coder must be deterministic.
 */
import { ByteReader, ByteWriter } from "./bytes.js";
import { corruptData } from "./errors.js";

export interface Coder<T> {
  /** Beam URN (standard coders: `beam:coder:…:v1`) or a `sluice:coder:…` URN. */
  readonly urn: string;
  /** Component coders, in the order of the Runner API's `component_coder_ids`. */
  readonly components: readonly Coder<unknown>[];
  /** The Runner API `FunctionSpec.payload` (a row coder's schema); empty for most coders. */
  readonly payload: Uint8Array;
  /**
   * Writes `value`. `nested` is Beam's context: true when more data may follow in the same stream
   * (so variable-length values carry a length), false when the value owns the rest of the stream.
   */
  encode(value: T, out: ByteWriter, nested: boolean): void;
  decode(input: ByteReader, nested: boolean): T;
  /** Whether equal values always encode to equal bytes, so the coder may encode a grouping key. */
  readonly deterministic: boolean;
  /**
   * A value usable as a `Map` key that is equal (SameValueZero) for two values exactly when their
   * encodings are equal. Primitive-valued coders return the value itself; others return the
   * encoding as a latin1 string.
   */
  structuralKey(value: T): unknown;
  /** Human-readable form, used in error messages: `KvCoder(StringUtf8Coder, VarIntCoder)`. */
  toString(): string;
}

/** The element type a coder encodes. */
export type CoderType<C> = C extends Coder<infer T> ? T : never;

const scratch = new ByteWriter(1024);

/** Encodes `value` in the outer context (or nested, if asked) to a fresh byte array. */
export function encodeToBytes<T>(coder: Coder<T>, value: T, nested = false): Uint8Array {
  const out = new ByteWriter();
  coder.encode(value, out, nested);
  return out.finish();
}

/** Decodes bytes written by `encodeToBytes`; fails if bytes are left over. */
export function decodeFromBytes<T>(coder: Coder<T>, bytes: Uint8Array, nested = false): T {
  const input = new ByteReader(bytes);
  const value = coder.decode(input, nested);
  if (!input.atEnd()) {
    throw corruptData(`${coder.toString()} left ${input.remaining} byte(s) undecoded`);
  }
  return value;
}

/** The encoding of `value` as a latin1 string: a cheap, exact Map key for encoded bytes. */
export function encodedKey<T>(coder: Coder<T>, value: T): string {
  scratch.reset();
  coder.encode(value, scratch, true);
  return Buffer.from(scratch.view_().buffer, 0, scratch.length).toString("latin1");
}
