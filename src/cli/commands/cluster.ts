/**
 * `sluice cluster up|down|status|logs|scale|compose|k8s`: the seed's Flink + Beam stack on this
 * machine as supervised processes (src/cluster/), with --kafka a Kafka broker beside it, and the same
 * stack written out for Docker Compose or the Flink Kubernetes Operator. Argument parsing and printing only.
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { SluiceError } from "../../internal/errors.js";
import { controlSocket, sendControl, serveControl } from "../../cluster/control.js";
import { type ClusterPorts, DEFAULT_PORTS, DEFAULT_SLOTS, DEFAULT_TASKMANAGERS } from "../../cluster/defaults.js";
import { composeFile } from "../../cluster/emit/compose.js";
import { k8sManifests } from "../../cluster/emit/k8s.js";
import { clusterDown, clusterStatus, type ClusterStatus, logFiles } from "../../cluster/ops.js";
import { cacheDir, stateDir } from "../../internal/dirs.js";
import { isAlive, processStartTime } from "../../internal/process.js";
import { DEFAULT_KAFKA_PORTS, type KafkaPorts } from "../../cluster/kafka.js";
import { type KafkaState, liveCluster, readState } from "../../cluster/state.js";
import { ClusterSupervisor, lastLines, logTail } from "../../cluster/supervisor.js";
import { flinkMinor, stackVersions } from "../../cluster/versions.js";
import { projectRoot } from "../../runners/portable/services.js";
import { EXIT, type CliContext, type Command } from "../command.js";
import { CLUSTER_INFO } from "./info.js";
import { formatError } from "../report.js";
import { type FlagSpec, type ParsedArgs, parseCommandArgs } from "../args.js";
import { commandGroup, usageError } from "../subcommands.js";

/** Set in the environment of the background supervisor `up --detach` starts. */
const SUPERVISOR_ENV = "SLUICE_CLUSTER_SUPERVISOR";

/**
 * A subcommand's flags (args.ts): `valued` take a value, `booleans` do not (`follow` is also `-f`);
 * the command named in errors is the usage's first three words ("sluice cluster up").
 */
function parse(args: readonly string[], valued: readonly string[], booleans: readonly string[], usage: string, maxPositionals = 0): ParsedArgs {
  const flags: Record<string, FlagSpec> = {};
  for (const name of valued) flags[name] = { type: "string", value: name.endsWith("port") || name === "taskmanagers" || name === "slots" || name === "lines" ? "N" : "value" };
  for (const name of booleans) flags[name] = name === "follow" ? { type: "boolean", short: "f" } : { type: "boolean" };
  return parseCommandArgs(args, { command: usage.split(" ").slice(0, 3).join(" "), flags, maxPositionals });
}

function intFlag(flags: ParsedArgs, name: string, fallback: number, min: number, max: number, usage: string): number {
  const raw = flags.get(name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw === true || !/^\d+$/.test(raw) || n < min || n > max) {
    throw usageError(`--${name} must be a whole number from ${min} to ${max}, not "${String(raw)}"`, usage);
  }
  return n;
}

const UP_USAGE =
  "sluice cluster up [--taskmanagers N] [--slots S] [--python] [--kafka] [--flink-version X] [--detach] [--expose] [--web-submit] [--rest-port P] [--rpc-port P] [--job-port P] [--artifact-port P] [--expansion-port P] [--pool-port P] [--python-port P] [--kafka-port P] [--kafka-controller-port P]";

const PORT_FLAGS: Readonly<Record<string, keyof ClusterPorts>> = {
  "rest-port": "flinkRest",
  "rpc-port": "flinkRpc",
  "job-port": "jobServer",
  "artifact-port": "artifacts",
  "expansion-port": "expansion",
  "pool-port": "sluicePool",
  "python-port": "pythonPool",
};

const KAFKA_FLAGS: Readonly<Record<string, keyof KafkaPorts>> = {
  "kafka-port": "broker",
  "kafka-controller-port": "controller",
};

async function up(args: readonly string[], ctx: CliContext): Promise<number> {
  const flags = parse(args, ["taskmanagers", "slots", "flink-version", ...Object.keys(PORT_FLAGS), ...Object.keys(KAFKA_FLAGS)], ["python", "kafka", "detach", "expose", "web-submit"], UP_USAGE);
  if (flags.has("help")) {
    ctx.out(clusterHelp(ctx));
    return EXIT.OK;
  }
  const versions = stackVersions();
  const fv = flags.get("flink-version");
  if (typeof fv === "string" && fv !== versions.flink && fv !== flinkMinor(versions.flink)) {
    throw new SluiceError("UNSUPPORTED", `--flink-version ${fv} is not available: the cluster runs Flink ${versions.flink}, the release Beam ${versions.jobServer.beam}'s Flink job server is built against`, {
      hint: `Use --flink-version ${flinkMinor(versions.flink)} (or leave it out). Other Flink minors need another job server build; see versions.json.`,
    });
  }
  const ports = { ...DEFAULT_PORTS } as { -readonly [K in keyof ClusterPorts]: number };
  for (const [flag, key] of Object.entries(PORT_FLAGS)) ports[key] = intFlag(flags, flag, DEFAULT_PORTS[key], 1, 65535, UP_USAGE);
  const byPort = new Map<number, string>();
  for (const [flag, key] of Object.entries(PORT_FLAGS)) {
    const other = byPort.get(ports[key]);
    if (other !== undefined) throw usageError(`--${other} and --${flag} are both ${ports[key]}: every component needs a port of its own`, UP_USAGE);
    if (key !== "pythonPool" || flags.has("python")) byPort.set(ports[key], flag);
  }
  const withKafka = flags.has("kafka");
  for (const flag of Object.keys(KAFKA_FLAGS)) {
    if (flags.has(flag) && !withKafka) throw usageError(`--${flag} needs --kafka (the Kafka broker only runs with it)`, UP_USAGE);
  }
  const kafkaPorts = { ...DEFAULT_KAFKA_PORTS } as { -readonly [K in keyof KafkaPorts]: number };
  for (const [flag, key] of Object.entries(KAFKA_FLAGS)) {
    kafkaPorts[key] = intFlag(flags, flag, DEFAULT_KAFKA_PORTS[key], 1, 65535, UP_USAGE);
    const other = byPort.get(kafkaPorts[key]);
    if (withKafka && other !== undefined) throw usageError(`--${other} and --${flag} are both ${kafkaPorts[key]}: every component needs a port of its own`, UP_USAGE);
    if (withKafka) byPort.set(kafkaPorts[key], flag);
  }
  if (withKafka && versions.kafka === undefined) {
    throw new SluiceError("FAILED_PRECONDITION", "versions.json pins no Kafka version, so --kafka cannot start a broker", { hint: 'Add "kafka": "<release>" (an Apache Kafka release on Maven Central) to versions.json.' });
  }
  const taskmanagers = intFlag(flags, "taskmanagers", DEFAULT_TASKMANAGERS, 1, 64, UP_USAGE);
  const slots = intFlag(flags, "slots", DEFAULT_SLOTS, 1, 64, UP_USAGE);
  const dir = stateDir(ctx.env);
  const say = (line: string): void => ctx.err(`sluice cluster: ${line}\n`);

  // A hung-up terminal must not crash the supervisor while it stops the cluster.
  process.stdout.on("error", () => undefined);
  process.stderr.on("error", () => undefined);

  const running = liveCluster(dir);
  if (running) {
    throw new SluiceError("ALREADY_EXISTS", `a cluster is already running (supervisor pid ${running.supervisor.pid}, state in ${dir})`, {
      hint: "See it with `sluice cluster status`; stop it with `sluice cluster down`.",
    });
  }
  const stale = readState(dir);
  if (stale) {
    say(`found a stale state file (its supervisor, pid ${stale.supervisor.pid}, is gone): cleaning up first`);
    await clusterDown(dir, say);
  }
  if (flags.has("expose")) {
    say(
      "warning: --expose binds every listener on all interfaces. Whoever can reach this machine can submit jobs to the job server " +
        "and make the worker pools run code, over unauthenticated plaintext: use it only on a network you trust.",
    );
  }

  if (flags.has("detach") && ctx.env[SUPERVISOR_ENV] === undefined) return detach(args, dir, ctx);

  // One `up` at a time per state directory, from here until the cluster is down.
  const lock = takeUpLock(dir);

  const inSupervisor = ctx.env[SUPERVISOR_ENV] !== undefined && typeof process.send === "function";
  // Progress goes to the `up --detach` command while it waits (over IPC), and to the supervisor's log.
  const tell = (message: object): void => {
    if (inSupervisor && process.connected) process.send?.(message);
  };
  const report = (line: string): void => {
    tell({ type: "log", line });
    say(line);
  };
  const abort = new AbortController();
  let ready = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (!ready) {
      report(`${signal}: stopping what was started`);
      abort.abort();
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("SIGHUP", onSignal);
  // A detached supervisor whose `up` was killed before the cluster was ready leaves nothing behind.
  if (inSupervisor) {
    process.once("disconnect", () => ready || abort.abort());
    if (!process.connected) abort.abort();
  }

  const started = Date.now();
  let cluster: ClusterSupervisor;
  try {
    cluster = await ClusterSupervisor.up({
      stateDir: dir,
      cacheDir: cacheDir(ctx.env),
      versions,
      taskmanagers,
      slots,
      python: flags.has("python"),
      expose: flags.has("expose"),
      webSubmit: flags.has("web-submit"),
      ports,
      ...(withKafka ? { kafka: { ports: kafkaPorts } } : {}),
      log: report,
      signal: abort.signal,
    });
  } catch (err) {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    process.off("SIGHUP", onSignal);
    lock.release();
    tell({ type: "failed", message: formatError(err, ctx.verbose) });
    ctx.err(formatError(err, ctx.verbose));
    return abort.signal.aborted ? 130 : EXIT.FAILURE;
  }
  ready = true;
  // Control requests run one at a time (a scale never overlaps another scale or a down).
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn, fn);
    queue = next.catch(() => undefined);
    return next;
  };
  let control: Awaited<ReturnType<typeof serveControl>>;
  try {
    control = await serveControl(dir, (req) =>
      serial(async () => {
        if (req.cmd === "scale") {
          await cluster.scale(req.taskmanagers);
          return `${req.taskmanagers} TaskManager${req.taskmanagers === 1 ? "" : "s"} running`;
        }
        if (req.cmd === "down") {
          await cluster.stopAll();
          return `stopped ${cluster.stopOrder.join(", ")}`;
        }
        return "pong";
      }),
    );
  } catch (err) {
    await cluster.stopAll();
    lock.release();
    const failure = new SluiceError("UNAVAILABLE", `cannot serve the cluster's control socket: ${(err as Error).message}; stopped the cluster`, { cause: err });
    tell({ type: "failed", message: formatError(failure, ctx.verbose) });
    ctx.err(formatError(failure, ctx.verbose));
    return EXIT.FAILURE;
  }
  const summary = readySummary(clusterStatus(dir), (Date.now() - started) / 1000, !inSupervisor, readState(dir)?.kafka);
  if (inSupervisor) tell({ type: "ready", summary });
  else ctx.out(summary);

  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  process.off("SIGHUP", onSignal);
  const stopOnSignal = (signal: NodeJS.Signals): void => {
    say(`${signal}: stopping the cluster (again to force)`);
    process.once(signal, () => process.exit(130));
    void cluster.stopAll();
  };
  process.once("SIGINT", stopOnSignal);
  process.once("SIGTERM", stopOnSignal);
  process.once("SIGHUP", stopOnSignal);
  await cluster.whenStopped();
  control.close();
  lock.release();
  say("cluster stopped");
  // The control socket's last reply must flush before the process ends.
  setTimeout(() => process.exit(0), 200).unref();
  return EXIT.OK;
}

/**
 * The lock file `<state dir>/up.lock` (pid and start time, created exclusively): a second `up`
 * while one is starting or running fails instead of racing it. A lock whose holder is gone is stale
 * and taken over.
 */
function takeUpLock(dir: string): { release(): void } {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "up.lock");
  const me = { pid: process.pid, startTime: processStartTime(process.pid) ?? 0 };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, JSON.stringify(me), { flag: "wx" });
      return {
        release: () => {
          try {
            const held = JSON.parse(readFileSync(file, "utf8")) as typeof me;
            if (held.pid === me.pid && held.startTime === me.startTime) rmSync(file, { force: true });
          } catch {
            // already gone
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      let holder: typeof me | undefined;
      try {
        holder = JSON.parse(readFileSync(file, "utf8")) as typeof me;
      } catch {
        holder = undefined;
      }
      if (holder && isAlive(holder)) {
        throw new SluiceError("ALREADY_EXISTS", `another \`sluice cluster up\` (pid ${holder.pid}) is starting or running a cluster with state in ${dir}`, {
          hint: "See it with `sluice cluster status`; stop it with `sluice cluster down`.",
        });
      }
      rmSync(file, { force: true });
    }
  }
  throw new SluiceError("ALREADY_EXISTS", `could not take ${file}`, { hint: "Remove it if no `sluice cluster up` is running." });
}

/**
 * `up --detach`: runs the supervisor as a background process and relays its progress until it is
 * ready (or failed). Killing this command before then makes the supervisor stop everything.
 */
function detach(args: readonly string[], dir: string, ctx: CliContext): Promise<number> {
  mkdirSync(join(dir, "logs"), { recursive: true });
  const logFile = join(dir, "logs", "supervisor.log");
  const fd = openSync(logFile, "a");
  const child = spawn(process.execPath, [join(projectRoot, "bin", "sluice.js"), "cluster", "up", ...args.filter((a) => a !== "--detach")], {
    detached: true,
    stdio: ["ignore", fd, fd, "ipc"],
    env: { ...process.env, ...ctx.env, [SUPERVISOR_ENV]: "1" },
    cwd: ctx.cwd,
  });
  closeSync(fd);
  return new Promise((resolveExit) => {
    let done = false;
    child.on("message", (m: { type: string; line?: string; summary?: string; message?: string }) => {
      if (m.type === "log") ctx.err(`sluice cluster: ${m.line}\n`);
      else if (m.type === "ready") {
        done = true;
        ctx.out(m.summary ?? "");
        ctx.out(`The cluster runs in the background (supervisor pid ${child.pid}, log ${logFile}).\n`);
        child.disconnect();
        child.unref();
        resolveExit(EXIT.OK);
      } else if (m.type === "failed") {
        done = true;
        ctx.err(m.message ?? "");
        resolveExit(EXIT.FAILURE);
      }
    });
    child.once("exit", (code, signal) => {
      if (done) return;
      done = true;
      ctx.err(formatError(new SluiceError("UNAVAILABLE", `the cluster supervisor ${signal ? `was killed by ${signal}` : `exited with code ${code}`} before the cluster was ready${logTail(logFile, "supervisor log")}`), ctx.verbose));
      resolveExit(EXIT.FAILURE);
    });
  });
}

function readySummary(s: ClusterStatus, seconds: number, foreground: boolean, kafka: KafkaState | undefined): string {
  const v = s.versions;
  const rows: [string, string][] = [
    ["Flink dashboard", `${s.flinkDashboard}  (Flink ${v?.flink}, ${s.taskmanagers} TaskManager${s.taskmanagers === 1 ? "" : "s"} × ${s.slots} slots)`],
    ["Beam job server", `${s.jobEndpoint}  (Beam ${v?.jobServer.beam})`],
    ["Sluice worker pool", `${s.sluicePool}`],
  ];
  if (s.pythonPool) rows.push(["Python worker pool", `${s.pythonPool}  (apache-beam ${v?.pythonSdk})`]);
  if (s.pythonExecutable) rows.push(["Python interpreter", s.pythonExecutable]);
  if (kafka) rows.push(["Kafka broker", `${kafka.bootstrapServers}  (Apache Kafka ${kafka.version}, KRaft; controller ${kafka.ports.controller})`]);
  rows.push(["logs", join(s.stateDir, "logs")]);
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = [`sluice cluster: ready in ${seconds.toFixed(1)} s`, ...rows.map(([k, val]) => `  ${k.padEnd(width)}  ${val}`), ""];
  lines.push("Run a TypeScript pipeline on it:", "  sluice run examples/seed.ts --runner=flink");
  if (s.pythonPool) {
    lines.push(
      "Run a Python pipeline on it:",
      `  ${s.pythonExecutable ?? "python"} pipeline.py --runner=PortableRunner --job_endpoint=${s.jobEndpoint} --environment_type=EXTERNAL --environment_config=${s.pythonPool}`,
    );
  }
  if (kafka) lines.push("Try Kafka by hand:", "  sluice kafka topics --create events --partitions 2; echo hello | sluice kafka produce events; sluice kafka consume events --from-beginning --max-messages 1");
  lines.push(`Stop it: sluice cluster down${foreground ? " (or Ctrl-C here)" : ""}`, "");
  return lines.join("\n");
}

async function down(args: readonly string[], ctx: CliContext): Promise<number> {
  const flags = parse(args, [], [], "sluice cluster down");
  if (flags.has("help")) {
    ctx.out(clusterHelp(ctx));
    return EXIT.OK;
  }
  const dir = stateDir(ctx.env);
  const say = (line: string): void => ctx.err(`sluice cluster: ${line}\n`);
  const report = await clusterDown(dir, say);
  if (!report.wasRunning) ctx.out("sluice cluster: no cluster is running (nothing to stop)\n");
  else {
    const how = [report.supervisorReply, report.swept.length ? `stopped directly: ${report.swept.join(", ")}` : undefined].filter(Boolean).join("; ");
    ctx.out(`sluice cluster: ${how || "stopped"}; no component process or port is left\n`);
  }
  return EXIT.OK;
}

async function status(args: readonly string[], ctx: CliContext): Promise<number> {
  const flags = parse(args, [], ["json"], "sluice cluster status [--json]");
  if (flags.has("help")) {
    ctx.out(clusterHelp(ctx));
    return EXIT.OK;
  }
  const s = clusterStatus(stateDir(ctx.env));
  const kafka = s.status === "down" ? undefined : readState(s.stateDir)?.kafka;
  if (flags.has("json")) {
    ctx.out(`${JSON.stringify(kafka ? { ...s, kafka: { bootstrapServers: kafka.bootstrapServers, version: kafka.version, ports: kafka.ports, dataDir: kafka.dataDir } } : s, null, 2)}\n`);
    return s.status === "running" ? EXIT.OK : EXIT.FAILURE;
  }
  if (s.status === "down") {
    ctx.out(`sluice cluster: not running (state directory ${s.stateDir}). Start it with \`sluice cluster up\`.\n`);
    return EXIT.FAILURE;
  }
  const lines = [
    s.status === "running"
      ? `sluice cluster: ${s.phase} (supervisor pid ${s.supervisorPid}, since ${s.startedAt}, listening on ${s.bindHost})`
      : `sluice cluster: STALE state — its supervisor (pid ${s.supervisorPid}) is gone. Run \`sluice cluster down\` to clean up.`,
  ];
  const rows = s.components.map((c) => [c.name, c.alive ? c.state : "dead", String(c.pid), Object.entries(c.ports).map(([k, p]) => `${k}:${p}`).join(" ") || "-", c.version, c.log]);
  const head = ["COMPONENT", "STATE", "PID", "PORTS", "VERSION", "LOG"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  for (const r of [head, ...rows]) lines.push(r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] as number))).join("  "));
  if (s.pythonExecutable) lines.push(`pythonExecutable: ${s.pythonExecutable}`);
  lines.push(
    `Flink dashboard: ${s.flinkDashboard}   job endpoint: ${s.jobEndpoint}   Sluice pool: ${s.sluicePool}${s.pythonPool ? `   Python pool: ${s.pythonPool}` : ""}${kafka ? `   Kafka: ${kafka.bootstrapServers}` : ""}`,
  );
  ctx.out(`${lines.join("\n")}\n`);
  return s.status === "running" ? EXIT.OK : EXIT.FAILURE;
}

async function logs(args: readonly string[], ctx: CliContext): Promise<number> {
  const usage = "sluice cluster logs [component] [-f] [--lines N]";
  const flags = parse(args, ["lines"], ["follow"], usage, 1);
  if (flags.has("help")) {
    ctx.out(clusterHelp(ctx));
    return EXIT.OK;
  }
  const lines = intFlag(flags, "lines", 40, 1, 100_000, usage);
  const files = logFiles(stateDir(ctx.env));
  const name = flags.positionals[0];
  let chosen = [...files.entries()];
  if (name !== undefined) {
    const file = files.get(name);
    if (!file) {
      throw new SluiceError("NOT_FOUND", `no log for component "${name}"`, {
        hint: files.size ? `Components with logs: ${[...files.keys()].join(", ")}` : "No cluster has run yet: start one with `sluice cluster up`.",
      });
    }
    chosen = [[name, file]];
  }
  if (chosen.length === 0) {
    ctx.out("sluice cluster: no logs yet (start a cluster with `sluice cluster up`)\n");
    return EXIT.OK;
  }
  const prefix = chosen.length > 1;
  const offsets = new Map<string, number>();
  for (const [n, f] of chosen) {
    const text = lastLines(f, lines);
    ctx.out(prefix ? `--- ${n} (${f}) ---\n${text}\n` : `${text}\n`);
    offsets.set(n, statSync(f).size);
  }
  if (!flags.has("follow")) return EXIT.OK;
  // -f: print what each log gains until Ctrl-C.
  await new Promise<void>((resolveFollow) => {
    const timer = setInterval(() => {
      for (const [n, f] of chosen) {
        if (!existsSync(f)) continue;
        const size = statSync(f).size;
        const from = offsets.get(n) ?? 0;
        if (size < from) offsets.set(n, 0);
        if (size <= from) continue;
        const buf = Buffer.alloc(size - from);
        const fd = openSync(f, "r");
        readSync(fd, buf, 0, buf.length, from);
        closeSync(fd);
        offsets.set(n, size);
        const text = buf.toString("utf8");
        ctx.out(prefix ? text.replace(/^(?=.)/gm, `[${n}] `) : text);
      }
    }, 300);
    process.once("SIGINT", () => {
      clearInterval(timer);
      resolveFollow();
    });
  });
  return EXIT.OK;
}

async function scale(args: readonly string[], ctx: CliContext): Promise<number> {
  const usage = "sluice cluster scale N";
  const flags = parse(args, [], [], usage, 1);
  if (flags.has("help")) {
    ctx.out(clusterHelp(ctx));
    return EXIT.OK;
  }
  const raw = flags.positionals[0];
  if (raw === undefined || !/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 64) {
    throw usageError(`give the number of TaskManagers, a whole number from 1 to 64${raw === undefined ? "" : `, not "${raw}"`}`, usage);
  }
  const dir = stateDir(ctx.env);
  const state = liveCluster(dir);
  if (!state || !existsSync(controlSocket(dir))) {
    throw new SluiceError("FAILED_PRECONDITION", "no cluster is running", { hint: "Start one with `sluice cluster up`." });
  }
  ctx.err(`sluice cluster: scaling to ${raw} TaskManagers (${state.slots} slots each)\n`);
  const reply = await sendControl(dir, { cmd: "scale", taskmanagers: Number(raw) });
  if (!reply.ok) throw new SluiceError("FAILED_PRECONDITION", `scaling failed: ${reply.error}`, { hint: "See `sluice cluster logs`." });
  ctx.out(`sluice cluster: ${reply.message ?? "scaled"}\n`);
  return EXIT.OK;
}

async function emit(kind: "compose" | "k8s", args: readonly string[], ctx: CliContext): Promise<number> {
  const usage = `sluice cluster ${kind} [--output FILE] [--taskmanagers N] [--slots S] [--python] [--expose]${kind === "k8s" ? " [--name NAME] [--namespace NS]" : ""}`;
  const flags = parse(args, ["output", "taskmanagers", "slots", "name", "namespace"], ["python", "expose"], usage);
  if (flags.has("help")) {
    ctx.out(clusterHelp(ctx));
    return EXIT.OK;
  }
  const name = flags.get("name");
  const namespace = flags.get("namespace");
  const options = {
    taskmanagers: intFlag(flags, "taskmanagers", DEFAULT_TASKMANAGERS, 1, 1000, usage),
    slots: intFlag(flags, "slots", DEFAULT_SLOTS, 1, 1000, usage),
    python: flags.has("python"),
    expose: flags.has("expose"),
    ...(typeof name === "string" ? { name } : {}),
    ...(typeof namespace === "string" ? { namespace } : {}),
  };
  const text = kind === "compose" ? composeFile(options) : k8sManifests(options);
  const output = flags.get("output");
  if (typeof output === "string") {
    const file = resolve(ctx.cwd, output);
    writeFileSync(file, text);
    ctx.err(`sluice cluster: wrote ${file}\n`);
  } else {
    ctx.out(text);
  }
  return EXIT.OK;
}

export const clusterCommand: Command = commandGroup({
  ...CLUSTER_INFO,
  help: clusterHelp,
  subcommands: {
    up,
    down,
    status,
    logs,
    scale,
    compose: (args, ctx) => emit("compose", args, ctx),
    k8s: (args, ctx) => emit("k8s", args, ctx),
  },
});

function clusterHelp(ctx: CliContext): string {
  const p = DEFAULT_PORTS;
  return [
    `sluice ${ctx.version}`,
    "",
    "Usage: sluice cluster <subcommand> [options]",
    "",
    "The seed's stack on this machine, without Docker, as processes this command supervises: a Flink",
    "session cluster (JobManager + N TaskManagers), Beam's Flink job server pointed at it, the Sluice",
    "worker pool, with --python Beam's Python worker pool, and with --kafka an Apache Kafka broker",
    "(`sluice kafka topics|produce|consume` try it by hand). Versions are pinned in versions.json",
    "and checked against each other; first use downloads Flink and the Python SDK into the cache.",
    "",
    "Subcommands:",
    "  up        start the cluster; waits until every component is ready, then supervises it",
    "            (Ctrl-C stops it; --detach leaves it running in the background)",
    `              --taskmanagers N   TaskManagers (default ${DEFAULT_TASKMANAGERS})`,
    `              --slots S          slots per TaskManager (default ${DEFAULT_SLOTS})`,
    `              --python           also Beam's Python worker pool on ${p.pythonPool}, with a managed interpreter`,
    `              --kafka            also an Apache Kafka broker (KRaft, one node) on ${DEFAULT_KAFKA_PORTS.broker}, controller ${DEFAULT_KAFKA_PORTS.controller}`,
    "              --flink-version X  check the Flink version (only the pinned one is available)",
    "              --detach           return once ready; the supervisor keeps running in the background",
    "              --expose           listen on all interfaces instead of 127.0.0.1 (warns)",
    "              --web-submit       allow jar uploads in Flink's dashboard (off by default)",
    `              --rest-port ${p.flinkRest}  --rpc-port ${p.flinkRpc}  --job-port ${p.jobServer}  --artifact-port ${p.artifacts}`,
    `              --expansion-port ${p.expansion}  --pool-port ${p.sluicePool}  --python-port ${p.pythonPool}`,
    `              --kafka-port ${DEFAULT_KAFKA_PORTS.broker}  --kafka-controller-port ${DEFAULT_KAFKA_PORTS.controller}`,
    "  down      stop everything, reverse order, graceful then forced (also cleans a stale state)",
    "  status    each component's state, pid, ports, version and log (--json for scripts)",
    "  logs      [component] [-f] [--lines N]: component logs (jobmanager, taskmanager-1, jobserver, kafka, …)",
    "  scale N   run N TaskManagers",
    "  compose   write a docker-compose file for the same stack (--output FILE, --taskmanagers, --python)",
    "  k8s       write Flink Kubernetes Operator manifests for the same stack (--output FILE, --name, --namespace)",
    "",
    `State (pids, config, logs, artifacts): ${stateDir(ctx.env)}   (SLUICE_STATE_DIR overrides)`,
    `Downloads: ${cacheDir(ctx.env)}   (SLUICE_CACHE_DIR overrides)`,
    "",
    "Example:",
    "  sluice cluster up --python --detach",
    "  sluice run examples/seed.ts --runner=flink",
    "  sluice jobs list",
    "  sluice cluster down",
    "",
  ].join("\n");
}

