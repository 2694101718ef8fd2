/**
 * Every error the SDK throws at users is a SluiceError with a code a caller can branch on, a
 * message naming what was wrong and a hint saying what to do.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  BoolCoder,
  Create,
  decodeFromBytes,
  encodeToBytes,
  type ErrorCode,
  FixedWindows,
  JsValueCoder,
  Partition,
  PCollectionList,
  PCollectionRecord,
  Pipeline,
  PipelineOptions,
  Sessions,
  SlidingWindows,
  SluiceError,
  StringUtf8Coder,
  Top,
  VarIntCoder,
  WithTimestamps,
} from "sluice";
import { failure, modes } from "./semantics-support.js";

function thrown(f: () => unknown): SluiceError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(SluiceError);
    return err as SluiceError;
  }
  throw new Error("expected a throw");
}

function expectError(err: SluiceError, code: ErrorCode, message: RegExp): void {
  expect(err.code).toBe(code);
  expect(err.message).toMatch(message);
  expect(err.hint ?? "").not.toBe("");
}

describe("construction-time arguments are INVALID_ARGUMENT", () => {
  it("window fns", () => {
    expectError(thrown(() => FixedWindows(0)), "INVALID_ARGUMENT", /FixedWindows size must be a positive number of milliseconds, got 0/);
    expectError(thrown(() => SlidingWindows(10, -1)), "INVALID_ARGUMENT", /SlidingWindows period/);
    expectError(thrown(() => Sessions(Number.NaN)), "INVALID_ARGUMENT", /Sessions gap/);
  });
  it("Partition, Top, PCollectionList, PCollectionRecord", () => {
    expectError(thrown(() => Partition(0, () => 0)), "INVALID_ARGUMENT", /Partition needs a positive integer count, got 0/);
    expectError(thrown(() => Top.largest(-1)), "INVALID_ARGUMENT", /Top needs a non-negative integer count, got -1/);
    expectError(thrown(() => PCollectionList.of()), "INVALID_ARGUMENT", /PCollectionList.of needs at least one PCollection/);
    expectError(thrown(() => PCollectionRecord.of({})), "INVALID_ARGUMENT", /PCollectionRecord.of needs at least one PCollection/);
    const p = Pipeline.create(PipelineOptions.create());
    const list = PCollectionList.of(p.apply("A", Create.of([1])));
    expectError(thrown(() => list.get(3)), "INVALID_ARGUMENT", /PCollectionList has 1 collections, no index 3/);
  });
});

describe("coders fail with INVALID_DATA (or UNSUPPORTED / INVALID_ARGUMENT)", () => {
  it("encoding a value the coder does not take", () => {
    expectError(thrown(() => encodeToBytes(StringUtf8Coder, 3 as never)), "INVALID_DATA", /StringUtf8Coder: expected a string, got/);
    expectError(thrown(() => encodeToBytes(VarIntCoder, 1.5)), "INVALID_DATA", /varint: 1.5 is not a safe integer/);
    expectError(thrown(() => encodeToBytes(JsValueCoder, (() => 1) as never)), "INVALID_DATA", /JsValueCoder cannot encode/);
  });
  it("decoding bytes the coder did not write", () => {
    expectError(thrown(() => decodeFromBytes(BoolCoder, Uint8Array.of(7))), "INVALID_DATA", /BoolCoder: invalid byte 7/);
    expectError(thrown(() => decodeFromBytes(StringUtf8Coder, Uint8Array.of(5, 1), true)), "INVALID_DATA", /unexpected end of input/);
    expectError(thrown(() => decodeFromBytes(VarIntCoder, Uint8Array.of(1, 2))), "INVALID_DATA", /left 1 byte\(s\) undecoded/);
    expectError(thrown(() => decodeFromBytes(JsValueCoder, Uint8Array.of(250))), "INVALID_DATA", /JsValueCoder: invalid type tag 250/);
  });
});

for (const { name, runner } of modes) {
  describe(`run-time errors of SDK transforms name the transform [${name}]`, () => {
    it("a partition function returning an index out of range", async () => {
      const err = await failure(runner, (p) => {
        p.apply("Nums", Create.of([1, 2])).apply("Split", Partition(2, (x: number) => x * 5));
      });
      expectError(err, "USER_CODE_FAILED", /^Transform 'Split\/ParDo' failed in process on element \d+: the partition function returned (5|10); it must be an integer in \[0, 2\)/);
      expect(err.hint).toMatch(/Partition\(2, fn\)/);
    });
    it("WithTimestamps returning something that is not a time", async () => {
      const err = await failure(runner, (p) => {
        p.apply("Nums", Create.of([1])).apply("Stamp", WithTimestamps(() => Number.NaN));
      });
      expectError(err, "USER_CODE_FAILED", /'Stamp' failed in process on element 1: WithTimestamps' function returned NaN/);
      expect(err.hint).toMatch(/milliseconds/);
    });
    it("Top.largest over values it cannot compare", async () => {
      const err = await failure(runner, (p) => {
        p.apply("Mixed", Create.of<number>([1, "a" as never, 2])).apply("Top", Top.largest(2));
      });
      expectError(err, "INVALID_ARGUMENT", /^Transform 'Top' failed in the CombineFn's .*Top.largest\/smallest compare numbers, bigints or strings; got/);
      expect(err.hint).toMatch(/Top.of/);
    });
  });
}

describe("no plain Error, RangeError or TypeError is thrown at users from src/sdk", () => {
  const root = join(__dirname, "..", "src", "sdk");
  const walk = (dir: string): string[] =>
    readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
      const rel = dir ? `${dir}/${e.name}` : e.name;
      if (e.isDirectory()) return walk(rel);
      return e.name.endsWith(".ts") && !e.name.endsWith(".test.ts") ? [rel] : [];
    });
  // Errors about what user code returned, thrown inside the call and wrapped by the runner into
  // USER_CODE_FAILED naming the transform and element (the TypeError is kept as the cause).
  const wrappedByRunner = [/FlatMap's function returned/];
  it.each(walk(""))("%s", (file) => {
    const text = readFileSync(join(root, file), "utf8");
    const plain = [...text.matchAll(/throw new (Error|RangeError|TypeError|SyntaxError)\((.*)/g)].map((m) => m[0]);
    expect(plain.filter((line) => !wrappedByRunner.some((w) => w.test(line)))).toEqual([]);
  });
});
