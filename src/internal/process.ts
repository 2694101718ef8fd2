/**
 * Processes we start and own: the cluster's components and the job services one run starts (Prism,
 * Beam's Flink job server). Each starts in its own process group (so stopping it also stops what it
 * started, like the Python pool's workers) and — through util-linux's `setpriv --pdeathsig KILL`
 * where available — dies with its owner even if the owner is SIGKILLed. A process is identified by pid *and* start time
 * (/proc/<pid>/stat), so a stale pid file never makes us signal an unrelated process that reused
 * the pid.
 */
import { type ChildProcess, spawn, spawnSync, type StdioOptions } from "node:child_process";
import { accessSync, closeSync, constants, openSync, readdirSync, readFileSync, statSync } from "node:fs";
import { delimiter, join } from "node:path";

export interface ProcessIdentity {
  readonly pid: number;
  /** Start time in clock ticks since boot (field 22 of /proc/<pid>/stat). */
  readonly startTime: number;
}

/** The start time of `pid`, or undefined when no such process exists (or it is a zombie). */
export function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z") return undefined;
    const start = Number(fields[19]);
    return Number.isFinite(start) ? start : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether the process that `id` names is still the one running under its pid. A start time of 0
 * means it was unknown (no /proc, e.g. macOS): then only the pid can be checked, with signal 0.
 */
export function isAlive(id: ProcessIdentity | undefined): boolean {
  if (id === undefined || id.pid <= 0) return false;
  if (id.startTime === 0) {
    try {
      process.kill(id.pid, 0);
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === "EPERM";
    }
  }
  return processStartTime(id.pid) === id.startTime;
}

let setprivAvailable: boolean | undefined;
function hasSetpriv(): boolean {
  if (setprivAvailable === undefined) {
    setprivAvailable = spawnSync("setpriv", ["--pdeathsig", "KILL", "--", "true"], { stdio: "ignore" }).status === 0;
  }
  return setprivAvailable;
}

/** `command args` run through `setpriv --pdeathsig KILL` when available: it dies with this process. */
export function withParentDeath(command: string, args: readonly string[]): [string, string[]] {
  return hasSetpriv() ? ["setpriv", ["--pdeathsig", "KILL", "--", command, ...args]] : [command, [...args]];
}

export interface Spawned {
  readonly child: ChildProcess;
  readonly identity: ProcessIdentity;
}

/**
 * Starts `command` in a new process group, tied to our life: `stdio` as for `spawn` (the cluster
 * appends to a log file, a run's services pipe into memory).
 */
export function spawnOwned(
  command: string,
  args: readonly string[],
  options: { readonly env?: NodeJS.ProcessEnv; readonly cwd?: string; readonly stdio: StdioOptions },
): Spawned {
  const [cmd, argv] = withParentDeath(command, args);
  const child = spawn(cmd, argv, { cwd: options.cwd, env: options.env ?? process.env, detached: true, stdio: options.stdio });
  const pid = child.pid ?? -1;
  return { child, identity: { pid, startTime: processStartTime(pid) ?? 0 } };
}

/** Starts `command` in a new process group, output appended to `logFile`, tied to our life. */
export function spawnComponent(command: string, args: readonly string[], options: { env: NodeJS.ProcessEnv; cwd: string; logFile: string }): Spawned {
  const fd = openSync(options.logFile, "a");
  try {
    return spawnOwned(command, args, { env: options.env, cwd: options.cwd, stdio: ["ignore", fd, fd] });
  } finally {
    closeSync(fd);
  }
}

/** Signals the process group of `id` (the component and whatever it started), if it is still ours. */
export function signalGroup(id: ProcessIdentity, signal: NodeJS.Signals): boolean {
  if (!isAlive(id)) return false;
  try {
    process.kill(-id.pid, signal);
    return true;
  } catch {
    try {
      process.kill(id.pid, signal);
      return true;
    } catch {
      return false;
    }
  }
}

/** Any process left in the group `pgid` (a component's children outliving it). */
export function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return out;
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] !== "Z" && Number(fields[2]) === pgid) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * Stops a component: SIGTERM to its group, up to `graceMs` for it to exit, then SIGKILL to the
 * whole group (stragglers included). Resolves once nothing of the group is left.
 */
export async function stopGroup(id: ProcessIdentity, graceMs: number): Promise<"stopped" | "killed" | "gone"> {
  if (!isAlive(id)) {
    // The leader is gone; its children may not be — unless the pid now belongs to another process,
    // whose group is not ours (while our group had members, its id could not have been reused).
    if (processStartTime(id.pid) === undefined) for (const pid of groupMembers(id.pid)) safeKill(pid, "SIGKILL");
    return "gone";
  }
  signalGroup(id, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(id) && groupMembers(id.pid).length === 0) return "stopped";
    await sleep(100);
  }
  signalGroup(id, "SIGKILL");
  for (const pid of groupMembers(id.pid)) safeKill(pid, "SIGKILL");
  const hard = Date.now() + 5000;
  while (Date.now() < hard && (isAlive(id) || groupMembers(id.pid).length > 0)) await sleep(50);
  return "killed";
}

function safeKill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The first executable `name` on env's PATH. */
export function findOnPath(name: string, env: Readonly<Record<string, string | undefined>> = process.env): string | undefined {
  for (const dir of (env["PATH"] ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    try {
      if (statSync(candidate).isFile()) {
        accessSync(candidate, constants.X_OK);
        return candidate;
      }
    } catch {
      // not here
    }
  }
  return undefined;
}
