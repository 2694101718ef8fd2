/**
 * The one argument parser (src/cli/args.ts) and every command that uses it: `--flag value` and
 * `--flag=value`, booleans, repeated flags, `--`, and usage errors that name the flag and the
 * command and point at --help (exit 2). `sluice run` keeps its own flags before the file and passes
 * everything after it, unknown flags included, to the pipeline.
 */
import { thrown } from "./support.js";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { parseCommandArgs } from "../src/cli/args.js";
import { main } from "../src/cli/main.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const tmp = realpathSync(mkdtempSync(join(tmpdir(), "sluice-cli-args-")));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function sluice(args: string[]): Promise<{ code: number | undefined; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(args, {
    out: (t) => void (out += t),
    err: (t) => void (err += t),
    env: { ...process.env, SLUICE_STATE_DIR: join(tmp, "state"), SLUICE_DEBUG: "" },
    cwd: tmp,
  });
  return { code, out, err };
}


const SPEC = {
  command: "sluice demo",
  flags: {
    port: { type: "string", value: "N" },
    json: { type: "boolean" },
    follow: { type: "boolean", short: "f" },
    experiment: { type: "string", multiple: true },
    job_endpoint: { type: "string", aliases: ["job-endpoint"] },
  },
  maxPositionals: 1,
} as const;

describe("parseCommandArgs", () => {
  it("reads --flag value and --flag=value alike, booleans, short forms, aliases and positionals", () => {
    const a = parseCommandArgs(["--port", "8081", "--json", "-f", "--job-endpoint=h:1", "thing"], SPEC);
    const b = parseCommandArgs(["thing", "--port=8081", "--follow", "--json", "--job_endpoint", "h:1"], SPEC);
    for (const p of [a, b]) {
      expect(p.string("port")).toBe("8081");
      expect(p.integer("port", 1, 1, 65535)).toBe(8081);
      expect(p.has("json")).toBe(true);
      expect(p.has("follow")).toBe(true);
      expect(p.string("job_endpoint")).toBe("h:1");
      expect(p.positionals).toEqual(["thing"]);
      expect(p.has("help")).toBe(false);
    }
    expect(parseCommandArgs(["-h"], SPEC).has("help")).toBe(true);
  });

  it("collects a repeated multiple flag in order; a repeated single flag keeps the last value", () => {
    const p = parseCommandArgs(["--experiment", "a", "--experiment=b", "--port", "1", "--port", "2"], SPEC);
    expect(p.strings("experiment")).toEqual(["a", "b"]);
    expect(p.string("port")).toBe("2");
    expect(parseCommandArgs([], SPEC).strings("experiment")).toEqual([]);
  });

  it("after --, everything is positional", () => {
    const p = parseCommandArgs(["--json", "--", "--port"], SPEC);
    expect(p.positionals).toEqual(["--port"]);
  });

  it("an unknown flag names itself and the command and points at --help, with a near miss suggested", () => {
    const e = thrown(() => parseCommandArgs(["--prot", "1"], SPEC));
    expect(e.code).toBe("INVALID_ARGUMENT");
    expect(e.message).toBe("unknown argument --prot for sluice demo");
    expect(e.hint).toBe("did you mean --port? run sluice demo --help to see its options");
    expect(thrown(() => parseCommandArgs(["-x"], SPEC)).message).toBe("unknown argument -x for sluice demo");
    expect(thrown(() => parseCommandArgs(["--zzzzzz=1"], SPEC)).hint).toBe("run sluice demo --help to see its options");
  });

  it("a flag without its value, a boolean with one, and an extra positional are usage errors", () => {
    for (const args of [["--port"], ["--port="], ["--port", "--json"]]) {
      const e = thrown(() => parseCommandArgs(args, SPEC));
      expect(e.message, args.join(" ")).toBe("--port needs a value");
      expect(e.hint).toContain("--port N");
    }
    expect(thrown(() => parseCommandArgs(["--json=yes"], SPEC)).message).toContain("--json takes no value");
    expect(thrown(() => parseCommandArgs(["a", "b"], SPEC)).message).toBe("unexpected argument b for sluice demo");
    expect(thrown(() => parseCommandArgs(["--port", "x"], SPEC).integer("port", 1, 1, 9)).message).toContain('--port must be a whole number from 1 to 9, not "x"');
  });

  it("stopAtPositional leaves the first positional and everything after it unparsed", () => {
    const spec = { command: "sluice run", flags: { tsconfig: { type: "string" }, verbose: { type: "boolean" } }, stopAtPositional: true } as const;
    const p = parseCommandArgs(["--tsconfig", "t.json", "--verbose", "file.ts", "--tsconfig", "x", "--unknown"], spec);
    expect(p.string("tsconfig")).toBe("t.json");
    expect(p.has("verbose")).toBe(true);
    expect(p.rest).toEqual(["file.ts", "--tsconfig", "x", "--unknown"]);
    expect(parseCommandArgs(["--", "-odd-name.ts", "--x"], spec).rest).toEqual(["-odd-name.ts", "--x"]);
  });
});

describe("every command parses with it", () => {
  it.each([
    [["--frob"], "unknown argument --frob for sluice"],
    [["doctor", "--bogus"], "unknown argument --bogus for sluice doctor"],
    [["help", "--bogus"], "unknown argument --bogus for sluice help"],
    [["run", "--bogus", "file.ts"], "unknown argument --bogus for sluice run"],
    [["cluster", "up", "--taskmanager", "2"], "unknown argument --taskmanager for sluice cluster up"],
    [["cluster", "status", "--jsn"], "unknown argument --jsn for sluice cluster status"],
    [["cluster", "logs", "--line", "5"], "unknown argument --line for sluice cluster logs"],
    [["cluster", "compose", "--out", "x"], "unknown argument --out for sluice cluster compose"],
    [["jobs", "list", "--job-endpont", "h:1"], "unknown argument --job-endpont for sluice jobs list"],
    [["jobs", "cancel", "x", "--force"], "unknown argument --force for sluice jobs cancel"],
  ])("sluice %j: an unknown flag is named with its command, exit 2", async (args, message) => {
    const r = await sluice(args);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`sluice: ${message}\n`);
    expect(r.err).toMatch(/hint: .*--help/);
  });

  it("suggests the flag a typo was meant to be", async () => {
    expect((await sluice(["cluster", "up", "--taskmanager", "2"])).err).toContain("did you mean --taskmanagers?");
    expect((await sluice(["jobs", "list", "--job-endpont", "h:1"])).err).toContain("did you mean --job-endpoint?");
  });

  it("a missing value is named, exit 2", async () => {
    for (const args of [["cluster", "up", "--slots"], ["jobs", "list", "--job_endpoint"], ["run", "--tsconfig"]]) {
      const r = await sluice(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err).toContain(`sluice: ${args[args.length - 1]} needs a value`);
    }
  });

  it("--flag value and --flag=value write the same compose file", async () => {
    const a = join(tmp, "a.yaml");
    const b = join(tmp, "b.yaml");
    expect((await sluice(["cluster", "compose", "--output", a, "--taskmanagers", "3", "--python"])).code).toBe(0);
    expect((await sluice(["cluster", "compose", `--output=${b}`, "--taskmanagers=3", "--python"])).code).toBe(0);
    expect(readFileSync(a, "utf8")).toBe(readFileSync(b, "utf8"));
    expect(readFileSync(a, "utf8")).toContain("taskmanager-3");
    expect((await sluice(["cluster", "compose", "--python=yes"])).err).toContain("--python takes no value");
  });

  it("global --verbose and a command's -h; help takes one command name", async () => {
    expect((await sluice(["--verbose", "doctor", "--bogus"])).err).toContain("code: INVALID_ARGUMENT");
    const h = await sluice(["doctor", "-h"]);
    expect(h.code).toBe(0);
    expect(h.out).toContain("Usage: sluice doctor");
    const help = await sluice(["help", "jobs"]);
    expect(help.code).toBe(0);
    expect(help.out).toContain("sluice jobs");
    expect((await sluice(["help", "run", "jobs"])).err).toContain("unexpected argument jobs for sluice help");
  });

  it("sluice run keeps its own flags before the file and passes every flag after it to the pipeline", () => {
    writeFileSync(join(tmp, "tsconfig.json"), "{}\n");
    writeFileSync(
      join(tmp, "show.ts"),
      `import { PipelineOptions } from "sluice";\nconsole.log(JSON.stringify({ argv: process.argv.slice(2), unknown: PipelineOptions.fromLaunch().toJSON().unknown }));\n`,
    );
    const r = spawnSync(
      process.execPath,
      [join(ROOT, "bin", "sluice.js"), "run", "--tsconfig", "tsconfig.json", "show.ts", "--tsconfig", "other.json", "--my_flag", "v", "--verbose", "--help"],
      { cwd: tmp, encoding: "utf8", timeout: 30_000, env: { ...process.env, SLUICE_DEBUG: "", NODE_OPTIONS: "" } },
    );
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const seen = JSON.parse(r.stdout) as { argv: string[]; unknown: Record<string, unknown> };
    expect(seen.argv).toEqual(["--tsconfig", "other.json", "--my_flag", "v", "--verbose", "--help"]);
    expect(seen.unknown).toMatchObject({ tsconfig: "other.json", myFlag: "v", verbose: true, help: true });
  });
});
