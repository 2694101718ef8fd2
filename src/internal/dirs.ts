/**
 * Where Sluice keeps things on this machine: the cluster's state (pids, ports, config, logs, the
 * artifacts directory) in a per-user state directory, and what it downloads or builds (Flink, the
 * Python SDK's virtual environment, Prism, the Flink job server's classpath and driver) in a
 * per-user cache. Never /tmp, which other users share and which is wiped; never the package folder,
 * which may be read-only or shared by several machines.
 */
import { homedir } from "node:os";
import { join } from "node:path";

type Env = Readonly<Record<string, string | undefined>>;

/** `$SLUICE_STATE_DIR`, else `$XDG_STATE_HOME/sluice/cluster`, else `~/.local/state/sluice/cluster`. */
export function stateDir(env: Env = process.env): string {
  if (env["SLUICE_STATE_DIR"]) return env["SLUICE_STATE_DIR"];
  const base = env["XDG_STATE_HOME"] || join(env["HOME"] || homedir(), ".local", "state");
  return join(base, "sluice", "cluster");
}

/** `$SLUICE_CACHE_DIR`, else `$XDG_CACHE_HOME/sluice`, else `~/.cache/sluice`. */
export function cacheDir(env: Env = process.env): string {
  if (env["SLUICE_CACHE_DIR"]) return env["SLUICE_CACHE_DIR"];
  const base = env["XDG_CACHE_HOME"] || join(env["HOME"] || homedir(), ".cache");
  return join(base, "sluice");
}

/** Go's and Node's names for the host platform differ; tool caches use Go's (`linux-amd64`). */
export function hostPlatform(): string {
  const os = process.platform === "win32" ? "windows" : process.platform;
  const arch = ({ x64: "amd64", ia32: "386", arm64: "arm64", arm: "arm", ppc64: "ppc64le", s390x: "s390x" } as Record<string, string>)[process.arch] ?? process.arch;
  return `${os}-${arch}`;
}

/** The cache folder of one downloaded or built tool: `<cache>/tools/<name>` (name carries version and platform). */
export function toolDir(name: string, env: Env = process.env): string {
  return join(cacheDir(env), "tools", name);
}
