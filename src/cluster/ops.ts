/**
 * Operations on a cluster from outside its supervisor: status, down (also from a stale state
 * file), and finding logs. Every signal goes to a process identified by pid and start time, so a
 * reused pid is never touched.
 */
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { SluiceError } from "../internal/errors.js";
import { controlSocket, sendControl } from "./control.js";
import { portHolders } from "./ports.js";
import { isAlive, sleep, stopGroup } from "../internal/process.js";
import { type ClusterState, type ComponentState, readState, removeState } from "./state.js";

export interface ComponentStatus extends ComponentState {
  /** Whether the recorded process is alive (same pid and start time). */
  readonly alive: boolean;
}

export interface ClusterStatus {
  /** running: supervisor alive; stale: a state file whose supervisor is gone; down: no state. */
  readonly status: "running" | "stale" | "down";
  readonly phase?: ClusterState["phase"];
  readonly supervisorPid?: number;
  readonly stateDir: string;
  readonly startedAt?: string;
  readonly bindHost?: string;
  readonly flinkDashboard?: string;
  readonly jobEndpoint?: string;
  readonly sluicePool?: string;
  readonly pythonPool?: string;
  readonly pythonExecutable?: string;
  readonly versions?: ClusterState["versions"];
  readonly taskmanagers?: number;
  readonly slots?: number;
  readonly components: readonly ComponentStatus[];
}

export function clusterStatus(stateDir: string): ClusterStatus {
  const state = readState(stateDir);
  if (!state) return { status: "down", stateDir, components: [] };
  const supervisorAlive = isAlive(state.supervisor);
  const components = state.components.map((c) => {
    const alive = isAlive({ pid: c.pid, startTime: c.startTime });
    return { ...c, alive, state: alive ? c.state : c.state === "stopped" ? c.state : supervisorAlive ? c.state : ("stopped" as const) };
  });
  return {
    status: supervisorAlive ? "running" : "stale",
    phase: state.phase,
    supervisorPid: state.supervisor.pid,
    stateDir,
    startedAt: state.startedAt,
    bindHost: state.bindHost,
    flinkDashboard: `http://127.0.0.1:${state.ports.flinkRest}`,
    jobEndpoint: `localhost:${state.ports.jobServer}`,
    sluicePool: `localhost:${state.ports.sluicePool}`,
    ...(state.python ? { pythonPool: `localhost:${state.ports.pythonPool}` } : {}),
    ...(state.pythonExecutable ? { pythonExecutable: state.pythonExecutable } : {}),
    versions: state.versions,
    taskmanagers: state.taskmanagers,
    slots: state.slots,
    components,
  };
}

export interface DownReport {
  readonly wasRunning: boolean;
  /** What the supervisor reported ("stopped python-pool, sluice-pool, …"), when it answered. */
  readonly supervisorReply?: string;
  /** Components stopped here (from a stale state file or after the supervisor did not finish). */
  readonly swept: readonly string[];
  /** Ports of the cluster still bound afterwards (should be none), with their holders. */
  readonly portsLeft: readonly string[];
}

/**
 * Stops the cluster: asks the supervisor (reverse order, graceful then forced); if it does not
 * answer, stops the supervisor, then every recorded component still alive; then checks that none
 * of the cluster's ports is still bound.
 */
export async function clusterDown(stateDir: string, log: (line: string) => void): Promise<DownReport> {
  const state = readState(stateDir);
  if (!state) return { wasRunning: false, swept: [], portsLeft: [] };
  const swept: string[] = [];
  let supervisorReply: string | undefined;
  if (isAlive(state.supervisor)) {
    log(`stopping the cluster (supervisor pid ${state.supervisor.pid})`);
    try {
      const reply = await sendControl(stateDir, { cmd: "down" }, 120_000);
      if (!reply.ok) log(`the supervisor reported: ${reply.error}`);
      else supervisorReply = reply.message;
    } catch (err) {
      log(`${(err as Error).message}; stopping the supervisor directly`);
    }
    const deadline = Date.now() + 20_000;
    while (isAlive(state.supervisor) && Date.now() < deadline) await sleep(100);
    if (isAlive(state.supervisor)) await stopGroup(state.supervisor, 15_000);
  } else {
    log(`the supervisor (pid ${state.supervisor.pid}) is gone: stopping what its state file records`);
  }
  // Whatever is still alive (a stale state, or a supervisor that died mid-stop), in reverse order.
  for (const c of [...state.components].reverse()) {
    const id = { pid: c.pid, startTime: c.startTime };
    const alive = isAlive(id);
    // Also for a dead leader: stopGroup then removes what is left of its process group.
    await stopGroup(id, 10_000);
    if (alive) swept.push(c.name);
  }
  const portsLeft: string[] = [];
  const ports = [...new Set([...Object.values(state.ports), ...state.components.flatMap((c) => Object.values(c.ports))])];
  const holders = await portHolders(ports.filter((port) => state.python || port !== state.ports.pythonPool));
  for (const [port, holder] of holders) {
    if (state.components.some((c) => c.pid === holder.pid)) portsLeft.push(`${port} (pid ${holder.pid}: ${holder.command})`);
  }
  removeState(stateDir);
  rmSync(controlSocket(stateDir), { force: true });
  if (portsLeft.length > 0) {
    throw new SluiceError("INTERNAL", `the cluster stopped, but ports are still bound: ${portsLeft.join(", ")}`, { hint: "Stop those processes by hand." });
  }
  return { wasRunning: true, swept, portsLeft, ...(supervisorReply ? { supervisorReply } : {}) };
}

/** The log files of the cluster's components (`<state dir>/logs/<name>.log`), by component name. */
export function logFiles(stateDir: string): Map<string, string> {
  const dir = join(stateDir, "logs");
  const out = new Map<string, string>();
  if (!existsSync(dir)) return out;
  for (const f of readdirSync(dir).sort()) if (f.endsWith(".log")) out.set(f.slice(0, -4), join(dir, f));
  return out;
}
