/**
 * What the repository tracks: nothing that .gitignore says is generated, downloaded or
 * machine-specific (build/, dist/, generated protocol code…), and no file over 1 MB besides
 * package-lock.json — a binary or a data set committed by mistake fails the tests.
 */
import { execFileSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const isCheckout = existsSync(join(root, ".git"));
const MAX_BYTES = 1 << 20;

function git(...args: string[]): string[] {
  return execFileSync("git", args, { cwd: root, encoding: "utf8", maxBuffer: 64 << 20 })
    .split("\0")
    .filter((p) => p !== "");
}

describe.skipIf(!isCheckout)("tracked files (skipped: not a git checkout)", () => {
  it("none matches .gitignore", () => {
    expect(git("ls-files", "-z", "--cached", "--ignored", "--exclude-standard")).toEqual([]);
  });

  it("none is over 1 MB (package-lock.json aside)", () => {
    const big = git("ls-files", "-z")
      .filter((p) => p !== "package-lock.json" && existsSync(join(root, p)))
      .map((p) => ({ path: p, bytes: statSync(join(root, p)).size }))
      .filter((f) => f.bytes > MAX_BYTES);
    expect(big).toEqual([]);
  });
});
