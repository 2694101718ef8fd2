/**
 * Keeps the import rules of docs/architecture.md true: each folder imports only what it may.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "src");

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return files(p);
    return p.endsWith(".ts") && !p.endsWith(".test.ts") ? [p] : [];
  });
}

/** Relative imports of a file, resolved to paths under src/. */
function imports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*)["'](\.[^"']+)["']/g)) {
    out.push(relative(src, resolve(dirname(file), m[1]!)).replace(/\.js$/, ".ts"));
  }
  return out;
}

const rules: { folder: string; mayImport: readonly string[] }[] = [
  { folder: "internal/", mayImport: ["internal/"] },
  { folder: "sdk/coders/", mayImport: ["internal/", "sdk/coders/", "sdk/time.ts", "sdk/windowing/window.ts"] },
  { folder: "sdk/", mayImport: ["internal/", "sdk/", "runners/registry.ts"] },
  { folder: "runners/direct/", mayImport: ["internal/", "sdk/", "runners/direct/"] },
  { folder: "model/", mayImport: ["internal/", "model/"] },
  { folder: "harness/", mayImport: ["internal/", "sdk/", "model/", "harness/", "runners/direct/", "runners/portable/refs.ts"] },
  { folder: "runners/portable/", mayImport: ["internal/", "sdk/", "model/", "harness/", "runners/portable/"] },
  { folder: "cluster/", mayImport: ["internal/", "model/", "runners/portable/", "cluster/"] },
];

describe("import rules", () => {
  for (const rule of rules) {
    it(`src/${rule.folder} imports only ${rule.mayImport.join(", ")}`, () => {
      const bad: string[] = [];
      for (const f of files(join(src, rule.folder))) {
        const rel = relative(src, f);
        // A more specific rule governs its own folder.
        if (rules.some((r) => r !== rule && r.folder.startsWith(rule.folder) && rel.startsWith(r.folder))) continue;
        for (const imp of imports(f)) {
          if (!rule.mayImport.some((allowed) => imp.startsWith(allowed))) bad.push(`${rel} → ${imp}`);
        }
      }
      expect(bad).toEqual([]);
    });
  }
});
