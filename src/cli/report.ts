/**
 * How the CLI prints failures: `sluice: <message>`, the hint, and for failures in user code the
 * user's stack with sluice's and Node's own frames trimmed. With --verbose (or SLUICE_DEBUG=1)
 * every stack, cause by cause, untrimmed.
 */

import { fileURLToPath } from "node:url";
import { SluiceError } from "../internal/errors.js";
import { BIN_DIR_URL, CLI_DIR_URL } from "./paths.js";

/** Stack frames from these places are not the user's: hidden unless verbose. */
const INTERNAL_FRAMES: readonly string[] = [
  "(node:",
  "at node:",
  "/node_modules/tsx/",
  "/node_modules/esbuild/",
  CLI_DIR_URL.href,
  fileURLToPath(CLI_DIR_URL),
  BIN_DIR_URL.href,
  fileURLToPath(BIN_DIR_URL),
];

/** The text the CLI prints for a failure. Anything thrown is accepted. */
export function formatError(error: unknown, verbose: boolean): string {
  const err = SluiceError.from(error);
  const lines = [`sluice: ${err.message}`];
  if (err.hint !== undefined) lines.push(`  hint: ${err.hint}`);
  if (verbose) {
    lines.push(`  code: ${err.code}`, "", fullStacks(err));
  } else if (err.code === "USER_CODE_FAILED" && err.cause !== undefined) {
    const stack = userStack(err.cause);
    if (stack !== "") lines.push("", stack);
  }
  return `${lines.join("\n")}\n`;
}

/** True for a stack frame line from Node's internals, the TypeScript loader or the CLI itself. */
export function isInternalFrame(line: string): boolean {
  return INTERNAL_FRAMES.some((p) => line.includes(p));
}

/** True for SLUICE_DEBUG values that turn debugging on. */
export function debugEnabled(env: Readonly<Record<string, string | undefined>>): boolean {
  const v = env["SLUICE_DEBUG"]?.trim().toLowerCase();
  return v !== undefined && v !== "" && v !== "0" && v !== "false" && v !== "no";
}

/** The stack of an error with its causes, untrimmed. */
function fullStacks(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== undefined && depth < 10; depth++) {
    const text = current instanceof Error ? (current.stack ?? String(current)) : String(current);
    parts.push(depth === 0 ? text : `Caused by: ${text}`);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join("\n");
}

/**
 * The stack of an error thrown by user code with internal frames removed; "" when no frame is
 * left (e.g. a syntax error reported by the compiler, whose message already names the place).
 */
export function userStack(cause: unknown): string {
  if (!(cause instanceof Error) || cause.stack === undefined) return "";
  const lines = cause.stack.split("\n");
  const firstFrame = lines.findIndex((l) => /^\s+at /.test(l));
  if (firstFrame < 0) return "";
  const frames = lines.slice(firstFrame).filter((l) => !isInternalFrame(l));
  if (frames.length === 0) return "";
  return [...lines.slice(0, firstFrame), ...frames].join("\n");
}

/**
 * Exits with `code` once stdout and stderr have flushed (they may be asynchronous pipes), so the
 * last message is not lost; used when pending user work must not keep the process alive.
 */
export function flushAndExit(code: number): void {
  process.exitCode = code;
  let pending = 2;
  const done = (): void => {
    if (--pending === 0) realExit(code);
  };
  process.stdout.write("", done);
  process.stderr.write("", done);
  setTimeout(() => realExit(code), 2000).unref();
}

/**
 * process.exit as it was when the CLI started: while a direct run is active, the runner makes
 * process.exit from user code throw (src/runners/direct/runner.ts), and the CLI's own exits (after
 * an uncaught error, say) must not be taken for user code's.
 */
const realExit: (code: number) => never = process.exit.bind(process);
