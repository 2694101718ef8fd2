/**
 * The errors coders throw: SluiceErrors with INVALID_DATA (a value that does not fit its coder, or
 * bytes that are not what the coder expects), so callers can branch on the code.
 */
import { SluiceError } from "../../internal/errors.js";

/** A value the coder cannot encode: the collection's coder does not match its elements. */
export function invalidValue(message: string): SluiceError {
  return new SluiceError("INVALID_DATA", message, {
    hint: "The elements do not match the collection's coder: convert them, or choose a matching coder with pcoll.withCoder(...).",
  });
}

/** Bytes the coder cannot decode: corrupt input, or written with a different coder. */
export function corruptData(message: string): SluiceError {
  return new SluiceError("INVALID_DATA", message, {
    hint: "The bytes were not written by this coder: check that writer and reader use the same coder (and Beam version).",
  });
}
