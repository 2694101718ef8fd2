/**
 * Where the CLI's own files are: the package root, the package entry a pipeline's `import "sluice"`
 * resolves to, and the resolve-hook module. Computed from this module's URL, so they hold both for
 * the built CLI (dist/cli/) and when run from source (src/cli/).
 */

import { readFileSync } from "node:fs";

/** ".js" when running from dist, ".ts" when running from source. */
const EXT = import.meta.url.endsWith(".ts") ? ".ts" : ".js";

/** The package root folder (holds package.json), as a file URL ending in "/". */
export const PACKAGE_ROOT_URL = new URL("../../", import.meta.url);

/** The package's own package.json. */
export const PACKAGE_JSON_URL = new URL("package.json", PACKAGE_ROOT_URL);

/** The package entry (dist/index.js) that `import "sluice"` in a pipeline file resolves to. */
export const ENTRY_URL = new URL(`../index${EXT}`, import.meta.url);

/** The module resolve hook `sluice run` registers. */
export const RESOLVE_HOOK_URL = new URL(`./resolve-hook${EXT}`, import.meta.url);

/** The folder of the CLI's modules, as a file URL ending in "/" (for trimming stacks). */
export const CLI_DIR_URL = new URL("./", import.meta.url);

/** The folder of the bin/sluice.js launcher. */
export const BIN_DIR_URL = new URL("bin/", PACKAGE_ROOT_URL);

let version: string | undefined;

/** The package version, read from package.json at runtime. */
export function packageVersion(): string {
  if (version === undefined) {
    const pkg = JSON.parse(readFileSync(PACKAGE_JSON_URL, "utf8")) as { version?: unknown };
    version = typeof pkg.version === "string" ? pkg.version : "0.0.0";
  }
  return version;
}
