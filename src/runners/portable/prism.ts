/**
 * Beam's Prism runner (Go) for one run: built once per Beam version and platform into the per-user
 * tool cache, then started on a free loopback port.
 *
 * Prism has no flag for the address it listens on: its job server listens on ":<port>", every
 * interface, and its workers' control, data and state streams share that listener. Every server we
 * start binds 127.0.0.1, so the build copies Beam's Go module out of Go's module cache (Go refuses
 * overlays of files there), changes that one listen address to 127.0.0.1 and builds Beam's own
 * `cmd/prism` from the copy. The change is checked to apply exactly once, so a Beam version that
 * listens differently fails the build loudly instead of producing a Prism that listens everywhere.
 */
import { execFile } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { hostPlatform, toolDir } from "../../internal/dirs.js";
import { SluiceError } from "../../internal/errors.js";
import { beamVersion, freePort, type LocalService, startService } from "./services.js";

const run = promisify(execFile);

const MODULE = "github.com/apache/beam/sdks/v2";
/** Where Prism's job server opens its one listener, relative to the module root. */
const SERVER_FILE = join("go", "pkg", "beam", "runners", "prism", "internal", "jobservices", "server.go");
const LISTEN_ANY = 'net.Listen("tcp", fmt.Sprintf(":%d", port))';
const LISTEN_LOOPBACK = 'net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))';
/** Bumped when the build recipe changes, so cached binaries built another way are rebuilt. */
const RECIPE = "loopback-1";

/** Where Prism for this Beam version and host platform lives once built. */
export function prismPath(version: string = beamVersion()): string {
  return join(toolDir(`prism-${version}-${hostPlatform()}`), process.platform === "win32" ? "prism.exe" : "prism");
}

function stampOf(binary: string): string {
  return `${binary}.json`;
}

function makeWritable(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) makeWritable(p);
    else chmodSync(p, 0o644);
  }
}

/** Whether Prism for `version` is built and current. */
export function prismInstalled(version: string = beamVersion()): boolean {
  const binary = prismPath(version);
  if (!existsSync(binary) || !existsSync(stampOf(binary))) return false;
  try {
    const stamp = JSON.parse(readFileSync(stampOf(binary), "utf8")) as { beam?: string; recipe?: string };
    return stamp.beam === version && stamp.recipe === RECIPE;
  } catch {
    return false;
  }
}

async function go(args: readonly string[], what: string, options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  try {
    const { stdout } = await run("go", args, { cwd: options.cwd, env: { ...process.env, GOWORK: "off", GOFLAGS: "-mod=mod", ...options.env }, maxBuffer: 64 << 20 });
    return stdout;
  } catch (err) {
    const e = err as { code?: string; stderr?: string };
    throw new SluiceError(
      e.code === "ENOENT" ? "NOT_FOUND" : "UNAVAILABLE",
      e.code === "ENOENT" ? "Go (`go`) is not on PATH; Sluice builds Beam's Prism runner with it" : `${what} failed:\n${String(e.stderr ?? "").trim().slice(-2000)}`,
      { hint: `Install Go (>= 1.26.1 for Beam ${beamVersion()}) and check that the Go module proxy is reachable; or pass --prism_location=<path>.`, cause: err },
    );
  }
}

/**
 * Builds Prism for `version` unless it is already in the cache; returns the binary's path.
 * `log` hears what takes time (the first build takes a minute or two).
 */
export async function ensurePrism(version: string = beamVersion(), log: (m: string) => void = () => undefined): Promise<string> {
  const binary = prismPath(version);
  if (prismInstalled(version)) return binary;
  const dir = join(binary, "..");
  mkdirSync(dir, { recursive: true });
  log(`sluice: building Beam ${version}'s Prism runner for ${hostPlatform()} into ${dir} (once; a minute or two)`);
  const info = JSON.parse(await go(["mod", "download", "-json", `${MODULE}@v${version}`], `Downloading ${MODULE}@v${version}`)) as { Dir?: string };
  if (!info.Dir) throw new SluiceError("UNAVAILABLE", `go mod download gave no directory for ${MODULE}@v${version}`, { hint: "Check `go env GOMODCACHE` and the Go module proxy." });
  const work = mkdtempSync(join(dir, "build-"));
  try {
    for (const entry of ["go.mod", "go.sum", "go"]) cpSync(join(info.Dir, entry), join(work, entry), { recursive: true });
    // Go's module cache is read-only and cpSync keeps modes: make the copy ours to edit and remove.
    makeWritable(work);
    const server = join(work, SERVER_FILE);
    const source = readFileSync(server, "utf8");
    const count = source.split(LISTEN_ANY).length - 1;
    if (count !== 1) {
      throw new SluiceError("FAILED_PRECONDITION", `Prism ${version}'s job server does not listen the way Sluice expects (${SERVER_FILE}: ${count} matches of ${LISTEN_ANY})`, {
        hint: "Sluice makes Prism listen on 127.0.0.1 only; pin a Beam version whose Prism it knows (versions.json), or pass --prism_location=<path> to a Prism you built.",
      });
    }
    writeFileSync(server, source.replace(LISTEN_ANY, LISTEN_LOOPBACK));
    await go(["build", "-trimpath", "-o", join(work, "prism.bin"), "./go/cmd/prism"], `Building Prism ${version}`, { cwd: work });
    renameSync(join(work, "prism.bin"), binary);
    writeFileSync(stampOf(binary), `${JSON.stringify({ beam: version, recipe: RECIPE, listens: "127.0.0.1" })}\n`);
  } finally {
    rmSync(work, { recursive: true, force: true, maxRetries: 2 });
  }
  log(`sluice: Prism ${version} is at ${binary}`);
  return binary;
}

/** Starts Prism on a free 127.0.0.1 port for one run; builds it first when it is not cached. */
export async function startPrism(location?: string, log: (m: string) => void = () => undefined): Promise<LocalService> {
  const hint = `Build it with \`npm run install:prism\` (Beam ${beamVersion()}'s prism, with Go), or pass --prism_location=<path>.`;
  let binary = location;
  if (binary === undefined) binary = await ensurePrism(beamVersion(), log);
  else if (!existsSync(binary)) throw new SluiceError("NOT_FOUND", `Prism is not at --prism_location=${binary}`, { hint });
  const port = await freePort();
  return startService("Prism", binary, ["--job_port", String(port), "--serve_http=false", "--log_level=warn"], port, { hint });
}
