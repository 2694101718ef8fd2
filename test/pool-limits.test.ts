/**
 * The process worker pool's limits (issue 8), against the real pool over real gRPC on 127.0.0.1:
 * the cap on concurrent workers, endpoint validation, workers that give up on unreachable runner
 * endpoints, bounded error strings, and scratch directories of dead pools. Needs dist/ built
 * (`npx tsc -p tsconfig.build.json`): workers run dist/harness/worker-main.js.
 */
import { freePort } from "../src/runners/portable/services.js";
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Pipeline, PipelineOptions } from "sluice";
import { processStartTime } from "../src/internal/process.js";
import { endpointProblem, type ProcessPoolHandle, type ProcessPoolOptions, startLoopbackPool, startProcessPool } from "../src/harness/pool.js";
import { grpcFnTransport } from "../src/harness/transport.js";
import { FnWorker, MAX_INSTRUCTION_ERROR_CHARS } from "../src/harness/worker.js";
import { createClient, createServer, type GrpcServer } from "../src/model/grpc.js";
import { FnApi, ProvisionApi } from "../src/model/protos.js";

let work: string;
const pools: ProcessPoolHandle[] = [];
const servers: GrpcServer[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "sluice-pool-test-"));
});
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
  await Promise.all(servers.splice(0).map((s) => s.close({ graceMs: 0 })));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A pool whose log lines are collected, with `waitFor` to await one. */
async function pool(options: ProcessPoolOptions = {}) {
  const lines: string[] = [];
  const output: string[] = [];
  const waiters: { test: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  const handle = await startProcessPool({
    scratchRoot: work,
    ...options,
    log: (line) => {
      lines.push(line);
      for (const w of [...waiters]) if (w.test(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    },
    output: (_id, _stream, line) => void output.push(line),
  });
  pools.push(handle);
  const client = createClient(FnApi.BeamFnExternalWorkerPool, handle.address.address);
  const waitFor = (test: (l: string) => boolean, timeoutMs = 60_000): Promise<string> => {
    const seen = lines.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no pool log line as expected within ${timeoutMs} ms; got:\n${lines.join("\n")}`)), timeoutMs);
      waiters.push({ test, resolve: (l) => (clearTimeout(timer), resolve(l)) });
    });
  };
  return { handle, client, lines, output, waitFor };
}

/** A StartWorker request whose endpoints are all `url`. */
function request(id: string, url: string) {
  return { workerId: id, controlEndpoint: { url }, loggingEndpoint: { url }, artifactEndpoint: { url }, provisionEndpoint: { url } };
}

/** A stand-in worker program, for pool behaviour that does not need the real worker. */
async function fakeWorker(name: string, body: string): Promise<string> {
  const path = join(work, name);
  await writeFile(path, body);
  return path;
}

describe("the cap on concurrent workers", () => {
  it("answers StartWorker beyond --max-workers with an error naming the cap, and admits again once a worker stopped", async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    // The workers wait for the unreachable runner (well past the test), so they stay running.
    const { client, handle } = await pool({ maxWorkers: 2, workerConnectTimeoutMs: 600_000 });
    expect(handle.maxWorkers).toBe(2);
    expect((await client.startWorker(request("w1", dead))).error).toBe("");
    expect((await client.startWorker(request("w2", dead))).error).toBe("");
    const refused = await client.startWorker(request("w3", dead));
    expect(refused.error).toContain("--max-workers 2");
    expect(refused.error).toContain("w3");
    expect(refused.error).toMatch(/higher cap/);
    expect(handle.workerIds()).toHaveLength(2);
    // A repeated request for a running worker is still fine at the cap.
    expect((await client.startWorker(request("w1", dead))).error).toBe("");
    await client.stopWorker({ workerId: "w1" });
    expect((await client.startWorker(request("w3", dead))).error).toBe("");
    expect([...handle.workerIds()].sort()).toEqual(["w2", "w3"]);
    client.close();
  }, 90_000);

  it("counts workers still being spawned, so a burst of StartWorker calls cannot overshoot the cap", async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const { client, handle } = await pool({ maxWorkers: 3, workerConnectTimeoutMs: 600_000 });
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => client.startWorker(request(`burst-${i}`, dead))));
    expect(answers.filter((a) => a.error === "")).toHaveLength(3);
    expect(answers.filter((a) => a.error.includes("--max-workers 3"))).toHaveLength(9);
    expect(handle.workerIds()).toHaveLength(3);
    client.close();
  }, 90_000);

  it("answers repeated requests for a worker still being spawned without starting a second one", async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const { client, handle, lines } = await pool({ maxWorkers: 4, workerConnectTimeoutMs: 600_000 });
    const answers = await Promise.all(Array.from({ length: 5 }, () => client.startWorker(request("same", dead))));
    expect(answers.map((a) => a.error)).toEqual(["", "", "", "", ""]);
    expect(handle.workerIds()).toEqual(["same"]);
    expect(lines.filter((l) => /worker same started/.test(l))).toHaveLength(1);
    client.close();
  }, 90_000);

  it("refuses a cap that is not a whole number of at least 1", async () => {
    await expect(startProcessPool({ maxWorkers: 0, scratchRoot: work })).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringContaining("maxWorkers") });
    await expect(startProcessPool({ maxWorkers: 2.5, scratchRoot: work })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });
});

describe("endpoint validation", () => {
  it.each([
    ["", "is empty"],
    ["localhost", "is not host:port"],
    ["localhost:", "is not host:port"],
    [":50000", "is not host:port"],
    ["localhost:0", "not from 1 to 65535"],
    ["localhost:99999", "not from 1 to 65535"],
    ["127.0.0.1:http", "is not host:port"],
    ["http://localhost:8099", "is not host:port"],
  ])("answers a StartWorker whose control endpoint is %j with an error at once", async (url, problem) => {
    // A worker program that would record being started.
    const marker = join(work, `started-${Math.random().toString(36).slice(2)}`);
    const workerMain = await fakeWorker("record.mjs", `import { writeFileSync } from "node:fs"; writeFileSync(${JSON.stringify(marker)}, "x");`);
    const { client } = await pool({ workerMain });
    const good = `127.0.0.1:${await freePort()}`;
    const answer = await client.startWorker({ ...request("v1", good), controlEndpoint: { url } });
    expect(answer.error).toContain("control endpoint");
    expect(answer.error).toContain(`"${url}"`);
    expect(answer.error).toContain(problem);
    expect(existsSync(marker)).toBe(false);
    client.close();
  });

  it("also in the LOOPBACK pool", async () => {
    const loopback = await startLoopbackPool(Pipeline.create(PipelineOptions.create()), () => undefined);
    const client = createClient(FnApi.BeamFnExternalWorkerPool, loopback.address.address);
    try {
      expect(loopback.address.host).toBe("127.0.0.1");
      const answer = await client.startWorker({ workerId: "x".repeat(100_000), controlEndpoint: { url: "localhost:99999" } });
      expect(answer.error).toContain('control endpoint "localhost:99999" has port 99999');
      expect(answer.error.length).toBeLessThan(1000);
    } finally {
      client.close();
      await loopback.close();
    }
  });

  it("accepts host:port forms runners send (names, IPv4, IPv6, dns:///, unix:) and non-loopback hosts", () => {
    for (const url of ["localhost:8099", "127.0.0.1:1", "[::1]:65535", "dns:///localhost:8099", "unix:/tmp/beam.sock", "taskmanager-1.example:40000", "10.0.0.7:5000"]) {
      expect(endpointProblem(url), url).toBeUndefined();
    }
  });
});

describe("workers whose runner endpoints are unreachable", () => {
  it("give up within the deadline, naming the endpoint and the worker id, and exit non-zero; the pool logs it", async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const { client, waitFor } = await pool({ workerConnectTimeoutMs: 2000 });
    expect((await client.startWorker(request("lost-1", dead))).error).toBe("");
    const exit = await waitFor((l) => l.startsWith("worker lost-1 ") && /exited|killed/.test(l), 60_000);
    expect(exit).toMatch(/exited with code [1-9]/);
    expect(exit).toContain("Sluice worker lost-1 gave up");
    expect(exit).toContain(`provision endpoint) at ${dead}`);
    expect(exit).toContain(`control endpoint) at ${dead}`);
    expect(exit).toContain("within 2 s");
    client.close();
  }, 90_000);

  it("name only the endpoint that did not answer", async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const provision = createServer();
    servers.push(provision);
    provision.addService(ProvisionApi.ProvisionService, { getProvisionInfo: () => ({ info: {} }) });
    const live = (await provision.listen({ host: "127.0.0.1", port: 0 })).address;
    const { client, waitFor } = await pool({ workerConnectTimeoutMs: 2000 });
    const answer = await client.startWorker({
      workerId: "lost-2",
      provisionEndpoint: { url: live },
      loggingEndpoint: { url: live },
      artifactEndpoint: { url: live },
      controlEndpoint: { url: dead },
    });
    expect(answer.error).toBe("");
    const exit = await waitFor((l) => l.startsWith("worker lost-2 ") && /exited|killed/.test(l), 60_000);
    expect(exit).toMatch(/exited with code [1-9]/);
    expect(exit).toContain(`control endpoint) at ${dead}`);
    expect(exit).not.toContain(`provision endpoint)`);
    client.close();
  }, 90_000);
});

describe("error strings are bounded", () => {
  const huge = "x".repeat(2 * 1024 * 1024);

  it("does not echo a megabyte worker id or endpoint in StartWorker errors", async () => {
    const { client, lines } = await pool();
    const byId = await client.startWorker({ workerId: huge });
    expect(byId.error.length).toBeLessThan(8192);
    expect(byId.error).toMatch(/more characters cut/);
    const byEndpoint = await client.startWorker({ ...request("big-endpoint", "127.0.0.1:1"), provisionEndpoint: { url: `${huge}:1` } });
    expect(byEndpoint.error.length).toBeLessThan(8192);
    expect(byEndpoint.error).toContain("provision endpoint");
    expect(byEndpoint.error).toMatch(/more characters cut/);
    for (const line of lines) expect(line.length).toBeLessThan(8192);
    client.close();
  });

  it("keeps a worker's exit message small when its stderr held megabytes", async () => {
    const workerMain = await fakeWorker(
      "noisy.mjs",
      `process.stderr.write("first line\\n" + "y".repeat(3 * 1024 * 1024) + "\\nlast line\\n" + "z".repeat(3 * 1024 * 1024), () => process.exit(3));`,
    );
    const { client, waitFor, output } = await pool({ workerMain });
    expect((await client.startWorker(request("noisy", "127.0.0.1:1"))).error).toBe("");
    const exit = await waitFor((l) => /^worker noisy \(pid \d+\) (exited|was killed)/.test(l));
    expect(exit).toContain("exited with code 3");
    expect(exit.length).toBeLessThan(8192);
    expect(exit).toMatch(/more characters cut/);
    expect(exit).toContain("zzzz");
    // The relayed output loses nothing, in pieces of bounded size.
    expect(output.join("").length).toBe("first line".length + 6 * 1024 * 1024 + "last line".length);
    expect(Math.max(...output.map((l) => l.length))).toBeLessThanOrEqual(64 * 1024);
    client.close();
  });

  it("bounds the error a worker sends the runner for a bundle", async () => {
    // The runner's side: a real control service that registers an empty descriptor and asks for a bundle.
    const responses: FnApi.InstructionResponse[] = [];
    let done!: () => void;
    const answered = new Promise<void>((r) => (done = r));
    const control = createServer();
    servers.push(control);
    control.addService(FnApi.BeamFnControl, {
      async control(requests, ctx) {
        await ctx.send({ instructionId: "r1", request: { case: "register", value: { processBundleDescriptor: [{ id: "d1" }] } } });
        await ctx.send({ instructionId: "b1", request: { case: "processBundle", value: { processBundleDescriptorId: "d1" } } });
        for await (const response of requests) {
          responses.push(response);
          if (response.instructionId === "b1") break;
        }
        done();
      },
    });
    const url = (await control.listen({ host: "127.0.0.1", port: 0 })).address;
    const transport = grpcFnTransport("bounded", url);
    const worker = new FnWorker({ workerId: "bounded", transport, pipeline: Pipeline.create(PipelineOptions.create()), refusal: `cannot run: ${huge}` });
    const serving = worker.serve().catch(() => undefined);
    await answered;
    worker.stop();
    await serving;
    transport.close();
    const bundle = responses.find((r) => r.instructionId === "b1");
    expect(bundle?.error.startsWith("cannot run: xxx")).toBe(true);
    expect(bundle?.error.length).toBeLessThan(MAX_INSTRUCTION_ERROR_CHARS + 200);
    expect(bundle?.error).toMatch(/more characters cut/);
  }, 60_000);
});

describe("scratch directories", () => {
  it("records the owner in the pool's scratch directory and removes it on close", async () => {
    const { handle } = await pool();
    const owner = JSON.parse(await readFile(join(handle.scratchDir, "owner.json"), "utf8")) as { pid: number; startTime: number };
    expect(owner).toEqual({ pid: process.pid, startTime: processStartTime(process.pid) });
    await handle.close();
    expect(existsSync(handle.scratchDir)).toBe(false);
  });

  it("removes the scratch directories of pools that are gone at start, and keeps those of live pools", async () => {
    const root = await mkdtemp(join(work, "root-"));
    const make = async (name: string, owner?: object, ageMs = 0): Promise<string> => {
      const dir = join(root, name);
      await mkdir(join(dir, "worker-1"), { recursive: true });
      await writeFile(join(dir, "worker-1", "pipeline.mjs"), "export {};");
      if (owner) await writeFile(join(dir, "owner.json"), JSON.stringify(owner));
      if (ageMs > 0) await utimes(dir, new Date(Date.now() - ageMs), new Date(Date.now() - ageMs));
      return dir;
    };
    // A process that ran and is gone: its pid, with the start time it had.
    const gone = spawnSync(process.execPath, ["-e", "process.stdout.write(require('fs').readFileSync('/proc/self/stat','utf8'))"], { encoding: "utf8" });
    const goneStat = gone.stdout.slice(gone.stdout.lastIndexOf(")") + 2).split(" ");
    expect(processStartTime(gone.pid)).toBeUndefined();
    const dead = await make("sluice-pool-dead01", { pid: gone.pid, startTime: Number(goneStat[19]) });
    // This pid, but another start time: the pid was reused, the owner is gone.
    const reused = await make("sluice-pool-reuse1", { pid: process.pid, startTime: (processStartTime(process.pid) ?? 0) + 1 });
    const live = await make("sluice-pool-live01", { pid: process.pid, startTime: processStartTime(process.pid) });
    const young = await make("sluice-pool-young1");
    const oldOwnerless = await make("sluice-pool-old001", undefined, 60 * 60_000);
    const unrelated = await make("other-dir", { pid: 1, startTime: 1 });
    const removed: string[] = [];
    const { handle, lines } = await pool({ scratchRoot: root, onStaleScratch: (d) => removed.push(d) });
    expect(removed.sort()).toEqual([dead, oldOwnerless, reused].sort());
    for (const dir of [dead, reused, oldOwnerless]) expect(existsSync(dir), dir).toBe(false);
    for (const dir of [live, young, unrelated, handle.scratchDir]) expect(existsSync(dir), dir).toBe(true);
    expect(lines.filter((l) => l.startsWith("removed the scratch directory"))).toHaveLength(3);
    expect((await readdir(root)).sort()).toEqual(["other-dir", "sluice-pool-live01", "sluice-pool-young1", handle.scratchDir.slice(root.length + 1)].sort());
  });
});

describe("workers die with the pool", () => {
  const setpriv = spawnSync("setpriv", ["--pdeathsig", "KILL", "--", "true"], { stdio: "ignore" }).status === 0;

  it.skipIf(!setpriv)("even a worker that ignores the pool's going away and SIGTERM dies when the pool is SIGKILLed (pdeathsig)", async () => {
    // A worker stuck in a way the IPC channel cannot help with: it ignores disconnect and SIGTERM.
    const workerMain = await fakeWorker(
      "stubborn.mjs",
      `process.on("disconnect", () => {}); process.on("SIGTERM", () => {}); console.log("stubborn " + process.pid); setInterval(() => {}, 1000);`,
    );
    const poolScript = await fakeWorker(
      "pool-main.mts",
      `import { startProcessPool } from ${JSON.stringify(fileURLToPath(new URL("../src/harness/pool.ts", import.meta.url)))};
       const pool = await startProcessPool({ workerMain: ${JSON.stringify(workerMain)}, scratchRoot: ${JSON.stringify(work)} });
       console.log("address " + pool.address.address);`,
    );
    const child = spawn(process.execPath, ["--import", "tsx", poolScript], { cwd: fileURLToPath(new URL("..", import.meta.url)), stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    const seen = (re: RegExp): Promise<RegExpExecArray> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${re} in ${out}`)), 60_000);
        const check = (): void => {
          const m = re.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m);
          }
        };
        child.stdout.setEncoding("utf8").on("data", (d: string) => ((out += d), check()));
        check();
      });
    try {
      const [, address] = await seen(/address (\S+)\n/);
      const client = createClient(FnApi.BeamFnExternalWorkerPool, address!);
      expect((await client.startWorker(request("stubborn", "127.0.0.1:1"))).error).toBe("");
      client.close();
      const [, pid] = await seen(/stubborn (\d+)\n/);
      child.kill("SIGKILL");
      const deadline = Date.now() + 30_000;
      while (processStartTime(Number(pid)) !== undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const alive = processStartTime(Number(pid)) !== undefined;
      if (alive) process.kill(Number(pid), "SIGKILL");
      expect(alive).toBe(false);
    } finally {
      child.kill("SIGKILL");
    }
  }, 90_000);
});
