/**
 * Helpers shared by black-box tests.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, expect } from "vitest";
import { startPrism } from "../src/runners/portable/prism.js";
import type { LocalService } from "../src/runners/portable/services.js";
import { SluiceError } from "../src/internal/errors.js";

/** The sorted, non-empty lines of every file whose name starts with `prefix`'s basename. */
export async function outputLines(prefix: string): Promise<string[]> {
  const d = dirname(prefix);
  const base = prefix.slice(d.length + 1);
  const out: string[] = [];
  for (const f of (await readdir(d)).filter((n) => n.startsWith(base)).sort()) {
    out.push(...(await readFile(join(d, f), "utf8")).split("\n").filter((l) => l !== ""));
  }
  return out.sort();
}

export interface NodeResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `node ...args` (a script and its arguments) to the end and collects its output; killed
 * after `timeoutMs` (30 s). SLUICE_DEBUG and NODE_OPTIONS are cleared so the host's settings do
 * not leak into what is tested.
 */
export function runNode(
  args: readonly string[],
  options: { readonly cwd: string; readonly env?: Readonly<Record<string, string>>; readonly timeoutMs?: number },
): Promise<NodeResult> {
  const env = { ...process.env, SLUICE_DEBUG: "", NODE_OPTIONS: "", ...options.env };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: options.cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 30_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The SluiceError `run` fails with; fails the test when it succeeds or throws something else. */
export async function failure(run: Promise<unknown>): Promise<SluiceError> {
  try {
    await run;
  } catch (err) {
    expect(err).toBeInstanceOf(SluiceError);
    return err as SluiceError;
  }
  throw new Error("expected the run to fail");
}

/** Runs `fn` and returns the SluiceError it throws; fails the test when it throws nothing or something else. */
export function thrown(fn: () => unknown): SluiceError {
  try {
    fn();
  } catch (err) {
    if (SluiceError.is(err)) return err;
    throw err;
  }
  throw new Error("expected a SluiceError, nothing was thrown");
}

/** Starts Prism before the file's tests and stops it after; returns the running service's endpoint. */
export function usePrism(): () => string {
  let prism: LocalService | undefined;
  beforeAll(async () => {
    prism = await startPrism();
  }, 300_000);
  afterAll(async () => {
    await prism?.stop();
  });
  return () => {
    if (prism === undefined) throw new Error("Prism did not start (see beforeAll)");
    return prism.endpoint;
  };
}

/** Whether a process is alive and not a zombie. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.startsWith("Z");
  } catch {
    return false;
  }
}

/** Polls `check` every 250 ms until it holds; fails naming `what` after `timeoutMs`. */
export async function until(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
