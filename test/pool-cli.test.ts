/**
 * `sluice worker-pool` as a process (issue 8): its --max-workers and --worker-connect-timeout
 * flags, and what a SIGKILL of the pool leaves behind — no workers, and a scratch directory the
 * next pool removes. Talks to the pool over real gRPC on 127.0.0.1. Needs dist/ built
 * (`npx tsc -p tsconfig.build.json`).
 */
import { freePort } from "../src/runners/portable/services.js";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { processStartTime } from "../src/internal/process.js";
import { createClient } from "../src/model/grpc.js";
import { FnApi } from "../src/model/protos.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BIN = join(ROOT, "bin", "sluice.js");

let work: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "sluice-pool-cli-test-"));
});
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** `sluice worker-pool --port 0 ...flags` with TMPDIR=`scratchRoot`; resolves once it listens. */
function startPool(scratchRoot: string, flags: readonly string[] = []) {
  const child = spawn(process.execPath, [BIN, "worker-pool", "--port", "0", ...flags], {
    cwd: ROOT,
    env: { ...process.env, TMPDIR: scratchRoot, SLUICE_DEBUG: "", NODE_OPTIONS: "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let output = "";
  const listeners: (() => void)[] = [];
  const onData = (d: string): void => {
    output += d;
    for (const l of [...listeners]) l();
  };
  child.stdout.setEncoding("utf8").on("data", onData);
  child.stderr.setEncoding("utf8").on("data", onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once("exit", (code, signal) => r({ code, signal })));
  const waitFor = (re: RegExp, timeoutMs = 60_000): Promise<RegExpExecArray> =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        const m = re.exec(output);
        if (m) resolve(m);
        return m !== null;
      };
      if (check()) return;
      const timer = setTimeout(() => reject(new Error(`pool output did not match ${re} within ${timeoutMs} ms:\n${output}`)), timeoutMs);
      const listener = (): void => {
        if (check()) {
          clearTimeout(timer);
          listeners.splice(listeners.indexOf(listener), 1);
        }
      };
      listeners.push(listener);
      void exited.then(() => setTimeout(() => !check() && reject(new Error(`pool exited; output:\n${output}`)), 100));
    });
  return { child, exited, waitFor, output: () => output };
}

function request(id: string, url: string) {
  return { workerId: id, controlEndpoint: { url }, loggingEndpoint: { url }, artifactEndpoint: { url }, provisionEndpoint: { url } };
}

async function waitUntil(test: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (test()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return test();
}

describe("sluice worker-pool flags", () => {
  it.each([
    [["--max-workers", "0"], "--max-workers must be a whole number of at least 1", "write e.g. --max-workers 8"],
    [["--max-workers", "many"], "--max-workers must be a whole number", "write e.g. --max-workers 8"],
    [["--max-workers"], "--max-workers needs a value", "write --max-workers N"],
    [["--worker-connect-timeout", "-5"], "--worker-connect-timeout must be a number of seconds", "write e.g. --worker-connect-timeout 120"],
    [["--worker-connect-timeout", "0"], "--worker-connect-timeout must be a number of seconds", "write e.g. --worker-connect-timeout 120"],
    [["--port", "70000"], "--port must be a whole number from 0 to 65535", "write --port 50000"],
    [["--max-wokers", "3"], "unknown argument --max-wokers for sluice worker-pool", "did you mean --max-workers?"],
  ])("%j is a usage error naming the flag", async (flags, message, hint) => {
    const pool = startPool(work, flags);
    const { code } = await pool.exited;
    expect(code).toBe(2);
    expect(pool.output()).toContain(message);
    expect(pool.output()).toContain(`hint: ${hint}`);
  });

  it("--help documents both flags and the default cap", async () => {
    const pool = startPool(work, ["--help"]);
    expect((await pool.exited).code).toBe(0);
    expect(pool.output()).toMatch(/--max-workers N +most workers running at once \(default here: \d+/);
    expect(pool.output()).toContain("--worker-connect-timeout SECONDS");
  });
});

describe("sluice worker-pool as a process", () => {
  it("caps workers at --max-workers, passes --worker-connect-timeout to them, binds 127.0.0.1", async () => {
    const root = await mkdtemp(join(work, "cap-"));
    const pool = startPool(root, ["--max-workers", "1", "--worker-connect-timeout", "1.5"]);
    const [, address] = await pool.waitFor(/listening on (\S+)\n/);
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    await pool.waitFor(/at most 1 worker at once/);
    const client = createClient(FnApi.BeamFnExternalWorkerPool, address!);
    const dead = `127.0.0.1:${await freePort()}`;
    expect((await client.startWorker(request("c1", dead))).error).toBe("");
    const refused = await client.startWorker(request("c2", dead));
    expect(refused.error).toContain("--max-workers 1");
    // The worker gives up after the 1.5 s deadline it was given, and then there is room again.
    await pool.waitFor(/worker c1 \(pid \d+\) exited with code 1/);
    expect(pool.output()).toContain("within 1.5 s");
    expect((await client.startWorker(request("c2", dead))).error).toBe("");
    client.close();
    pool.child.kill("SIGTERM");
    expect((await pool.exited).code).toBe(0);
  }, 120_000);

  it("after a SIGKILL leaves no worker running, and the next pool removes the scratch directory", async () => {
    const root = await mkdtemp(join(work, "kill-"));
    const first = startPool(root);
    const [, address] = await first.waitFor(/listening on (\S+)\n/);
    const [, scratch] = await first.waitFor(/scratch directory (\S+)\n/);
    expect(scratch!.startsWith(root)).toBe(true);
    const client = createClient(FnApi.BeamFnExternalWorkerPool, address!);
    // A worker waiting (long) for an unreachable runner: it stays until the pool's death ends it.
    expect((await client.startWorker(request("k1", `127.0.0.1:${await freePort()}`))).error).toBe("");
    const [, pid] = await first.waitFor(/worker k1 started \(pid (\d+)\)/);
    const workerPid = Number(pid);
    expect(processStartTime(workerPid)).toBeDefined();
    client.close();

    first.child.kill("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");
    expect(await waitUntil(() => processStartTime(workerPid) === undefined, 30_000)).toBe(true);
    // Nothing could clean up: the directory is still there…
    expect(existsSync(scratch!)).toBe(true);

    // …until the next pool starts under the same temp dir.
    const second = startPool(root);
    await second.waitFor(/listening on /);
    // (stderr, which may arrive after the ready line on stdout)
    const [removed] = await second.waitFor(/removed the scratch directory \S+ of a worker pool that is no longer running/);
    expect(removed).toContain(scratch);
    expect(existsSync(scratch!)).toBe(false);
    const [, own] = await second.waitFor(/scratch directory (\S+)\n/);
    expect(await readdir(root)).toEqual([own!.slice(root.length + 1)]);
    second.child.kill("SIGTERM");
    expect(await second.exited).toEqual({ code: 0, signal: null });
    expect(await readdir(root)).toEqual([]);
  }, 120_000);
});
