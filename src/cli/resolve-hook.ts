/**
 * Node module-resolution hook that `sluice run` registers (node:module `register`) before it
 * imports a pipeline file. It does two things:
 *
 * 1. The bare specifier `sluice` (and `sluice/<subpath>`) resolves to the package the CLI itself
 *    belongs to, so `npx sluice run my.ts` works in a folder without sluice installed and the CLI
 *    and the pipeline share one module instance (one SluiceError class, one launch context).
 * 2. Outside node_modules, in a folder whose package.json does not declare a "type" (or that has
 *    no package.json), `.ts`/`.tsx` files load as ES modules, and `.js` files do when they contain
 *    import/export/import.meta or a top-level `await` at the start of a line (as Node's syntax
 *    detection would). Without this, TypeScript pipeline files in such a folder would be compiled
 *    to CommonJS, where top-level `await pipeline.run()` and `import.meta` fail. Write `.cts`, or
 *    set "type": "commonjs", for TypeScript that must be CommonJS. This holds for every file the
 *    pipeline imports (its helper modules), also when tsx marks one as CommonJS with a query.
 *
 * `require("sluice")` from CommonJS files is require-hook.ts's job (these hooks do not see require).
 *
 * It runs on Node's hooks thread; it shares no state with the CLI except the data given to
 * `initialize`.
 */

import { readFileSync } from "node:fs";
import type { InitializeHook, ResolveHook } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** What the CLI passes to `initialize`. */
export interface ResolveHookData {
  /** The URL `sluice` resolves to (the package entry). */
  readonly entryUrl: string;
  /** The package's package.json URL, the parent for resolving `sluice/<subpath>` by self-reference. */
  readonly packageJsonUrl: string;
}

let data: ResolveHookData | undefined;

/** Receives the CLI's data. */
export const initialize: InitializeHook<ResolveHookData> = (d) => {
  data = d;
};

/** Resolves `sluice` to the CLI's own package and picks ESM for untyped TypeScript files. */
export const resolve: ResolveHook = async (specifier, context, nextResolve) => {
  if (data !== undefined) {
    if (specifier === "sluice") return { url: data.entryUrl, format: "module", shortCircuit: true };
    if (specifier.startsWith("sluice/")) return nextResolve(specifier, { ...context, parentURL: data.packageJsonUrl });
  }
  const resolved = await nextResolve(specifier, context);
  if (resolved.format === "commonjs" || resolved.format === undefined || resolved.format === null) {
    // tsx marks a file it takes for CommonJS, imported from an ES module, with query parameters
    // (`helper.ts?tsx-commonjs-…`); the file itself is what decides, so look at it without them.
    const url = withoutTsxQuery(resolved.url);
    if (shouldLoadAsModule(url)) return { ...resolved, url, format: "module" };
  }
  return resolved;
};

/** The tsx query parameters marking a file it loads as CommonJS from an ES module. */
const TSX_CJS_QUERY = "tsx-commonjs-";

/**
 * `url` without tsx's CommonJS markers: its `tsx-commonjs-*` search parameters and the
 * `%3Ftsx-commonjs-…` it may also append to the path. Other query parameters are kept.
 */
export function withoutTsxQuery(url: string): string {
  if (!url.startsWith("file:") || !url.includes(TSX_CJS_QUERY)) return url;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url;
  }
  const marker = parsed.pathname.toLowerCase().lastIndexOf(`%3f${TSX_CJS_QUERY}`);
  if (marker >= 0) parsed.pathname = parsed.pathname.slice(0, marker);
  const kept = [...parsed.searchParams].filter(([name]) => !name.startsWith(TSX_CJS_QUERY));
  parsed.search = kept.length === 0 ? "" : `?${new URLSearchParams(kept).toString()}`;
  return parsed.href;
}

/**
 * ES module syntax in JavaScript: import/export statements at the start of a line, import.meta,
 * or `await` opening an unindented line (a top-level await).
 */
const ESM_SYNTAX = /^[ \t]*(?:import(?:\s+[\w{*'"]|[{*'"])|export(?:\s+[\w{*]|[{*]))|\bimport\.meta\b|^await\s/m;

const moduleCache = new Map<string, boolean>();

function shouldLoadAsModule(url: string): boolean {
  if (!url.startsWith("file:")) return false;
  let cached = moduleCache.get(url);
  if (cached === undefined) {
    cached = detectModule(url);
    moduleCache.set(url, cached);
  }
  return cached;
}

function detectModule(url: string): boolean {
  let path: string;
  try {
    path = fileURLToPath(url);
  } catch {
    return false;
  }
  if (!/\.(?:ts|tsx|js)$/.test(path) || path.includes("/node_modules/") || path.includes("\\node_modules\\")) {
    return false;
  }
  if (packageType(dirname(path)) !== undefined) return false; // the package says what it is
  if (!path.endsWith(".js")) return true; // TypeScript: ESM unless the package says otherwise
  try {
    return ESM_SYNTAX.test(readFileSync(path, "utf8"));
  } catch {
    return false;
  }
}

const typeCache = new Map<string, string | undefined>();

/** The "type" field of the nearest package.json above `dir`, or undefined. */
function packageType(dir: string): string | undefined {
  if (typeCache.has(dir)) return typeCache.get(dir);
  let type: string | undefined;
  let pkgText: string | undefined;
  try {
    pkgText = readFileSync(join(dir, "package.json"), "utf8");
  } catch {
    pkgText = undefined;
  }
  if (pkgText !== undefined) {
    try {
      const t = (JSON.parse(pkgText) as { type?: unknown }).type;
      type = typeof t === "string" ? t : undefined;
    } catch {
      type = undefined;
    }
  } else {
    const parent = dirname(dir);
    type = parent === dir ? undefined : packageType(parent);
  }
  typeCache.set(dir, type);
  return type;
}
