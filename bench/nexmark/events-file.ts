/**
 * The events file both sides of the Nexmark bench read: Beam's generator's events as JSON lines
 * (bench/nexmark/model.ts), written once per event count under bench/data/ and reused while the
 * generator and its configuration are unchanged (a metadata file beside it records them).
 */
import { closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { DEFAULT_GENERATOR_OPTIONS, type GeneratorOptions, nexmarkEvents } from "./generator.js";
import { eventToJson } from "./model.js";

/** Bump when the generator's output changes, so cached files are regenerated. */
const GENERATOR_VERSION = 1;

export interface EventsFile {
  readonly path: string;
  readonly events: number;
  readonly bytes: number;
  /** How long generating and writing it took (when it was generated, if cached). */
  readonly generationSeconds: number;
  /** Whether this run found it already generated. */
  readonly cached: boolean;
  readonly counts: { readonly person: number; readonly auction: number; readonly bid: number };
}

interface Meta {
  readonly generatorVersion: number;
  readonly options: GeneratorOptions;
  readonly bytes: number;
  readonly generationSeconds: number;
  readonly counts: EventsFile["counts"];
}

export function ensureEventsFile(path: string, numEvents: number): EventsFile {
  const options: GeneratorOptions = { ...DEFAULT_GENERATOR_OPTIONS, numEvents };
  const metaPath = `${path}.meta.json`;
  if (existsSync(path) && existsSync(metaPath)) {
    const meta = JSON.parse(readFileSync(metaPath, "utf8")) as Meta;
    if (meta.generatorVersion === GENERATOR_VERSION && JSON.stringify(meta.options) === JSON.stringify(options) && statSync(path).size === meta.bytes) {
      return { path, events: numEvents, bytes: meta.bytes, generationSeconds: meta.generationSeconds, cached: true, counts: meta.counts };
    }
  }
  const started = performance.now();
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w");
  const counts = { person: 0, auction: 0, bid: 0 };
  let bytes = 0;
  try {
    let chunk: string[] = [];
    const drain = (): void => {
      const buf = Buffer.from(chunk.join(""), "utf8");
      writeSync(fd, buf);
      bytes += buf.length;
      chunk = [];
    };
    for (const e of nexmarkEvents(options)) {
      counts[e.kind]++;
      chunk.push(`${eventToJson(e)}\n`);
      if (chunk.length === 10_000) drain();
    }
    drain();
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path);
  const generationSeconds = (performance.now() - started) / 1000;
  const meta: Meta = { generatorVersion: GENERATOR_VERSION, options, bytes, generationSeconds, counts };
  writeFileSync(metaPath, `${JSON.stringify(meta, null, 2)}\n`);
  return { path, events: numEvents, bytes, generationSeconds, cached: false, counts };
}
