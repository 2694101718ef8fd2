/**
 * Scratch folders of a run (spilled groupings, the direct runner's thread bundle): removed by
 * whoever made them when done, and failing that when the process exits, whatever became of it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";

const live = new Set<string>();
let exitHooked = false;

/** Removes every scratch folder still there (at exit, or before dying of a signal). */
export function removeScratchDirs(): void {
  for (const d of live) rmSync(d, { recursive: true, force: true });
  live.clear();
}

/** A new folder `<parent>/<prefix>XXXXXX`, removed at exit unless `removeScratchDir` did it before. */
export function makeScratchDir(parent: string, prefix: string): string {
  const dir = mkdtempSync(join(parent, prefix));
  live.add(dir);
  if (!exitHooked) {
    exitHooked = true;
    process.once("exit", removeScratchDirs);
  }
  return dir;
}

/** Removes a folder made by makeScratchDir. */
export function removeScratchDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  live.delete(dir);
}
