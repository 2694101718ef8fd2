/**
 * Beam's Flink job server as a local process: its classpath resolved by Maven from the pinned
 * `beam-runners-flink-<minor>` artifact (cached in the per-user tool cache, and resolved again when
 * a jar it names is gone, e.g. another Maven repository or a cleaned ~/.m2), started on a free loopback
 * port with `--flink-master` ([local]: an embedded Flink MiniCluster; host:port: a real cluster),
 * through our driver (java/…/BoundFlinkJobServer.java) so its gRPC services bind --job-host only.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import { toolDir } from "../../internal/dirs.js";
import { SluiceError } from "../../internal/errors.js";
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
const DRIVER_SOURCE = join(projectRoot, "src", "runners", "portable", "java", "dev", "sluice", "jobserver", "BoundFlinkJobServer.java");

/**
 * Compiles our driver against the job server's classpath into a jar (once per source change) and
 * puts it first. A jar, not a class directory: the Flink runner ships every classpath entry to the
 * cluster as a file.
 */
async function withDriver(dir: string, classpath: string, log: (m: string) => void): Promise<string> {
  const jar = join(dir, "sluice-job-server-driver.jar");
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

export interface FlinkJobServerOptions {
  /** `[local]` (default: an embedded Flink) or a Flink REST address `host:port`. */
  readonly flinkMaster?: string;
  /** Directory the job server stages artifacts in (shared with TaskManagers on a cluster). */
  readonly artifactsDir?: string;
  readonly log?: (m: string) => void;
}

/** Starts the Flink job server on a free port; `stop()` ends it. */
export async function startFlinkJobServer(options: FlinkJobServerOptions = {}): Promise<LocalService> {
  const version = pinnedFlinkJobServer();
  const classpath = await flinkJobServerClasspath(version, options.log);
  const port = await freePort();
  const args = [
    "-cp",
    classpath,
    JOB_SERVER_MAIN,
    "--job-host=127.0.0.1",
    `--job-port=${port}`,
    "--artifact-port=0",
    "--expansion-port=0",
    `--flink-master=${options.flinkMaster ?? "[local]"}`,
  ];
  if (options.artifactsDir) args.push(`--artifacts-dir=${options.artifactsDir}`);
  return startService(`Beam ${version.beam} Flink ${version.flink} job server`, "java", args, port, {
    readyTimeoutMs: 120_000,
    hint: "Check that Java 17 is installed (java -version) and that the Flink master is reachable.",
  });
}
