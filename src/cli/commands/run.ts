/**
 * `sluice run <file> [pipeline flags…]`: runs a pipeline file. TypeScript runs without a build
 * step: the file is bundled (loaders.ts, runBundle), or else loaded with tsx's loader; `import
 * "sluice"` in the file resolves to this package either way. The file sees `process.argv = [node,
 * file, ...flags]`, and `PipelineOptions.fromLaunch()` parses the flags.
 */

import { stat } from "node:fs/promises";
import { extname, isAbsolute, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describeError, SluiceError } from "../../internal/errors.js";
import { removeScratchDirs } from "../../internal/scratch.js";
import { LAUNCH_CONTEXT, type LaunchContext, PipelineOptions, STANDARD_OPTIONS } from "../../sdk/options.js";
import { abortDirectRuns } from "../../runners/direct/runner.js";
import { Pipeline } from "../../sdk/pipeline.js";
import { parseCommandArgs } from "../args.js";
import { EXIT, type CliContext, type Command } from "../command.js";
import { ENTRY_URL, PACKAGE_ROOT_URL } from "../paths.js";

/** The folder of the package entry (dist/), whose modules a pipeline imports through `sluice`. */
const ENTRY_DIR_URL = new URL("./", ENTRY_URL);
import { flushAndExit, formatError, isInternalFrame } from "../report.js";
import { installBundleLoader, installLoaders, loaderData, LOADERS_URL, runBundle } from "../loaders.js";

/** File extensions `sluice run` accepts. */
const EXTENSIONS: readonly string[] = [".ts", ".mts", ".js", ".mjs"];

/** The run command's own options (before the file). */
interface RunFlags {
  help: boolean;
  verbose: boolean;
  tsconfig: string | undefined;
}

export const runCommand: Command = {
  name: "run",
  synopsis: "<file> [pipeline flags…]",
  summary: "run a pipeline file (.ts, .mts, .js, .mjs)",
  help: runHelp,
  async run(args, ctx) {
    let flags: RunFlags;
    let rest: readonly string[];
    try {
      [flags, rest] = parseRunFlags(args);
    } catch (err) {
      ctx.err(formatError(err, ctx.verbose));
      return EXIT.USAGE;
    }
    if (flags.help) {
      ctx.out(runHelp(ctx));
      return EXIT.OK;
    }
    const runCtx: CliContext = flags.verbose ? { ...ctx, verbose: true } : ctx;
    const [file, ...pipelineArgs] = rest;
    if (file === undefined) {
      const err = new SluiceError("INVALID_ARGUMENT", "sluice run needs a pipeline file", {
        hint: "usage: sluice run <file.ts> [pipeline flags…]; see sluice run --help",
      });
      ctx.err(formatError(err, runCtx.verbose));
      return EXIT.USAGE;
    }
    const abs = resolve(ctx.cwd, file);
    try {
      await checkFile(file, abs, ctx.cwd);
      PipelineOptions.fromArgs(pipelineArgs); // fail fast, before loading anything, on bad flags
    } catch (err) {
      ctx.err(formatError(err, runCtx.verbose));
      return EXIT.USAGE;
    }
    return runFile(abs, pipelineArgs, flags.tsconfig, runCtx);
  },
};

function runHelp(ctx: CliContext): string {
  const common = STANDARD_OPTIONS.filter((s) => s.common);
  const other = STANDARD_OPTIONS.filter((s) => !s.common);
  const flag = (s: (typeof STANDARD_OPTIONS)[number]): string =>
    s.type === "boolean" ? `--${s.flag}` : `--${s.flag}=${s.value}`;
  const width = Math.max(...common.map((s) => flag(s).length)) + 2;
  return [
    `sluice ${ctx.version}`,
    "",
    "Usage: sluice run [run options] <file> [pipeline flags…]",
    "",
    "Runs a pipeline file: TypeScript (.ts, .mts) without a build step, or JavaScript (.js, .mjs).",
    "The file sees process.argv = [node, <file>, ...pipeline flags]; PipelineOptions.fromLaunch()",
    "(and Pipeline.create() without options) parse the flags. `import ... from \"sluice\"` in the",
    "file resolves to this sluice, installed locally or not.",
    "",
    "Run options (before the file):",
    "  --verbose            print full stack traces (also SLUICE_DEBUG=1)",
    "  --tsconfig=<path>    the tsconfig.json to compile TypeScript with (default: found from cwd)",
    "  -h, --help           show this help",
    "",
    "Common pipeline flags (after the file; --flag=value or --flag value; snake_case or camelCase):",
    ...common.map((s) => `  ${flag(s).padEnd(width)}${s.description}`),
    "",
    "Other standard flags:",
    ...wrap(other.map((s) => `--${s.flag}`).join(", "), 96).map((l) => `  ${l}`),
    "",
    "Any other flag is passed to the program: read it with options.string(\"name\"), .number(),",
    ".integer(), .boolean() or .list().",
    "",
    "Examples:",
    "  sluice run wordcount.ts --input=data/*.txt --output=out/counts",
    "  sluice run wordcount.ts --runner=flink --flink_master=localhost:8081 --parallelism=4",
    "",
  ].join("\n");
}

/** Splits off the run options that precede the file; the rest is the file and its flags. */
function parseRunFlags(args: readonly string[]): [RunFlags, readonly string[]] {
  const parsed = parseCommandArgs(args, {
    command: "sluice run",
    flags: { verbose: { type: "boolean" }, tsconfig: { type: "string", value: "path/to/tsconfig.json" } },
    stopAtPositional: true,
    unknownHint: "pipeline flags go after the file: sluice run <file> --flag=value; see sluice run --help",
  });
  return [{ help: parsed.has("help"), verbose: parsed.has("verbose"), tsconfig: parsed.string("tsconfig") }, parsed.rest];
}

/** Checks that the pipeline file exists and has a runnable extension. */
async function checkFile(file: string, abs: string, cwd: string): Promise<void> {
  const ext = extname(abs).toLowerCase();
  if (!EXTENSIONS.includes(ext)) {
    throw new SluiceError("INVALID_ARGUMENT", `cannot run "${file}": not a .ts, .mts, .js or .mjs file`, {
      hint: "pass the pipeline's source file, e.g. sluice run pipeline.ts",
    });
  }
  let isFile: boolean;
  try {
    isFile = (await stat(abs)).isFile();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      throw new SluiceError("NOT_FOUND", `pipeline file not found: ${abs}`, {
        hint: isAbsolute(file) ? "check the path" : `check the path; "${file}" is resolved against ${cwd}`,
        cause: err,
      });
    }
    throw SluiceError.from(err, "IO_ERROR");
  }
  if (!isFile) {
    throw new SluiceError("INVALID_ARGUMENT", `not a file: ${abs}`, { hint: "pass the pipeline's source file" });
  }
}

/** Sets up the launch context and loaders, then imports the pipeline file. */
async function runFile(
  abs: string,
  pipelineArgs: readonly string[],
  tsconfig: string | undefined,
  ctx: CliContext,
): Promise<number | undefined> {
  const display = displayPath(abs, ctx.cwd);

  // Failures after the file was imported (unawaited promises, callbacks) end the run too.
  const onAsyncFailure = (reason: unknown): void => {
    ctx.err(formatError(SluiceError.userCode(reason, `pipeline ${display}`), ctx.verbose));
    flushAndExit(EXIT.FAILURE);
  };
  process.on("uncaughtException", onAsyncFailure);
  process.on("unhandledRejection", onAsyncFailure);

  // Interrupted (Ctrl-C, SIGTERM): a direct run's temporary output is removed at once, then the
  // process dies of the signal, unless a portable run handles it (it cancels its job first). The
  // runners themselves install no handler that ends the process: as libraries they must not.
  const onSignal = (signal: NodeJS.Signals): void => {
    abortDirectRuns();
    if (process.listenerCount(signal) === 0) {
      // Dying of the signal skips "exit": the bundle's and spills' folders go now.
      removeScratchDirs();
      process.kill(process.pid, signal);
    }
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  const loaders = loaderData(tsconfig, ctx.cwd);
  const bundle = await runBundle(abs, loaders, ctx);
  try {
    if (bundle === undefined) await installLoaders(loaders);
    else installBundleLoader();
  } catch (err) {
    const failure = new SluiceError("INTERNAL", `could not set up the TypeScript loader: ${describeError(err)}`, {
      cause: err,
      hint: "reinstall sluice (npm install); if it persists, rerun with --verbose and report it",
    });
    ctx.err(formatError(failure, ctx.verbose));
    return EXIT.FAILURE;
  }

  process.argv = [process.execPath, abs, ...pipelineArgs];
  const launch: LaunchContext = {
    argv: Object.freeze([...pipelineArgs]),
    file: abs,
    threadSetup: Object.freeze({ url: LOADERS_URL, data: loaders }),
    ...(bundle === undefined ? {} : { bundle: bundle.file }),
  };
  (globalThis as Record<symbol, unknown>)[LAUNCH_CONTEXT] = Object.freeze(launch);

  const unrun = trackUnrunPipelines();
  let failed = false;
  process.once("exit", (code) => {
    if (failed || code !== 0) return;
    const pipelines = unrun();
    if (pipelines.length > 0) ctx.err(neverRunWarning(display, pipelines));
  });

  try {
    await import(pathToFileURL(bundle?.file ?? abs).href);
  } catch (err) {
    failed = true;
    ctx.err(formatError(await loadFailure(err, abs, display, ctx.cwd), ctx.verbose));
    return EXIT.FAILURE;
  }
  return undefined;
}

/**
 * Records every pipeline the file creates (Pipeline.create is the only way to make one); the
 * returned function lists those whose run() was never called.
 */
function trackUnrunPipelines(): () => Pipeline[] {
  const created: Pipeline[] = [];
  const create = Pipeline.create.bind(Pipeline);
  Pipeline.create = (options?: PipelineOptions): Pipeline => {
    const pipeline = create(options);
    created.push(pipeline);
    return pipeline;
  };
  return () => created.filter((p) => !p.hasRun);
}

/** The warning for pipelines the file built but never ran (printed when the run ends without a failure). */
function neverRunWarning(display: string, pipelines: readonly Pipeline[]): string {
  const labels = pipelines.flatMap((p) => p.root.parts.map((n) => n.label));
  const shown = labels.length === 0 ? "no transforms" : `${labels.slice(0, 3).join(", ")}${labels.length > 3 ? ", …" : ""}`;
  const what =
    pipelines.length === 1 ? `the pipeline was built (${shown}) but never run` : `${pipelines.length} pipelines were built (${shown}) but never run`;
  return [
    `sluice: warning: ${display}: ${what}, so nothing was executed`,
    "  hint: call `await p.run()` once the pipeline is built (at the top level of the file, or awaited from it)",
    "",
  ].join("\n");
}

/** Turns an error from importing the pipeline file into the SluiceError to report. */
async function loadFailure(err: unknown, abs: string, display: string, cwd: string): Promise<SluiceError> {
  if (SluiceError.is(err)) return err;
  const e = err instanceof Error ? err : undefined;
  const code = (err as { code?: unknown } | undefined)?.code;
  const compileError = e !== undefined && (e.name === "TransformError" || e.message.startsWith("Transform failed with"));
  if (compileError || (e instanceof SyntaxError && !hasUserFrames(e))) {
    const found = await syntaxErrors(abs, cwd);
    const first = found[0];
    if (first !== undefined) {
      const where = `${first.file}:${first.line}:${first.column}`;
      // esbuild also finds imports of names a module does not export (V8's SyntaxError for them).
      const kind = first.text.startsWith("No matching export") ? "an import error" : "a syntax error";
      const what = first.path === abs ? `${display} has ${kind}` : `${display} imports ${first.file}, which has ${kind}`;
      return new SluiceError("USER_CODE_FAILED", `${what}:\n${found.map(formatSyntaxError).join("\n")}`, {
        cause: err,
        hint: `fix the ${kind.slice(kind.indexOf(" ") + 1)} at ${where}, then rerun`,
      });
    }
    if (compileError) {
      return new SluiceError("USER_CODE_FAILED", `could not compile ${display}:\n${compilerMessage(e.message)}`, {
        cause: err,
        hint: "fix the syntax error at the file:line:column above, then rerun",
      });
    }
    return new SluiceError("USER_CODE_FAILED", `could not load ${display} (or a module it imports): SyntaxError: ${(e as Error).message}`, {
      cause: err,
      hint: "fix the syntax error, then rerun",
    });
  }
  if (code === "ERR_MODULE_NOT_FOUND" && e !== undefined && e.message.includes(fileURLToPath(ENTRY_DIR_URL))) {
    return new SluiceError("INTERNAL", `sluice's own build is incomplete: ${e.message}`, {
      cause: err,
      hint: `rebuild it: run \`npm run build\` in ${fileURLToPath(PACKAGE_ROOT_URL)}`,
    });
  }
  if ((code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") && e !== undefined) {
    return new SluiceError("NOT_FOUND", `${display} imports something that cannot be found: ${e.message}`, {
      cause: err,
      hint: "install the missing package where the pipeline file is (npm install <name>), or fix the import path",
    });
  }
  return SluiceError.userCode(err, `pipeline ${display}`);
}

/** esbuild's "Transform failed with N errors:\n<file:line:col: ERROR: …>" without the preamble. */
function compilerMessage(message: string): string {
  return message
    .split("\n")
    .filter((l) => !l.startsWith("Transform failed with"))
    .map((l) => `  ${l}`)
    .join("\n");
}

/** True when a stack has frames outside Node's internals, i.e. the error was thrown by running code. */
function hasUserFrames(err: Error): boolean {
  return (err.stack ?? "").split("\n").some((l) => /^\s+at /.test(l) && !isInternalFrame(l));
}

/** A syntax error in one of the pipeline's own files; line and column 1-based. */
interface SyntaxProblem {
  readonly path: string;
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly text: string;
  readonly lineText: string;
}

/**
 * Where the syntax errors are in the pipeline file and the files it imports (not in packages):
 * esbuild parses the whole graph, TypeScript and JavaScript alike. Empty when it finds none (the
 * error is one only V8 reports, or in a package).
 */
async function syntaxErrors(abs: string, cwd: string): Promise<SyntaxProblem[]> {
  let esbuild: typeof import("esbuild");
  try {
    esbuild = await import("esbuild");
  } catch {
    return [];
  }
  try {
    await esbuild.build({
      entryPoints: [abs],
      bundle: true,
      write: false,
      packages: "external",
      external: ["sluice", "sluice/*"],
      platform: "node",
      format: "esm",
      target: "node20",
      absWorkingDir: cwd,
      logLevel: "silent",
    });
    return [];
  } catch (err) {
    const errors = (err as { errors?: { text: string; location?: { file: string; line: number; column: number; lineText: string } | null }[] }).errors ?? [];
    return errors.flatMap((m) => {
      if (m.location === undefined || m.location === null) return [];
      const path = resolve(cwd, m.location.file);
      return [
        {
          path,
          file: displayPath(path, cwd),
          line: m.location.line,
          column: m.location.column + 1,
          text: m.text,
          lineText: m.location.lineText,
        },
      ];
    }).slice(0, 5);
  }
}

/** `file:line:col: message`, the line, and a caret under the column. */
function formatSyntaxError(p: SyntaxProblem): string {
  return [`  ${p.file}:${p.line}:${p.column}: ${p.text}`, `    ${p.lineText}`, `    ${" ".repeat(Math.max(0, p.column - 1))}^`].join("\n");
}

function displayPath(abs: string, cwd: string): string {
  const rel = relative(cwd, abs);
  return rel === "" || rel.startsWith("..") || isAbsolute(rel) ? abs : rel;
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  if (line !== "") lines.push(line);
  return lines;
}
