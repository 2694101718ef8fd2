/**
 * The cluster supervisor: starts the seed's stack as local processes, in dependency order, each
 * checked ready before the next starts (a JobManager whose REST overview answers; N TaskManagers
 * registered with free slots; a job server answering a real Job API call; worker pools answering a
 * real worker-pool call; with --kafka, a KRaft broker answering Kafka's ApiVersions and Metadata
 * requests); restarts a component that dies while the cluster runs (a killed
 * TaskManager comes back, and Flink's restart strategy retries the job); scales TaskManagers; and
 * stops everything in reverse order, SIGTERM then SIGKILL, down to the last process and port.
 *
 * If a component dies or is not ready in time during `up`, the error names it with its log tail
 * and everything already started is stopped.
 */
import { closeSync, existsSync, mkdirSync, openSync, readSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SluiceError } from "../internal/errors.js";
import { createClient } from "../model/grpc.js";
import { FnApi, JobApi } from "../model/protos.js";
import { beamJarsForFlink, flinkJobServerClasspath, JOB_SERVER_MAIN } from "../runners/portable/flink.js";
import { projectRoot } from "../runners/portable/services.js";
import { type ClusterPorts, PORT_NAMES } from "./defaults.js";
import { type FlinkOverview, flinkRestCall, jobManagerLaunch, resourceParams, taskManagerLaunch, writeFlinkConf } from "./flink.js";
import { checkPortsFree } from "./ports.js";
import {
  DEFAULT_KAFKA_PORTS,
  formatKafkaStorage,
  KAFKA_PORT_FLAGS,
  KAFKA_PORT_NAMES,
  kafkaBrokerAnswers,
  kafkaClasspath,
  kafkaClasspathFile,
  kafkaPaths,
  type KafkaPorts,
  kafkaServerLaunch,
  kafkaServerProperties,
} from "./kafka.js";
import { isAlive, type ProcessIdentity, processStartTime, sleep, spawnComponent, stopGroup } from "../internal/process.js";
import { ensureFlink, ensurePythonSdk } from "./provision.js";
import { type ClusterPhase, type ComponentKind, type ComponentPhase, type ComponentState, type KafkaState, removeState, writeState } from "./state.js";
import type { StackVersions } from "./versions.js";

export interface UpOptions {
  readonly stateDir: string;
  readonly cacheDir: string;
  readonly versions: StackVersions;
  readonly taskmanagers: number;
  readonly slots: number;
  readonly python: boolean;
  /** Bind every listener on all interfaces instead of 127.0.0.1. */
  readonly expose: boolean;
  /** Allow jar uploads through Flink's dashboard. */
  readonly webSubmit: boolean;
  readonly ports: ClusterPorts;
  /** Also run a Kafka broker (KRaft, one node) on these ports. */
  readonly kafka?: { readonly ports: KafkaPorts } | undefined;
  /** Progress lines for the user. */
  readonly log: (line: string) => void;
  /** Aborts `up` (Ctrl-C): whatever started is stopped. */
  readonly signal?: AbortSignal;
}

interface Component {
  readonly name: string;
  readonly kind: ComponentKind;
  readonly version: string;
  readonly ports: Readonly<Record<string, number>>;
  readonly log: string;
  /** Starts the process (again). */
  readonly start: () => ProcessIdentity;
  /** Resolves once the component serves; polled until its deadline. */
  readonly ready: () => Promise<boolean>;
  readonly readyTimeoutMs: number;
  identity: ProcessIdentity;
  phase: ComponentPhase;
  restarts: number;
  exited: string | undefined;
}

/** Between readiness probes: cheap calls (a refused connection until the port opens), so `up` notices each component within 100 ms. */
const READY_POLL_MS = 100;

export class ClusterSupervisor {
  private readonly components: Component[] = [];
  private phase: ClusterPhase = "starting";
  private stopping: Promise<void> | undefined;
  private flinkHome = "";
  private pythonExecutable: string | undefined;
  private kafka: KafkaState | undefined;
  private tmParams: Awaited<ReturnType<typeof resourceParams>> | undefined;
  /** Beam's runner jars on the JobManager's and TaskManagers' classpath: jobs upload none. */
  private beamJars: string[] = [];
  private taskmanagers: number;
  private readonly startedAt = new Date().toISOString();
  private readonly bindHost: string;
  private readonly stoppedListeners: (() => void)[] = [];
  /** Set once stopAll has removed the state file: nothing writes it again. */
  private removed = false;
  /** Components in the order they were stopped (for `down`'s report). */
  readonly stopOrder: string[] = [];

  private constructor(private readonly o: UpOptions) {
    this.taskmanagers = o.taskmanagers;
    this.bindHost = o.expose ? "0.0.0.0" : "127.0.0.1";
  }

  /** Provisions, starts and checks every component; on failure stops what started and throws. */
  static async up(options: UpOptions): Promise<ClusterSupervisor> {
    const s = new ClusterSupervisor(options);
    try {
      await s.startAll();
    } catch (err) {
      s.phase = "failed";
      await s.stopAll();
      throw err;
    }
    s.phase = "ready";
    s.save();
    void s.warmUp();
    return s;
  }

  /**
   * A small job through the job server, the JobManager and a TaskManager, in the background once
   * the cluster is ready, so that the user's first job does not pay for cold JVMs (about 9 s of the
   * seed's first job on 2 cores, against about 2.5 s warm; runners/portable/warmup.ts). Its
   * outcome goes to the supervisor's log only: a failure here is not the cluster's.
   */
  private async warmUp(): Promise<void> {
    const started = Date.now();
    try {
      const { warmUpJobServer, WARM_UP_JOB_NAME } = await import("../runners/portable/warmup.js");
      await warmUpJobServer(`127.0.0.1:${this.o.ports.jobServer}`, join(this.o.stateDir, "warm-up"));
      if (!this.stopping) this.o.log(`warmed up with a small job (${WARM_UP_JOB_NAME}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    } catch (err) {
      if (!this.stopping) this.o.log(`the warm-up job failed (the cluster runs jobs regardless): ${(err as Error).message.split("\n")[0] ?? ""}`);
    }
  }

  /** Resolves when the cluster has been stopped (by `down`, a signal or a fatal failure). */
  whenStopped(): Promise<void> {
    return new Promise((r) => this.stoppedListeners.push(r));
  }

  get logsDir(): string {
    return join(this.o.stateDir, "logs");
  }

  private checkAborted(): void {
    if (this.o.signal?.aborted) throw new SluiceError("CANCELLED", "sluice cluster up was interrupted; stopping what it started");
  }

  private async startAll(): Promise<void> {
    const { o } = this;
    const v = o.versions;
    mkdirSync(this.logsDir, { recursive: true });
    const artifactsDir = join(o.stateDir, "artifacts");
    mkdirSync(artifactsDir, { recursive: true });

    const wanted: { port: number; name: string; flag: string }[] = [
      { port: o.ports.flinkRest, name: PORT_NAMES.flinkRest, flag: "--rest-port" },
      { port: o.ports.flinkRpc, name: PORT_NAMES.flinkRpc, flag: "--rpc-port" },
      { port: o.ports.jobServer, name: PORT_NAMES.jobServer, flag: "--job-port" },
      { port: o.ports.artifacts, name: PORT_NAMES.artifacts, flag: "--artifact-port" },
      { port: o.ports.expansion, name: PORT_NAMES.expansion, flag: "--expansion-port" },
      { port: o.ports.sluicePool, name: PORT_NAMES.sluicePool, flag: "--pool-port" },
      ...(o.python ? [{ port: o.ports.pythonPool, name: PORT_NAMES.pythonPool, flag: "--python-port" }] : []),
      ...(Object.keys(DEFAULT_KAFKA_PORTS) as (keyof KafkaPorts)[]).flatMap((k) => (o.kafka ? [{ port: o.kafka.ports[k], name: KAFKA_PORT_NAMES[k], flag: KAFKA_PORT_FLAGS[k] }] : [])),
    ];
    await checkPortsFree(wanted);

    // Downloads first (cached after the first time), so the clock for readiness starts after them.
    const flink = await ensureFlink(o.cacheDir, v.flink, o.log, o.signal);
    this.flinkHome = flink.home;
    this.checkAborted();
    const classpath = await flinkJobServerClasspath({ beam: v.jobServer.beam, flink: v.jobServer.flinkMinor }, o.log);
    const flinkJar = `flink-runtime-${v.flink}.jar`;
    if (!classpath.split(":").some((p) => p.endsWith(`/${flinkJar}`))) {
      throw new SluiceError("FAILED_PRECONDITION", `Beam ${v.jobServer.beam}'s Flink job server does not carry ${flinkJar}: its Flink client would not match the cluster's Flink ${v.flink}`, {
        hint: "Pin in versions.json the Flink release the job server artifact is built against (see the job server classpath in the tool cache, ~/.cache/sluice/tools/).",
      });
    }
    // Beam's runner on Flink's classpath: the job server then uploads no jars with a job (it
    // would otherwise send its whole classpath, ~160 MB, to the blob server each time, and each
    // TaskManager would download it and load Beam's classes afresh for every job).
    this.beamJars = beamJarsForFlink(classpath);
    this.checkAborted();
    if (o.python) {
      const sdk = await ensurePythonSdk(o.cacheDir, v.pythonSdk, o.log, o.signal);
      this.pythonExecutable = sdk.python;
      this.checkAborted();
    }
    // Kafka first: it starts while Flink does, and is waited for at the end.
    const kafka = o.kafka ? await this.startKafka(o.kafka.ports) : undefined;

    const confDir = join(o.stateDir, "conf");
    writeFlinkConf({
      home: flink.home,
      confDir,
      workDir: join(o.stateDir, "flink-tmp"),
      ports: o.ports,
      slots: o.slots,
      bindHost: this.bindHost,
      webSubmit: o.webSubmit,
    });

    // JobManager.
    const jm = await jobManagerLaunch(flink.home, confDir, this.beamJars);
    await this.startComponent({
      name: "jobmanager",
      kind: "jobmanager",
      version: `Flink ${v.flink}`,
      ports: { rest: o.ports.flinkRest, rpc: o.ports.flinkRpc },
      launch: jm,
      readyTimeoutMs: 90_000,
      ready: async () => (await this.overview()) !== undefined,
    });

    // TaskManagers.
    this.tmParams = await resourceParams(flink.home, confDir, "TM");
    await Promise.all(Array.from({ length: o.taskmanagers }, (_, i) => this.startTaskManager(i + 1)));
    await this.waitFor("the TaskManagers", 90_000, async () => {
      const ov = await this.overview();
      return ov !== undefined && ov.taskmanagers >= this.taskmanagers && ov["slots-total"] >= this.taskmanagers * o.slots;
    }, () => this.components.filter((c) => c.kind === "taskmanager"));

    // Beam's job server, submitting to the cluster, staging into the shared artifacts directory.
    const jobServerPort = o.ports.jobServer;
    await this.startComponent({
      name: "jobserver",
      kind: "jobserver",
      version: `Beam ${v.jobServer.beam} Flink ${v.jobServer.flinkMinor} job server`,
      ports: { job: jobServerPort, artifacts: o.ports.artifacts, expansion: o.ports.expansion },
      launch: {
        command: "java",
        args: [
          // Timestamps in its log, to line up with Flink's.
          "-Dorg.slf4j.simpleLogger.showDateTime=true",
          "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd HH:mm:ss,SSS",
          "-cp",
          classpath,
          JOB_SERVER_MAIN,
          `--job-host=${o.expose ? "0.0.0.0" : "127.0.0.1"}`,
          `--job-port=${jobServerPort}`,
          `--artifact-port=${o.ports.artifacts}`,
          `--expansion-port=${o.ports.expansion}`,
          `--flink-master=127.0.0.1:${o.ports.flinkRest}`,
          `--artifacts-dir=${artifactsDir}`,
          "--clean-artifacts-per-job=true",
          // The cluster has Beam's jars (above): jobs to it ship none (our driver's flag).
          "--files-to-stage=none",
        ],
        env: process.env,
      },
      readyTimeoutMs: 120_000,
      ready: () => jobApiAnswers(jobServerPort),
    });

    // The Sluice worker pool (EXTERNAL environments of TypeScript pipelines).
    await this.startComponent({
      name: "sluice-pool",
      kind: "sluice-pool",
      version: `Sluice (Beam ${v.beam} protocol)`,
      ports: { pool: o.ports.sluicePool },
      launch: {
        command: process.execPath,
        args: [join(projectRoot, "bin", "sluice.js"), "worker-pool", "--host", this.bindHost, "--port", String(o.ports.sluicePool)],
        env: process.env,
      },
      readyTimeoutMs: 30_000,
      ready: () => workerPoolAnswers(o.ports.sluicePool),
    });

    if (o.python && this.pythonExecutable) {
      const bin = join(this.pythonExecutable, "..");
      await this.startComponent({
        name: "python-pool",
        kind: "python-pool",
        version: `apache-beam ${v.pythonSdk} (Python)`,
        ports: { pool: o.ports.pythonPool },
        launch: {
          command: this.pythonExecutable,
          args: [join(projectRoot, "src", "cluster", "python", "worker_pool.py"), "--host", this.bindHost, "--port", String(o.ports.pythonPool)],
          // Workers are this interpreter's children; the venv first on PATH for anything they start.
          env: { ...process.env, PATH: `${bin}:${process.env["PATH"] ?? ""}`, VIRTUAL_ENV: join(bin, "..") },
        },
        readyTimeoutMs: 60_000,
        ready: () => workerPoolAnswers(o.ports.pythonPool),
      });
    }

    if (kafka) await this.waitFor(kafka.name, kafka.readyTimeoutMs, kafka.ready, () => [kafka]);
  }

  /**
   * Kafka: its classpath (Maven, once), server.properties, the KRaft storage formatted on first
   * start, then the broker launched; not waited for here (the caller waits once the rest is up).
   */
  private async startKafka(ports: KafkaPorts): Promise<Component> {
    const { o } = this;
    const version = o.versions.kafka;
    if (version === undefined) {
      throw new SluiceError("FAILED_PRECONDITION", "versions.json pins no Kafka version, so `--kafka` cannot start a broker", { hint: 'Add "kafka": "4.1.1" (an Apache Kafka release on Maven Central) to versions.json.' });
    }
    const classpath = await kafkaClasspath(version, o.log);
    this.checkAborted();
    const paths = kafkaPaths(o.stateDir);
    mkdirSync(paths.dir, { recursive: true });
    writeFileSync(paths.config, kafkaServerProperties({ ports, bindHost: this.bindHost, dataDir: paths.dataDir }));
    const log = join(this.logsDir, "kafka.log");
    if (await formatKafkaStorage(classpath, paths.config, paths.dataDir, log)) o.log(`formatted Kafka's KRaft storage in ${paths.dataDir}`);
    this.checkAborted();
    this.kafka = {
      version,
      bootstrapServers: `127.0.0.1:${ports.broker}`,
      ports: { broker: ports.broker, controller: ports.controller },
      config: paths.config,
      dataDir: paths.dataDir,
      classpathFile: kafkaClasspathFile(version),
    };
    await this.startComponent(
      {
        name: "kafka",
        kind: "kafka",
        version: `Apache Kafka ${version} KRaft broker`,
        ports: { broker: ports.broker, controller: ports.controller },
        launch: { ...kafkaServerLaunch(classpath, paths.config), env: process.env },
        readyTimeoutMs: 120_000,
        ready: () => kafkaBrokerAnswers(ports.broker),
      },
      false,
    );
    return this.components[this.components.length - 1] as Component;
  }

  private async startTaskManager(index: number): Promise<void> {
    const params = this.tmParams;
    if (!params) throw new SluiceError("INTERNAL", "TaskManager memory parameters not computed");
    const name = `taskmanager-${index}`;
    const launch = taskManagerLaunch(this.flinkHome, join(this.o.stateDir, "conf"), params, name, this.beamJars);
    await this.startComponent(
      {
        name,
        kind: "taskmanager",
        version: `Flink ${this.o.versions.flink}`,
        ports: {},
        launch,
        readyTimeoutMs: 90_000,
        ready: async () => {
          const tms = await this.flinkJson<{ taskmanagers: { id: string }[] }>("/taskmanagers");
          return tms?.taskmanagers.some((t) => t.id === name) ?? false;
        },
      },
      false,
    );
  }

  private async startComponent(
    spec: {
      name: string;
      kind: ComponentKind;
      version: string;
      ports: Readonly<Record<string, number>>;
      launch: { command: string; args: string[]; env: NodeJS.ProcessEnv };
      readyTimeoutMs: number;
      ready: () => Promise<boolean>;
    },
    wait = true,
  ): Promise<void> {
    this.checkAborted();
    if (this.stopping) throw new SluiceError("CANCELLED", `the cluster is stopping: ${spec.name} was not started`);
    const log = join(this.logsDir, `${spec.name}.log`);
    const c: Component = {
      name: spec.name,
      kind: spec.kind,
      version: spec.version,
      ports: spec.ports,
      log,
      readyTimeoutMs: spec.readyTimeoutMs,
      ready: spec.ready,
      identity: { pid: 0, startTime: 0 },
      phase: "starting",
      restarts: 0,
      exited: undefined,
      start: () => {
        const { child, identity } = spawnComponent(spec.launch.command, spec.launch.args, { env: spec.launch.env, cwd: this.o.stateDir, logFile: log });
        child.once("exit", (code, sig) => {
          const how = sig ? `was killed by ${sig}` : `exited with code ${code}`;
          if (c.identity.pid === identity.pid) this.onExit(c, how);
        });
        child.once("error", (err) => {
          if (c.identity.pid === identity.pid) this.onExit(c, `could not start: ${err.message}`);
        });
        return identity;
      },
    };
    this.components.push(c);
    this.o.log(`starting ${c.name} (${c.version})`);
    c.identity = c.start();
    this.save();
    if (wait) await this.waitFor(c.name, c.readyTimeoutMs, c.ready, () => [c]);
    else void this.waitFor(c.name, c.readyTimeoutMs, c.ready, () => [c]).catch(() => undefined);
  }

  /** Polls `ready` until it holds; fails naming what it waited for, with the components' log tails. */
  private async waitFor(what: string, timeoutMs: number, ready: () => Promise<boolean>, involved: () => Component[]): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.checkAborted();
      // During up, any component dying fails up (not only the one waited for).
      const watched = this.phase === "ready" ? involved() : [...new Set([...involved(), ...this.components])];
      for (const c of watched) {
        if (c.exited !== undefined && (c.phase === "starting" || c.phase === "failed")) {
          throw new SluiceError("UNAVAILABLE", `${c.name} (${c.version}) ${c.exited} before it was ready${logTail(c.log)}`, {
            hint: `Its whole log: ${c.log}. Check \`sluice doctor\` for Java, ports and versions.`,
          });
        }
      }
      let ok = false;
      try {
        ok = await ready();
      } catch {
        ok = false;
      }
      if (ok) {
        for (const c of involved()) {
          if (c.phase === "starting") {
            c.phase = "running";
            this.o.log(`${c.name} is ready${Object.keys(c.ports).length ? ` (${Object.entries(c.ports).map(([k, p]) => `${k} ${p}`).join(", ")})` : ""}`);
          }
        }
        this.save();
        return;
      }
      if (Date.now() > deadline) {
        const tails = involved().map((c) => `${logTail(c.log, `${c.name} log`)}`).join("");
        throw new SluiceError("DEADLINE_EXCEEDED", `${what} did not become ready within ${Math.round(timeoutMs / 1000)} s${tails}`, {
          hint: `See the logs in ${this.logsDir}. Check \`sluice doctor\`; a slow machine may need a second try.`,
        });
      }
      await sleep(READY_POLL_MS);
    }
  }

  private onExit(c: Component, how: string): void {
    c.exited = how;
    if (this.stopping || c.phase === "stopping" || c.phase === "stopped") return;
    if (this.phase !== "ready") {
      c.phase = "failed";
      this.save();
      return; // waitFor reports it, and up stops the rest.
    }
    // While the cluster runs: bring it back (a TaskManager killed mid-job rejoins, and Flink's
    // restart strategy retries the job on it).
    c.restarts++;
    if (c.restarts > 10) {
      c.phase = "failed";
      this.o.log(`${c.name} ${how}; it failed ${c.restarts} times, not restarting it. Log: ${c.log}`);
      this.save();
      return;
    }
    c.phase = "restarting";
    this.o.log(`${c.name} ${how}; restarting it (restart ${c.restarts})`);
    this.save();
    setTimeout(() => {
      if (this.stopping || c.phase !== "restarting") return;
      c.exited = undefined;
      c.identity = c.start();
      c.phase = "starting";
      this.save();
      void this.waitFor(c.name, c.readyTimeoutMs, c.ready, () => [c]).catch((err) => {
        // Not ready in time (or died again): stop it; its exit brings the next restart.
        this.o.log(`${c.name}: ${(err as Error).message}`);
        if (!this.stopping && c.phase === "starting") void stopGroup(c.identity, 5000);
      });
    }, Math.min(1000 * c.restarts, 5000));
  }

  /** Starts or stops TaskManagers until there are `n`; resolves when the cluster shows them. */
  async scale(n: number): Promise<void> {
    if (!Number.isInteger(n) || n < 1) throw new SluiceError("INVALID_ARGUMENT", `cannot scale to ${n} TaskManagers: give a whole number of at least 1`);
    if (this.stopping || this.phase !== "ready") throw new SluiceError("FAILED_PRECONDITION", `the cluster is ${this.stopping ? "stopping" : "not ready yet"}: cannot scale it now`);
    const tms = this.components.filter((c) => c.kind === "taskmanager" && c.phase !== "stopped");
    if (n > tms.length) {
      const next = Math.max(0, ...this.components.filter((c) => c.kind === "taskmanager").map((c) => Number(c.name.split("-")[1]))) + 1;
      this.taskmanagers = n;
      await Promise.all(Array.from({ length: n - tms.length }, (_, i) => this.startTaskManager(next + i)));
    } else if (n < tms.length) {
      const remove = tms.slice(n);
      this.taskmanagers = n;
      await Promise.all(remove.map((c) => this.stopComponent(c)));
      for (const c of remove) {
        const i = this.components.indexOf(c);
        if (i >= 0) this.components.splice(i, 1);
      }
    }
    const slots = this.o.slots;
    await this.waitFor(`${n} TaskManagers`, 90_000, async () => {
      const ov = await this.overview();
      return ov !== undefined && ov.taskmanagers === n && ov["slots-total"] === n * slots;
    }, () => this.components.filter((c) => c.kind === "taskmanager" && c.phase === "starting"));
    this.save();
  }

  /** Stops every component in reverse order of start; idempotent. */
  stopAll(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.phase === "ready") this.phase = "stopping";
      this.stopOrder.length = 0;
      this.save();
      // Kafka last: it started first, and jobs read it until their TaskManagers are gone.
      const order: ComponentKind[][] = [["python-pool", "sluice-pool"], ["jobserver"], ["taskmanager"], ["jobmanager"], ["kafka"]];
      for (const kinds of order) {
        await Promise.all(this.components.filter((c) => kinds.includes(c.kind)).map((c) => this.stopComponent(c)));
      }
      this.removed = true;
      removeState(this.o.stateDir);
      for (const l of this.stoppedListeners) l();
    })();
    return this.stopping;
  }

  private async stopComponent(c: Component): Promise<void> {
    if (c.phase === "stopped") return;
    c.phase = "stopping";
    const how = await stopGroup(c.identity, c.kind === "jobserver" || c.kind === "jobmanager" || c.kind === "taskmanager" || c.kind === "kafka" ? 15_000 : 8_000);
    c.phase = "stopped";
    this.stopOrder.push(c.name);
    if (how !== "gone") this.o.log(`${c.name} ${how === "stopped" ? "stopped" : "did not stop within its grace period: killed"}`);
  }

  /** The state file's view of this cluster. */
  save(): void {
    if (this.removed) return;
    const o = this.o;
    const components: ComponentState[] = this.components.map((c) => ({
      name: c.name,
      kind: c.kind,
      pid: c.identity.pid,
      startTime: c.identity.startTime,
      state: c.phase,
      ports: c.ports,
      version: c.version,
      log: c.log,
      restarts: c.restarts,
    }));
    writeState(o.stateDir, {
      supervisor: { pid: process.pid, startTime: processStartTime(process.pid) ?? 0 },
      phase: this.phase,
      startedAt: this.startedAt,
      stateDir: o.stateDir,
      bindHost: this.bindHost,
      ports: o.ports,
      taskmanagers: this.taskmanagers,
      slots: o.slots,
      python: o.python,
      versions: o.versions,
      flinkHome: this.flinkHome,
      artifactsDir: join(o.stateDir, "artifacts"),
      ...(this.pythonExecutable ? { pythonExecutable: this.pythonExecutable } : {}),
      ...(this.kafka ? { kafka: this.kafka } : {}),
      components,
    });
  }

  /** Pids of every live component (for tests and `down`'s final check). */
  livePids(): number[] {
    return this.components.filter((c) => isAlive(c.identity)).map((c) => c.identity.pid);
  }

  private overview(): Promise<FlinkOverview | undefined> {
    return this.flinkJson<FlinkOverview>("/overview");
  }

  private async flinkJson<T>(path: string): Promise<T | undefined> {
    try {
      return (await flinkRestCall(`127.0.0.1:${this.o.ports.flinkRest}`, path, { timeoutMs: 5000 })).body as T;
    } catch {
      return undefined;
    }
  }
}

/** A real Job API call (GetJobs) to the job server answers. */
export async function jobApiAnswers(port: number): Promise<boolean> {
  const client = createClient(JobApi.JobService, `127.0.0.1:${port}`, { label: "the Beam job server", unaryTimeoutMs: 3000 });
  try {
    await client.getJobs({});
    return true;
  } catch {
    return false;
  } finally {
    client.close();
  }
}

/** A real worker-pool call (StopWorker of a worker that does not exist: a no-op) answers. */
export async function workerPoolAnswers(port: number): Promise<boolean> {
  const client = createClient(FnApi.BeamFnExternalWorkerPool, `127.0.0.1:${port}`, { label: "a worker pool", unaryTimeoutMs: 3000 });
  try {
    await client.stopWorker({ workerId: "sluice-readiness-probe" });
    return true;
  } catch {
    return false;
  } finally {
    client.close();
  }
}

/** The last `lines` lines of a log file (reading at most its last 16 KB), "" when it has none. */
export function lastLines(file: string, lines: number): string {
  if (!existsSync(file)) return "";
  const size = statSync(file).size;
  const len = Math.min(size, 16_384);
  const buf = Buffer.alloc(len);
  const fd = openSync(file, "r");
  try {
    readSync(fd, buf, 0, len, size - len);
  } finally {
    closeSync(fd);
  }
  const text = buf.toString("utf8").trim();
  return text ? text.split("\n").slice(-lines).join("\n") : "";
}

/** The last lines of a log file, formatted for an error message. */
export function logTail(file: string, title = "log", lines = 25): string {
  const text = lastLines(file, lines);
  return text ? `\n--- ${title} (last lines of ${file}) ---\n${text}` : "";
}
