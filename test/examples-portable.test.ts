/**
 * The examples through the real CLI on Beam's runners — Prism and the Flink job server with an
 * embedded Flink — in LOOPBACK mode, with outputs compared to the direct runner's.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
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
  dir = await mkdtemp(join(tmpdir(), "sluice-portable-examples-"));
  const words = ["alpha", "beta", "gamma", "δέλτα", "it's", "beta"];
  for (let f = 0; f < 3; f++) {
    const lines = Array.from({ length: 500 }, (_, i) => `${words[(i + f) % words.length]} ${words[(i * 7) % words.length]}, ${i % 13}`);
    await writeFile(join(dir, `in-${f}.txt`), `${lines.join("\n")}\n`);
  }
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function sluiceRun(example: string, args: string[]): Promise<string> {
  const { stderr } = await run(process.execPath, [sluice, "run", join(root, "examples", example), ...args], {
    cwd: dir,
    timeout: 300_000,
  });
  return stderr;
}


const examples: { name: string; file: string; args: string[] }[] = [
  { name: "seed", file: "seed.ts", args: [] },
  { name: "wordcount", file: "wordcount.ts", args: ["--input", "in-*.txt"] },
  { name: "windowed", file: "windowed.ts", args: [] },
];

for (const runner of ["prism", "flink"]) {
  describe(`examples on --runner=${runner} (LOOPBACK)`, () => {
    for (const ex of examples) {
      it(`${ex.name} gives the direct runner's output`, async () => {
        await sluiceRun(ex.file, [...ex.args, "--output", `direct/${runner}-${ex.name}`]);
        const stderr = await sluiceRun(ex.file, [...ex.args, `--runner=${runner}`, "--output", `${runner}/${ex.name}`]);
        expect(stderr).toMatch(/DONE/);
        const want = await lines(join(dir, "direct", `${runner}-${ex.name}`));
        expect(want.length).toBeGreaterThan(0);
        expect(await lines(join(dir, runner, ex.name))).toEqual(want);
      }, 300_000);
    }
  });
}
