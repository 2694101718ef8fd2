/** `sluice help [command]`: the command list, or one command's help. */

import { SluiceError } from "../../internal/errors.js";
import { parseCommandArgs } from "../args.js";
import { EXIT, type CliContext, type Command } from "../command.js";
import { formatError } from "../report.js";

export const helpCommand: Command = {
  name: "help",
  synopsis: "[command]",
  summary: "show help for sluice or one command",
  help: mainHelp,
  async run(args, ctx) {
    let name: string | undefined;
    try {
      const parsed = parseCommandArgs(args, { command: "sluice help", maxPositionals: 1 });
      name = parsed.positionals[0];
    } catch (err) {
      ctx.err(formatError(err, ctx.verbose));
      return EXIT.USAGE;
    }
    if (name === undefined) {
      ctx.out(mainHelp(ctx));
      return EXIT.OK;
    }
    const command = ctx.commands.find((c) => c.name === name);
    if (command === undefined) {
      ctx.err(formatError(unknownCommand(name, ctx), ctx.verbose));
      return EXIT.USAGE;
    }
    ctx.out(await command.help(ctx));
    return EXIT.OK;
  },
};

/** The top-level help: what sluice is, the commands, global options. */
export function mainHelp(ctx: CliContext): string {
  const entries = ctx.commands.map((c) => [`${c.name} ${c.synopsis}`, c.summary] as const);
  const width = Math.max(...entries.map(([left]) => left.length)) + 3;
  return [
    `sluice ${ctx.version}: Apache Beam-model data pipelines in TypeScript`,
    "",
    "Usage: sluice <command> [options]",
    "",
    "Commands:",
    ...entries.map(([left, summary]) => `  ${left.padEnd(width)}${summary}`),
    "",
    "Options:",
    "  -h, --help      show help (sluice <command> --help for a command's)",
    "  -v, --version   print the version",
    "  --verbose       print full stack traces (also SLUICE_DEBUG=1)",
    "",
    "Pipeline flags (--runner, --job_endpoint, --parallelism, …): sluice run --help",
    "SDK workers for --environment_type=EXTERNAL: sluice worker-pool --help",
    "",
  ].join("\n");
}

/** The error for a command name that is not in the table. */
export function unknownCommand(name: string, ctx: CliContext): SluiceError {
  const close = ctx.commands.find((c) => c.name.startsWith(name) || name.startsWith(c.name));
  const guess = close === undefined ? "" : `did you mean "sluice ${close.name}"? `;
  return new SluiceError("INVALID_ARGUMENT", `unknown command "${name}"`, {
    hint: `${guess}run sluice --help to see the commands`,
  });
}
