/**
 * The job services one run starts (Prism, Beam's Flink job server): Prism listens on 127.0.0.1
 * only, and a `sluice run` that is SIGKILLed takes them with it (process group + parent-death
 * signal), so nothing is left listening after a crash.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { isLoopbackAddress, listeningSockets } from "../src/cluster/ports.js";
import { processStartTime } from "../src/internal/process.js";
import { cachedClasspath, JOB_SERVER_MAIN } from "../src/runners/portable/flink.js";
import { startPrism } from "../src/runners/portable/prism.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const BIN = join(root, "bin", "sluice.js");
const SLOW = join(root, "test", "fixtures", "slow-numbers.ts");
const tmp = mkdtempSync(join(tmpdir(), "sluice-services-"));
const started: ChildProcess[] = [];

afterAll(() => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  rmSync(tmp, { recursive: true, force: true });
});

/** Children of `pid` (their pid and command line), from /proc. */
function childrenOf(pid: number): { pid: number; cmdline: string }[] {
  const out: { pid: number; cmdline: string }[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push({ pid: Number(name), cmdline: readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0").join(" ") });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

async function waitFor<T>(what: string, deadlineMs: number, probe: () => T | undefined): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Starts a slow pipeline on `runner`, waits for the service child matching `isService`, SIGKILLs the CLI, and expects the service to die too. */
async function killedRunLeavesNothing(runner: string, isService: (cmdline: string) => boolean, startDeadlineMs: number): Promise<void> {
  let stderr = "";
  const cli = spawn(process.execPath, [BIN, "run", SLOW, `--runner=${runner}`, "--count=100000", "--delay_ms=20", `--output=${join(tmp, runner, "out")}`], {
    cwd: tmp,
    stdio: ["ignore", "ignore", "pipe"],
  });
  started.push(cli);
  cli.stderr?.on("data", (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
  const service = await waitFor(`the ${runner} service under sluice run (stderr: ${stderr})`, startDeadlineMs, () => {
    if (cli.exitCode !== null) throw new Error(`sluice run exited early (${cli.exitCode}): ${stderr}`);
    return childrenOf(cli.pid!).find((c) => isService(c.cmdline));
  });
  const startTime = processStartTime(service.pid);
  expect(startTime).toBeDefined();
  cli.kill("SIGKILL");
  await waitFor(`${runner}'s service (pid ${service.pid}) to die with the killed run`, 15_000, () =>
    processStartTime(service.pid) !== startTime ? true : undefined,
  );
}

describe("per-run job services", () => {
  it("Prism listens on 127.0.0.1 only", async () => {
    const prism = await startPrism();
    try {
      const port = Number(prism.endpoint.split(":").pop());
      const sockets = (await listeningSockets()).filter((s) => s.port === port);
      expect(sockets.length).toBeGreaterThan(0);
      expect(sockets.map((s) => s.address).filter((a) => !isLoopbackAddress(a))).toEqual([]);
    } finally {
      await prism.stop();
    }
  }, 300_000);

  it("a SIGKILLed `sluice run --runner=prism` leaves no Prism behind", async () => {
    await killedRunLeavesNothing("prism", (c) => /(^|\/)prism(\s|$)/.test(c.split(" ")[0] ?? ""), 300_000);
  }, 330_000);

  it("a SIGKILLed `sluice run --runner=flink` leaves no job server JVM behind", async () => {
    await killedRunLeavesNothing("flink", (c) => c.includes(JOB_SERVER_MAIN), 600_000);
  }, 630_000);
});

describe("the cached job server classpath", () => {
  it("is used while every jar it names exists, and resolved again once one is gone", () => {
    const jars = ["a.jar", "b.jar"].map((n) => join(tmp, n));
    for (const j of jars) writeFileSync(j, "");
    const file = join(tmp, "classpath.txt");
    writeFileSync(file, `${jars.join(delimiter)}\n`);
    expect(cachedClasspath(file)).toBe(jars.join(delimiter));
    rmSync(jars[1]!);
    expect(cachedClasspath(file)).toBeUndefined();
    writeFileSync(file, "");
    expect(cachedClasspath(file)).toBeUndefined();
    expect(cachedClasspath(join(tmp, "missing.txt"))).toBeUndefined();
  });
});
