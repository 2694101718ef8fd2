/**
 * `sluice doctor`: whether this machine can run `sluice cluster` (with --kafka too) and the Flink runner, and what to
 * do about each problem. Two halves: `gatherFacts` probes the machine (runs `java -version`,
 * `mvn -v`, `python3 --version`, reads /proc for port holders, statfs for disk space), and pure
 * check functions turn those facts into one result line each (ok, info, warn or fail, with a fix
 * for every problem), so tests can feed them any facts.
 */
import { execFile } from "node:child_process";
import { constants, existsSync, statSync } from "node:fs";
import { access, statfs } from "node:fs/promises";
import { dirname, join } from "node:path";
import { cachedClasspath, flinkJobServerDir } from "../runners/portable/flink.js";
import { prismInstalled, prismPath } from "../runners/portable/prism.js";
import { projectRoot } from "../runners/portable/services.js";
import { DEFAULT_PORTS, PORT_NAMES, type ClusterPorts } from "./defaults.js";
import { cacheDir, stateDir, toolDir } from "../internal/dirs.js";
import { describeHolder, portHolders, type PortHolder } from "./ports.js";
import { cachedKafkaClasspath, DEFAULT_KAFKA_PORTS, KAFKA_PORT_FLAGS, KAFKA_PORT_NAMES, kafkaToolDir, type KafkaPorts } from "./kafka.js";
import { liveCluster } from "./state.js";
import { findOnPath } from "../internal/process.js";
import { readStackVersions, versionProblems, type StackVersions } from "./versions.js";

type Env = Readonly<Record<string, string | undefined>>;

/** ok: fine; info: worth knowing, nothing to do; warn: works, but better fixed; fail: blocks. */
export type CheckStatus = "ok" | "info" | "warn" | "fail";

/** One line of the doctor's report. */
export interface CheckResult {
  /** Short name: "java", "maven", "ports", … */
  readonly check: string;
  readonly status: CheckStatus;
  /** What was found. */
  readonly detail: string;
  /** What to do about it (every warn and fail has one). */
  readonly fix?: string | undefined;
}

/** What running a program gave: not found on PATH, or its exit code and output (stdout + stderr). */
export type CommandProbe =
  | { readonly found: false }
  | { readonly found: true; readonly exitCode: number; readonly output: string };

/** Whether a directory exists and can be written (or created, when it does not exist yet). */
export interface DirProbe {
  readonly path: string;
  readonly exists: boolean;
  readonly writable: boolean;
  /** Why it is not writable (e.g. "EACCES on /root/.cache"). */
  readonly reason?: string | undefined;
}

/** A default port and who holds it (undefined: free). */
export interface PortProbe {
  readonly key: keyof ClusterPorts;
  readonly port: number;
  readonly name: string;
  readonly holder?: PortHolder | undefined;
}

/** Everything the checks look at, gathered by `gatherFacts` (or made up by tests). */
export interface DoctorFacts {
  /** `java -version` (java from PATH). */
  readonly java: CommandProbe;
  /** Where java is on PATH. */
  readonly javaPath?: string | undefined;
  /** $JAVA_HOME, and `$JAVA_HOME/bin/java -version` when it is set. */
  readonly javaHome?: string | undefined;
  readonly javaHomeJava?: CommandProbe | undefined;
  /** `mvn -v`. */
  readonly maven: CommandProbe;
  /** Whether Beam's Flink job server is already resolved (so Maven is not needed again), and where. */
  readonly jobServer: { readonly resolved: boolean; readonly dir: string };
  /** `python3 --version`. */
  readonly python: CommandProbe;
  /** `python3 -c "import venv, ensurepip"`. */
  readonly venv: CommandProbe;
  /** Where setpriv is on PATH, undefined when it is not. */
  readonly setpriv: string | undefined;
  /** `go version`, and whether Prism is built (in the tool cache). */
  readonly go: CommandProbe;
  readonly prismInstalled: boolean;
  /** The cluster's default ports and their holders. */
  readonly ports: readonly PortProbe[];
  /** Pids of the running sluice cluster's components (their ports are in use as they should be). */
  readonly clusterPids?: ReadonlySet<number> | undefined;
  /** versions.json: the pins, or why they could not be read. */
  readonly versions: { readonly file: string; readonly value?: StackVersions | undefined; readonly error?: string | undefined };
  readonly stateDir: DirProbe;
  readonly cacheDir: DirProbe;
  /** Bytes free for this user on the cache directory's file system (undefined: unknown). */
  readonly cacheFreeBytes: number | undefined;
  /** Which downloads are already in the cache. */
  readonly cached: { readonly flink: boolean; readonly pythonSdk: boolean };
  /** Kafka for `cluster up --kafka` (when versions.json pins it): resolved or not, and its default ports' holders. */
  readonly kafka?: KafkaFacts | undefined;
}

/** What the Kafka check looks at. */
export interface KafkaFacts {
  readonly version: string;
  /** Whether its classpath is resolved and every jar on it still there. */
  readonly resolved: boolean;
  /** The tool cache folder holding classpath.txt. */
  readonly dir: string;
  /** Its default ports and their holders (undefined: free). */
  readonly ports: readonly { readonly key: keyof KafkaPorts; readonly port: number; readonly holder?: PortHolder | undefined }[];
}

const GiB = 1024 ** 3;
const MB = 1000 ** 2;
/** Below this much free space in the cache directory, warn. */
export const LOW_DISK_BYTES = 2 * GiB;
/** Rough download sizes of a first `sluice cluster up`. */
export const DOWNLOAD_SIZES = { flink: 260 * MB, pythonSdk: 500 * MB, jobServer: 160 * MB, kafka: 56 * MB } as const;
/** The oldest Java that runs Flink 1.19 and Beam's job server, and the recommended one. */
export const JAVA_MIN = 11;
export const JAVA_RECOMMENDED = 17;
/**
 * Python minors each apache-beam release publishes wheels for, by Beam minor. Beam 2.62 supports
 * 3.9–3.12; add a row when versions.json's pythonSdk moves.
 */
export const PYTHON_SUPPORT: Readonly<Record<string, readonly [number, number]>> = { "2.62": [9, 12] };
/** The Go that builds Prism at Beam 2.73+ (`npm run install:prism`). */
export const PRISM_GO_MIN = "1.26.1";

// ---------------------------------------------------------------------------------------------
// Checks: pure functions of facts.

/** All checks, in report order. */
export function doctorChecks(f: DoctorFacts): CheckResult[] {
  const v = f.versions.value;
  return [
    checkJava(f.java, f.javaPath),
    checkJavaHome(f.javaHome, f.javaHomeJava),
    checkMaven(f.maven, f.jobServer, v),
    checkPython(f.python, v?.pythonSdk),
    checkVenv(f.venv, f.python.found),
    checkSetpriv(f.setpriv),
    checkGo(f.go, f.prismInstalled, v?.beam),
    checkPorts(f.ports, [f.stateDir.path, f.cacheDir.path], f.clusterPids),
    checkVersions(f.versions),
    checkDirectory("state dir", f.stateDir, "SLUICE_STATE_DIR (or XDG_STATE_HOME)"),
    checkDirectory("cache dir", f.cacheDir, "SLUICE_CACHE_DIR (or XDG_CACHE_HOME)"),
    checkDisk(f.cacheDir.path, f.cacheFreeBytes),
    checkCached(f.cacheDir.path, f.cached, f.jobServer.resolved, v),
    ...(f.kafka === undefined ? [] : [checkKafka(f.kafka, f.clusterPids)]),
  ];
}

/**
 * Kafka (only `cluster up --kafka` needs it): information, never a problem — whether its jars are
 * resolved, and whether its default ports are free (another Kafka on 9092 is common; --kafka-port
 * picks another).
 */
export function checkKafka(k: KafkaFacts, clusterPids: ReadonlySet<number> = new Set()): CheckResult {
  const what = `Apache Kafka ${k.version} (org.apache.kafka:kafka_2.13, for \`sluice cluster up --kafka\`)`;
  const cache = k.resolved ? `resolved (${k.dir})` : `not resolved yet: the first \`cluster up --kafka\` resolves it with Maven (~${Math.round(DOWNLOAD_SIZES.kafka / MB)} MB)`;
  const held = k.ports.filter((p) => p.holder !== undefined);
  const ports =
    held.length === 0
      ? `ports ${k.ports.map((p) => p.port).join(", ")} free`
      : held
          .map((p) => {
            const h = p.holder as PortHolder;
            const ours = h.pid !== undefined && clusterPids.has(h.pid);
            return `${p.port} (${KAFKA_PORT_NAMES[p.key]}) ${describeHolder(h)}${ours ? " [the sluice cluster's broker]" : ` (${KAFKA_PORT_FLAGS[p.key]} picks another)`}`;
          })
          .join("; ");
  return { check: "kafka", status: "info", detail: `${what}: ${cache}; ${ports}` };
}

/** The Java major version in `java -version` output ("1.8.0_292" → 8, "17.0.15" → 17). */
export function parseJavaMajor(output: string): number | undefined {
  const m = /version "([^"]+)"/.exec(output);
  if (!m) return undefined;
  const parts = (m[1] as string).split(/[._+-]/);
  const major = Number(parts[0] === "1" ? parts[1] : parts[0]);
  return Number.isInteger(major) ? major : undefined;
}

/** The Java on PATH: >= 11 needed, 17 recommended (Flink 1.19 supports 11 and 17; 21 is beta there). */
export function checkJava(probe: CommandProbe, where?: string): CheckResult {
  const fixInstall = `install a JDK ${JAVA_RECOMMENDED} (Debian/Ubuntu: apt-get install openjdk-${JAVA_RECOMMENDED}-jdk-headless) and put its bin on PATH`;
  if (!probe.found) {
    return { check: "java", status: "fail", detail: "java is not on PATH; Flink and Beam's job server are Java programs", fix: fixInstall };
  }
  const major = parseJavaMajor(probe.output);
  const at = where === undefined ? "" : ` (${where})`;
  if (probe.exitCode !== 0 || major === undefined) {
    return { check: "java", status: "fail", detail: `\`java -version\` failed${at}: ${tail(probe.output)}`, fix: fixInstall };
  }
  return judgeJava("java", `Java ${major}${at}`, major, fixInstall);
}

/** $JAVA_HOME, which Flink's scripts prefer over PATH: unset is fine; set, it must hold a good Java. */
export function checkJavaHome(javaHome: string | undefined, probe: CommandProbe | undefined): CheckResult {
  if (javaHome === undefined || javaHome === "") {
    return { check: "JAVA_HOME", status: "ok", detail: "not set: java from PATH is used" };
  }
  const fix = `point JAVA_HOME at a JDK ${JAVA_RECOMMENDED} (the directory holding bin/java), or unset it to use java from PATH`;
  if (probe === undefined || !probe.found) {
    return { check: "JAVA_HOME", status: "fail", detail: `JAVA_HOME=${javaHome} has no bin/java`, fix };
  }
  const major = parseJavaMajor(probe.output);
  if (probe.exitCode !== 0 || major === undefined) {
    return { check: "JAVA_HOME", status: "fail", detail: `${javaHome}/bin/java -version failed: ${tail(probe.output)}`, fix };
  }
  return judgeJava("JAVA_HOME", `Java ${major} at ${javaHome}`, major, fix);
}

function judgeJava(check: string, what: string, major: number, fix: string): CheckResult {
  if (major < JAVA_MIN) {
    return { check, status: "fail", detail: `${what}: too old, Flink 1.19 and Beam's job server need Java ${JAVA_MIN} or newer`, fix };
  }
  if (major === JAVA_RECOMMENDED || major === 11) {
    const note = major === JAVA_RECOMMENDED ? "" : ` (${JAVA_RECOMMENDED} recommended)`;
    return { check, status: "ok", detail: `${what}${note}` };
  }
  const why = major < JAVA_RECOMMENDED ? "not a release Flink supports" : "newer than Flink 1.19 fully supports (21 is beta there)";
  return { check, status: "warn", detail: `${what}: ${why}; Java ${JAVA_RECOMMENDED} is recommended`, fix };
}

/** Maven resolves Beam's Flink job server once; missing is a failure until that has happened. */
export function checkMaven(probe: CommandProbe, jobServer: { resolved: boolean; dir: string }, versions?: StackVersions): CheckResult {
  const what = versions === undefined ? "Beam's Flink job server" : `Beam ${versions.jobServer.beam}'s Flink ${versions.jobServer.flinkMinor} job server`;
  const fix = "install Maven 3 (Debian/Ubuntu: apt-get install maven; or from maven.apache.org) with Maven Central reachable";
  if (!probe.found || probe.exitCode !== 0) {
    const problem = probe.found ? `\`mvn -v\` failed: ${tail(probe.output)}` : "mvn is not on PATH";
    if (jobServer.resolved) {
      return { check: "maven", status: "ok", detail: `${problem}; not needed now: ${what} is already resolved (${jobServer.dir})` };
    }
    return { check: "maven", status: "fail", detail: `${problem}; it is needed once to resolve ${what} (~160 MB of jars)`, fix };
  }
  const version = /Apache Maven (\S+)/.exec(probe.output)?.[1];
  const resolved = jobServer.resolved ? `; ${what} is resolved` : `; the first Flink run resolves ${what} with it`;
  return { check: "maven", status: "ok", detail: `Maven ${version ?? "(version unknown)"}${resolved}` };
}

/** [major, minor] from "Python 3.11.7". */
export function parsePythonVersion(output: string): [number, number] | undefined {
  const m = /Python (\d+)\.(\d+)/.exec(output);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** python3 must be one apache-beam (the cluster's Python worker pool) publishes wheels for. */
export function checkPython(probe: CommandProbe, pythonSdk = "2.62.0"): CheckResult {
  const beamMinor = pythonSdk.split(".").slice(0, 2).join(".");
  const range = PYTHON_SUPPORT[beamMinor];
  const span = range === undefined ? "" : `3.${range[0]}–3.${range[1]}`;
  const fix = `install Python ${span || "3.12"} and make it python3 on PATH (e.g. with pyenv, or apt-get install python3)`;
  if (!probe.found) {
    return { check: "python", status: "fail", detail: `python3 is not on PATH; the cluster's Beam Python worker pool (apache-beam ${pythonSdk}) needs it`, fix };
  }
  const version = parsePythonVersion(probe.output);
  if (probe.exitCode !== 0 || version === undefined) {
    return { check: "python", status: "fail", detail: `\`python3 --version\` failed: ${tail(probe.output)}`, fix };
  }
  const [major, minor] = version;
  const text = `Python ${major}.${minor}`;
  if (range === undefined) {
    return {
      check: "python",
      status: "warn",
      detail: `${text}; which Pythons apache-beam ${pythonSdk} supports is unknown to this doctor`,
      fix: `check apache-beam ${pythonSdk} on PyPI for the Python versions it has wheels for, and add them to PYTHON_SUPPORT in src/cluster/doctor.ts`,
    };
  }
  if (major !== 3 || minor < range[0] || minor > range[1]) {
    return { check: "python", status: "fail", detail: `${text}: apache-beam ${pythonSdk} supports Python ${span} only`, fix };
  }
  return { check: "python", status: "ok", detail: `${text} (apache-beam ${pythonSdk} supports ${span})` };
}

/** The venv module (and ensurepip, which Debian splits into python3-venv) builds the SDK's venv. */
export function checkVenv(probe: CommandProbe, pythonFound = true): CheckResult {
  if (!pythonFound || !probe.found) {
    return { check: "venv", status: "info", detail: "not checked: python3 is not on PATH" };
  }
  if (probe.exitCode === 0) return { check: "venv", status: "ok", detail: "python3 -m venv is available" };
  const missing = /No module named '?([\w.]+)'?/.exec(probe.output)?.[1];
  return {
    check: "venv",
    status: "fail",
    detail: `python3 cannot create virtual environments (${missing === undefined ? tail(probe.output) : `no module ${missing}`}); the cluster installs apache-beam into one`,
    fix: "install the venv package for this Python (Debian/Ubuntu: apt-get install python3-venv, or python3.X-venv for python3.X)",
  };
}

/** setpriv (util-linux) starts components with a parent-death signal, so they die with their supervisor. */
export function checkSetpriv(path: string | undefined): CheckResult {
  if (path === undefined) {
    return {
      check: "setpriv",
      status: "fail",
      detail: "setpriv is not on PATH; the cluster uses it so its components die with their supervisor",
      fix: "install util-linux (Debian/Ubuntu: apt-get install util-linux; Fedora/RHEL: dnf install util-linux-core)",
    };
  }
  return { check: "setpriv", status: "ok", detail: path };
}

/** Go only matters for --runner=prism (building Prism once): information, never a problem. */
export function checkGo(probe: CommandProbe, prismInstalled: boolean, beam = "2.73.0"): CheckResult {
  const prism = prismInstalled ? `Prism is built (${prismPath()})` : "Prism is not built yet (`npm run install:prism`, or the first --runner=prism run builds it)";
  if (!probe.found || probe.exitCode !== 0) {
    return { check: "go", status: "info", detail: `go is not on PATH: only --runner=prism needs it, to build Prism once; ${prism}` };
  }
  const version = /go(\d+\.\d+(?:\.\d+)?)/.exec(probe.output)?.[1];
  if (version === undefined) return { check: "go", status: "info", detail: `\`go version\` printed ${tail(probe.output)}; ${prism}` };
  const enough = compareVersions(version, PRISM_GO_MIN) >= 0;
  const note = enough ? "can build Prism" : `Prism ${beam} needs Go ${PRISM_GO_MIN} or newer to build`;
  return { check: "go", status: "info", detail: `Go ${version} (${note}); ${prism}` };
}

/**
 * The cluster's default ports must be free. A holder whose command line mentions the sluice state or
 * cache directory is taken as a running sluice cluster (warn); anything else holding one is a
 * failure, since `sluice cluster up` with the defaults would refuse to start.
 */
export function checkPorts(ports: readonly PortProbe[], sluiceDirs: readonly string[] = [], clusterPids: ReadonlySet<number> = new Set()): CheckResult {
  const held = ports.filter((p) => p.holder !== undefined);
  if (held.length === 0) {
    return { check: "ports", status: "ok", detail: `free: ${ports.map((p) => p.port).join(", ")}` };
  }
  const ours = (h: PortHolder): boolean => {
    if (h.pid !== undefined && clusterPids.has(h.pid)) return true;
    const line = h.argv.join(" ");
    return sluiceDirs.some((d) => d !== "" && line.includes(d));
  };
  const lines = held.map((p) => {
    const h = p.holder as PortHolder;
    return `${p.port} (${p.name}) ${describeHolder(h)}${ours(h) ? " [a sluice cluster component]" : ""}`;
  });
  const foreign = held.filter((p) => !ours(p.holder as PortHolder));
  const pids = [...new Set(foreign.map((p) => p.holder?.pid).filter((pid): pid is number => pid !== undefined))];
  if (foreign.length === 0) {
    return {
      check: "ports",
      status: "warn",
      detail: `a sluice cluster seems to be running:\n${lines.join("\n")}`,
      fix: "`sluice cluster down` stops it; a second cluster needs other ports (see sluice cluster up --help)",
    };
  }
  const stop = pids.length > 0 ? `stop ${pids.length === 1 ? "that process" : "those processes"} (kill ${pids.join(" ")})` : "stop what holds them";
  return {
    check: "ports",
    status: "fail",
    detail: `${held.length === 1 ? "a port the cluster uses is" : `${held.length} ports the cluster uses are`} in use:\n${lines.join("\n")}`,
    fix: `${stop}, or give the cluster other ports (see sluice cluster up --help)`,
  };
}

/** versions.json must be readable and consistent (versionProblems). */
export function checkVersions(v: DoctorFacts["versions"]): CheckResult {
  const fix = `fix the pins in ${v.file}: the cluster's flink must be of flinkJobServer.flink's minor, and pythonSdk must equal flinkJobServer.beam`;
  if (v.value === undefined) {
    return { check: "versions", status: "fail", detail: `cannot read ${v.file}: ${v.error ?? "unknown error"}`, fix };
  }
  const problems = versionProblems(v.value);
  if (problems.length > 0) {
    return { check: "versions", status: "fail", detail: `${v.file} pins versions that do not work together:\n${problems.join("\n")}`, fix };
  }
  const s = v.value;
  return {
    check: "versions",
    status: "ok",
    detail: `Flink ${s.flink}, job server Beam ${s.jobServer.beam} for Flink ${s.jobServer.flinkMinor}, apache-beam ${s.pythonSdk}; SDK protocol Beam ${s.beam}${s.kafka === undefined ? "" : `; Kafka ${s.kafka}`}`,
  };
}

/** A directory the cluster writes must be writable, or creatable. */
export function checkDirectory(check: string, d: DirProbe, variable: string): CheckResult {
  if (!d.writable) {
    return {
      check,
      status: "fail",
      detail: `${d.path} is not writable${d.reason === undefined ? "" : ` (${d.reason})`}`,
      fix: `fix its permissions, or set ${variable} to a directory you can write`,
    };
  }
  return { check, status: "ok", detail: `${d.path}${d.exists ? "" : " (created on first use)"}` };
}

/** Free space where the cluster downloads to: warn under LOW_DISK_BYTES. */
export function checkDisk(path: string, freeBytes: number | undefined): CheckResult {
  const needs =
    `a first cluster up downloads about ${gib(DOWNLOAD_SIZES.flink + DOWNLOAD_SIZES.pythonSdk + DOWNLOAD_SIZES.jobServer)} ` +
    `(Flink ~260 MB, the Python SDK's venv ~500 MB, the job server's jars ~160 MB into ~/.m2)`;
  if (freeBytes === undefined) {
    return { check: "disk", status: "warn", detail: `could not measure the free space at ${path}; ${needs}`, fix: `check with df -h ${path}` };
  }
  if (freeBytes < LOW_DISK_BYTES) {
    return {
      check: "disk",
      status: "warn",
      detail: `${gib(freeBytes)} free at ${path}, under ${gib(LOW_DISK_BYTES)}; ${needs}`,
      fix: "free some space there, or set SLUICE_CACHE_DIR to a directory on a larger disk",
    };
  }
  return { check: "disk", status: "ok", detail: `${gib(freeBytes)} free at ${path}` };
}

/** What a first `sluice cluster up` would still have to download (information only). */
export function checkCached(
  dir: string,
  cached: DoctorFacts["cached"],
  jobServerResolved: boolean,
  versions?: StackVersions,
): CheckResult {
  const flink = `Flink ${versions?.flink ?? ""}`.trim();
  const sdk = `apache-beam ${versions?.pythonSdk ?? ""}`.trim();
  const downloads = [
    cached.flink ? `${flink} cached` : `${flink} not cached (~260 MB)`,
    cached.pythonSdk ? `${sdk} venv cached` : `${sdk} venv not cached (~500 MB)`,
  ];
  const jobServer = jobServerResolved ? "Beam's Flink job server resolved" : "Beam's Flink job server not resolved (~160 MB)";
  const missing = !cached.flink || !cached.pythonSdk || !jobServerResolved;
  return {
    check: "cache",
    status: "info",
    detail: `${downloads.join(", ")} in ${dir}; ${jobServer}${missing ? "; the first `sluice cluster up` downloads what is missing" : ""}`,
  };
}

// ---------------------------------------------------------------------------------------------
// Probes: the real machine.

/** Probes this machine (with `env`'s PATH and directories). */
export async function gatherFacts(env: Env = process.env): Promise<DoctorFacts> {
  const versionsFile = join(projectRoot, "versions.json");
  const versions = readVersions(versionsFile);
  const v = versions.value;
  const jobServerDir = v === undefined ? toolDir("") : flinkJobServerDir({ beam: v.jobServer.beam, flink: v.jobServer.flinkMinor });
  const cache = cacheDir(env);
  const state = stateDir(env);
  const javaHome = env["JAVA_HOME"];
  const entries = Object.entries(DEFAULT_PORTS) as [keyof ClusterPorts, number][];
  const kafkaEntries = Object.entries(DEFAULT_KAFKA_PORTS) as [keyof KafkaPorts, number][];

  const [java, javaHomeJava, maven, python, venv, go, holders, stateProbe, cacheProbe, free] = await Promise.all([
    probeCommand("java", ["-version"], env),
    javaHome ? probeCommand(join(javaHome, "bin", "java"), ["-version"], env) : Promise.resolve(undefined),
    probeCommand("mvn", ["-v", "-B"], env),
    probeCommand("python3", ["--version"], env),
    probeCommand("python3", ["-c", "import venv, ensurepip"], env),
    probeCommand("go", ["version"], env),
    portHolders([...entries.map(([, port]) => port), ...kafkaEntries.map(([, port]) => port)]),
    probeDir(state),
    probeDir(cache),
    freeBytes(cache),
  ]);
  return {
    java,
    javaPath: findOnPath("java", env),
    javaHome,
    javaHomeJava,
    maven,
    jobServer: { resolved: cachedClasspath(join(jobServerDir, "classpath.txt")) !== undefined, dir: jobServerDir },
    python,
    venv,
    setpriv: findOnPath("setpriv", env),
    go,
    prismInstalled: prismInstalled(),
    ports: entries.map(([key, port]) => ({ key, port, name: PORT_NAMES[key], holder: holders.get(port) })),
    clusterPids: new Set(liveCluster(state)?.components.map((c) => c.pid) ?? []),
    versions,
    stateDir: stateProbe,
    cacheDir: cacheProbe,
    cacheFreeBytes: free,
    cached: {
      flink: v !== undefined && isDir(join(cache, `flink-${v.flink}`)),
      pythonSdk: v !== undefined && isDir(join(cache, `python-beam-${v.pythonSdk}`)),
    },
    ...(v?.kafka === undefined
      ? {}
      : {
          kafka: {
            version: v.kafka,
            resolved: cachedKafkaClasspath(v.kafka, env) !== undefined,
            dir: kafkaToolDir(v.kafka, env),
            ports: kafkaEntries.map(([key, port]) => ({ key, port, holder: holders.get(port) })),
          },
        }),
  };
}

/** Probes the machine and runs every check. */
export async function runDoctor(env: Env = process.env): Promise<CheckResult[]> {
  return doctorChecks(await gatherFacts(env));
}

/** Runs a program with a 30 s deadline; `found: false` when it is not on PATH. */
export async function probeCommand(command: string, args: readonly string[], env: Env = process.env): Promise<CommandProbe> {
  return new Promise((resolve) => {
    execFile(command, args, { env: env as NodeJS.ProcessEnv, timeout: 30_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      const output = stripAnsi(`${stdout}${stderr}`);
      if (err === null) return resolve({ found: true, exitCode: 0, output });
      const e = err as NodeJS.ErrnoException & { code?: unknown; killed?: boolean };
      if (e.code === "ENOENT") return resolve({ found: false });
      if (e.killed) return resolve({ found: true, exitCode: -1, output: `${output}\n(timed out after 30 s)` });
      resolve({ found: true, exitCode: typeof e.code === "number" ? e.code : -1, output: output || e.message });
    });
  });
}


/** versions.json read without the consistency check (that is checkVersions's job). */
function readVersions(file: string): DoctorFacts["versions"] {
  try {
    return { file, value: readStackVersions(file) };
  } catch (err) {
    return { file, error: err instanceof Error ? err.message : String(err) };
  }
}

/** True when the job server's classpath was resolved and every jar on it is still there. */
async function probeDir(path: string): Promise<DirProbe> {
  const existing = nearestExisting(path);
  const exists = existing === path;
  try {
    if (!statSync(existing).isDirectory()) {
      return { path, exists, writable: false, reason: `${existing} is not a directory` };
    }
    await access(existing, constants.W_OK | constants.X_OK);
    return { path, exists, writable: true };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    return { path, exists, writable: false, reason: `${code} on ${existing}` };
  }
}

async function freeBytes(path: string): Promise<number | undefined> {
  try {
    const s = await statfs(nearestExisting(path));
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}

function nearestExisting(path: string): string {
  let p = path;
  while (!existsSync(p)) {
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  return p;
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*[A-Za-z]/g, "");
}

/** The last non-empty line of a program's output, for one-line details. */
function tail(output: string): string {
  const lines = output.trim().split("\n").filter((l) => l.trim() !== "");
  return lines.length === 0 ? "(no output)" : (lines[lines.length - 1] as string).trim();
}

function gib(bytes: number): string {
  return `${(bytes / GiB).toFixed(1)} GiB`;
}

/** Numeric comparison of dotted versions ("1.26.8" vs "1.26.1"). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
