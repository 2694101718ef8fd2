/**
 * What `sluice cluster …` and `sluice jobs …` share: a command made of subcommands (dispatch, help,
 * unknown names, errors → exit codes) and the flag parser their subcommands use.
 */
import { SluiceError } from "../internal/errors.js";
import { EXIT, type CliContext, type Command } from "./command.js";
import { formatError } from "./report.js";

export type Subcommand = (args: readonly string[], ctx: CliContext) => Promise<number>;

/** A command whose first argument names one of `subcommands`. */
export function commandGroup(spec: Omit<Command, "run"> & { readonly subcommands: Readonly<Record<string, Subcommand>> }): Command {
  const { subcommands, ...command } = spec;
  return {
    ...command,
    async run(args, ctx) {
      const [sub, ...rest] = args;
      if (sub === undefined || sub === "-h" || sub === "--help" || sub === "help") {
        (sub === undefined ? ctx.err : ctx.out)(spec.help(ctx));
        return sub === undefined ? EXIT.USAGE : EXIT.OK;
      }
      const fn = subcommands[sub];
      if (!fn) {
        const err = new SluiceError("INVALID_ARGUMENT", `unknown subcommand "${spec.name} ${sub}"`, { hint: `one of: ${Object.keys(subcommands).join(", ")}` });
        ctx.err(formatError(err, ctx.verbose));
        return EXIT.USAGE;
      }
      try {
        return await fn(rest, ctx);
      } catch (err) {
        ctx.err(formatError(err, ctx.verbose));
        return SluiceError.is(err, "INVALID_ARGUMENT") ? EXIT.USAGE : EXIT.FAILURE;
      }
    },
  };
}

export type Flags = Map<string, string | true>;

export interface FlagSpec {
  /** Flags that take a value (`--name value` or `--name=value`). */
  readonly valued?: readonly string[];
  /** Flags without a value. */
  readonly booleans?: readonly string[];
  /** Other spellings → the name above (e.g. "job-endpoint" → "job_endpoint"). */
  readonly aliases?: Readonly<Record<string, string>>;
  /** What a valued flag's value looks like, for the error when it is missing (e.g. "host:port"). */
  readonly valueHint?: string;
}

/** Parses flags per `spec` (`-h`/`--help` → "help", `-f` → "follow"); positional arguments apart. */
export function parseFlags(args: readonly string[], spec: FlagSpec, usage: string): { flags: Flags; positional: string[] } {
  const flags: Flags = new Map();
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === "-h" || arg === "--help") {
      flags.set("help", true);
      continue;
    }
    if (arg === "-f" && spec.booleans?.includes("follow")) {
      flags.set("follow", true);
      continue;
    }
    if (!arg.startsWith("--")) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const raw = arg.slice(2, eq < 0 ? undefined : eq);
    const name = spec.aliases?.[raw] ?? raw;
    if (spec.booleans?.includes(name)) {
      if (eq >= 0) throw usageError(`--${raw} takes no value`, usage);
      flags.set(name, true);
    } else if (spec.valued?.includes(name)) {
      const value = eq >= 0 ? arg.slice(eq + 1) : args[++i];
      if (value === undefined || value === "") throw usageError(`--${raw} needs a value${spec.valueHint ? ` (${spec.valueHint})` : ""}`, usage);
      flags.set(name, value);
    } else {
      throw usageError(`unknown option ${arg}`, usage);
    }
  }
  return { flags, positional };
}

export function usageError(message: string, usage: string): SluiceError {
  return new SluiceError("INVALID_ARGUMENT", message, { hint: `usage: ${usage}` });
}
