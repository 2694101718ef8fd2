/**
 * The supervisor's control socket (`<state dir>/control.sock`, a Unix socket: no TCP port, and only
 * this user can reach it, mode 0600): `scale` and `down` from other terminals reach the running supervisor,
 * foreground or detached. One JSON request per connection, one JSON reply.
 */
import { createHash } from "node:crypto";
import { chmodSync, rmSync } from "node:fs";
import { createConnection, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SluiceError } from "../internal/errors.js";

export type ControlRequest = { readonly cmd: "scale"; readonly taskmanagers: number } | { readonly cmd: "down" } | { readonly cmd: "ping" };
export type ControlReply = { readonly ok: true; readonly message?: string } | { readonly ok: false; readonly error: string };

/**
 * `<state dir>/control.sock`; when that path is too long for a Unix socket (108 bytes on Linux,
 * beyond which it would be silently truncated), a name derived from the state directory in the
 * temporary directory instead.
 */
export function controlSocket(stateDir: string): string {
  const path = join(stateDir, "control.sock");
  if (Buffer.byteLength(path) <= 100) return path;
  const hash = createHash("sha256").update(stateDir).digest("hex").slice(0, 16);
  return join(tmpdir(), `sluice-${process.getuid?.() ?? "user"}-${hash}.sock`);
}

/** Serves control requests with `handle`; the socket file is removed on close. */
export function serveControl(stateDir: string, handle: (req: ControlRequest) => Promise<string | undefined>): Promise<Server> {
  const path = controlSocket(stateDir);
  rmSync(path, { force: true });
  const server = createServer((socket) => {
    let buf = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf("\n");
      if (nl < 0) return;
      let req: ControlRequest;
      try {
        req = JSON.parse(buf.slice(0, nl)) as ControlRequest;
      } catch {
        socket.end(`${JSON.stringify({ ok: false, error: "malformed request" })}\n`);
        return;
      }
      handle(req).then(
        (message) => socket.end(`${JSON.stringify(message === undefined ? { ok: true } : { ok: true, message })}\n`),
        (err: unknown) => socket.end(`${JSON.stringify({ ok: false, error: err instanceof Error ? err.message : String(err) })}\n`),
      );
    });
    socket.on("error", () => undefined);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => {
      chmodSync(path, 0o600);
      resolve(server);
    });
  });
}

/** Sends one request to the running supervisor and waits (up to `timeoutMs`) for its reply. */
export function sendControl(stateDir: string, req: ControlRequest, timeoutMs = 300_000): Promise<ControlReply> {
  const path = controlSocket(stateDir);
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let buf = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new SluiceError("DEADLINE_EXCEEDED", `the cluster supervisor did not answer "${req.cmd}" within ${Math.round(timeoutMs / 1000)} s`));
    }, timeoutMs);
    socket.setEncoding("utf8");
    socket.on("connect", () => socket.write(`${JSON.stringify(req)}\n`));
    socket.on("data", (chunk: string) => (buf += chunk));
    socket.on("end", () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(buf) as ControlReply);
      } catch {
        reject(new SluiceError("UNAVAILABLE", `the cluster supervisor closed the control socket without answering "${req.cmd}"`));
      }
    });
    socket.on("error", (err) => {
      clearTimeout(timer);
      reject(new SluiceError("UNAVAILABLE", `cannot reach the cluster supervisor at ${path}: ${err.message}`, { cause: err }));
    });
  });
}
