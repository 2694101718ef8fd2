/**
 * The one argument parser of every `sluice` command, over node:util's parseArgs, with one
 * vocabulary: `--flag value` and `--flag=value`, booleans (`--json`; `--json=x` is an error),
 * short forms where a command declares them (`-h` for help everywhere, `-f` for `logs --follow`),
 * repeated flags (a flag declared `multiple` collects every value; otherwise the last one wins),
 * `--` to end the options, and errors that name the unknown flag and the command and point at
 * `--help`. `sluice run` stops at the pipeline file (`stopAtPositional`): what follows is the
 * pipeline's own flags, which PipelineOptions parses.
 */
import { parseArgs as nodeParseArgs } from "node:util";
import { SluiceError } from "../internal/errors.js";

/** One flag a command accepts. */
export interface FlagSpec {
  /** A flag with a value (`--port 1`, `--port=1`) or without (`--json`). */
  readonly type: "string" | "boolean";
  /** A one-letter form, e.g. "f" for `-f`. */
  readonly short?: string;
  /** Collect every occurrence (`--experiments a --experiments b`) instead of keeping the last. */
  readonly multiple?: boolean;
  /** Other spellings of the flag, e.g. "job-endpoint" for "job_endpoint". */
  readonly aliases?: readonly string[];
  /** What the value looks like, for messages: "N", "host:port", "path". */
  readonly value?: string;
}

/** What a command accepts. */
export interface ArgsSpec {
  /** The command as typed, for messages: "sluice cluster up". */
  readonly command: string;
  /** Its flags by name (`help`/`-h` is always accepted). */
  readonly flags?: Readonly<Record<string, FlagSpec>>;
  /** How many positional arguments it takes (default 0); more is an error naming the first extra one. */
  readonly maxPositionals?: number;
  /**
   * Stop at the first positional argument (or `--`): it and everything after it are returned as
   * `rest`, unparsed. For `sluice <command> …` and `sluice run <file> [pipeline flags…]`.
   */
  readonly stopAtPositional?: boolean;
  /** The hint for an unknown flag, instead of "run <command> --help to see its options". */
  readonly unknownHint?: string;
}

/** Parsed arguments: flag values by their canonical name, positionals, and the unparsed rest. */
export class ParsedArgs {
  constructor(
    private readonly values: ReadonlyMap<string, string | true | readonly string[]>,
    /** Positional arguments, in order. */
    readonly positionals: readonly string[],
    /** With `stopAtPositional`: the first positional and everything after it. */
    readonly rest: readonly string[],
    private readonly command: string,
  ) {}

  /** True when the flag was given (`help` for `-h`/`--help`). */
  has(name: string): boolean {
    return this.values.has(name);
  }

  /** The value of a flag: its string, `true` for a boolean, the last value of a repeated one. */
  get(name: string): string | true | undefined {
    const v = this.values.get(name);
    return Array.isArray(v) ? v[v.length - 1] : (v as string | true | undefined);
  }

  /** A string flag's value, or undefined when not given. */
  string(name: string): string | undefined {
    const v = this.get(name);
    return typeof v === "string" ? v : undefined;
  }

  /** Every value of a `multiple` flag, in order ([] when not given). */
  strings(name: string): readonly string[] {
    const v = this.values.get(name);
    return Array.isArray(v) ? v : typeof v === "string" ? [v] : [];
  }

  /** A whole-number flag from `min` to `max`, or `fallback` when not given. */
  integer(name: string, fallback: number, min: number, max: number): number {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < min || n > max) {
      throw argsError(`--${name} must be a whole number from ${min} to ${max}, not "${raw}"`, this.command);
    }
    return n;
  }
}

/** A usage error for `command`, pointing at its help. */
export function argsError(message: string, command: string, hint?: string): SluiceError {
  return new SluiceError("INVALID_ARGUMENT", message, { hint: hint ?? `see ${command} --help` });
}

const HELP: FlagSpec = { type: "boolean", short: "h" };

/** Parses `args` per `spec`; throws an INVALID_ARGUMENT SluiceError naming the flag and command. */
export function parseCommandArgs(args: readonly string[], spec: ArgsSpec): ParsedArgs {
  const flags: Record<string, FlagSpec> = { help: HELP, ...spec.flags };
  const canonical = new Map<string, string>();
  const options: Record<string, { type: "string" | "boolean"; multiple: true; short?: string }> = {};
  for (const [name, flag] of Object.entries(flags)) {
    for (const spelling of [name, ...(flag.aliases ?? [])]) {
      canonical.set(spelling, name);
      options[spelling] = { type: flag.type, multiple: true, ...(spelling === name && flag.short ? { short: flag.short } : {}) };
    }
  }

  let head = args;
  let rest: readonly string[] = [];
  if (spec.stopAtPositional) {
    const at = firstPositional(args, flags, canonical);
    head = args.slice(0, at);
    rest = args[at] === "--" ? args.slice(at + 1) : args.slice(at);
  }

  const { tokens } = nodeParseArgs({ args: [...head], options, strict: false, allowPositionals: true, tokens: true });
  const values = new Map<string, string | true | string[]>();
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === "positional") {
      positionals.push(token.value);
      continue;
    }
    if (token.kind !== "option") continue;
    const raw = head[token.index] as string;
    const name = canonical.get(token.name);
    const flag = name === undefined ? undefined : flags[name];
    if (name === undefined || flag === undefined) {
      const shown = raw.startsWith("--") ? raw.replace(/=.*$/, "") : token.rawName;
      throw argsError(`unknown argument ${shown} for ${spec.command}`, spec.command, spec.unknownHint ?? unknownHint(token.name, flags, spec.command));
    }
    if (flag.type === "boolean") {
      if (token.inlineValue) throw argsError(`${token.rawName} takes no value (write ${token.rawName} alone)`, spec.command);
      values.set(name, true);
      continue;
    }
    const value = token.value;
    if (value === undefined || value === "" || (!token.inlineValue && value.startsWith("--"))) {
      const like = flag.value ?? "value";
      throw argsError(`${token.rawName} needs a value`, spec.command, `write ${token.rawName} ${like} or ${token.rawName}=${like}; see ${spec.command} --help`);
    }
    if (flag.multiple) {
      const seen = values.get(name);
      values.set(name, Array.isArray(seen) ? [...seen, value] : [value]);
    } else {
      values.set(name, value);
    }
  }
  const max = spec.maxPositionals ?? 0;
  if (positionals.length > max) {
    throw argsError(`unexpected argument ${positionals[max]} for ${spec.command}`, spec.command);
  }
  return new ParsedArgs(values, positionals, rest, spec.command);
}

/** Index of the first positional argument (or `--`) in `args`, skipping the values of string flags. */
function firstPositional(args: readonly string[], flags: Readonly<Record<string, FlagSpec>>, canonical: ReadonlyMap<string, string>): number {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === "--" || arg === "-" || !arg.startsWith("-")) return i;
    if (arg.startsWith("--") && !arg.includes("=")) {
      const name = canonical.get(arg.slice(2));
      if (name !== undefined && flags[name]?.type === "string") i++;
    } else if (!arg.startsWith("--") && arg.length === 2) {
      const entry = Object.entries(flags).find(([, f]) => f.short === arg.slice(1));
      if (entry?.[1].type === "string") i++;
    }
  }
  return args.length;
}

/** "did you mean --x?" for a near miss, then where the options are listed. */
function unknownHint(name: string, flags: Readonly<Record<string, FlagSpec>>, command: string): string {
  const candidates = Object.entries(flags).flatMap(([n, f]) => [n, ...(f.aliases ?? [])]);
  const near = candidates
    .map((c) => ({ c, d: distance(name.replace(/_/g, "-"), c.replace(/_/g, "-")), raw: distance(name, c) }))
    .filter(({ c, d }) => d <= (c.length >= 4 ? 2 : 1))
    .sort((a, b) => a.d - b.d || a.raw - b.raw)[0];
  return `${near === undefined ? "" : `did you mean --${near.c}? `}run ${command} --help to see its options`;
}

/** Levenshtein distance. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length] as number;
}
