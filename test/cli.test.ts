/**
 * Black-box tests of the sluice CLI: each test spawns the real launcher (`node bin/sluice.js …`)
 * against the built CLI in dist/, with pipeline files written to a temporary folder outside the
 * repository (no sluice installed there, so `import "sluice"` exercises the resolve hook).
 * Needs `npm run build` first (`npm test` does it).
 */

import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { runNode } from "./support.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BIN = join(ROOT, "bin", "sluice.js");
const DIST_MAIN = join(ROOT, "dist", "cli", "main.js");
const DIST_ENTRY = join(ROOT, "dist", "index.js");

interface Result {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

let tmp = "";

/** Runs `node bin/sluice.js ...args` in `cwd` (the temp folder by default). */
function sluice(args: readonly string[], options: { cwd?: string; env?: Record<string, string>; bin?: string } = {}): Promise<Result> {
  return runNode([options.bin ?? BIN, ...args], { cwd: options.cwd ?? tmp, ...(options.env ? { env: options.env } : {}) });
}

/** Writes a file in the temp folder and returns its path. */
function file(name: string, text: string): string {
  const path = join(tmp, name);
  writeFileSync(path, text);
  return path;
}

beforeAll(() => {
  if (!existsSync(DIST_MAIN) || !existsSync(DIST_ENTRY)) {
    throw new Error(`the CLI is not built (${DIST_MAIN} or ${DIST_ENTRY} missing): run \`npm run build\` first`);
  }
  tmp = realpathSync(mkdtempSync(join(tmpdir(), "sluice-cli-test-")));
});

afterAll(() => {
  if (tmp !== "") rmSync(tmp, { recursive: true, force: true });
});

describe("sluice CLI: global commands", () => {
  it("--version prints the package version", async () => {
    const version = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
    const r = await sluice(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });

  it("--help, help and run --help print usage", async () => {
    for (const args of [["--help"], ["help"], ["-h"]]) {
      const r = await sluice(args);
      expect(r.code, args.join(" ")).toBe(0);
      expect(r.stdout).toContain("Usage: sluice <command>");
      expect(r.stdout).toMatch(/run <file>/);
    }
    for (const args of [["run", "--help"], ["help", "run"]]) {
      const r = await sluice(args);
      expect(r.code, args.join(" ")).toBe(0);
      expect(r.stdout).toContain("Usage: sluice run");
      for (const flag of ["--runner", "--job_endpoint", "--environment_type", "--parallelism", "--streaming"]) {
        expect(r.stdout).toContain(flag);
      }
    }
  });

  it("no command prints usage and exits 2", async () => {
    const r = await sluice([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Usage: sluice <command>");
  });

  it("an unknown command is named and points at --help, exit 2", async () => {
    const r = await sluice(["frobnicate", "x"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command "frobnicate"');
    expect(r.stderr).toContain("--help");
    expect(r.stdout).toBe("");
  });

  it("an unknown global option exits 2", async () => {
    const r = await sluice(["--frob"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--frob");
  });

  it("the launcher says to build when dist/ is missing", async () => {
    const fakeRoot = join(tmp, "unbuilt");
    mkdirSync(join(fakeRoot, "bin"), { recursive: true });
    copyFileSync(BIN, join(fakeRoot, "bin", "sluice.js"));
    const r = await sluice(["--version"], { bin: join(fakeRoot, "bin", "sluice.js") });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("npm run build");
  });
});

describe("sluice run", () => {
  it("a missing file is named, exit 2", async () => {
    const r = await sluice(["run", "does-not-exist.ts"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(join(tmp, "does-not-exist.ts"));
  });

  it("no file, or a file of the wrong kind, exits 2", async () => {
    expect((await sluice(["run"])).code).toBe(2);
    file("notes.txt", "hello\n");
    const r = await sluice(["run", "notes.txt"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("notes.txt");
  });

  it("runs TypeScript importing sluice, with process.argv and the launch options", async () => {
    const path = file(
      "show-options.ts",
      `import { PipelineOptions, SluiceError } from "sluice";

interface Report {
  argv: readonly string[];
  options: unknown;
  output: string;
  verbose: boolean;
  resolved: string;
  sluiceError: boolean;
}

const options: PipelineOptions = PipelineOptions.fromLaunch();
await new Promise<void>((done) => setTimeout(done, 10));
const report: Report = {
  argv: process.argv,
  options: options.toJSON(),
  output: options.string("output"),
  verbose: options.boolean("verbose"),
  resolved: import.meta.resolve("sluice"),
  sluiceError: new SluiceError("INTERNAL", "x") instanceof Error,
};
console.log(JSON.stringify(report));
`,
    );
    const args = [
      "--runner=FlinkRunner",
      "--job_endpoint",
      "localhost:8099",
      "--parallelism=4",
      "--streaming",
      "--experiments",
      "a",
      "--experiments=b",
      "--output=/tmp/out",
      "--verbose=true",
      "input.txt",
    ];
    const r = await sluice(["run", "show-options.ts", ...args]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as {
      argv: string[];
      options: Record<string, unknown>;
      output: string;
      verbose: boolean;
      resolved: string;
      sluiceError: boolean;
    };
    expect(report.argv).toEqual([process.execPath, path, ...args]);
    expect(report.options).toMatchObject({
      runner: "flink",
      jobEndpoint: "localhost:8099",
      parallelism: 4,
      streaming: true,
      experiments: ["a", "b"],
      unknown: { output: "/tmp/out", verbose: "true" },
      positional: ["input.txt"],
    });
    expect(report.output).toBe("/tmp/out");
    expect(report.verbose).toBe(true);
    expect(report.resolved).toBe(pathToFileURL(DIST_ENTRY).href);
    expect(report.sluiceError).toBe(true);
  });

  it("runs plain JavaScript modules, and without flags gives default options", async () => {
    file(
      "plain.mjs",
      `import { PipelineOptions } from "sluice";
const o = PipelineOptions.fromLaunch();
console.log(JSON.stringify({ runner: o.runner, args: process.argv.slice(2) }));
`,
    );
    const r = await sluice(["run", "plain.mjs"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ runner: "direct", args: [] });
  });

  it("waits for work the file leaves running, and keeps an exit code it sets", async () => {
    file("later.ts", `setTimeout(() => { console.log("later"); process.exitCode = 3; }, 50);\n`);
    const r = await sluice(["run", "later.ts"]);
    expect(r.stdout).toBe("later\n");
    expect(r.code).toBe(3);
  });

  it("rejects bad standard flags before running, exit 2", async () => {
    file("never.ts", `console.log("should not run");\n`);
    const r = await sluice(["run", "never.ts", "--runner=spark"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain('unknown runner "spark"');
    expect(r.stderr).toContain("FlinkRunner");
  });

  it("a file that throws exits 1 with the message and the user's stack", async () => {
    file(
      "fails.ts",
      `const label: string = "pipeline";
function explode(what: string): never {
  throw new Error(\`kaboom in \${what}\`);
}
explode(label);
`,
    );
    const r = await sluice(["run", "fails.ts"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^sluice: .*kaboom in pipeline/);
    expect(r.stderr).toContain("fails.ts:3"); // the throwing line, source-mapped
    expect(r.stderr).not.toContain("node:internal");
  });

  it("a rejected top-level await exits 1 with the message", async () => {
    file("rejects.ts", `await Promise.reject(new Error("rejected at top level"));\n`);
    const r = await sluice(["run", "rejects.ts"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("rejected at top level");
  });

  it("an unhandled rejection or exception after import exits 1 with the message", async () => {
    file("floating.ts", `setTimeout(() => {}, 5000);\nvoid Promise.reject(new Error("nobody awaited me"));\n`);
    const r1 = await sluice(["run", "floating.ts"]);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toContain("nobody awaited me");
    file("timer-throws.ts", `setTimeout(() => { throw new Error("thrown from a timer"); }, 10);\nsetTimeout(() => {}, 5000);\n`);
    const r2 = await sluice(["run", "timer-throws.ts"]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain("thrown from a timer");
  });

  it("a SluiceError prints its message and hint, without a stack", async () => {
    file(
      "sluice-error.ts",
      `import { SluiceError } from "sluice";
throw new SluiceError("INVALID_PIPELINE", "the graph is broken", { hint: "connect the PCollection" });
`,
    );
    const r = await sluice(["run", "sluice-error.ts"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("sluice: the graph is broken\n  hint: connect the PCollection");
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it("a missing required flag read by the program is named", async () => {
    file("needs-output.ts", `import { PipelineOptions } from "sluice";\nPipelineOptions.fromLaunch().string("output");\n`);
    const r = await sluice(["run", "needs-output.ts"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("missing required flag --output");
  });

  it("--verbose and SLUICE_DEBUG=1 print the error code and full stacks", async () => {
    file("fails-verbose.ts", `throw new Error("verbose failure");\n`);
    for (const [args, env] of [
      [["run", "--verbose", "fails-verbose.ts"], {}],
      [["run", "fails-verbose.ts"], { SLUICE_DEBUG: "1" }],
    ] as const) {
      const r = await sluice(args, { env });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("code: USER_CODE_FAILED");
      expect(r.stderr).toContain("Caused by: Error: verbose failure");
    }
  });

  it("a TypeScript syntax error exits 1 naming the file", async () => {
    file("broken.ts", `const x: number = ;\n`);
    const r = await sluice(["run", "broken.ts"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("broken.ts");
    expect(r.stderr).toMatch(/^sluice: /);
  });

  it("a JavaScript syntax error exits 1 naming the file", async () => {
    file("broken.mjs", `const y = ;\n`);
    const r = await sluice(["run", "broken.mjs"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("broken.mjs");
  });

  it("an import that cannot be found is reported, exit 1", async () => {
    file("missing-dep.ts", `import "definitely-not-installed-pkg";\n`);
    const r = await sluice(["run", "missing-dep.ts"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("definitely-not-installed-pkg");
  });
});
