/** Table-driven tests of PipelineOptions: flag syntax, standard options, accessors, round trips. */

import { afterEach, describe, expect, it } from "vitest";
import { SluiceError, type ErrorCode } from "../internal/errors.js";
import {
  LAUNCH_CONTEXT,
  optionKey,
  PipelineOptions,
  STANDARD_OPTIONS,
  type PipelineOptionsInit,
  type StandardOptions,
} from "./options.js";

/** Runs `fn` and returns the SluiceError it throws. */
function thrown(fn: () => unknown): SluiceError {
  try {
    fn();
  } catch (err) {
    if (SluiceError.is(err)) return err;
    throw err;
  }
  throw new Error("expected a SluiceError, nothing was thrown");
}

describe("PipelineOptions.fromArgs: standard options", () => {
  const cases: readonly [string, readonly string[], Partial<StandardOptions>][] = [
    ["defaults", [], { runner: "direct", streaming: false, experiments: [], parallelism: undefined }],
    ["--flag=value", ["--job_endpoint=localhost:8099"], { jobEndpoint: "localhost:8099" }],
    ["--flag value", ["--job_endpoint", "localhost:8099"], { jobEndpoint: "localhost:8099" }],
    ["camelCase", ["--jobEndpoint=localhost:8099"], { jobEndpoint: "localhost:8099" }],
    ["kebab-case", ["--job-endpoint=localhost:8099"], { jobEndpoint: "localhost:8099" }],
    ["value with =", ["--environment_config=a=b"], { environmentConfig: "a=b" }],
    ["empty value", ["--job_name="], { jobName: "" }],
    ["bare boolean", ["--streaming"], { streaming: true }],
    ["boolean=true", ["--streaming=true"], { streaming: true }],
    ["boolean=false", ["--streaming=false"], { streaming: false }],
    ["boolean=FALSE", ["--streaming=FALSE"], { streaming: false }],
    ["boolean does not take the next token", ["--streaming", "false"], { streaming: true }],
    ["runner short name", ["--runner=flink"], { runner: "flink" }],
    ["runner class name", ["--runner=FlinkRunner"], { runner: "flink" }],
    ["runner any case", ["--runner", "PORTABLERUNNER"], { runner: "portable" }],
    ["runner direct", ["--runner=DirectRunner"], { runner: "direct" }],
    ["runner prism", ["--runner=prism"], { runner: "prism" }],
    ["environment type any case", ["--environment_type=loopback"], { environmentType: "LOOPBACK" }],
    ["environment type DOCKER", ["--environmentType", "Docker"], { environmentType: "DOCKER" }],
    ["positive int", ["--parallelism=4"], { parallelism: 4 }],
    ["int as next token", ["--max_bundle_size", "1000"], { maxBundleSize: 1000 }],
    ["zero allowed for sdk_worker_parallelism", ["--sdk_worker_parallelism=0"], { sdkWorkerParallelism: 0 }],
    ["repeated list", ["--experiments", "a", "--experiments=b=1", "--experiments", "c"], { experiments: ["a", "b=1", "c"] }],
    ["list, mixed spellings", ["--environment_options=x=1", "--environmentOptions=y=2"], { environmentOptions: ["x=1", "y=2"] }],
    ["last scalar wins", ["--runner=flink", "--runner=direct"], { runner: "direct" }],
    [
      "Flink settings",
      ["--flink_master=localhost:8081", "--flink_version=1.19", "--checkpointing_interval=1000", "--flink_submit_uber_jar"],
      { flinkMaster: "localhost:8081", flinkVersion: "1.19", checkpointingInterval: 1000, flinkSubmitUberJar: true },
    ],
  ];
  it.each(cases)("%s", (_name, argv, expected) => {
    expect(PipelineOptions.fromArgs(argv)).toMatchObject(expected);
  });
});

describe("PipelineOptions.fromArgs: errors", () => {
  const cases: readonly [string, readonly string[], RegExp][] = [
    ["unknown runner lists the valid ones", ["--runner=spark"], /unknown runner "spark".*/],
    ["bad environment type", ["--environment_type=VM"], /unknown environment type "VM"/],
    ["zero parallelism", ["--parallelism=0"], /--parallelism must be a positive integer, got "0"/],
    ["negative parallelism", ["--parallelism", "-2"], /--parallelism must be a positive integer/],
    ["fractional bundle size", ["--max_bundle_size=1.5"], /--max_bundle_size must be a positive integer/],
    ["non-numeric", ["--parallelism=many"], /--parallelism must be a positive integer, got "many"/],
    ["negative sdk_worker_parallelism", ["--sdk_worker_parallelism=-1"], /non-negative integer/],
    ["bad boolean", ["--streaming=maybe"], /--streaming must be true or false, got "maybe"/],
    ["value flag at the end", ["--job_endpoint"], /flag --job_endpoint needs a value/],
    ["value flag followed by a flag", ["--runner", "--streaming"], /flag --runner needs a value/],
    ["list flag needs a value", ["--experiments", "--streaming"], /flag --experiments needs a value/],
    ["malformed flag", ["--=x"], /malformed flag "--=x"/],
    ["malformed flag name", ["--9lives"], /malformed flag/],
    ["names the spelling used", ["--maxBundleSize=0"], /--maxBundleSize must be/],
  ];
  it.each(cases)("%s", (_name, argv, message) => {
    const err = thrown(() => PipelineOptions.fromArgs(argv));
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.message).toMatch(message);
    expect(err.hint).toBeTruthy();
  });

  it("the unknown-runner hint lists every runner", () => {
    const err = thrown(() => PipelineOptions.fromArgs(["--runner=spark"]));
    for (const name of ["direct", "DirectRunner", "portable", "PortableRunner", "flink", "FlinkRunner", "prism", "PrismRunner"]) {
      expect(err.hint).toContain(name);
    }
  });
});

describe("PipelineOptions.fromArgs: other flags and positionals", () => {
  const cases: readonly [string, readonly string[], Record<string, unknown>, readonly string[]][] = [
    ["--flag=value", ["--output=/tmp/out"], { output: "/tmp/out" }, []],
    ["--flag value", ["--output", "/tmp/out"], { output: "/tmp/out" }, []],
    ["snake_case keyed camelCase", ["--output_prefix=x"], { outputPrefix: "x" }, []],
    ["bare flag at the end", ["--dry_run"], { dryRun: true }, []],
    ["bare flag before a flag", ["--dry_run", "--output=x"], { dryRun: true, output: "x" }, []],
    ["unknown bare flag takes a following value", ["--mode", "fast"], { mode: "fast" }, []],
    ["repeated into a list", ["--input", "a", "--input=b"], { input: ["a", "b"] }, []],
    ["negative number value", ["--offset", "-5"], { offset: "-5" }, []],
    ["positionals", ["in.txt", "--output=o", "more"], { output: "o" }, ["in.txt", "more"]],
    ["-- ends flags", ["--output=o", "--", "--not-a-flag", "x"], { output: "o" }, ["--not-a-flag", "x"]],
    ["single dash is positional", ["-", "-v"], {}, ["-", "-v"]],
  ];
  it.each(cases)("%s", (_name, argv, unknown, positional) => {
    const options = PipelineOptions.fromArgs(argv);
    expect(options.unknown).toEqual(unknown);
    expect(options.positional).toEqual(positional);
  });
});

describe("accessors", () => {
  const options = PipelineOptions.fromArgs([
    "--output=/tmp/out",
    "--rate=2.5",
    "--count",
    "-3",
    "--dry_run",
    "--fast=false",
    "--yes=YES",
    "--input=a",
    "--input=b",
    "--label=first",
    "--label=last",
    "--blank=",
  ]);

  it("read values under either spelling", () => {
    expect(options.string("output")).toBe("/tmp/out");
    expect(options.string("--output")).toBe("/tmp/out");
    expect(options.boolean("dry_run")).toBe(true);
    expect(options.boolean("dryRun")).toBe(true);
    expect(options.boolean("dry-run")).toBe(true);
    expect(options.has("dry_run")).toBe(true);
    expect(options.has("nope")).toBe(false);
    expect(options.has("toString")).toBe(false);
    expect(options.string("toString", "none")).toBe("none");
    expect(options.list("constructor")).toEqual([]);
  });

  it("has() on standard options means 'differs from the default'", () => {
    const o = PipelineOptions.fromArgs(["--streaming=false", "--runner=direct", "--job_name=j"]);
    expect(o.has("streaming")).toBe(false);
    expect(o.has("runner")).toBe(false);
    expect(o.has("job_name")).toBe(true);
    expect(o.has("experiments")).toBe(false);
    expect(PipelineOptions.fromArgs(["--streaming"]).has("streaming")).toBe(true);
  });

  const values: readonly [string, () => unknown, unknown][] = [
    ["string", () => options.string("output"), "/tmp/out"],
    ["string empty", () => options.string("blank"), ""],
    ["string fallback", () => options.string("missing", "dflt"), "dflt"],
    ["string undefined fallback", () => options.string("missing", undefined), undefined],
    ["string repeated: last", () => options.string("label"), "last"],
    ["number", () => options.number("rate"), 2.5],
    ["number fallback", () => options.number("missing", 7), 7],
    ["integer negative", () => options.integer("count"), -3],
    ["integer fallback", () => options.integer("missing", 1), 1],
    ["boolean bare", () => options.boolean("dryRun"), true],
    ["boolean =false", () => options.boolean("fast", true), false],
    ["boolean =YES", () => options.boolean("yes"), true],
    ["boolean absent", () => options.boolean("missing"), false],
    ["boolean absent fallback", () => options.boolean("missing", true), true],
    ["list", () => options.list("input"), ["a", "b"]],
    ["list single", () => options.list("output"), ["/tmp/out"]],
    ["list absent", () => options.list("missing"), []],
  ];
  it.each(values)("%s", (_name, read, expected) => {
    expect(read()).toEqual(expected);
  });

  const errors: readonly [string, () => unknown, RegExp][] = [
    ["missing required string", () => options.string("destination"), /^missing required flag --destination$/],
    ["missing required number", () => options.number("ratio"), /^missing required flag --ratio$/],
    ["missing required integer", () => options.integer("shards"), /^missing required flag --shards$/],
    ["bare flag where a value is needed", () => options.string("dry_run"), /flag --dry_run needs a value/],
    ["not a number", () => options.number("output"), /--output must be a number, got "\/tmp\/out"/],
    ["not an integer", () => options.integer("rate"), /--rate must be an integer, got "2.5"/],
    ["not a boolean", () => options.boolean("output"), /--output must be true or false/],
    ["standard option through an accessor", () => options.string("job_endpoint"), /--job_endpoint is a standard pipeline option/],
  ];
  it.each(errors)("%s", (_name, read, message) => {
    const err = thrown(read);
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.message).toMatch(message);
    expect(err.hint).toBeTruthy();
  });

  it("the missing-flag hint shows how to pass it", () => {
    expect(thrown(() => options.string("destination")).hint).toContain("--destination=");
  });
});

describe("create, toArgs, toJSON", () => {
  it("create validates and normalizes like flags", () => {
    const options = PipelineOptions.create({
      runner: "FlinkRunner",
      environmentType: "loopback",
      parallelism: 2,
      experiments: ["x"],
      unknown: { output_dir: "/o", shards: 3, verbose: true },
      positional: ["a"],
    });
    expect(options).toMatchObject({ runner: "flink", environmentType: "LOOPBACK", parallelism: 2, experiments: ["x"] });
    expect(options.unknown).toEqual({ outputDir: "/o", shards: "3", verbose: true });
    expect(options.integer("shards")).toBe(3);
    expect(options.positional).toEqual(["a"]);
  });

  const createErrors: readonly [string, unknown, RegExp, ErrorCode][] = [
    ["bad runner", { runner: "spark" }, /unknown runner "spark"/, "INVALID_ARGUMENT"],
    ["bad parallelism", { parallelism: 0 }, /parallelism must be a positive integer/, "INVALID_ARGUMENT"],
    ["fractional", { maxBundleSize: 2.5 }, /maxBundleSize must be a positive integer/, "INVALID_ARGUMENT"],
    ["wrong type", { streaming: "yes" }, /streaming must be true or false/, "INVALID_ARGUMENT"],
    ["not a standard option", { output: "x" }, /"output" is not a standard pipeline option/, "INVALID_ARGUMENT"],
    ["standard option under unknown", { unknown: { job_endpoint: "x" } }, /is a standard pipeline option/, "INVALID_ARGUMENT"],
    ["bad flag name under unknown", { unknown: { "9x": "x" } }, /not a valid flag name/, "INVALID_ARGUMENT"],
  ];
  it.each(createErrors)("create rejects: %s", (_name, init, message, code) => {
    const err = thrown(() => PipelineOptions.create(init as PipelineOptionsInit));
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
  });

  const roundTrips: readonly (readonly string[])[] = [
    [],
    ["--runner=flink", "--job_endpoint=localhost:8099", "--streaming", "--parallelism=3"],
    ["--experiments=a", "--experiments=b=2", "--environment_type=DOCKER", "--environment_config=apache/beam:latest"],
    ["in.txt", "--output=/tmp/x", "--dry_run", "--input=a", "--input=b", "--flag=false"],
    ["--output=o", "--", "--looks-like-a-flag", "plain"],
    ["--sdk_worker_parallelism=0", "--flink_submit_uber_jar", "--job_name=with spaces = and more"],
  ];
  it.each(roundTrips)("toArgs round-trips %j", (...argv) => {
    const options = PipelineOptions.fromArgs(argv);
    const again = PipelineOptions.fromArgs(options.toArgs());
    expect(again.toJSON()).toEqual(options.toJSON());
    expect(again.toArgs()).toEqual(options.toArgs());
  });

  it("toArgs uses Beam's snake_case spellings and omits defaults", () => {
    expect(PipelineOptions.create().toArgs()).toEqual([]);
    expect(PipelineOptions.fromArgs(["--jobEndpoint=h:1", "--runner=direct", "--streaming=false"]).toArgs()).toEqual([
      "--job_endpoint=h:1",
    ]);
  });

  it("toJSON round-trips through create and JSON", () => {
    const options = PipelineOptions.fromArgs(["--runner=portable", "--experiments=e", "--output=o", "--n=1", "--n=2", "pos"]);
    const json = JSON.parse(JSON.stringify(options)) as PipelineOptionsInit;
    expect(PipelineOptions.create(json).toJSON()).toEqual(options.toJSON());
    expect(options.toJSON()).toMatchObject({
      runner: "portable",
      streaming: false,
      experiments: ["e"],
      unknown: { output: "o", n: ["1", "2"] },
      positional: ["pos"],
    });
  });

  it("with() replaces options and merges unknown flags", () => {
    const base = PipelineOptions.fromArgs(["--runner=flink", "--output=o"]);
    const changed = base.with({ parallelism: 8, unknown: { extra: "e" } });
    expect(changed).toMatchObject({ runner: "flink", parallelism: 8 });
    expect(changed.unknown).toEqual({ output: "o", extra: "e" });
    expect(base.parallelism).toBeUndefined();
  });

  it("options are immutable", () => {
    const options = PipelineOptions.fromArgs(["--experiments=a", "--x=1"]);
    expect(Object.isFrozen(options)).toBe(true);
    expect(Object.isFrozen(options.experiments)).toBe(true);
    expect(Object.isFrozen(options.unknown)).toBe(true);
  });

  it("hasExperiment matches names and name=value", () => {
    const options = PipelineOptions.fromArgs(["--experiments=use_fast", "--experiments=limit=3"]);
    expect(options.hasExperiment("use_fast")).toBe(true);
    expect(options.hasExperiment("limit")).toBe(true);
    expect(options.hasExperiment("use")).toBe(false);
  });
});

describe("fromLaunch", () => {
  afterEach(() => {
    delete (globalThis as Record<symbol, unknown>)[LAUNCH_CONTEXT];
  });

  it("gives defaults without a launch context", () => {
    expect(PipelineOptions.fromLaunch().toJSON()).toEqual(PipelineOptions.create().toJSON());
  });

  it("parses the argv the CLI stored", () => {
    (globalThis as Record<symbol, unknown>)[Symbol.for("sluice.launch")] = { argv: ["--runner=prism", "--output=x"] };
    const options = PipelineOptions.fromLaunch();
    expect(options.runner).toBe("prism");
    expect(options.string("output")).toBe("x");
  });

  it("rejects a malformed launch context", () => {
    (globalThis as Record<symbol, unknown>)[LAUNCH_CONTEXT] = { argv: "--runner=flink" };
    expect(thrown(() => PipelineOptions.fromLaunch()).code).toBe("INTERNAL");
  });
});

describe("STANDARD_OPTIONS and optionKey", () => {
  it("every standard option has a snake_case flag that maps back to its name", () => {
    for (const spec of STANDARD_OPTIONS) {
      expect(spec.flag).toMatch(/^[a-z0-9_]+$/);
      expect(optionKey(spec.flag)).toBe(spec.name);
      expect(spec.description).not.toBe("");
    }
  });

  const keys: readonly [string, string][] = [
    ["job_endpoint", "jobEndpoint"],
    ["jobEndpoint", "jobEndpoint"],
    ["--job-endpoint", "jobEndpoint"],
    ["s3_bucket", "s3Bucket"],
    ["output", "output"],
  ];
  it.each(keys)("optionKey(%s) = %s", (name, key) => {
    expect(optionKey(name)).toBe(key);
  });
});
