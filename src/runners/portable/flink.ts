/**
 * Beam's Flink job server as a local process: its classpath resolved by Maven from the pinned
 * `beam-runners-flink-<minor>` artifact (cached in the per-user tool cache, and resolved again when
 * a jar it names is gone, e.g. another Maven repository or a cleaned ~/.m2), started on a free loopback
 * port with `--flink-master` ([local]: an embedded Flink MiniCluster; host:port: a real cluster),
 * through our driver (java/…/BoundFlinkJobServer.java) so its gRPC services bind --job-host only.
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import { toolDir } from "../../internal/dirs.js";
import { SluiceError } from "../../internal/errors.js";
import { findOnPath, processStartTime } from "../../internal/process.js";
import { freePort, type LocalService, projectRoot, startService } from "./services.js";

const run = promisify(execFile);

export interface FlinkJobServerVersion {
  readonly beam: string;
  readonly flink: string;
}

export function pinnedFlinkJobServer(): FlinkJobServerVersion {
  const v = JSON.parse(readFileSync(join(projectRoot, "versions.json"), "utf8")) as { flinkJobServer: FlinkJobServerVersion };
  return v.flinkJobServer;
}

/** Where the job server's resolved classpath (classpath.txt) and our driver jar are cached. */
export function flinkJobServerDir(version: FlinkJobServerVersion = pinnedFlinkJobServer()): string {
  return toolDir(`flink-job-server-${version.beam}-flink-${version.flink}`);
}

/** The cached classpath, when every jar it names is still there. */
export function cachedClasspath(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  const classpath = readFileSync(file, "utf8").trim();
  const entries = classpath.split(delimiter).filter((e) => e !== "");
  return entries.length > 0 && entries.every((e) => existsSync(e)) ? classpath : undefined;
}

/** The job server's classpath: resolved with Maven once, then read from the cache. */
export async function flinkJobServerClasspath(version: FlinkJobServerVersion = pinnedFlinkJobServer(), log: (m: string) => void = () => undefined): Promise<string> {
  const dir = flinkJobServerDir(version);
  const cp = join(dir, "classpath.txt");
  const cached = cachedClasspath(cp);
  if (cached !== undefined) return withDriver(dir, cached, log);
  if (existsSync(cp)) log(`sluice: the cached job server classpath names jars that are gone; resolving it again`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "pom.xml"),
    `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.sluice</groupId><artifactId>flink-job-server</artifactId><version>${version.beam}</version>
  <dependencies>
    <dependency><groupId>org.apache.beam</groupId><artifactId>beam-runners-flink-${version.flink}</artifactId><version>${version.beam}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-simple</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
`,
  );
  log(`sluice: resolving Beam ${version.beam}'s Flink ${version.flink} job server with Maven (about 160 MB, once)`);
  try {
    await run("mvn", ["-q", "-B", "dependency:build-classpath", `-Dmdep.outputFile=${cp}.${process.pid}.tmp`], { cwd: dir, maxBuffer: 32 << 20 });
  } catch (err) {
    const e = err as { code?: string; stdout?: string };
    throw new SluiceError(
      "UNAVAILABLE",
      e.code === "ENOENT"
        ? "Maven (mvn) is not on PATH; it resolves Beam's Flink job server"
        : `Maven could not resolve org.apache.beam:beam-runners-flink-${version.flink}:${version.beam}\n${String(e.stdout ?? "").slice(-1500)}`,
      { hint: "Install a JDK (17+) and Maven, and check that Maven Central is reachable.", cause: err },
    );
  }
  renameSync(`${cp}.${process.pid}.tmp`, cp);
  return withDriver(dir, readFileSync(cp, "utf8").trim(), log);
}

/** The main class: Beam's job server with its gRPC services bound to --job-host (java/…/BoundFlinkJobServer.java). */
export const JOB_SERVER_MAIN = "dev.sluice.jobserver.BoundFlinkJobServer";
const DRIVER_JAR = "sluice-job-server-driver.jar";
const DRIVER_SOURCE = join(projectRoot, "src", "runners", "portable", "java", "dev", "sluice", "jobserver", "BoundFlinkJobServer.java");

/**
 * Compiles our driver against the job server's classpath into a jar (once per source change) and
 * puts it first. A jar, not a class directory: the Flink runner ships every classpath entry to the
 * cluster as a file.
 */
async function withDriver(dir: string, classpath: string, log: (m: string) => void): Promise<string> {
  const jar = join(dir, DRIVER_JAR);
  const stamp = `${jar}.source`;
  const source = readFileSync(DRIVER_SOURCE, "utf8");
  if (!existsSync(jar) || !existsSync(stamp) || readFileSync(stamp, "utf8") !== source) {
    log("sluice: compiling the job server driver (javac, once)");
    const classes = mkdtempSync(join(dir, "classes-"));
    try {
      await run("javac", ["-d", classes, "-cp", classpath, DRIVER_SOURCE], { maxBuffer: 8 << 20 });
      await run("jar", ["cf", `${jar}.${process.pid}.tmp`, "-C", classes, "."]);
    } catch (err) {
      const e = err as { code?: string; stderr?: string };
      throw new SluiceError(
        "UNAVAILABLE",
        e.code === "ENOENT" ? "javac or jar is not on PATH; Sluice compiles a small job server driver with them" : `could not compile ${DRIVER_SOURCE}:\n${String(e.stderr ?? "").slice(-1500)}`,
        { hint: "Install a JDK 17 (not only a JRE): sluice doctor checks it.", cause: err },
      );
    } finally {
      rmSync(classes, { recursive: true, force: true });
    }
    renameSync(`${jar}.${process.pid}.tmp`, jar);
    writeFileSync(stamp, source);
  }
  return `${jar}:${classpath}`;
}

/**
 * The jars a Flink cluster needs on its JobManager's and TaskManagers' classpath to run this job
 * server's jobs without their uploading anything (the job server's `--files-to-stage=none`): its
 * classpath without Flink's own jars (the cluster's flink-dist holds every class of them, checked
 * for Flink 1.19.0), without SLF4J (Flink's lib has the API and its log4j binding; slf4j-simple,
 * the job server's binding, would be a second one) and without our driver. Maven's repository
 * layout names the group in the path (`…/org/apache/flink/flink-runtime/1.19.0/…`).
 */
export function beamJarsForFlink(classpath: string): string[] {
  return classpath
    .split(delimiter)
    .filter((e) => e !== "" && !/[\\/]org[\\/]apache[\\/]flink[\\/]/.test(e) && !/[\\/]org[\\/]slf4j[\\/]/.test(e) && !e.endsWith(DRIVER_JAR));
}

export interface FlinkJobServerOptions {
  /** `[local]` (default: an embedded Flink) or a Flink REST address `host:port`. */
  readonly flinkMaster?: string;
  /** Directory the job server stages artifacts in (shared with TaskManagers on a cluster). */
  readonly artifactsDir?: string;
  readonly log?: (m: string) => void;
}

/**
 * JVM flags of a job server started for one run: C1 only (-XX:TieredStopAtLevel=1). Such a JVM
 * lives for one job, which with [local] also runs in it (a MiniCluster per job) and is mostly
 * warm-up: C2's compilations compete with the job for the CPUs and finish about when it does.
 * Measured on 2 cores: examples/seed.ts on Flink [local] 7.0 → 5.7 s end to end (4.9 → 3.9 s with
 * the class-data archive), and bench/flink.ts's 10 MB wordcount no slower (10.4–10.8 s against
 * 16–18 s with C2: it is a first job too).
 */
export const PER_RUN_JVM_FLAGS: readonly string[] = ["-XX:TieredStopAtLevel=1"];

/** What a per-run job server does with Java's class data sharing (`classDataSharing`). */
interface ClassDataPlan {
  readonly flags: readonly string[];
  readonly stopGraceMs: number;
  readonly onStopped: (how: "stopped" | "killed" | "gone") => void;
}

/** How long a job server writing its class-data archive may take to stop (the dump, ~5–10 s on 2 cores). */
const ARCHIVE_STOP_GRACE_MS = 120_000;

/**
 * Java's class data sharing (AppCDS, a JDK 13+ dynamic archive) for per-run job servers: the
 * classes of the job server and of the Flink MiniCluster it runs, parsed and verified once and
 * mapped from an archive at every later start (about 2 s of examples/seed.ts's run on Flink
 * [local] on 2 cores: 5.7 → 3.9 s with C1, 7.0 → 4.9 s without). The first run with a given Java and classpath (each jar's size and
 * time included: the JVM refuses an archive whose jars changed) writes the archive when it
 * stops (`-XX:ArchiveClassesAtExit`), which makes that stop take a few seconds more, said once;
 * an archive that could not be written is not tried again for that Java and classpath. CDS
 * messages are off: an archive the JVM cannot use only makes the start slower.
 */
function classDataSharing(dir: string, classpath: string, log: (m: string) => void): ClassDataPlan {
  const none: ClassDataPlan = { flags: [], stopGraceMs: 5000, onStopped: () => undefined };
  const java = findOnPath("java");
  if (java === undefined) return none;
  const key = createHash("sha256");
  try {
    for (const file of [realpathSync(java), ...classpath.split(delimiter).filter((e) => e !== "")]) {
      const st = statSync(file);
      key.update(`${file}\0${st.size}\0${st.mtimeMs}\n`);
    }
  } catch {
    return none;
  }
  key.update(PER_RUN_JVM_FLAGS.join(" "));
  const cds = join(dir, "cds");
  const archive = join(cds, `job-server-${key.digest("hex").slice(0, 20)}.jsa`);
  // A Java without dynamic archives (before 13) ignores the flags and writes nothing (then marked).
  const quiet = ["-XX:+IgnoreUnrecognizedVMOptions", "-Xshare:auto", "-Xlog:cds=off", "-Xlog:cds+dynamic=off"];
  if (existsSync(archive)) return { ...none, flags: [`-XX:SharedArchiveFile=${archive}`, ...quiet] };
  if (existsSync(`${archive}.failed`)) return none;
  mkdirSync(cds, { recursive: true });
  // Archives other runs were writing when they were killed.
  for (const name of readdirSync(cds)) {
    const m = /\.(\d+)-[0-9a-f]+\.tmp$/.exec(name);
    if (m && processStartTime(Number(m[1])) === undefined) rmSync(join(cds, name), { force: true });
  }
  const tmp = `${archive}.${process.pid}-${randomBytes(4).toString("hex")}.tmp`;
  log("sluice: this job server writes an archive of its classes when it stops (once for this Java and classpath: a few seconds more now, later starts are faster)");
  return {
    flags: [`-XX:ArchiveClassesAtExit=${tmp}`, ...quiet],
    stopGraceMs: ARCHIVE_STOP_GRACE_MS,
    onStopped: (how) => {
      try {
        const written = existsSync(tmp) && statSync(tmp).size > 0;
        if (how === "stopped" && written) {
          renameSync(tmp, archive);
          // Archives (~90 MB) of other Javas and classpaths: a JVM mapping one keeps it until it exits.
          for (const name of readdirSync(cds)) if (/^job-server-[0-9a-f]+\.jsa(\.failed)?$/.test(name) && join(cds, name) !== archive) rmSync(join(cds, name), { force: true });
        } else {
          rmSync(tmp, { force: true });
          // It exited on SIGTERM but wrote nothing: this JVM cannot; do not make every run wait for it.
          if (how === "stopped") writeFileSync(`${archive}.failed`, "the job server wrote no class-data archive when it stopped\n");
        }
      } catch {
        // The cache directory changed under us: the next run tries again.
      }
    },
  };
}

/**
 * Starts the Flink job server on a free port; `stop()` ends it. Started per run: C1 only
 * (PER_RUN_JVM_FLAGS), a class-data archive (classDataSharing), and no expansion service
 * (nothing Sluice submits expands transforms).
 */
export async function startFlinkJobServer(options: FlinkJobServerOptions = {}): Promise<LocalService> {
  const version = pinnedFlinkJobServer();
  const classpath = await flinkJobServerClasspath(version, options.log);
  const port = await freePort();
  const cds = classDataSharing(flinkJobServerDir(version), classpath, options.log ?? (() => undefined));
  const args = [
    ...PER_RUN_JVM_FLAGS,
    ...cds.flags,
    "-cp",
    classpath,
    JOB_SERVER_MAIN,
    "--job-host=127.0.0.1",
    `--job-port=${port}`,
    "--artifact-port=0",
    // A negative port: Beam's JobServerDriver starts no expansion service.
    "--expansion-port=-1",
    `--flink-master=${options.flinkMaster ?? "[local]"}`,
  ];
  if (options.artifactsDir) args.push(`--artifacts-dir=${options.artifactsDir}`);
  return startService(`Beam ${version.beam} Flink ${version.flink} job server`, "java", args, port, {
    readyTimeoutMs: 120_000,
    hint: "Check that Java 17 is installed (java -version) and that the Flink master is reachable.",
    stopGraceMs: cds.stopGraceMs,
    onStopped: cds.onStopped,
  });
}
