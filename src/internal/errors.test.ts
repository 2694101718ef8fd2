/** Tests of SluiceError: construction, `from` classification, `userCode`, `is`, `toJSON`. */

import { describe, expect, it } from "vitest";
import { describeError, ERROR_CODES, SluiceError, type ErrorCode } from "./errors.js";

/** A Node-style system error with a `code`. */
function systemError(code: string, message = `${code}: failed`): Error {
  return Object.assign(new Error(message), { code });
}

describe("SluiceError", () => {
  it("keeps code, message, hint and cause", () => {
    const cause = new Error("low level");
    const err = new SluiceError("IO_ERROR", "writing out/part-0 failed", { hint: "check the disk", cause });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe("SluiceError");
    expect(err.code).toBe("IO_ERROR");
    expect(err.message).toBe("writing out/part-0 failed");
    expect(err.hint).toBe("check the disk");
    expect(err.cause).toBe(cause);
    expect(err.stack).toContain("writing out/part-0 failed");
  });

  it("has no hint or cause unless given", () => {
    const err = new SluiceError("INTERNAL", "x");
    expect(err.hint).toBeUndefined();
    expect("cause" in err).toBe(false);
  });

  const classified: readonly [string, unknown, ErrorCode][] = [
    ["ENOENT", systemError("ENOENT"), "NOT_FOUND"],
    ["EACCES", systemError("EACCES"), "PERMISSION_DENIED"],
    ["EEXIST", systemError("EEXIST"), "ALREADY_EXISTS"],
    ["ECONNREFUSED", systemError("ECONNREFUSED"), "UNAVAILABLE"],
    ["ETIMEDOUT", systemError("ETIMEDOUT"), "DEADLINE_EXCEEDED"],
    ["ENOSPC", systemError("ENOSPC"), "IO_ERROR"],
    ["AbortError", Object.assign(new Error("aborted"), { name: "AbortError" }), "CANCELLED"],
    ["TimeoutError", Object.assign(new Error("timed out"), { name: "TimeoutError" }), "DEADLINE_EXCEEDED"],
    ["plain Error", new Error("whatever"), "INTERNAL"],
    ["string", "just a string", "INTERNAL"],
    ["unknown system code", systemError("EWEIRD"), "INTERNAL"],
  ];
  it.each(classified)("from(%s)", (_name, input, code) => {
    const err = SluiceError.from(input);
    expect(err.code).toBe(code);
    expect(err.cause).toBe(input);
  });

  it("from() passes SluiceErrors through and honours the fallback", () => {
    const original = new SluiceError("INVALID_PIPELINE", "bad graph");
    expect(SluiceError.from(original)).toBe(original);
    expect(SluiceError.from(new Error("x"), "USER_CODE_FAILED").code).toBe("USER_CODE_FAILED");
    expect(SluiceError.from(new Error("boom")).message).toBe("boom");
    expect(SluiceError.from(systemError("ECONNREFUSED")).hint).toMatch(/endpoint/);
  });

  it("userCode() says where user code threw and keeps the cause", () => {
    const cause = new TypeError("x is undefined");
    const err = SluiceError.userCode(cause, "DoFn ParseLine");
    expect(err.code).toBe("USER_CODE_FAILED");
    expect(err.message).toBe("DoFn ParseLine threw: x is undefined");
    expect(err.cause).toBe(cause);
    expect(err.hint).toBeTruthy();
    const passthrough = new SluiceError("INVALID_ARGUMENT", "bad flag");
    expect(SluiceError.userCode(passthrough, "file")).toBe(passthrough);
  });

  it("is() recognises SluiceErrors, by code, and across module copies", () => {
    const err = new SluiceError("NOT_FOUND", "no such job");
    expect(SluiceError.is(err)).toBe(true);
    expect(SluiceError.is(err, "NOT_FOUND", "IO_ERROR")).toBe(true);
    expect(SluiceError.is(err, "INTERNAL")).toBe(false);
    expect(SluiceError.is(new Error("x"))).toBe(false);
    expect(SluiceError.is(null)).toBe(false);
    // Another copy of the module brands its errors with the same global symbol.
    const foreign = Object.assign(new Error("copy"), { code: "IO_ERROR", [Symbol.for("sluice.error")]: true });
    expect(SluiceError.is(foreign, "IO_ERROR")).toBe(true);
  });

  it("toJSON() gives code, message, hint and the cause's message", () => {
    const err = new SluiceError("UNAVAILABLE", "job server down", { hint: "start it", cause: new Error("ECONNREFUSED") });
    expect(JSON.parse(JSON.stringify(err))).toEqual({
      name: "SluiceError",
      code: "UNAVAILABLE",
      message: "job server down",
      hint: "start it",
      cause: "ECONNREFUSED",
    });
  });

  it("ERROR_CODES has every code once", () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    expect(ERROR_CODES).toContain("USER_CODE_FAILED");
  });

  const described: readonly [unknown, string][] = [
    [new Error("m"), "m"],
    [new RangeError(""), "RangeError"],
    ["s", "s"],
    [42, "42"],
    [{ message: "obj" }, "obj"],
    [{ a: 1 }, '{"a":1}'],
    [undefined, "undefined"],
  ];
  it.each(described)("describeError(%j)", (input, text) => {
    expect(describeError(input)).toBe(text);
  });
});
