/**
 * Where the cluster keeps things: its state (pids, ports, config, logs, the artifacts directory) in
 * a per-user state directory, and what it downloads (Flink, the Python SDK's virtual environment) in
 * a per-user cache shared by every cluster. Never /tmp, which other users share and which is wiped.
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
