/**
 * `sluice doctor [--json]`: checks what `sluice cluster` and the Flink runner need on this machine
 * (Java, Maven, Python and its venv module, setpriv, free ports, consistent version pins, writable
 * directories, disk space, what is already downloaded) and prints one line per check with what to
 * do about each problem. Exits 1 when any check fails. The checks are in src/cluster/doctor.ts.
 */

import { runDoctor, type CheckResult } from "../../cluster/doctor.js";
import { parseCommandArgs } from "../args.js";
import { EXIT, type CliContext, type Command } from "../command.js";
import { formatError } from "../report.js";

export const doctorCommand: Command = {
  name: "doctor",
  synopsis: "[--json]",
  summary: "check this machine for what sluice cluster and the Flink runner need",
  help: doctorHelp,
  async run(args, ctx) {
    let json: boolean;
    try {
      const parsed = parseCommandArgs(args, { command: "sluice doctor", flags: { json: { type: "boolean" } } });
      if (parsed.has("help")) {
        ctx.out(doctorHelp(ctx));
        return EXIT.OK;
      }
      json = parsed.has("json");
    } catch (err) {
      ctx.err(formatError(err, ctx.verbose));
      return EXIT.USAGE;
    }
    let results: CheckResult[];
    try {
      results = await runDoctor(ctx.env);
    } catch (err) {
      ctx.err(formatError(err, ctx.verbose));
      return EXIT.FAILURE;
    }
    ctx.out(json ? formatJson(results) : formatText(results));
    return results.some((r) => r.status === "fail") ? EXIT.FAILURE : EXIT.OK;
  },
};

/** The machine-readable report: an array of {check, status, detail, fix} (fix null when none). */
export function formatJson(results: readonly CheckResult[]): string {
  return `${JSON.stringify(
    results.map((r) => ({ check: r.check, status: r.status, detail: r.detail, fix: r.fix ?? null })),
    null,
    2,
  )}\n`;
}

/** The report for people: one line per check (detail continuation lines indented), then the fixes. */
export function formatText(results: readonly CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.check.length));
  const pad = " ".repeat(2 + 4 + 2 + width + 2);
  const lines: string[] = [];
  for (const r of results) {
    const [first, ...more] = r.detail.split("\n");
    lines.push(`  ${r.status.padEnd(4)}  ${r.check.padEnd(width)}  ${first ?? ""}`);
    for (const line of more) lines.push(`${pad}${line}`);
    if (r.fix !== undefined && (r.status === "warn" || r.status === "fail")) lines.push(`${pad}fix: ${r.fix}`);
  }
  const fails = results.filter((r) => r.status === "fail").length;
  const warns = results.filter((r) => r.status === "warn").length;
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;
  const summary =
    fails > 0
      ? `sluice doctor: ${plural(fails, "problem")} to fix${warns > 0 ? `, ${plural(warns, "warning")}` : ""}`
      : warns > 0
        ? `sluice doctor: ready, with ${plural(warns, "warning")}`
        : "sluice doctor: ready";
  return `${lines.join("\n")}\n\n${summary}\n`;
}

function doctorHelp(ctx: CliContext): string {
  return [
    `sluice ${ctx.version}`,
    "",
    "Usage: sluice doctor [--json]",
    "",
    "Checks this machine for what `sluice cluster` and --runner=flink need, one line per check",
    "(ok, info, warn or fail), with what to do about each problem:",
    "  java, JAVA_HOME   Java 11 or newer for Flink and Beam's job server (17 recommended)",
    "  maven             resolves Beam's Flink job server, once",
    "  python, venv      python3 of a version apache-beam supports, able to create virtual environments",
    "  setpriv           (util-linux) so cluster components die with their supervisor",
    "  go                information only: builds Prism for --runner=prism",
    "  ports             the cluster's default ports are free (naming who holds a busy one)",
    "  versions          the pins in versions.json agree with each other",
    "  state/cache dir   writable (SLUICE_STATE_DIR, SLUICE_CACHE_DIR), with disk space to download into",
    "  cache             what a first `sluice cluster up` still downloads",
    "",
    "Exits 1 when any check fails, 0 otherwise.",
    "",
    "Options:",
    "  --json       print a JSON array of {check, status, detail, fix} instead",
    "  -h, --help   show this help",
    "",
  ].join("\n");
}
