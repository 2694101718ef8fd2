/**
 * Local job services a run starts and stops itself (Prism in prism.ts, Beam's Flink job server in
 * flink.ts) and the supervision they share: a free port, a readiness deadline, the log tail in every
 * error, a process group that dies with us (even when we are SIGKILLed) and a stop that escalates to
 * SIGKILL for the whole group.
 */
import { readFileSync } from "node:fs";
import { createServer, Socket } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { SluiceError } from "../../internal/errors.js";
import { spawnOwned, stopGroup } from "../../internal/process.js";

/** The package's root directory (holding versions.json and build/). */
export const projectRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const root = projectRoot;

/** The Beam version everything is pinned to (versions.json). */
export function beamVersion(): string {
  return (JSON.parse(readFileSync(join(root, "versions.json"), "utf8")) as { beam: string }).beam;
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      const port = typeof address === "object" && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
    s.connect(port, "127.0.0.1");
  });
}

export interface LocalService {
  /** host:port of its Job API. */
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** Starts `command`, waits until `port` accepts connections; fails naming the component with its log tail. */
export async function startService(
  component: string,
  command: string,
  args: readonly string[],
  port: number,
  options: {
    readonly readyTimeoutMs?: number;
    readonly env?: NodeJS.ProcessEnv;
    readonly hint: string;
    /** How long `stop()` waits after SIGTERM before SIGKILL (default 5 s). */
    readonly stopGraceMs?: number;
    /** Called once the service has stopped: whether it exited by itself after SIGTERM, or was killed. */
    readonly onStopped?: (how: "stopped" | "killed" | "gone") => void;
  },
): Promise<LocalService> {
  let log = "";
  const { child, identity } = spawnOwned(command, args, { env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
  const keep = (b: Buffer): void => {
    log = (log + b.toString("utf8")).slice(-8000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  let exited: string | undefined;
  const exit = new Promise<void>((res) => {
    child.once("exit", (code, signal) => {
      exited = signal ?? `code ${code}`;
      res();
    });
    child.once("error", (err) => {
      exited = err.message;
      res();
    });
  });
  const tail = (): string => (log.trim() ? `\n--- ${component} log (last lines) ---\n${log.trim().split("\n").slice(-20).join("\n")}` : "");
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  while (!(await portOpen(port))) {
    if (exited !== undefined) {
      options.onStopped?.("gone");
      throw new SluiceError("UNAVAILABLE", `${component} exited (${exited}) before it was ready${tail()}`, { hint: options.hint });
    }
    if (Date.now() > deadline) {
      options.onStopped?.(await stopGroup(identity, 0));
      throw new SluiceError("DEADLINE_EXCEEDED", `${component} did not open port ${port} within ${options.readyTimeoutMs ?? 60_000} ms${tail()}`, {
        hint: options.hint,
      });
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    endpoint: `127.0.0.1:${port}`,
    async stop() {
      const how = await stopGroup(identity, options.stopGraceMs ?? 5000);
      await exit;
      options.onStopped?.(how);
    },
  };
}
