/**
 * esbuild bundles of a pipeline file: one ES module holding the file and every module it imports
 * by relative path, TypeScript compiled, with an inline source map naming the original files.
 * Inside it, each bundled file's `import.meta.url` (and `.filename`, `.dirname`) is still its
 * own, so a pipeline that finds its data next to itself finds it from the bundle too. Two uses:
 *
 * - shipping to workers (runners/portable/shipping.ts): npm packages are bundled too; only
 *   `sluice` and Node's builtins stay imports, which a worker resolves to its own copies;
 * - the direct runner's threads (runners/direct/parallel.ts, `packages: "by-path"`): every package
 *   stays an import of the file it resolves to here, so a thread loads the very files the main
 *   thread loaded, and needs no TypeScript loader of its own (unless one of those files is
 *   TypeScript: `typescriptImports` says so).
 */
import { realpathSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { isBuiltin } from "node:module";
import { tmpdir } from "node:os";
import { dirname, extname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { describeError, SluiceError } from "./errors.js";
import { makeScratchDir, removeScratchDir } from "./scratch.js";

export interface BundleOptions {
  /** What the bundle is for, in errors: "the workers", "the direct runner's threads". */
  readonly purpose: string;
  /** "bundled" (the default): packages are bundled but `sluice`; "by-path": none is, each import names the file it resolves to. */
  readonly packages?: "bundled" | "by-path";
  /** With "by-path": the file `sluice` resolves to (the CLI's own package), when not the one found from the pipeline file. */
  readonly sluiceEntry?: string;
  /** The bundle's virtual path (its folder anchors the source map); default `<entry's folder>/pipeline.mjs`. */
  readonly outfile?: string;
  /** The tsconfig.json to compile with (default: esbuild finds the one nearest each file). */
  readonly tsconfig?: string;
}

export interface Bundle {
  /** The ES module, with an inline source map. */
  readonly code: string;
  /** With "by-path": imported package files that are TypeScript (loading them needs a loader). */
  readonly typescriptImports: readonly string[];
  /** Computed `import()`s and `require`s esbuild left as they are (they resolve from the bundle's folder). */
  readonly unfollowedImports: number;
  /**
   * The user's files (outside node_modules) that use what would differ in a bundle: CommonJS's
   * `__dirname`/`__filename` without declaring them, or `import.meta` other than `.url`,
   * `.filename` and `.dirname` (`import.meta.resolve` would resolve from the bundle's folder).
   */
  readonly locationDependent: readonly string[];
  /**
   * With "by-path" and `sluiceEntry`: another copy of `sluice` that the pipeline's folder resolves
   * to. Packages the bundle imports would load that copy, where the pipeline's own imports (and
   * `sluice run`'s resolve hook) use `sluiceEntry`.
   */
  readonly otherSluice?: string;
  /** How long bundling took, in ms. */
  readonly ms: number;
}

const TS_FILE = /\.(?:[cm]?ts|tsx)$/;
const LOADERS: Record<string, "ts" | "tsx" | "js" | "jsx"> = { ".ts": "ts", ".mts": "ts", ".cts": "ts", ".tsx": "tsx", ".js": "js", ".mjs": "js", ".cjs": "js", ".jsx": "jsx" };
/** Marks esbuild's own resolution from within the by-path plugin (it must not come back to it). */
const RESOLVING = Symbol("sluice.bundle.resolving");

/** Builds in flight in this process (esbuild's service stops when none is). */
let building = 0;

/** Bundles `entry` (a .ts/.mts/.js/.mjs pipeline file) into one ES module. */
export async function bundlePipeline(entry: string, options: BundleOptions): Promise<Bundle> {
  const started = Date.now();
  let esbuild: typeof import("esbuild");
  try {
    esbuild = await import("esbuild");
  } catch (err) {
    throw new SluiceError("INTERNAL", `esbuild, which bundles the pipeline file for ${options.purpose}, could not be loaded: ${describeError(err)}`, {
      hint: "Reinstall sluice's dependencies (npm install).",
      cause: err,
    });
  }
  const byPath = options.packages === "by-path";
  const typescriptImports = new Set<string>();
  const locationDependent = new Set<string>();
  const otherSluice: { path?: string } = {};
  const plugins: import("esbuild").Plugin[] = [ownLocation(locationDependent)];
  if (byPath) plugins.unshift(packagesByPath(options.sluiceEntry, typescriptImports, otherSluice));
  // Output paths are virtual (nothing is written); the directory anchors the source map's paths.
  const outfile = options.outfile ?? `${dirname(entry)}/pipeline.mjs`;
  let result: import("esbuild").BuildResult<{ write: false; metafile: false }>;
  building++;
  try {
    result = await esbuild.build({
      entryPoints: [entry],
      outfile,
      bundle: true,
      write: false,
      platform: "node",
      format: "esm",
      target: "node20",
      // A worker resolves `sluice` to its own copy, so the pipeline shares its classes.
      ...(byPath ? {} : { external: ["sluice", "sluice/*"] }),
      plugins,
      ...(options.tsconfig === undefined ? {} : { tsconfig: options.tsconfig }),
      sourcemap: "external",
      sourcesContent: true,
      // Bundled CommonJS modules that require() Node builtins need a real `require` in ESM:
      // esbuild's require shim calls a `require` in scope when there is one. It is put on
      // globalThis, not declared, so a pipeline's own top-level `require` cannot clash with it;
      // `require` is not redefined, so esbuild still sees (and bundles) the dependencies' relative
      // requires (picomatch's `require('./lib/picomatch')`).
      banner: {
        js: 'import { createRequire as __sluice_createRequire } from "node:module";\nif (typeof globalThis.require !== "function") globalThis.require = __sluice_createRequire(import.meta.url);',
      },
      logLevel: "silent",
    });
  } catch (err) {
    const errors = (err as { errors?: { text: string; location?: { file: string; line: number; column: number } | null }[] }).errors ?? [];
    const detail = errors
      .slice(0, 5)
      // esbuild's columns are 0-based; editors' (and `sluice run`'s) are 1-based.
      .map((e) => `  ${e.location ? `${e.location.file}:${e.location.line}:${e.location.column + 1}: ` : ""}${e.text}`)
      .join("\n");
    throw new SluiceError("USER_CODE_FAILED", `could not bundle ${entry} for ${options.purpose}${detail ? `:\n${detail}` : `: ${describeError(err)}`}`, {
      hint: byPath
        ? "Fix the import or syntax error named above."
        : "Fix the import or syntax error named above (the bundle includes everything the pipeline file imports except `sluice` and Node's builtins).",
      cause: err,
    });
  } finally {
    // esbuild's service is a child process of some 13 MB: it ends once no build needs it (the
    // next build starts it again), so a run does not carry it.
    if (--building === 0) void esbuild.stop();
  }
  const code = result.outputFiles.find((f) => f.path.endsWith(".mjs") || f.path.endsWith(".js"));
  const map = result.outputFiles.find((f) => f.path.endsWith(".map"));
  if (code === undefined) {
    throw new SluiceError("INTERNAL", `esbuild produced no bundle for ${entry}`, { hint: "Rerun with --verbose and report it." });
  }
  // esbuild leaves an import() or require() of a computed name as it is, without a warning.
  const unfollowedImports = (code.text.match(/\bimport\(\s*(?!["'`])/g)?.length ?? 0) + (code.text.match(/\b__require\(\s*(?!["'`])/g)?.length ?? 0);
  return { code: withInlineSourceMap(code.text, map?.text, dirname(outfile)), typescriptImports: [...typescriptImports], unfollowedImports, locationDependent: [...locationDependent], ...(otherSluice.path === undefined ? {} : { otherSluice: otherSluice.path }), ms: Date.now() - started };
}

/**
 * Keeps each bundled file's own location: its `import.meta.url`, `.filename` and `.dirname`
 * become constants declared at its start (on its first line, so the source map's lines hold), in
 * the files that mention them outside node_modules; the other files load as esbuild would.
 */
function ownLocation(locationDependent: Set<string>): import("esbuild").Plugin {
  return {
    name: "sluice-own-location",
    setup(build) {
      build.onLoad({ filter: /\.(?:[cm]?[jt]s|[jt]sx)$/ }, async (args) => {
        if (args.namespace !== "file" || /[\\/]node_modules[\\/]/.test(args.path)) return undefined;
        const text = await readFile(args.path, "utf8");
        if (/\bimport\.meta\.(?!(?:url|filename|dirname)\b)/.test(text) || (/\b__(?:dirname|filename)\b/.test(text) && !/\b(?:const|let|var|function)\s+__(?:dirname|filename)\b/.test(text))) {
          locationDependent.add(args.path);
        }
        if (!/\bimport\.meta\.(?:url|filename|dirname)\b/.test(text)) return undefined;
        const values = { url: pathToFileURL(args.path).href, filename: args.path, dirname: dirname(args.path) };
        const declared = (Object.keys(values) as (keyof typeof values)[]).map((k) => `const __sluice_import_meta_${k} = ${JSON.stringify(values[k])};`).join(" ");
        const replaced = text.replace(/\bimport\.meta\.(url|filename|dirname)\b/g, (_, k: string) => `__sluice_import_meta_${k}`);
        // After a shebang line, which must stay first.
        const at = replaced.startsWith("#!") ? replaced.indexOf("\n") + 1 : 0;
        const contents = at > 0 ? replaced.slice(0, at) + declared + replaced.slice(at) : declared + replaced;
        return { contents, loader: LOADERS[extname(args.path)] ?? "js", resolveDir: dirname(args.path) };
      });
    },
  };
}

/** Leaves every package import as an import of the file esbuild resolves it to (`sluice` to `sluiceEntry` when given). */
function packagesByPath(sluiceEntry: string | undefined, typescriptImports: Set<string>, otherSluice: { path?: string }): import("esbuild").Plugin {
  return {
    name: "sluice-packages-by-path",
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, async (args) => {
        if ((args.pluginData as { [RESOLVING]?: boolean } | undefined)?.[RESOLVING]) return undefined;
        if (isBuiltin(args.path)) return { path: args.path, external: true };
        if (sluiceEntry !== undefined && args.path === "sluice") {
          if (otherSluice.path === undefined) {
            const own = await build.resolve("sluice", { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: { [RESOLVING]: true } });
            if (own.errors.length === 0 && own.path !== "" && realpathSync(own.path) !== realpathSync(sluiceEntry)) otherSluice.path = own.path;
          }
          return { path: sluiceEntry, external: true };
        }
        const resolveDir = sluiceEntry !== undefined && args.path.startsWith("sluice/") ? dirname(sluiceEntry) : args.resolveDir;
        const r = await build.resolve(args.path, { kind: args.kind, resolveDir, importer: args.importer, pluginData: { [RESOLVING]: true } });
        if (r.errors.length > 0 || r.path === "" || r.external) return undefined;
        if (TS_FILE.test(r.path)) typescriptImports.add(r.path);
        return { path: r.path, external: true };
      });
    },
  };
}

/**
 * Replaces esbuild's external source-map reference with an inline one whose sources are absolute
 * file URLs, so stack traces (wherever the bundle sits) name the user's own files.
 */
function withInlineSourceMap(code: string, mapText: string | undefined, sourceDir: string): string {
  const body = code.replace(/\n\/\/# sourceMappingURL=[^\n]*\n?$/, "\n");
  if (mapText === undefined) return body;
  const map = JSON.parse(mapText) as { sources?: string[]; sourceRoot?: string };
  const base = pathToFileURL(`${sourceDir}/`);
  map.sources = (map.sources ?? []).map((s) => new URL(s, base).href);
  delete map.sourceRoot;
  const encoded = Buffer.from(JSON.stringify(map), "utf8").toString("base64");
  return `${body}//# sourceMappingURL=data:application/json;base64,${encoded}\n`;
}

/** A by-path bundle written to a scratch folder (removed with removeScratchDir, or at exit). */
export interface ScratchBundle {
  readonly dir: string;
  readonly file: string;
  readonly ms: number;
}

/**
 * The pipeline file bundled with its packages by path (`sluice` as `sluiceEntry`) into a new
 * scratch folder: JavaScript that needs no TypeScript loader, for `sluice run`'s main thread and
 * the direct runner's threads. When the bundle would not behave as the file does, or cannot be
 * made, it is `{ why }` instead, and the file is loaded with its loaders: a package file that is
 * TypeScript (Sluice itself run from source), an import esbuild cannot follow (a computed
 * `import()` or `require`), a file whose behaviour depends on where it is (`locationDependent`),
 * or a file esbuild cannot bundle (the loaders then report its errors as they do).
 */
export async function scratchBundle(entry: string, options: { readonly purpose: string; readonly sluiceEntry: string; readonly tsconfig?: string }): Promise<ScratchBundle | { readonly why: string }> {
  const dir = makeScratchDir(tmpdir(), "sluice-bundle-");
  const file = join(dir, "pipeline.mjs");
  try {
    const b = await bundlePipeline(entry, { purpose: options.purpose, packages: "by-path", sluiceEntry: options.sluiceEntry, outfile: file, ...(options.tsconfig === undefined ? {} : { tsconfig: options.tsconfig }) });
    const why =
      b.typescriptImports.length > 0
        ? `it imports TypeScript package files (${b.typescriptImports[0]})`
        : b.unfollowedImports > 0
          ? "it has imports esbuild cannot follow (computed import() or require)"
          : b.locationDependent.length > 0
            ? `${b.locationDependent[0]} uses __dirname, __filename or import.meta beyond .url, .filename and .dirname`
            : b.otherSluice !== undefined
              ? `another copy of sluice is installed beside it (${b.otherSluice}), which its packages would load`
              : undefined;
    if (why === undefined) {
      writeFileSync(file, b.code);
      return { dir, file, ms: b.ms };
    }
    removeScratchDir(dir);
    return { why };
  } catch (err) {
    removeScratchDir(dir);
    return { why: describeError(err) };
  }
}
