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

/**
 * One writer for this thread's encodeToBytes and encodedKey calls (a ByteWriter costs an
 * allocation of its own), or a new one when a coder calls them from inside its encode.
 */
let scratch = new ByteWriter(1024);
let scratchBusy = false;

/** Ends a use of the scratch writer; one a large value grew is not kept. */
function releaseScratch(): void {
  scratchBusy = false;
  if (scratch.length > 1 << 20) scratch = new ByteWriter(1024);
}

/** Encodes `value` in the outer context (or nested, if asked) to a fresh byte array. */
export function encodeToBytes<T>(coder: Coder<T>, value: T, nested = false): Uint8Array {
  if (scratchBusy) {
    const out = new ByteWriter();
    coder.encode(value, out, nested);
    return out.finish();
  }
  scratchBusy = true;
  scratch.reset();
  try {
    coder.encode(value, scratch, nested);
    return scratch.finish();
  } finally {
    releaseScratch();
  }
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
  const own = !scratchBusy;
  const out = own ? scratch : new ByteWriter();
  if (own) {
    scratchBusy = true;
    scratch.reset();
  }
  try {
    coder.encode(value, out, true);
    const bytes = out.view_();
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("latin1");
  } finally {
    if (own) releaseScratch();
  }
}
