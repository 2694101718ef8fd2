/**
 * Pipeline options: the flags a pipeline is launched with, parsed the way Beam's SDKs parse them.
 * Standard Beam options (runner, job endpoint, environment, Flink settings, …) become typed
 * properties; every other flag stays available to the program through typed accessors.
 *
 * Flag syntax: `--flag=value`, `--flag value`, bare boolean flags (`--streaming`, also
 * `--streaming=false`), repeated flags collected into lists, `--` ends flags. snake_case,
 * camelCase and kebab-case spellings are equivalent (`--job_endpoint` ≡ `--jobEndpoint`).
 * As in Beam Python, an unknown bare flag followed by a token that is not a flag takes that token
 * as its value; write `--flag=true` (or put positionals first) when that is not meant.
 */

import { SluiceError } from "../internal/errors.js";

/** The runners sluice knows, by their short names. */
export type RunnerName = "direct" | "portable" | "flink" | "prism";

/** Beam's SDK harness environment types, for portable runners. */
export type EnvironmentType = "LOOPBACK" | "EXTERNAL" | "PROCESS" | "DOCKER";

/** The standard options, as typed properties of PipelineOptions. */
export interface StandardOptions {
  /** Which runner executes the pipeline. Default "direct". */
  readonly runner: RunnerName;
  /** Run in streaming mode (unbounded sources, processing-time triggers). Default false. */
  readonly streaming: boolean;
  /** A name for the job, shown by the runner's UI. */
  readonly jobName: string | undefined;
  /** Flink's default parallelism. */
  readonly parallelism: number | undefined;
  /** Direct runner: threads that run fused stages in parallel (default: the number of cores; 1: this thread only). */
  readonly directNumWorkers: number | undefined;
  /** Direct runner: MB a run's groupings hold before they spill to disk (default: a quarter of the heap, at most 1024). */
  readonly maxMemoryMb: number | undefined;
  /** Flink's maximum parallelism (the number of key groups). */
  readonly maxParallelism: number | undefined;
  /** Largest number of elements in one bundle. */
  readonly maxBundleSize: number | undefined;
  /** Longest time a bundle stays open, in milliseconds. */
  readonly maxBundleTimeMillis: number | undefined;
  /** A directory or URL for temporary files. */
  readonly tempLocation: string | undefined;
  /** Experiment flags, `name` or `name=value`. */
  readonly experiments: readonly string[];
  /** Resource hints, `name=value` (e.g. `min_ram=4GB`). */
  readonly resourceHints: readonly string[];
  /** The Beam job service to submit to, host:port. */
  readonly jobEndpoint: string | undefined;
  /** The artifact staging service, host:port (defaults to what the job service says). */
  readonly artifactEndpoint: string | undefined;
  /** Seconds to wait for the job service to answer. */
  readonly jobServerTimeout: number | undefined;
  /** How the runner starts SDK workers. */
  readonly environmentType: EnvironmentType | undefined;
  /** Environment-specific configuration: a Docker image, a worker-pool address, a command. */
  readonly environmentConfig: string | undefined;
  /** Environment options, `name=value`. */
  readonly environmentOptions: readonly string[];
  /** How long runners keep idle SDK environments, in milliseconds. */
  readonly environmentCacheMillis: number | undefined;
  /** SDK workers per worker host; 0 lets the runner choose. */
  readonly sdkWorkerParallelism: number | undefined;
  /** The Flink JobManager address, host:port, or "[local]" / "[auto]". */
  readonly flinkMaster: string | undefined;
  /** The Flink version to use, e.g. "1.19". */
  readonly flinkVersion: string | undefined;
  /** Path or URL of the Beam Flink job server jar. */
  readonly flinkJobServerJar: string | undefined;
  /** Submit to Flink as an uber jar instead of through a job server. Default false. */
  readonly flinkSubmitUberJar: boolean;
  /** Flink checkpoint interval, in milliseconds. */
  readonly checkpointingInterval: number | undefined;
  /** Path or URL of the Prism runner binary. */
  readonly prismLocation: string | undefined;
}

/** A standard option's property name. */
export type StandardOptionName = keyof StandardOptions;

/** The value of a flag that is not a standard option, as parsed. */
export type UnknownFlagValue = string | boolean | readonly string[];

/** What `PipelineOptions.create` accepts: any standard options, plus other flags and positionals. */
export type PipelineOptionsInit = {
  /** A runner, by short name or Beam class name, any case ("flink", "FlinkRunner"). */
  readonly runner?: RunnerName | "DirectRunner" | "PortableRunner" | "FlinkRunner" | "PrismRunner" | undefined;
  /** An environment type, any case. */
  readonly environmentType?: EnvironmentType | Lowercase<EnvironmentType> | undefined;
} & {
  readonly [K in Exclude<StandardOptionName, "runner" | "environmentType">]?: StandardOptions[K] | undefined;
} & {
  /** Flags that are not standard options, keyed by either spelling; numbers are kept as strings. */
  readonly unknown?: Readonly<Record<string, UnknownFlagValue | number>> | undefined;
  /** Positional (non-flag) arguments. */
  readonly positional?: readonly string[] | undefined;
};

/** The plain-object form of PipelineOptions (`toJSON()`); `create()` accepts it back. */
export type PipelineOptionsJSON = {
  readonly [K in StandardOptionName]?: StandardOptions[K];
} & {
  readonly unknown: Readonly<Record<string, UnknownFlagValue>>;
  readonly positional: readonly string[];
};

/** How a standard option's value is written and checked. */
export type StandardOptionType = "string" | "boolean" | "integer" | "list" | "choice";

/** A description of one standard option, for help texts and tooling. */
export interface StandardOptionSpec {
  /** The property name, camelCase. */
  readonly name: StandardOptionName;
  /** The flag as Beam documents it, snake_case, without dashes. */
  readonly flag: string;
  readonly type: StandardOptionType;
  /** For "choice" options, the canonical values. */
  readonly choices?: readonly string[];
  /** For "integer" options, the smallest value accepted (1 or 0). */
  readonly min?: number;
  /** A placeholder for the value in help texts. */
  readonly value: string;
  readonly description: string;
  /** Shown first in `sluice run --help`. */
  readonly common: boolean;
}

/** Runner spellings accepted (lowercased) and the runner each names. */
const RUNNER_ALIASES: Readonly<Record<string, RunnerName>> = {
  direct: "direct",
  directrunner: "direct",
  portable: "portable",
  portablerunner: "portable",
  flink: "flink",
  flinkrunner: "flink",
  prism: "prism",
  prismrunner: "prism",
};

/** Beam's class name for each runner, for messages. */
const RUNNER_CLASS: Readonly<Record<RunnerName, string>> = {
  direct: "DirectRunner",
  portable: "PortableRunner",
  flink: "FlinkRunner",
  prism: "PrismRunner",
};

const ENVIRONMENT_TYPES: readonly EnvironmentType[] = ["LOOPBACK", "EXTERNAL", "PROCESS", "DOCKER"];

/** Every standard option. The order is the order of help texts and of `toArgs()`. */
export const STANDARD_OPTIONS: readonly StandardOptionSpec[] = [
  choice("runner", "NAME", ["direct", "portable", "flink", "prism"], "direct (default), portable, flink or prism; FlinkRunner etc. work too", true),
  bool("streaming", "run in streaming mode", true),
  str("jobName", "NAME", "a name for the job, shown by the runner", true),
  int("parallelism", 1, "Flink's default parallelism", true),
  int("directNumWorkers", 1, "direct runner: threads running stages in parallel (default: the cores)", true),
  int("maxMemoryMb", 1, "direct runner: MB groupings hold before spilling to disk", true),
  int("maxParallelism", 1, "Flink's maximum parallelism (key groups)", false),
  int("maxBundleSize", 1, "largest number of elements in one bundle", true),
  int("maxBundleTimeMillis", 1, "longest time a bundle stays open, in ms", false),
  str("tempLocation", "PATH", "a directory or URL for temporary files", true),
  list("experiments", "NAME[=VALUE]", "enable an experiment; repeat for several", true),
  list("resourceHints", "NAME=VALUE", "a resource hint, e.g. min_ram=4GB; repeatable", false),
  str("jobEndpoint", "HOST:PORT", "the Beam job service to submit to", true),
  str("artifactEndpoint", "HOST:PORT", "the artifact staging service, if not the job service's", false),
  int("jobServerTimeout", 1, "seconds to wait for the job service", false),
  choice("environmentType", "TYPE", ENVIRONMENT_TYPES, "how SDK workers start: LOOPBACK, EXTERNAL, PROCESS or DOCKER", true),
  str("environmentConfig", "CONFIG", "the Docker image, worker-pool address or command", true),
  list("environmentOptions", "NAME=VALUE", "an environment option; repeatable", false),
  int("environmentCacheMillis", 0, "how long runners keep idle SDK environments, in ms", false),
  int("sdkWorkerParallelism", 0, "SDK workers per worker host (0: runner chooses)", true),
  str("flinkMaster", "HOST:PORT", "the Flink JobManager, or [local] / [auto]", true),
  str("flinkVersion", "VERSION", "the Flink version, e.g. 1.19", true),
  str("flinkJobServerJar", "PATH", "path or URL of the Beam Flink job server jar", false),
  bool("flinkSubmitUberJar", "submit to Flink as an uber jar", false),
  int("checkpointingInterval", 1, "Flink checkpoint interval, in ms", false),
  str("prismLocation", "PATH", "path or URL of the Prism runner binary", false),
];

const SPECS: ReadonlyMap<string, StandardOptionSpec> = new Map(STANDARD_OPTIONS.map((s) => [s.name, s]));

/** The key PipelineOptions.fromLaunch reads on globalThis; the CLI stores the launch context there. */
export const LAUNCH_CONTEXT: unique symbol = Symbol.for("sluice.launch");

/** What `sluice run` stores at `globalThis[LAUNCH_CONTEXT]` before importing a pipeline file. */
export interface LaunchContext {
  /** The pipeline's arguments: everything after the file name. */
  readonly argv: readonly string[];
  /** The pipeline file's absolute path. */
  readonly file?: string;
  /**
   * A module a new thread imports before the pipeline file to load it as this one does (the
   * CLI's TypeScript and `sluice` resolution hooks, which Node 20 does not carry into worker
   * threads): its `setupThread(data)` export is called with `data`.
   */
  readonly threadSetup?: { readonly url: string; readonly data: unknown };
  /**
   * The pipeline file bundled (internal/bundle.ts, packages by path), when that is what `sluice
   * run` imported: a new thread imports it too, with no loader (threadSetup is for the threads
   * that cannot).
   */
  readonly bundle?: string;
}

/** The launch context `sluice run` stored, or undefined when the program was not launched by it. */
export function getLaunchContext(): LaunchContext | undefined {
  const ctx = (globalThis as Record<symbol, unknown>)[LAUNCH_CONTEXT];
  if (ctx === undefined || ctx === null) return undefined;
  const argv = (ctx as { argv?: unknown }).argv;
  if (!Array.isArray(argv) || !argv.every((a): a is string => typeof a === "string")) {
    throw new SluiceError("INTERNAL", "the sluice launch context is malformed: argv is not a list of strings", {
      hint: `something other than the sluice CLI set globalThis[Symbol.for("sluice.launch")]; it must be { argv: string[] }`,
    });
  }
  return ctx as LaunchContext;
}

/**
 * Normalizes a flag name to its camelCase key: strips leading dashes and turns snake_case and
 * kebab-case into camelCase (`--job_endpoint` → `jobEndpoint`).
 */
export function optionKey(name: string): string {
  return name.replace(/^-+/, "").replace(/[-_]+([A-Za-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** Values of the standard options as a mutable record, while building. */
type Mutable = { -readonly [K in StandardOptionName]: StandardOptions[K] };

const DEFAULTS: StandardOptions = Object.freeze({
  runner: "direct",
  streaming: false,
  jobName: undefined,
  parallelism: undefined,
  directNumWorkers: undefined,
  maxMemoryMb: undefined,
  maxParallelism: undefined,
  maxBundleSize: undefined,
  maxBundleTimeMillis: undefined,
  tempLocation: undefined,
  experiments: Object.freeze([]) as readonly string[],
  resourceHints: Object.freeze([]) as readonly string[],
  jobEndpoint: undefined,
  artifactEndpoint: undefined,
  jobServerTimeout: undefined,
  environmentType: undefined,
  environmentConfig: undefined,
  environmentOptions: Object.freeze([]) as readonly string[],
  environmentCacheMillis: undefined,
  sdkWorkerParallelism: undefined,
  flinkMaster: undefined,
  flinkVersion: undefined,
  flinkJobServerJar: undefined,
  flinkSubmitUberJar: false,
  checkpointingInterval: undefined,
  prismLocation: undefined,
});

// Declaration merging: the standard options are properties of every PipelineOptions.
export interface PipelineOptions extends StandardOptions {}

/**
 * A pipeline's options. Build one with `PipelineOptions.fromArgs(argv)`, `.fromLaunch()` (inside
 * a file run by `sluice run`) or `.create({...})`. Standard options are typed properties; read
 * other flags with `string()`, `number()`, `integer()`, `boolean()` and `list()`. Immutable.
 */
export class PipelineOptions {
  /** Flags that are not standard options, keyed camelCase, in the order first given. */
  readonly unknown: Readonly<Record<string, UnknownFlagValue>>;
  /** Positional (non-flag) arguments, in order. */
  readonly positional: readonly string[];

  private constructor(
    standard: StandardOptions,
    unknown: Readonly<Record<string, UnknownFlagValue>>,
    positional: readonly string[],
  ) {
    Object.assign(this, standard);
    this.unknown = Object.freeze(unknown);
    this.positional = Object.freeze(positional);
    Object.freeze(this);
  }

  /**
   * Parses command-line arguments (without node and the script), e.g.
   * `["--runner=flink", "--job_endpoint", "localhost:8099", "--output=/tmp/out", "in.txt"]`.
   * Throws SluiceError INVALID_ARGUMENT naming the flag when a value is malformed.
   */
  static fromArgs(argv: readonly string[]): PipelineOptions {
    const { flags, positional } = tokenize(argv);
    const standard: Mutable = { ...DEFAULTS };
    const unknown: Record<string, UnknownFlagValue> = {};
    for (const [key, { written, values }] of flags) {
      const spec = SPECS.get(key);
      if (spec === undefined) {
        const strings = values.map((v) => (v === true ? "true" : v));
        unknown[key] = values.length === 1 ? (values[0] as string | true) : Object.freeze(strings);
      } else {
        setStandard(standard, spec, fromFlagValues(spec, written, values));
      }
    }
    return new PipelineOptions(standard, unknown, positional);
  }

  /**
   * Builds options from an object: `create({ runner: "flink", parallelism: 4 })`. Accepts what
   * `toJSON()` returns. Values are validated like flags; errors name the property.
   */
  static create(init: PipelineOptionsInit = {}): PipelineOptions {
    const standard: Mutable = { ...DEFAULTS };
    const unknown: Record<string, UnknownFlagValue> = {};
    let positional: readonly string[] = [];
    for (const [name, value] of Object.entries(init) as [string, unknown][]) {
      if (value === undefined) continue;
      if (name === "unknown") {
        Object.assign(unknown, normalizeUnknown(value));
      } else if (name === "positional") {
        positional = checkStringArray(value, "positional");
      } else {
        const spec = SPECS.get(name);
        if (spec === undefined) {
          throw new SluiceError("INVALID_ARGUMENT", `"${name}" is not a standard pipeline option`, {
            hint: `put program-specific flags under "unknown", e.g. create({ unknown: { ${name}: ... } }); standard options: ${STANDARD_OPTIONS.map((s) => s.name).join(", ")}`,
          });
        }
        setStandard(standard, spec, fromTypedValue(spec, value));
      }
    }
    return new PipelineOptions(standard, unknown, [...positional]);
  }

  /**
   * The options `sluice run` launched this program with (the arguments after the file name), or
   * default options when the program was not started by `sluice run`.
   */
  static fromLaunch(): PipelineOptions {
    const ctx = getLaunchContext();
    return ctx === undefined ? PipelineOptions.create() : PipelineOptions.fromArgs(ctx.argv);
  }

  /** A copy with some options replaced; `unknown` entries are merged, `positional` replaced. */
  with(overrides: PipelineOptionsInit): PipelineOptions {
    const base = this.toJSON();
    return PipelineOptions.create({
      ...base,
      ...overrides,
      unknown: { ...base.unknown, ...(overrides.unknown ?? {}) },
      positional: overrides.positional ?? base.positional,
    } as PipelineOptionsInit);
  }

  /**
   * True when the flag (either spelling) was given; for a standard option, when its value differs
   * from the default.
   */
  has(name: string): boolean {
    const key = optionKey(name);
    const spec = SPECS.get(key);
    if (spec !== undefined) {
      const v = this[spec.name];
      return v !== undefined && v !== DEFAULTS[spec.name] && !(Array.isArray(v) && v.length === 0);
    }
    return Object.hasOwn(this.unknown, key);
  }

  /** True when `--experiments` includes `name` or `name=…`. */
  hasExperiment(name: string): boolean {
    return this.experiments.some((e) => e === name || e.startsWith(`${name}=`));
  }

  /**
   * A string flag. Without a fallback the flag is required: throws SluiceError INVALID_ARGUMENT
   * "missing required flag --name" when absent. Repeated flags: the last one wins.
   */
  string(name: string): string;
  string<D extends string | undefined>(name: string, fallback: D): string | D;
  string(name: string, ...fallback: [] | [string | undefined]): string | undefined {
    const raw = this.lookup(name);
    if (raw === undefined) return fallback.length > 0 ? fallback[0] : missing(name, "<value>");
    if (raw === true || raw === false) throw needsValue(name, "<value>");
    return raw;
  }

  /** A finite number flag; required unless a fallback is given. */
  number(name: string): number;
  number<D extends number | undefined>(name: string, fallback: D): number | D;
  number(name: string, ...fallback: [] | [number | undefined]): number | undefined {
    const raw = this.lookup(name);
    if (raw === undefined) return fallback.length > 0 ? fallback[0] : missing(name, "<number>");
    if (raw === true || raw === false) throw needsValue(name, "<number>");
    const n = raw.trim() === "" ? NaN : Number(raw);
    if (!Number.isFinite(n)) throw badValue(flagName(name), raw, "a number");
    return n;
  }

  /** An integer flag (safe integer, may be negative); required unless a fallback is given. */
  integer(name: string): number;
  integer<D extends number | undefined>(name: string, fallback: D): number | D;
  integer(name: string, ...fallback: [] | [number | undefined]): number | undefined {
    const raw = this.lookup(name);
    if (raw === undefined) return fallback.length > 0 ? fallback[0] : missing(name, "<integer>");
    if (raw === true || raw === false) throw needsValue(name, "<integer>");
    const n = /^[+-]?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n)) throw badValue(flagName(name), raw, "an integer");
    return n;
  }

  /**
   * A boolean flag: bare `--name` is true, `--name=true|false|1|0|yes|no` as written. Absent:
   * the fallback, or false.
   */
  boolean(name: string, fallback = false): boolean {
    const raw = this.lookup(name);
    if (raw === undefined) return fallback;
    if (raw === true || raw === false) return raw;
    return parseBoolean(flagName(name), raw);
  }

  /** Every value of a repeatable flag, in order; empty when absent. */
  list(name: string): readonly string[] {
    const key = this.checkUnknownKey(name);
    const raw = Object.hasOwn(this.unknown, key) ? this.unknown[key] : undefined;
    if (raw === undefined) return [];
    if (raw === true || raw === false) throw needsValue(name, "<value>");
    return typeof raw === "string" ? [raw] : raw;
  }

  /**
   * Arguments that parse back to equal options: standard options that differ from their
   * defaults (snake_case, as Beam documents them), then other flags (camelCase keys), all as
   * `--name=value`, then positionals.
   */
  toArgs(): string[] {
    const args: string[] = [];
    for (const spec of STANDARD_OPTIONS) {
      const value = this[spec.name];
      if (value === undefined || value === DEFAULTS[spec.name]) continue;
      if (Array.isArray(value)) {
        for (const v of value as readonly string[]) args.push(`--${spec.flag}=${v}`);
      } else if (value === true) {
        args.push(`--${spec.flag}`);
      } else if (value !== false) {
        args.push(`--${spec.flag}=${String(value)}`);
      }
    }
    for (const [key, value] of Object.entries(this.unknown)) {
      if (value === true) args.push(`--${key}`);
      else if (value === false) args.push(`--${key}=false`);
      else if (typeof value === "string") args.push(`--${key}=${value}`);
      else for (const v of value) args.push(`--${key}=${v}`);
    }
    if (this.positional.some((p) => p.startsWith("-"))) args.push("--", ...this.positional);
    else args.unshift(...this.positional);
    return args;
  }

  /** A plain object: every set standard option, `unknown` and `positional`. */
  toJSON(): PipelineOptionsJSON {
    const out: Record<string, unknown> = {};
    for (const spec of STANDARD_OPTIONS) {
      const value = this[spec.name];
      if (value !== undefined) out[spec.name] = Array.isArray(value) ? [...(value as readonly string[])] : value;
    }
    out["unknown"] = { ...this.unknown };
    out["positional"] = [...this.positional];
    return out as PipelineOptionsJSON;
  }

  /** The raw value of a non-standard flag (last one when repeated). */
  private lookup(name: string): string | boolean | undefined {
    const key = this.checkUnknownKey(name);
    const raw = Object.hasOwn(this.unknown, key) ? this.unknown[key] : undefined;
    if (raw === undefined || typeof raw === "string" || typeof raw === "boolean") return raw;
    return raw[raw.length - 1];
  }

  private checkUnknownKey(name: string): string {
    const key = optionKey(name);
    const spec = SPECS.get(key);
    if (spec !== undefined) {
      throw new SluiceError("INVALID_ARGUMENT", `--${spec.flag} is a standard pipeline option, not read through accessors`, {
        hint: `read it as the typed property options.${spec.name}`,
      });
    }
    return key;
  }
}

/** What a flag name may look like (without the dashes). */
const FLAG_NAME = /^[A-Za-z][A-Za-z0-9_.-]*$/;

/** One flag as collected from argv: its spelling as first written, and each value given. */
interface RawFlag {
  readonly written: string;
  readonly values: (string | true)[];
}

/** Splits argv into flags (keyed camelCase, in first-seen order) and positionals. */
function tokenize(argv: readonly string[]): { flags: Map<string, RawFlag>; positional: string[] } {
  const flags = new Map<string, RawFlag>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] as string;
    if (token === "--") {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!token.startsWith("--")) {
      positional.push(token);
      continue;
    }
    const eq = token.indexOf("=");
    const name = token.slice(2, eq < 0 ? undefined : eq);
    if (!FLAG_NAME.test(name)) {
      throw new SluiceError("INVALID_ARGUMENT", `malformed flag "${token}"`, {
        hint: "flags are written --name=value or --name value, with a name of letters, digits, _ and -",
      });
    }
    const key = optionKey(name);
    let value: string | true;
    if (eq >= 0) {
      value = token.slice(eq + 1);
    } else if (SPECS.get(key)?.type === "boolean") {
      value = true;
    } else {
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith("--")) {
        value = next;
        i++;
      } else if (SPECS.has(key)) {
        throw needsValue(name, (SPECS.get(key) as StandardOptionSpec).value);
      } else {
        value = true;
      }
    }
    const existing = flags.get(key);
    if (existing === undefined) flags.set(key, { written: `--${name}`, values: [value] });
    else existing.values.push(value);
  }
  return { flags, positional };
}

/** Converts a standard option's flag values (validated) to its typed value. */
function fromFlagValues(spec: StandardOptionSpec, written: string, values: readonly (string | true)[]): unknown {
  if (spec.type === "list") {
    return values.map((v) => {
      if (v === true) throw needsValue(written, spec.value);
      return v;
    });
  }
  const last = values[values.length - 1] as string | true; // last one wins, as in Beam
  if (spec.type === "boolean") return last === true ? true : parseBoolean(written, last);
  if (last === true) throw needsValue(written, spec.value);
  return parseScalar(spec, written, last);
}

/** Validates a value given to `create()` for a standard option. */
function fromTypedValue(spec: StandardOptionSpec, value: unknown): unknown {
  const label = spec.name;
  switch (spec.type) {
    case "list":
      return checkStringArray(value, label);
    case "boolean":
      if (typeof value !== "boolean") throw badValue(label, value, "true or false");
      return value;
    case "integer":
      if (typeof value === "number") return checkInteger(spec, label, value, String(value));
      if (typeof value !== "string") throw badValue(label, value, integerWant(spec));
      return parseScalar(spec, label, value);
    default:
      if (typeof value !== "string") throw badValue(label, value, spec.type === "choice" ? `one of ${choicesText(spec)}` : "a string");
      return parseScalar(spec, label, value);
  }
}

/** Parses and validates a string value of a string, integer or choice option. */
function parseScalar(spec: StandardOptionSpec, label: string, raw: string): unknown {
  switch (spec.type) {
    case "integer": {
      const n = /^\+?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
      return checkInteger(spec, label, n, raw);
    }
    case "choice":
      return spec.name === "runner" ? parseRunner(label, raw) : parseEnvironmentType(label, raw);
    default:
      return raw;
  }
}

function checkInteger(spec: StandardOptionSpec, label: string, n: number, raw: string): number {
  if (!Number.isSafeInteger(n) || n < (spec.min ?? 0)) throw badValue(label, raw, integerWant(spec));
  return n;
}

function integerWant(spec: StandardOptionSpec): string {
  return spec.min === 0 ? "a non-negative integer" : "a positive integer";
}

function parseRunner(label: string, raw: string): RunnerName {
  const runner = RUNNER_ALIASES[raw.trim().toLowerCase()];
  if (runner !== undefined) return runner;
  const valid = (Object.keys(RUNNER_CLASS) as RunnerName[]).map((r) => `${r} (${RUNNER_CLASS[r]})`).join(", ");
  throw new SluiceError("INVALID_ARGUMENT", `unknown runner "${raw}" given to ${label}`, {
    hint: `valid runners: ${valid}`,
  });
}

function parseEnvironmentType(label: string, raw: string): EnvironmentType {
  const upper = raw.trim().toUpperCase();
  const found = ENVIRONMENT_TYPES.find((t) => t === upper);
  if (found !== undefined) return found;
  throw new SluiceError("INVALID_ARGUMENT", `unknown environment type "${raw}" given to ${label}`, {
    hint: `valid environment types: ${ENVIRONMENT_TYPES.join(", ")}`,
  });
}

function parseBoolean(label: string, raw: string): boolean {
  const v = raw.trim().toLowerCase();
  if (v === "true" || v === "1" || v === "yes") return true;
  if (v === "false" || v === "0" || v === "no") return false;
  throw badValue(label, raw, "true or false");
}

function checkStringArray(value: unknown, label: string): readonly string[] {
  if (typeof value === "string") return [value];
  if (!Array.isArray(value) || !value.every((v): v is string => typeof v === "string")) {
    throw badValue(label, value, "a list of strings");
  }
  return Object.freeze([...value]);
}

/** Validates and key-normalizes the `unknown` record given to `create()`. */
function normalizeUnknown(value: unknown): Record<string, UnknownFlagValue> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw badValue("unknown", value, "an object of flag values");
  }
  const out: Record<string, UnknownFlagValue> = {};
  for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
    if (!FLAG_NAME.test(name.replace(/^-+/, ""))) {
      throw new SluiceError("INVALID_ARGUMENT", `"${name}" under "unknown" is not a valid flag name`, {
        hint: "flag names start with a letter and contain letters, digits, _, - and .",
      });
    }
    const key = optionKey(name);
    const spec = SPECS.get(key);
    if (spec !== undefined) {
      throw new SluiceError("INVALID_ARGUMENT", `"${name}" under "unknown" is a standard pipeline option`, {
        hint: `pass it as the top-level property ${spec.name}`,
      });
    }
    if (v === undefined) continue;
    if (typeof v === "string" || typeof v === "boolean") out[key] = v;
    else if (typeof v === "number" && Number.isFinite(v)) out[key] = String(v);
    else out[key] = checkStringArray(v, `unknown.${name}`);
  }
  return out;
}

function setStandard(target: Mutable, spec: StandardOptionSpec, value: unknown): void {
  (target as Record<string, unknown>)[spec.name] = Array.isArray(value) ? Object.freeze([...(value as string[])]) : value;
}

/** `--name` for accessor names given in any spelling. */
function flagName(name: string): string {
  return `--${name.replace(/^-+/, "")}`;
}

function missing(name: string, placeholder: string): never {
  const flag = flagName(name);
  throw new SluiceError("INVALID_ARGUMENT", `missing required flag ${flag}`, {
    hint: `pass ${flag}=${placeholder} after the pipeline file, e.g. sluice run pipeline.ts ${flag}=${placeholder}`,
  });
}

function needsValue(name: string, placeholder: string): SluiceError {
  const flag = flagName(name);
  return new SluiceError("INVALID_ARGUMENT", `flag ${flag} needs a value`, {
    hint: `write ${flag}=${placeholder} or ${flag} ${placeholder}`,
  });
}

function badValue(label: string, value: unknown, want: string): SluiceError {
  const shown = typeof value === "string" ? `"${value}"` : String(value);
  return new SluiceError("INVALID_ARGUMENT", `${label} must be ${want}, got ${shown}`, {
    hint: `fix the value of ${label}`,
  });
}

function choicesText(spec: StandardOptionSpec): string {
  return (spec.choices ?? []).join(", ");
}

function str(name: StandardOptionName, value: string, description: string, common: boolean): StandardOptionSpec {
  return { name, flag: snake(name), type: "string", value, description, common };
}

function bool(name: StandardOptionName, description: string, common: boolean): StandardOptionSpec {
  return { name, flag: snake(name), type: "boolean", value: "true|false", description, common };
}

function int(name: StandardOptionName, min: number, description: string, common: boolean): StandardOptionSpec {
  return { name, flag: snake(name), type: "integer", min, value: "N", description, common };
}

function list(name: StandardOptionName, value: string, description: string, common: boolean): StandardOptionSpec {
  return { name, flag: snake(name), type: "list", value, description, common };
}

function choice(
  name: StandardOptionName,
  value: string,
  choices: readonly string[],
  description: string,
  common: boolean,
): StandardOptionSpec {
  return { name, flag: snake(name), type: "choice", choices, value, description, common };
}

function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
