/**
 * The CommonJS side of resolve-hook.ts: `require("sluice")` (and `sluice/<subpath>`) in a pipeline
 * file's CommonJS modules (a helper in a `"type": "commonjs"` package, a `.cts`/`.cjs` file) resolves
 * to the package the CLI belongs to. Node 20's module.register hooks do not see require(), so this
 * wraps CommonJS resolution in the CLI's own thread. The entry is an ES module; require() loads it
 * through Node's ES module loader, so CommonJS and ES module code share one Sluice instance.
 */

import Module, { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

type ResolveFilename = (request: string, parent: unknown, isMain: boolean, options?: unknown) => string;

let installed = false;

/** Makes require() of `sluice` resolve to `entryUrl`, and `sluice/<subpath>` by self-reference from `packageJsonUrl`. */
export function installRequireHook(entryUrl: URL, packageJsonUrl: URL): void {
  if (installed) return;
  installed = true;
  const entry = fileURLToPath(entryUrl);
  const self = createRequire(packageJsonUrl);
  const cjs = Module as unknown as { _resolveFilename: ResolveFilename };
  const next = cjs._resolveFilename;
  cjs._resolveFilename = function resolveSluice(this: unknown, request, parent, isMain, options) {
    if (request === "sluice") return entry;
    if (request.startsWith("sluice/")) return self.resolve(request);
    return next.call(this, request, parent, isMain, options);
  };
}
