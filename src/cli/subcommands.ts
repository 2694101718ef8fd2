/**
 * What `sluice cluster …` and `sluice jobs …` share: a command made of subcommands (dispatch, help,
 * unknown names, errors → exit codes) and the usage error their subcommands throw. Their flags are
 * parsed by args.ts, like every command's.
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
        (sub === undefined ? ctx.err : ctx.out)(await spec.help(ctx));
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

/** A usage error whose hint is the subcommand's synopsis. */
export function usageError(message: string, usage: string): SluiceError {
  return new SluiceError("INVALID_ARGUMENT", message, { hint: `usage: ${usage}` });
}
