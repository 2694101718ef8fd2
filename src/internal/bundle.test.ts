/**
 * The pipeline bundler (bundle.ts) on small projects in a temporary folder: packages left as
 * imports of their files ("by-path"), each bundled file's import.meta.url still its own, and what
 * makes a by-path bundle need a loader after all.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundlePipeline } from "./bundle.js";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sluice-bundle-test-"));
  await mkdir(join(dir, "lib"));
  await mkdir(join(dir, "node_modules", "jspkg"), { recursive: true });
  await mkdir(join(dir, "node_modules", "tspkg"), { recursive: true });
  await writeFile(join(dir, "node_modules", "jspkg", "package.json"), JSON.stringify({ name: "jspkg", type: "module", exports: "./main.js" }));
  await writeFile(join(dir, "node_modules", "jspkg", "main.js"), "export const where = import.meta.url;\n");
  await writeFile(join(dir, "node_modules", "tspkg", "package.json"), JSON.stringify({ name: "tspkg", type: "module", exports: "./index.ts" }));
  await writeFile(join(dir, "node_modules", "tspkg", "index.ts"), "export const n: number = 1;\n");
  await writeFile(join(dir, "lib", "helper.ts"), 'export const helperUrl: string = import.meta.url;\nexport const helperDir: string = import.meta.dirname;\nexport const text = "import.meta.url in a string";\n');
  await writeFile(
    join(dir, "main.ts"),
    [
      'import { readFileSync } from "node:fs";',
      'import { where } from "jspkg";',
      'import { helperUrl, helperDir, text } from "./lib/helper.ts";',
      "export const result = { mainUrl: import.meta.url, helperUrl, helperDir, text, where, fs: typeof readFileSync };",
      "",
    ].join("\n"),
  );
  await writeFile(join(dir, "uses-ts-package.ts"), 'import { n } from "tspkg";\nexport const m = n + 1;\n');
  await writeFile(join(dir, "computed.ts"), "export const load = (name: string) => import(name);\n");
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("bundlePipeline", () => {
  it("by path: packages stay imports of their own files, bundled files keep their own import.meta", async () => {
    const out = join(dir, "out", "pipeline.mjs");
    const b = await bundlePipeline(join(dir, "main.ts"), { purpose: "the test", packages: "by-path", outfile: out });
    expect(b.typescriptImports).toEqual([]);
    expect(b.unfollowedImports).toBe(0);
    // The package is not in the bundle: imported from where it is.
    expect(b.code).toContain(JSON.stringify(join(dir, "node_modules", "jspkg", "main.js")));
    await mkdir(join(dir, "out"), { recursive: true });
    await writeFile(out, b.code);
    const { result } = (await import(pathToFileURL(out).href)) as { result: Record<string, string> };
    expect(result).toEqual({
      mainUrl: pathToFileURL(join(dir, "main.ts")).href,
      helperUrl: pathToFileURL(join(dir, "lib", "helper.ts")).href,
      helperDir: join(dir, "lib"),
      text: "__sluice_import_meta_url in a string",
      where: pathToFileURL(join(dir, "node_modules", "jspkg", "main.js")).href,
      fs: "function",
    });
  });

  it("by path: names the TypeScript package files and the imports it cannot follow", async () => {
    const ts = await bundlePipeline(join(dir, "uses-ts-package.ts"), { purpose: "the test", packages: "by-path" });
    expect(ts.typescriptImports).toEqual([join(dir, "node_modules", "tspkg", "index.ts")]);
    const computed = await bundlePipeline(join(dir, "computed.ts"), { purpose: "the test", packages: "by-path" });
    expect(computed.unfollowedImports).toBe(1);
  });

  it("bundled (for workers): packages go into the bundle", async () => {
    const b = await bundlePipeline(join(dir, "main.ts"), { purpose: "the workers" });
    expect(b.code).not.toContain(join(dir, "node_modules", "jspkg", "main.js") + '"');
    expect(b.code).toContain("where");
  });

  it("names the file and line of an import it cannot resolve, and what the bundle is for", async () => {
    await writeFile(join(dir, "broken.ts"), 'import { x } from "./missing.ts";\nexport const y = x;\n');
    const err = await bundlePipeline(join(dir, "broken.ts"), { purpose: "the direct runner's threads", packages: "by-path" }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toContain("could not bundle");
    expect(err?.message).toContain("for the direct runner's threads");
    expect(err?.message).toMatch(/broken\.ts:1:\d+/);
  });
});
