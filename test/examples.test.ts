/**
 * The README's commands and every example, run as a user runs them: the real `sluice` binary in a
 * temporary folder. Outputs are compared with what the pipelines must produce.
 */
import { execFile, spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { outputLines as lines } from "./support.js";

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const sluice = join(root, "bin", "sluice.js");
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sluice-examples-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function sluiceRun(example: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [sluice, "run", join(root, "examples", example), ...args], { cwd: dir, timeout: 60_000 });
}


describe("examples", () => {
  it("seed.ts writes the seed's words (README quick start)", async () => {
    await sluiceRun("seed.ts", ["--output", "out/words"]);
    expect(await readdir(join(dir, "out"))).toEqual(["words-00000-of-00001"]);
    expect(await readFile(join(dir, "out", "words-00000-of-00001"), "utf8")).toBe("to\nbe\nor\nnot\nto\nbe\n");
  });

  it("wordcount.ts counts Unicode words with apostrophes across a glob", async () => {
    await writeFile(join(dir, "a.txt"), "Hello, world! It's a world.\r\nnaïve café\n");
    await writeFile(join(dir, "b.txt"), "hello_there 42 it's\n---\n");
    const { stdout } = await sluiceRun("wordcount.ts", ["--input", "*.txt", "--output", "out/counts"]);
    expect(await lines(join(dir, "out", "counts"))).toEqual(
      ["42: 1", "Hello: 1", "It's: 1", "a: 1", "café: 1", "hello_there: 1", "it's: 1", "naïve: 1", "world: 2"].sort(),
    );
    expect(stdout).toContain("1 lines without words");
  });

  it("windowed.ts counts per fixed window and per session", async () => {
    await sluiceRun("windowed.ts", ["--output", "out/windowed"]);
    expect(await lines(join(dir, "out", "windowed"))).toEqual(
      [
        "2026-11-23T10:00:00.000Z..2026-11-23T10:01:00.000Z page /home: 2",
        "2026-11-23T10:00:00.000Z..2026-11-23T10:01:00.000Z page /docs: 1",
        "2026-11-23T10:01:00.000Z..2026-11-23T10:02:00.000Z page /home: 1",
        "2026-11-23T10:02:00.000Z..2026-11-23T10:03:00.000Z page /docs: 1",
        "2026-11-23T10:02:00.000Z..2026-11-23T10:03:00.000Z page /home: 1",
        "2026-11-23T10:05:00.000Z..2026-11-23T10:06:00.000Z page /docs: 1",
        "2026-11-23T10:00:05.000Z..2026-11-23T10:00:50.000Z session ana: 2",
        "2026-11-23T10:01:10.000Z..2026-11-23T10:01:40.000Z session ana: 1",
        "2026-11-23T10:05:00.000Z..2026-11-23T10:05:30.000Z session ana: 1",
        "2026-11-23T10:00:40.000Z..2026-11-23T10:01:10.000Z session bo: 1",
        "2026-11-23T10:02:30.000Z..2026-11-23T10:03:15.000Z session bo: 2",
      ].sort(),
    );
  });

  it("a missing required flag fails naming it", async () => {
    await expect(sluiceRun("seed.ts", [])).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining("--output") });
  });

  it("a failing pipeline exits non-zero with the transform's label and leaves no output", async () => {
    await expect(sluiceRun("wordcount.ts", ["--input", "nothing-here-*.txt", "--output", "out/none"])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining("nothing-here-*.txt"),
    });
    expect((await readdir(join(dir, "out"))).filter((f) => f.startsWith("none"))).toEqual([]);
  });

  it("Ctrl-C during a run leaves neither final nor temporary files", async () => {
    const file = join(dir, "slow.ts");
    await writeFile(
      file,
      `import { Create, ParDo, Pipeline, WriteToText } from "sluice";
const p = Pipeline.create();
p.apply("Create", Create.of([1, 2, 3]))
  .apply("Slow", ParDo<number, number>({ async process(x) { console.log("processing"); await new Promise((r) => setTimeout(r, 60_000)); return [x]; } }))
  .apply("Write", WriteToText("interrupted/out"));
await p.run();
`,
    );
    const child = spawn(process.execPath, [sluice, "run", file], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    await new Promise<void>((res) => child.stdout.once("data", () => res()));
    expect((await readdir(join(dir, "interrupted"))).some((f) => f.startsWith(".sluice-temp-"))).toBe(true);
    child.kill("SIGINT");
    const signal = await new Promise<NodeJS.Signals | null>((res) => child.once("exit", (_code, sig) => res(sig)));
    expect(signal).toBe("SIGINT");
    expect(await readdir(join(dir, "interrupted"))).toEqual([]);
  });
});
