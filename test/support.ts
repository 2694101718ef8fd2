/**
 * Helpers shared by black-box tests.
 */
import { readdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";

/** The sorted, non-empty lines of every file whose name starts with `prefix`'s basename. */
export async function outputLines(prefix: string): Promise<string[]> {
  const d = dirname(prefix);
  const base = prefix.slice(d.length + 1);
  const out: string[] = [];
  for (const f of (await readdir(d)).filter((n) => n.startsWith(base)).sort()) {
    out.push(...(await readFile(join(d, f), "utf8")).split("\n").filter((l) => l !== ""));
  }
  return out.sort();
}
