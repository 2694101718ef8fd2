/**
 * src/cluster/ports.ts against the real /proc: servers opened here (and in a child process) must be
 * found with their pid and command line, named in checkPortsFree's error, and listed by listenersOf.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { SluiceError } from "../src/internal/errors.js";
import {
  checkPortsFree,
  decodeAddress,
  isLoopbackAddress,
  listenersOf,
  listeningAddresses,
  parseTcpTable,
  portHolder,
  shortCommand,
} from "../src/cluster/ports.js";

const servers: Server[] = [];
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise<void>((r) => s.close(() => r()));
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});

async function listen(host = "127.0.0.1", port = 0): Promise<number> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no address");
  return address.port;
}

/** A port that was free a moment ago. */
async function freePort(): Promise<number> {
  const port = await listen();
  const server = servers.pop() as Server;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe("portHolder", () => {
  it("finds this process listening on 127.0.0.1", async () => {
    const port = await listen();
    const holder = await portHolder(port);
    expect(holder).toBeDefined();
    expect(holder?.pid).toBe(process.pid);
    expect(holder?.uid).toBe(process.getuid?.());
    expect(holder?.command).toMatch(/^node\b/);
    expect(holder?.command.length).toBeLessThanOrEqual(120);
    expect(holder?.argv[0]).toBe(process.execPath);
  });

  it("finds another process by scanning /proc/*/fd, with its command line", async () => {
    const child = spawn(
      process.execPath,
      ["-e", "const s = require('net').createServer().listen(0, '127.0.0.1', () => console.log(s.address().port)); setTimeout(() => {}, 60000)"],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    children.push(child);
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout?.setEncoding("utf8").once("data", (d: string) => resolve(Number(d.trim())));
      child.once("exit", () => reject(new Error("child exited")));
    });
    const holder = await portHolder(port);
    expect(holder?.pid).toBe(child.pid);
    expect(holder?.command).toMatch(/^node -e const s = require/);
    const listeners = await listenersOf([child.pid as number, process.pid]);
    expect(listeners).toContainEqual({ pid: child.pid, address: "127.0.0.1", port });
  });

  it("finds an IPv6 loopback listener (/proc/net/tcp6)", async (ctx) => {
    if (!existsSync("/proc/net/tcp6")) return ctx.skip("this kernel has no /proc/net/tcp6 (no IPv6)");
    let port: number;
    try {
      port = await listen("::1");
    } catch (err) {
      return ctx.skip(`no IPv6 loopback here: ${(err as Error).message}`);
    }
    expect((await portHolder(port))?.pid).toBe(process.pid);
    expect(await listeningAddresses(process.pid)).toContainEqual({ address: "::1", port });
  });

  it("returns undefined for a free port", async () => {
    expect(await portHolder(await freePort())).toBeUndefined();
  });
});

describe("checkPortsFree", () => {
  it("names the busy port, what it is for, the holder's pid and the flag", async () => {
    const port = await listen();
    const free = await freePort();
    const err = await checkPortsFree([
      { port: free, name: "something free" },
      { port, name: "Flink REST and dashboard", flag: "--rest-port" },
    ]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(SluiceError.is(err, "UNAVAILABLE")).toBe(true);
    const e = err as SluiceError;
    expect(e.message).toContain(String(port));
    expect(e.message).toContain("Flink REST and dashboard");
    expect(e.message).toContain(`pid ${process.pid}`);
    expect(e.message).toMatch(/node/);
    expect(e.message).not.toContain("something free");
    expect(e.hint).toContain(`kill ${process.pid}`);
    expect(e.hint).toContain(`--rest-port for ${port}`);
  });

  it("lists every busy port", async () => {
    const a = await listen();
    const b = await listen();
    const err = (await checkPortsFree([
      { port: a, name: "first" },
      { port: b, name: "second" },
    ]).catch((e: unknown) => e)) as SluiceError;
    expect(err.message).toMatch(/^2 ports are in use/);
    expect(err.message).toContain(`${a} (first)`);
    expect(err.message).toContain(`${b} (second)`);
  });

  it("passes when every port is free", async () => {
    await expect(checkPortsFree([{ port: await freePort(), name: "free", flag: "--x" }])).resolves.toBeUndefined();
  });
});

describe("listenersOf", () => {
  it("includes this process's server with its address", async () => {
    const port = await listen();
    expect(await listenersOf(process.pid)).toContainEqual({ pid: process.pid, address: "127.0.0.1", port });
    expect(await listeningAddresses(process.pid)).toContainEqual({ address: "127.0.0.1", port });
  });

  it("no longer lists a closed server, and an exited process holds nothing", async () => {
    const port = await freePort();
    expect((await listenersOf(process.pid)).some((l) => l.port === port)).toBe(false);
    const child = spawn(process.execPath, ["-e", "0"]);
    const pid = child.pid as number;
    await new Promise((r) => child.once("exit", r));
    expect(await listenersOf([pid])).toEqual([]);
  });
});

describe("parsing", () => {
  it("decodes /proc/net addresses", () => {
    expect(decodeAddress("0100007F")).toBe("127.0.0.1");
    expect(decodeAddress("00000000")).toBe("0.0.0.0");
    expect(decodeAddress("00000000000000000000000001000000")).toBe("::1");
    expect(decodeAddress("00000000000000000000000000000000")).toBe("::");
    expect(decodeAddress("0000000000000000FFFF00000100007F")).toBe("::ffff:127.0.0.1");
    expect(decodeAddress("B80D0120000000000000000001000000")).toBe("2001:db8::1");
  });

  it("reads only LISTEN rows of a tcp table", () => {
    const table = [
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
      "   0: 0100007F:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0 100 0 0 10 0",
      "   1: 0100007F:9C40 0100007F:1F91 01 00000000:00000000 00:00000000 00000000  1000        0 4343 1 0 20 4 30 10 -1",
    ].join("\n");
    expect(parseTcpTable(table)).toEqual([{ address: "127.0.0.1", port: 8081, uid: 1000, inode: 4242 }]);
  });

  it("shortens a Flink JobManager's command line to the main class", () => {
    const argv = [
      "/usr/lib/jvm/java-17-openjdk-amd64/bin/java",
      "-Xmx1073741824",
      "--add-opens",
      "java.base/java.util=ALL-UNNAMED",
      "-classpath",
      "/a.jar:/b.jar",
      "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint",
      "--configDir",
      "/home/u/.local/state/sluice/cluster/conf",
      "--executionMode",
      "cluster",
    ];
    const s = shortCommand(argv);
    expect(s.startsWith("java … org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint --configDir")).toBe(true);
    expect(s.length).toBeLessThanOrEqual(120);
    expect(shortCommand(["java", "-jar", "/x/y/job-server.jar", "--job-port", "8099"])).toBe("java -jar job-server.jar --job-port 8099");
    expect(shortCommand(["/venv/bin/python", "-m", "apache_beam.runners.worker.worker_pool_main", "--service_port=50000"])).toBe(
      "python -m apache_beam.runners.worker.worker_pool_main --service_port=50000",
    );
  });

  it("knows loopback addresses", () => {
    for (const a of ["127.0.0.1", "127.0.1.1", "::1", "::ffff:127.0.0.1"]) expect(isLoopbackAddress(a), a).toBe(true);
    for (const a of ["0.0.0.0", "::", "10.0.0.1", "::ffff:10.0.0.1"]) expect(isLoopbackAddress(a), a).toBe(false);
  });
});
