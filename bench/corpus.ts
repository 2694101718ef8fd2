/**
 * A deterministic Zipf-distributed text corpus: the same bytes on every machine for a given size.
 */
import { createWriteStream } from "node:fs";
import { mkdir, stat } from "node:fs/promises";
import { dirname } from "node:path";

/** mulberry32: a small, fast, seedable PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SYLLABLES = ["ka", "to", "ri", "me", "su", "na", "lo", "vi", "de", "ba", "ché", "ñu", "zö", "ta", "ge", "po", "li", "an", "or", "el"];

function vocabulary(size: number, rand: () => number): string[] {
  const words = new Set<string>();
  while (words.size < size) {
    const n = 1 + Math.floor(rand() * 4);
    let w = "";
    for (let i = 0; i < n; i++) w += SYLLABLES[Math.floor(rand() * SYLLABLES.length)];
    if (rand() < 0.03) w += "'s";
    words.add(w);
  }
  return [...words];
}

/** Writes `megabytes` MB of Zipf(s=1.05) text over a 50k-word vocabulary to `path`, unless it exists at that size. */
export async function ensureCorpus(path: string, megabytes: number): Promise<number> {
  const target = megabytes * 1_000_000;
  try {
    const s = await stat(path);
    if (Math.abs(s.size - target) < 1_000_000) return s.size;
  } catch {
    // not there yet
  }
  await mkdir(dirname(path), { recursive: true });
  const rand = prng(20261123);
  const vocab = vocabulary(50_000, rand);
  const cdf = new Float64Array(vocab.length);
  let total = 0;
  for (let i = 0; i < vocab.length; i++) {
    total += 1 / Math.pow(i + 1, 1.05);
    cdf[i] = total;
  }
  const pick = (): string => {
    const r = rand() * total;
    let lo = 0;
    let hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! < r) lo = mid + 1;
      else hi = mid;
    }
    return vocab[lo]!;
  };
  const out = createWriteStream(path);
  let written = 0;
  while (written < target) {
    let chunk = "";
    while (chunk.length < 1 << 20) {
      const n = 4 + Math.floor(rand() * 12);
      let line = pick();
      for (let i = 1; i < n; i++) line += (rand() < 0.1 ? ", " : " ") + pick();
      chunk += rand() < 0.02 ? `${line}.\r\n` : `${line}.\n`;
    }
    const buf = Buffer.from(chunk, "utf8");
    written += buf.length;
    if (!out.write(buf)) await new Promise<void>((r) => out.once("drain", () => r()));
  }
  await new Promise<void>((res, rej) => out.end((err?: Error | null) => (err ? rej(err) : res())));
  return written;
}
