/**
 * The shape every CLI command has. main.ts dispatches on a table of these (commands/index.ts), so
 * a new command (worker-pool, cluster, jobs, doctor) is one module exporting one Command.
 */

/** Exit codes: success, a failure while running, and a command-line usage error. */
export const EXIT = { OK: 0, FAILURE: 1, USAGE: 2 } as const;

/** What a command gets besides its arguments. */
export interface CliContext {
  /** Writes text to standard output as is. */
  readonly out: (text: string) => void;
  /** Writes text to standard error as is. */
  readonly err: (text: string) => void;
  /** The environment variables. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The working directory that relative paths are resolved against. */
  readonly cwd: string;
  /** Print full stacks (--verbose or SLUICE_DEBUG=1). */
  readonly verbose: boolean;
  /** The package version. */
  readonly version: string;
  /** Every command, for help. */
  readonly commands: readonly Command[];
}

/** One `sluice <name>` command. */
export interface Command {
  /** The word after `sluice`. */
  readonly name: string;
  /** Argument synopsis for the command list, e.g. "<file> [pipeline flags…]". */
  readonly synopsis: string;
  /** One line for the command list. */
  readonly summary: string;
  /** The full help text (`sluice help <name>`, `sluice <name> --help`). */
  help(ctx: CliContext): string | Promise<string>;
  /**
   * Runs the command with the arguments after its name. Resolves to the exit code, or undefined
   * to let the process exit by itself once its work drains (a pipeline still running).
   */
  run(args: readonly string[], ctx: CliContext): Promise<number | undefined>;
}

/** What the command list shows of a command. */
export type CommandInfo = Pick<Command, "name" | "synopsis" | "summary">;

/**
 * The command `info` names, its module loaded when it runs or shows its help: `sluice run` then
 * does not load the cluster's modules (gRPC and Beam's protocol types, about 20 MB).
 */
export function lazyCommand(info: CommandInfo, load: () => Promise<Command>): Command {
  return {
    ...info,
    help: async (ctx) => (await load()).help(ctx),
    run: async (args, ctx) => (await load()).run(args, ctx),
  };
}
