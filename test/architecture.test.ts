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
  { folder: "sdk/", mayImport: ["internal/", "sdk/"] },
  { folder: "runners/direct/", mayImport: ["internal/", "sdk/", "runners/direct/"] },
  { folder: "model/", mayImport: ["internal/", "model/"] },
  { folder: "harness/", mayImport: ["internal/", "sdk/", "model/", "harness/", "runners/direct/"] },
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

/** The unit the cycle check works on: a folder (runners/ split into its runners and the registry). */
function unitOf(rel: string): string {
  const parts = rel.split("/");
  if (parts.length === 1) return rel; // index.ts
  if (parts[0] === "runners") return parts.length === 2 ? `runners/${parts[1]}` : `runners/${parts[1]}/`;
  return `${parts[0]}/`;
}

describe("no import cycles between folders", () => {
  it("the folder graph (static, type-only and dynamic imports) is acyclic", () => {
    const edges = new Map<string, Set<string>>();
    const via = new Map<string, string>();
    for (const f of files(src)) {
      const rel = relative(src, f);
      if (rel.startsWith("model/gen/")) continue;
      const from = unitOf(rel);
      for (const imp of imports(f)) {
        const to = unitOf(imp);
        if (to === from) continue;
        if (!edges.has(from)) edges.set(from, new Set());
        edges.get(from)!.add(to);
        if (!via.has(`${from} ${to}`)) via.set(`${from} ${to}`, `${rel} → ${imp}`);
      }
    }
    // Depth-first search; a back edge closes a cycle, reported with one import per step.
    const cycles: string[] = [];
    const state = new Map<string, "open" | "done">();
    const path: string[] = [];
    const visit = (u: string): void => {
      state.set(u, "open");
      path.push(u);
      for (const v of edges.get(u) ?? []) {
        if (state.get(v) === "open") {
          const loop = [...path.slice(path.indexOf(v)), v];
          cycles.push(loop.slice(1).map((to, i) => via.get(`${loop[i]} ${to}`)).join("; "));
        } else if (!state.has(v)) visit(v);
      }
      path.pop();
      state.set(u, "done");
    };
    for (const u of [...edges.keys()].sort()) if (!state.has(u)) visit(u);
    expect(cycles).toEqual([]);
  });
});
