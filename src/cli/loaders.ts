/**
 * How `sluice run` loads a pipeline file. First choice, a bundle (internal/bundle.ts, packages by
 * path, `sluice` as the CLI's own entry): one JavaScript module with an inline source map, so no
 * TypeScript loader runs (tsx's and the resolve hook's module hooks run on a thread of their own
 * in Node 20, about 35 MB and 0.2 s), and the direct runner's threads import the same bundle.
 * Otherwise (scratchBundle says when), the loaders: tsx's (TypeScript, for ES modules and
 * CommonJS), the resolve hook (`import "sluice"` is the CLI's own package) and the require hook
 * (the same for `require`, kept with the bundle too, for packages that require sluice). Node 20
 * keeps module hooks per thread, so a direct-runner thread that loads the file this way installs
 * them first, through `setupThread` (named in the launch context's `threadSetup`).
 */
import { register as registerHooks } from "node:module";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { scratchBundle, type ScratchBundle } from "../internal/bundle.js";
import type { CliContext } from "./command.js";
import { ENTRY_URL, PACKAGE_JSON_URL, RESOLVE_HOOK_URL } from "./paths.js";
import type { ResolveHookData } from "./resolve-hook.js";
import { installRequireHook } from "./require-hook.js";

/** What a thread needs to load the file as the CLI does. */
export interface LoaderData {
  /** An absolute tsconfig path given with --tsconfig. */
  readonly tsconfig?: string;
}

/** This module's URL: the launch context's `threadSetup.url`. */
export const LOADERS_URL = import.meta.url;

/** Installs the loaders in this thread. */
export async function installLoaders(data: LoaderData): Promise<void> {
  const tsxOptions: { tsconfig?: string } = data.tsconfig === undefined ? {} : { tsconfig: data.tsconfig };
  const [tsxEsm, tsxCjs] = await Promise.all([import("tsx/esm/api"), import("tsx/cjs/api")]);
  tsxEsm.register(tsxOptions);
  tsxCjs.register(); // for .cts files and require() of TypeScript
  const hookData: ResolveHookData = { entryUrl: ENTRY_URL.href, packageJsonUrl: PACKAGE_JSON_URL.href };
  registerHooks(RESOLVE_HOOK_URL, { data: hookData });
  installRequireHook(ENTRY_URL, PACKAGE_JSON_URL);
}

/**
 * The pipeline file bundled to import in place of it, or undefined to load it with the loaders
 * (also when the CLI itself runs from source: its entry is TypeScript). With --verbose, says which
 * and why.
 */
export async function runBundle(file: string, data: LoaderData, ctx: CliContext): Promise<ScratchBundle | undefined> {
  if (!ENTRY_URL.pathname.endsWith(".js")) return undefined;
  const b = await scratchBundle(file, { purpose: "sluice run", sluiceEntry: fileURLToPath(ENTRY_URL), ...(data.tsconfig === undefined ? {} : { tsconfig: data.tsconfig }) });
  if ("why" in b) {
    if (ctx.verbose) ctx.err(`sluice: loading ${file} with the TypeScript loader: ${b.why}\n`);
    return undefined;
  }
  if (ctx.verbose) ctx.err(`sluice: ${file} bundled in ${b.ms} ms\n`);
  return b;
}

/** What importing a bundle needs: its source map for stacks, and the require hook. */
export function installBundleLoader(): void {
  process.setSourceMapsEnabled(true);
  installRequireHook(ENTRY_URL, PACKAGE_JSON_URL);
}

/** The loader data for `--tsconfig` given relative to `cwd`. */
export function loaderData(tsconfig: string | undefined, cwd: string): LoaderData {
  return tsconfig === undefined ? {} : { tsconfig: resolve(cwd, tsconfig) };
}

/** A new thread's setup (see LaunchContext.threadSetup). */
export const setupThread = (data: LoaderData): Promise<void> => installLoaders(data);
