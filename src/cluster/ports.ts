/**
 * Who holds a TCP port, and which ports a process listens on, read from Linux's /proc: the
 * listening sockets of /proc/net/tcp and /proc/net/tcp6 (state 0A) give a port's socket inode, and
 * the `socket:[inode]` links under /proc/<pid>/fd give the process holding it. The cluster uses this
 * to refuse to start on busy ports (naming the holder), to prove that every component listens on
 * loopback only, and that nothing is left listening after it stopped.
 */
import { readFile, readdir, readlink } from "node:fs/promises";
import { createServer } from "node:net";
import { basename } from "node:path";
import { SluiceError } from "../internal/errors.js";

/** A listening TCP socket, from /proc/net/tcp or /proc/net/tcp6. */
export interface ListeningSocket {
  /** The bound address: "127.0.0.1", "0.0.0.0", "::", "::1", "::ffff:127.0.0.1", … */
  readonly address: string;
  readonly port: number;
  /** The socket's inode (what /proc/<pid>/fd/* links to as `socket:[inode]`). */
  readonly inode: number;
  /** The uid owning the socket. */
  readonly uid: number;
}

/** The process listening on a port. */
export interface PortHolder {
  /**
   * The holding process; undefined when this user cannot see it (another user's process, another
   * PID namespace). Never a sentinel like 0 or -1: `process.kill` treats those as process groups.
   */
  readonly pid: number | undefined;
  /** A readable, shortened command line (at most ~120 characters), or why it is unknown. */
  readonly command: string;
  /** The full command line, empty when unknown. */
  readonly argv: readonly string[];
  /** The uid owning the socket (undefined when the port was found busy only by trying to bind it). */
  readonly uid: number | undefined;
}

/** A listening socket held by a process. */
export interface Listener {
  readonly pid: number;
  readonly address: string;
  readonly port: number;
}

/** A port something needs, what it is for, and the flag choosing another one. */
export interface PortNeed {
  readonly port: number;
  /** What the port is for, e.g. "Flink REST and dashboard". */
  readonly name: string;
  /** The flag that chooses another port, e.g. "--rest-port". */
  readonly flag?: string | undefined;
}

const TCP_TABLES = ["/proc/net/tcp", "/proc/net/tcp6"] as const;
const LISTEN = "0A";
const COMMAND_MAX = 120;

/** Every listening TCP socket in this network namespace (empty when /proc/net is unreadable). */
export async function listeningSockets(): Promise<ListeningSocket[]> {
  const out: ListeningSocket[] = [];
  for (const table of TCP_TABLES) {
    let text: string;
    try {
      text = await readFile(table, "utf8");
    } catch {
      continue; // no IPv6, or no /proc
    }
    out.push(...parseTcpTable(text));
  }
  return out;
}

/** The LISTEN rows of a /proc/net/tcp or tcp6 table. */
export function parseTcpTable(text: string): ListeningSocket[] {
  const out: ListeningSocket[] = [];
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== LISTEN) continue;
    const [addrHex, portHex] = (f[1] as string).split(":");
    if (addrHex === undefined || portHex === undefined) continue;
    out.push({ address: decodeAddress(addrHex), port: parseInt(portHex, 16), uid: Number(f[7]), inode: Number(f[9]) });
  }
  return out;
}

/**
 * Decodes a /proc/net address: 8 hex digits (IPv4) or 32 (IPv6), each 32-bit word in host byte
 * order (little-endian on the machines Sluice runs on).
 */
export function decodeAddress(hex: string): string {
  const bytes: number[] = [];
  for (let w = 0; w < hex.length; w += 8) {
    const word = hex.slice(w, w + 8);
    for (let b = 6; b >= 0; b -= 2) bytes.push(parseInt(word.slice(b, b + 2), 16));
  }
  if (bytes.length === 4) return bytes.join(".");
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return `::ffff:${bytes.slice(12).join(".")}`;
  }
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] as number) << 8) | (bytes[i + 1] as number));
  // Compress the longest run of two or more zero groups.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hexes = groups.map((g) => g.toString(16));
  if (best < 0) return hexes.join(":");
  return `${hexes.slice(0, best).join(":")}::${hexes.slice(best + bestLen).join(":")}`;
}

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1, ::ffff:127.x.x.x. */
export function isLoopbackAddress(address: string): boolean {
  return /^127\./.test(address) || address === "::1" || /^::ffff:127\./i.test(address);
}

/** Who listens on `port` (any address, IPv4 or IPv6); undefined when nothing does. */
export async function portHolder(port: number): Promise<PortHolder | undefined> {
  return (await portHolders([port])).get(port);
}

/**
 * Who listens on each of `ports`, with one scan of /proc. A port with no listener in /proc/net is
 * also tried with a bind on 127.0.0.1, so a socket /proc does not show (no /proc, another network
 * namespace sharing the port) still counts as held.
 */
export async function portHolders(ports: readonly number[]): Promise<Map<number, PortHolder>> {
  const wanted = new Set(ports);
  const sockets = (await listeningSockets()).filter((s) => wanted.has(s.port));
  const owners = await socketOwners(new Set(sockets.map((s) => s.inode)));
  const holders = new Map<number, PortHolder>();
  // Prefer a socket whose owner is visible when a port has several (IPv4 and IPv6).
  for (const s of sockets) {
    const pids = owners.get(s.inode);
    const current = holders.get(s.port);
    if (current !== undefined && current.pid !== undefined) continue;
    if (pids === undefined || pids.length === 0) {
      if (current === undefined) holders.set(s.port, invisibleHolder(s.uid));
      continue;
    }
    const pid = Math.min(...pids); // a socket shared by a parent and its children: the parent
    holders.set(s.port, await describeProcess(pid, s.uid));
  }
  for (const port of wanted) {
    if (holders.has(port)) continue;
    const failure = await bindFailure(port);
    if (failure !== undefined) {
      holders.set(port, {
        pid: undefined,
        command: `a socket not listed in /proc/net/tcp (binding 127.0.0.1:${port} failed: ${failure})`,
        argv: [],
        uid: undefined,
      });
    }
  }
  return holders;
}

/**
 * Every listening TCP socket held by `pids`, with its address. A process that has exited holds
 * none; a process whose descriptors this user cannot read is an error, not an empty answer, since
 * callers use this to prove what is (not) listening.
 */
export async function listenersOf(pids: Iterable<number> | number): Promise<Listener[]> {
  const list = typeof pids === "number" ? [pids] : [...pids];
  const byInode = new Map<number, ListeningSocket>();
  for (const s of await listeningSockets()) byInode.set(s.inode, s);
  const out: Listener[] = [];
  for (const pid of list) {
    let inodes: number[];
    try {
      inodes = await socketInodesOf(pid);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ESRCH") continue; // exited: nothing bound
      throw new SluiceError("PERMISSION_DENIED", `cannot read the open sockets of process ${pid} (/proc/${pid}/fd: ${code ?? String(err)})`, {
        hint: "run as the user that started the process",
        cause: err,
      });
    }
    for (const inode of inodes) {
      const s = byInode.get(inode);
      if (s !== undefined) out.push({ pid, address: s.address, port: s.port });
    }
  }
  return out;
}

/** The listening sockets (address and port) of one process. */
export async function listeningAddresses(pid: number): Promise<{ address: string; port: number }[]> {
  return (await listenersOf([pid])).map(({ address, port }) => ({ address, port }));
}

/**
 * Throws SluiceError("UNAVAILABLE") when any of `ports` is held, naming each busy port, what it is
 * for, who holds it (pid and command line) and the flag that picks another port.
 */
export async function checkPortsFree(ports: readonly PortNeed[]): Promise<void> {
  const holders = await portHolders(ports.map((p) => p.port));
  const busy = ports.filter((p) => holders.has(p.port));
  if (busy.length === 0) return;
  const lines = busy.map((p) => `${p.port} (${p.name}): ${describeHolder(holders.get(p.port) as PortHolder)}`);
  const pids = [...new Set(busy.map((p) => holders.get(p.port)?.pid).filter((pid): pid is number => pid !== undefined))];
  const flags = busy.filter((p) => p.flag !== undefined).map((p) => `${p.flag} for ${p.port}`);
  const stop = pids.length > 0 ? `stop ${pids.length === 1 ? "that process" : "those processes"} (kill ${pids.join(" ")})` : "stop whatever holds it";
  const choose = flags.length > 0 ? `pass another port: ${flags.join(", ")}` : "choose another port";
  throw new SluiceError(
    "UNAVAILABLE",
    busy.length === 1 ? `port ${lines[0] as string}` : `${busy.length} ports are in use:\n  ${lines.join("\n  ")}`,
    { hint: `${stop}, or ${choose}` },
  );
}

/** "held by pid 123: java … Main" or why the holder is unknown. */
export function describeHolder(holder: PortHolder): string {
  return holder.pid === undefined ? `held by ${holder.command}` : `held by pid ${holder.pid}: ${holder.command}`;
}

/**
 * A short, readable command line: the executable's basename, then for Java the main class (or
 * `-jar` file) and its arguments with JVM options elided as "…", for others the arguments; at
 * most `max` characters.
 */
export function shortCommand(argv: readonly string[], max = COMMAND_MAX): string {
  if (argv.length === 0) return "";
  const exe = basename(argv[0] as string);
  let parts: string[];
  if (exe === "java" || exe === "javaw") {
    const main = javaMainIndex(argv);
    if (main < 0) {
      parts = [exe, ...argv.slice(1)];
    } else {
      const head = argv[main] === "-jar" ? ["-jar", basename(argv[main + 1] ?? "")] : [argv[main] as string];
      const rest = argv.slice(main + head.length);
      parts = [exe, ...(main > 1 ? ["…"] : []), ...head, ...rest];
    }
  } else {
    parts = [exe, ...argv.slice(1)];
  }
  const text = parts.join(" ");
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Java options whose value is the next argument. */
const JAVA_VALUE_OPTIONS = new Set([
  "-cp",
  "-classpath",
  "--class-path",
  "-p",
  "--module-path",
  "--upgrade-module-path",
  "--add-modules",
  "--add-opens",
  "--add-exports",
  "--add-reads",
  "--patch-module",
  "--limit-modules",
]);

/** Index of the main class or of `-jar` in a java command line; -1 when there is none. */
function javaMainIndex(argv: readonly string[]): number {
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === "-jar" || a === "-m" || a === "--module") return a === "-jar" ? i : i + 1 < argv.length ? i + 1 : -1;
    if (JAVA_VALUE_OPTIONS.has(a)) {
      i++;
      continue;
    }
    if (!a.startsWith("-")) return i;
  }
  return -1;
}

function invisibleHolder(uid: number): PortHolder {
  const self = process.getuid?.();
  const whose = uid === self ? `of this user (uid ${uid})` : `of uid ${uid}`;
  return { pid: undefined, command: `a process this user cannot see (socket ${whose})`, argv: [], uid };
}

async function describeProcess(pid: number, uid: number): Promise<PortHolder> {
  let argv: string[] = [];
  try {
    argv = (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0").filter((a, i, all) => a !== "" || i < all.length - 1);
  } catch {
    // gone, or hidden (hidepid)
  }
  let command = shortCommand(argv);
  if (command === "") {
    try {
      command = `[${(await readFile(`/proc/${pid}/comm`, "utf8")).trim()}]`;
    } catch {
      command = "(command line not readable)";
    }
  }
  return { pid, command, argv, uid };
}

/** The inodes of the sockets `pid` holds open. Throws (ENOENT, EACCES) when its fds are unreadable. */
async function socketInodesOf(pid: number): Promise<number[]> {
  const dir = `/proc/${pid}/fd`;
  const fds = await readdir(dir);
  const links = await Promise.all(fds.map((fd) => readlink(`${dir}/${fd}`).catch(() => "")));
  const out: number[] = [];
  for (const link of links) {
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (m) out.push(Number(m[1]));
  }
  return out;
}

/** For each of `inodes`, the pids holding it (processes this user can read). */
async function socketOwners(inodes: ReadonlySet<number>): Promise<Map<number, number[]>> {
  const owners = new Map<number, number[]>();
  if (inodes.size === 0) return owners;
  let entries: string[];
  try {
    entries = await readdir("/proc");
  } catch {
    return owners;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let held: number[];
    try {
      held = await socketInodesOf(Number(entry));
    } catch {
      continue; // exited, or another user's
    }
    for (const inode of held) {
      if (!inodes.has(inode)) continue;
      const list = owners.get(inode) ?? [];
      list.push(Number(entry));
      owners.set(inode, list);
    }
  }
  return owners;
}

/** Why binding 127.0.0.1:port fails (e.g. "EADDRINUSE"), or undefined when it works. */
async function bindFailure(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}
