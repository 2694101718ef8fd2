/**
 * The sluice CLI's entry: global options (--help, --version, --verbose; parsed by args.ts like every
 * command's), then dispatch to a command from the command table. Argument parsing and reporting only; the work is in the commands and
 * the SDK. bin/sluice.js calls `main`.
 */

import { EXIT, type CliContext, type Command } from "./command.js";
import { COMMANDS } from "./commands/index.js";
import { mainHelp, unknownCommand } from "./commands/help.js";
import { packageVersion } from "./paths.js";
import { debugEnabled, formatError } from "./report.js";
import { SluiceError } from "../internal/errors.js";
import { parseCommandArgs } from "./args.js";

/** Where main writes and reads; defaults to the process. Tests can pass their own. */
export interface MainIO {
  readonly out?: (text: string) => void;
  readonly err?: (text: string) => void;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
  readonly commands?: readonly Command[];
}

/**
 * Runs the CLI with `argv` (the arguments after `sluice`). Resolves to the exit code, or
 * undefined when a command leaves work running (a pipeline) and the process should exit by itself
 * once that drains.
 */
export async function main(argv: readonly string[], io: MainIO = {}): Promise<number | undefined> {
  const env = io.env ?? process.env;
  let ctx: CliContext = {
    out: io.out ?? ((text) => void process.stdout.write(text)),
    err: io.err ?? ((text) => void process.stderr.write(text)),
    env,
    cwd: io.cwd ?? process.cwd(),
    verbose: debugEnabled(env),
    version: packageVersion(),
    commands: io.commands ?? COMMANDS,
  };

  let rest: readonly string[];
  try {
    const parsed = parseCommandArgs(argv, {
      command: "sluice",
      flags: { version: { type: "boolean", short: "v" }, verbose: { type: "boolean" } },
      stopAtPositional: true,
      unknownHint: "run sluice --help to see the options (a command's own options go after it: sluice <command> --help)",
    });
    if (parsed.has("help")) {
      ctx.out(mainHelp(ctx));
      return EXIT.OK;
    }
    if (parsed.has("version")) {
      ctx.out(`${ctx.version}\n`);
      return EXIT.OK;
    }
    if (parsed.has("verbose")) ctx = { ...ctx, verbose: true };
    rest = parsed.rest;
  } catch (err) {
    ctx.err(formatError(err, ctx.verbose));
    return EXIT.USAGE;
  }

  const name = rest[0];
  if (name === undefined) {
    ctx.err(mainHelp(ctx));
    return EXIT.USAGE;
  }
  const command = ctx.commands.find((c) => c.name === name);
  if (command === undefined) {
    ctx.err(formatError(unknownCommand(name, ctx), ctx.verbose));
    return EXIT.USAGE;
  }
  try {
    return await command.run(rest.slice(1), ctx);
  } catch (err) {
    // Commands report their own failures; anything escaping is a usage error or a bug.
    ctx.err(formatError(err, ctx.verbose));
    return SluiceError.is(err, "INVALID_ARGUMENT") ? EXIT.USAGE : EXIT.FAILURE;
  }
}
