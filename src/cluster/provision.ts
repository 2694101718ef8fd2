/**
 * First use downloads what the cluster runs, into the per-user cache, once per version:
 *  - Flink: PyPI's `apache-flink` (scripts, default config) and `apache-flink-libraries` (the dist
 *    jar with the dashboard, log4j), installed with --no-deps into a virtual environment of their
 *    own (apache-flink pins an apache-beam range we do not want);
 *  - Beam's Python SDK for the Python worker pool: `apache-beam==<job server's Beam>` with its
 *    dependencies, in a virtual environment the tool manages (its interpreter is the one users run
 *    the seed's pipeline with);
 *  - Beam's Flink job server: its classpath, resolved by Maven (runners/portable/flink.ts).
 * An install counts only once its completion marker is written, so an interrupted download never
 * looks installed (the next run starts it over). pip's progress is relayed line by line.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SluiceError } from "../internal/errors.js";
import { withParentDeath } from "../internal/process.js";

export interface FlinkInstall {
  /** The Flink home: bin/, conf/, lib/, plugins/ (pyflink's package directory). */
  readonly home: string;
  readonly version: string;
}

export interface PythonSdkInstall {
  /** The managed interpreter, with apache-beam installed. */
  readonly python: string;
  readonly version: string;
}

type Log = (line: string) => void;

const MARKER = ".sluice-complete";

/** Flink `version` in `<cache>/flink-<version>`, installed from PyPI on first use. */
export async function ensureFlink(cache: string, version: string, log: Log, signal?: AbortSignal): Promise<FlinkInstall> {
  const dir = join(cache, `flink-${version}`);
  if (!existsSync(join(dir, MARKER))) {
    log(`downloading Flink ${version} from PyPI (apache-flink + apache-flink-libraries, about 260 MB, once)`);
    await installVenv(dir, ["--no-deps", `apache-flink==${version}`, `apache-flink-libraries==${version}`], `Flink ${version}`, log, signal);
  }
  return { home: sitePackage(dir, "pyflink"), version };
}

/** apache-beam `version` in `<cache>/python-beam-<version>`, installed from PyPI on first use. */
export async function ensurePythonSdk(cache: string, version: string, log: Log, signal?: AbortSignal): Promise<PythonSdkInstall> {
  const dir = join(cache, `python-beam-${version}`);
  if (!existsSync(join(dir, MARKER))) {
    log(`installing Beam's Python SDK apache-beam==${version} from PyPI into ${dir} (about 500 MB with its dependencies, once)`);
    await installVenv(dir, [`apache-beam==${version}`], `apache-beam ${version}`, log, signal);
  }
  return { python: join(dir, "bin", "python"), version };
}

/** Whether `<cache>` already holds the given installs (for doctor and status). */
export function cachedInstalls(cache: string, versions: { flink: string; pythonSdk: string }): { flink: boolean; pythonSdk: boolean } {
  return {
    flink: existsSync(join(cache, `flink-${versions.flink}`, MARKER)),
    pythonSdk: existsSync(join(cache, `python-beam-${versions.pythonSdk}`, MARKER)),
  };
}

async function installVenv(dir: string, requirements: readonly string[], what: string, log: Log, signal: AbortSignal | undefined): Promise<void> {
  const python = process.env["SLUICE_PYTHON"] ?? "python3";
  // No marker yet: whatever is there is an interrupted install; start over.
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, ".."), { recursive: true });
  try {
    await exec(python, ["-m", "venv", dir], `creating a Python virtual environment for ${what}`, log, {
      signal,
      hint: "Install Python 3.9–3.12 with its venv module (Debian: apt install python3-venv), or point SLUICE_PYTHON at one.",
    });
    await exec(join(dir, "bin", "python"), ["-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off", ...requirements], `pip install ${requirements.join(" ")}`, log, {
      hint: "Check that PyPI is reachable (or that pip is configured for your index), then run `sluice cluster up` again; nothing half-installed is kept.",
      relay: true,
      signal,
    });
    writeFileSync(join(dir, MARKER), `${requirements.join(" ")}\n`);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

function sitePackage(venv: string, name: string): string {
  const lib = join(venv, "lib");
  for (const py of existsSync(lib) ? readdirSync(lib) : []) {
    const candidate = join(lib, py, "site-packages", name);
    if (existsSync(candidate)) return candidate;
  }
  throw new SluiceError("FAILED_PRECONDITION", `${venv} has no ${name} package: the cached install is damaged`, {
    hint: `Remove ${venv} and run \`sluice cluster up\` again to reinstall it.`,
  });
}

/** Runs a command, relaying its output lines (pip's progress) when asked; fails with its output's tail. */
function exec(command: string, args: readonly string[], what: string, log: Log, options: { hint: string; relay?: boolean; signal?: AbortSignal | undefined }): Promise<void> {
  return new Promise((resolve, reject) => {
    // Tied to our life (pdeathsig) and to `up`'s abort: an interrupted `up` leaves no pip behind.
    const [cmd, argv] = withParentDeath(command, args);
    const child = spawn(cmd, argv, { stdio: ["ignore", "pipe", "pipe"], ...(options.signal ? { signal: options.signal } : {}) });
    let tail = "";
    let partial = "";
    const take = (chunk: Buffer): void => {
      const text = chunk.toString("utf8");
      tail = (tail + text).slice(-4000);
      if (!options.relay) return;
      const lines = (partial + text).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) if (/^(Collecting|Downloading|Installing|Successfully)/.test(line.trim())) log(`  ${line.trim()}`);
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    child.once("error", (err) =>
      reject(new SluiceError("UNAVAILABLE", `${what}: cannot run ${command}: ${err.message}`, { hint: options.hint, cause: err })),
    );
    child.once("exit", (code, signal) => {
      if (code === 0) return resolve();
      reject(
        new SluiceError("UNAVAILABLE", `${what} failed (${signal ?? `exit code ${code}`})\n${tail.trim().split("\n").slice(-15).join("\n")}`, {
          hint: options.hint,
        }),
      );
    });
  });
}
