/**
 * How `sluice run` loads a pipeline file: tsx's loader (TypeScript, for ES modules and CommonJS),
 * the resolve hook (`import "sluice"` is the CLI's own package) and the require hook (the same
 * for `require`). Node 20 keeps module hooks per thread, so a direct-runner thread that imports
 * the pipeline file again installs them first, through `setupThread` (named in the launch
 * context's `threadSetup`).
 */
import { register as registerHooks } from "node:module";
import { resolve } from "node:path";
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

/** The loader data for `--tsconfig` given relative to `cwd`. */
export function loaderData(tsconfig: string | undefined, cwd: string): LoaderData {
  return tsconfig === undefined ? {} : { tsconfig: resolve(cwd, tsconfig) };
}

/** A new thread's setup (see LaunchContext.threadSetup). */
export const setupThread = (data: LoaderData): Promise<void> => installLoaders(data);
