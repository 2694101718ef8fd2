/**
 * Benchmark child: the hand-written Node baseline. Streaming read, split lines, match words, count
 * in a Map, write `word: count` lines. Prints a JSON line with its time and peak RSS.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { StringDecoder } from "node:string_decoder";

const [input, output] = process.argv.slice(2) as [string, string];
const WORD = /[\p{L}\p{N}_']+/gu;

const started = performance.now();
const counts = new Map<string, number>();
const decoder = new StringDecoder("utf8");
let rest = "";
const countLine = (line: string): void => {
  const words = line.match(WORD);
  if (words === null) return;
  for (const w of words) counts.set(w, (counts.get(w) ?? 0) + 1);
};
for await (const chunk of createReadStream(input, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
  const text = rest + decoder.write(chunk);
  const lines = text.split("\n");
  rest = lines.pop()!;
  for (const line of lines) countLine(line);
}
countLine(rest + decoder.end());
const out = createWriteStream(output);
let buf = "";
for (const [w, n] of counts) {
  buf += `${w}: ${n}\n`;
  if (buf.length > 1 << 16) {
    if (!out.write(buf)) await new Promise<void>((r) => out.once("drain", () => r()));
    buf = "";
  }
}
await new Promise<void>((res) => out.end(buf, () => res()));
const seconds = (performance.now() - started) / 1000;
console.log(JSON.stringify({ seconds, peakRssMb: process.resourceUsage().maxRSS / 1024 }));
