/**
 * `sluice jobs list|show <id>|cancel <id>`: the jobs of the running cluster (or of the endpoints
 * given with --job_endpoint / --flink_rest), as the Beam job server and Flink see them, joined
 * (src/cluster/jobs.ts). Argument parsing and printing only.
 */
import { resolve as resolvePath } from "node:path";
import { DEFAULT_PORTS } from "../../cluster/defaults.js";
import {
  createJobsClient,
  formatBytes,
  formatCount,
  formatDuration,
  formatTime,
  type JobDetails,
  type JobListing,
  type JobRow,
  type JobsClient,
  parseHostPort,
  renderTable,
  resolveEndpoints,
  summarizeException,
} from "../../cluster/jobs.js";
import { stateDir } from "../../internal/dirs.js";
import { EXIT, type CliContext, type Command } from "../command.js";
import { JOBS_INFO } from "./info.js";
import { type ParsedArgs, parseCommandArgs } from "../args.js";
import { commandGroup, usageError } from "../subcommands.js";

/**
 * A subcommand's flags (args.ts): the endpoints in Beam's spelling (`--job_endpoint`) or dashed
 * (`--job-endpoint`), and `booleans`; the command named in errors is the usage's first three words.
 */
function parse(args: readonly string[], booleans: readonly string[], usage: string, maxPositionals = 0, strings: readonly string[] = []): ParsedArgs {
  return parseCommandArgs(args, {
    command: usage.split(" ").slice(0, 3).join(" "),
    flags: {
      job_endpoint: { type: "string", aliases: ["job-endpoint"], value: "host:port" },
      flink_rest: { type: "string", aliases: ["flink-rest"], value: "host:port" },
      ...Object.fromEntries(booleans.map((b) => [b, { type: "boolean" as const }])),
      ...Object.fromEntries(strings.map((f) => [f, { type: "string" as const, value: "dir" }])),
    },
    maxPositionals,
  });
}

function openClient(flags: ParsedArgs, ctx: CliContext): JobsClient {
  const je = flags.get("job_endpoint");
  const fr = flags.get("flink_rest");
  const endpoints = resolveEndpoints(ctx.env, {
    jobEndpoint: typeof je === "string" ? parseHostPort(je, "--job_endpoint") : undefined,
    flinkRest: typeof fr === "string" ? parseHostPort(fr, "--flink_rest") : undefined,
  });
  return createJobsClient(endpoints);
}

/** Notes on stderr for a side that was not asked or did not answer. */
function reportGaps(listing: JobListing, ctx: CliContext): void {
  if (!listing.asked.beam) ctx.err("sluice jobs: no Beam job server given (--job_endpoint host:port): Beam job ids and states are not shown\n");
  if (!listing.asked.flink) ctx.err("sluice jobs: no Flink REST address given (--flink_rest host:port): Flink JobIDs and states are not shown\n");
  for (const p of listing.problems) ctx.err(`sluice jobs: warning: ${p.message}${p.hint ? `\n  hint: ${p.hint}` : ""}\n`);
}

function rowJson(r: JobRow): Record<string, unknown> {
  return {
    beamJobId: r.beamJobId ?? null,
    flinkJobId: r.flinkJobId ?? null,
    name: r.name,
    beamState: r.beamState ?? null,
    flinkState: r.flinkState ?? null,
    startTime: r.startTime === undefined ? null : new Date(r.startTime).toISOString(),
    endTime: r.endTime === undefined ? null : new Date(r.endTime).toISOString(),
    durationMs: r.durationMs ?? null,
    matchedBy: r.matchedBy ?? null,
    tasks: r.tasks ?? null,
  };
}

const LIST_USAGE = "sluice jobs list [--json] [--job_endpoint host:port] [--flink_rest host:port]";

async function list(args: readonly string[], ctx: CliContext): Promise<number> {
  const flags = parse(args, ["json"], LIST_USAGE);
  if (flags.has("help")) {
    ctx.out(jobsHelp(ctx));
    return EXIT.OK;
  }
  const client = openClient(flags, ctx);
  try {
    const listing = await client.list();
    if (flags.has("json")) {
      ctx.out(
        `${JSON.stringify(
          {
            jobEndpoint: client.endpoints.jobEndpoint ?? null,
            flinkRest: client.endpoints.flinkRest ?? null,
            jobs: listing.rows.map(rowJson),
            problems: listing.problems.map((p) => ({ code: p.code, message: p.message, hint: p.hint ?? null })),
          },
          null,
          2,
        )}\n`,
      );
    } else {
      reportGaps(listing, ctx);
      if (listing.rows.length === 0) {
        ctx.out(`sluice jobs: no jobs (job server ${client.endpoints.jobEndpoint ?? "-"}, Flink REST ${client.endpoints.flinkRest ?? "-"})\n`);
      } else {
        const rows = listing.rows.map((r) => [r.beamJobId ?? "-", r.flinkJobId ?? "-", r.name, r.beamState ?? "-", r.flinkState ?? "-", formatTime(r.startTime), formatDuration(r.durationMs)]);
        ctx.out(`${renderTable(["BEAM JOB ID", "FLINK JOB ID", "NAME", "BEAM", "FLINK", "STARTED", "DURATION"], rows)}\n`);
      }
    }
    return listing.problems.length > 0 ? EXIT.FAILURE : EXIT.OK;
  } finally {
    client.close();
  }
}

const SHOW_USAGE = "sluice jobs show <id> [--json] [--verbose] [--job_endpoint host:port] [--flink_rest host:port]";

function detailsJson(d: JobDetails): Record<string, unknown> {
  return {
    job: rowJson(d.job),
    dashboard: d.dashboard ?? null,
    vertices: d.vertices.map((v) => ({
      id: v.id,
      name: v.name,
      shortName: v.shortName,
      status: v.status,
      parallelism: v.parallelism,
      readRecords: v.readRecords,
      writeRecords: v.writeRecords,
      readBytes: v.readBytes,
      writeBytes: v.writeBytes,
      metricsComplete: v.metricsComplete,
      durationMs: v.durationMs ?? null,
      tasks: v.tasks,
    })),
    rootException: d.rootException ?? null,
    exceptionTime: d.exceptionTime === undefined ? null : new Date(d.exceptionTime).toISOString(),
    exceptionCount: d.exceptionCount,
    problems: d.problems.map((p) => ({ code: p.code, message: p.message, hint: p.hint ?? null })),
  };
}

async function show(args: readonly string[], ctx: CliContext): Promise<number> {
  const flags = parse(args, ["json", "verbose"], SHOW_USAGE, 1);
  const verbose = ctx.verbose || flags.has("verbose");
  if (flags.has("help")) {
    ctx.out(jobsHelp(ctx));
    return EXIT.OK;
  }
  const query = flags.positionals[0];
  if (query === undefined) throw usageError("give the job: a Beam job id, a Flink JobID, or a unique prefix of either", SHOW_USAGE);
  const client = openClient(flags, ctx);
  try {
    const { job } = await client.find(query);
    const d = await client.show(job);
    if (flags.has("json")) {
      ctx.out(`${JSON.stringify(detailsJson(d), null, 2)}\n`);
      return d.problems.length > 0 ? EXIT.FAILURE : EXIT.OK;
    }
    const j = d.job;
    const head: [string, string][] = [
      ["name", j.name],
      ["Beam job", j.beamJobId ? `${j.beamJobId}  ${j.beamState ?? ""}` : "- (not known to the job server: submitted to Flink directly, or forgotten since)"],
      ["Flink job", j.flinkJobId ? `${j.flinkJobId}  ${j.flinkState ?? ""}` : "- (no Flink job: not submitted to Flink yet, failed before, or expired from Flink's history)"],
      ["started", formatTime(j.startTime)],
      ["ended", formatTime(j.endTime)],
      ["duration", formatDuration(j.durationMs)],
    ];
    if (j.tasks && j.tasks["total"] !== undefined) head.push(["tasks", `${j.tasks["finished"] ?? 0}/${j.tasks["total"]} finished, ${j.tasks["running"] ?? 0} running${j.tasks["failed"] ? `, ${j.tasks["failed"]} failed` : ""}`]);
    if (d.dashboard) head.push(["dashboard", d.dashboard]);
    const width = Math.max(...head.map(([k]) => k.length));
    const lines = head.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
    if (d.vertices.length > 0) {
      lines.push("");
      const rows = d.vertices.map((v) => [
        v.shortName,
        v.status,
        String(v.parallelism),
        formatCount(v.readRecords),
        formatCount(v.writeRecords),
        formatBytes(v.readBytes),
        formatBytes(v.writeBytes),
        formatDuration(v.durationMs),
      ]);
      lines.push(renderTable(["VERTEX", "STATUS", "PAR", "RECORDS IN", "RECORDS OUT", "BYTES IN", "BYTES OUT", "DURATION"], rows, [2, 3, 4, 5, 6, 7]));
    }
    const failed = j.flinkState === "FAILED" || j.flinkState === "FAILING" || j.flinkState === "RESTARTING" || j.beamState === "FAILED";
    if (d.rootException && (failed || verbose)) {
      lines.push("", `root exception${d.exceptionTime ? ` (${formatTime(d.exceptionTime)})` : ""}${d.exceptionCount > 1 ? `, ${d.exceptionCount} failures in Flink's history` : ""}:`);
      const text = verbose ? d.rootException.split(/\r?\n/) : summarizeException(d.rootException);
      lines.push(...text.map((l) => `  ${l}`));
      if (!verbose) lines.push(`  (stack frames left out: --verbose or --json for the full trace${d.dashboard ? `, or the dashboard's Exceptions tab` : ""})`);
    } else if (j.beamState === "FAILED" && j.flinkJobId === undefined) {
      lines.push("", `The job failed before Flink ran it: see the job server's log (\`sluice cluster logs jobserver\`).`);
    }
    ctx.out(`${lines.join("\n")}\n`);
    for (const p of d.problems) ctx.err(`sluice jobs: warning: ${p.message}${p.hint ? `\n  hint: ${p.hint}` : ""}\n`);
    return d.problems.length > 0 ? EXIT.FAILURE : EXIT.OK;
  } finally {
    client.close();
  }
}

const CANCEL_USAGE = "sluice jobs cancel <id> [--job_endpoint host:port] [--flink_rest host:port]";

async function cancel(args: readonly string[], ctx: CliContext): Promise<number> {
  const flags = parse(args, [], CANCEL_USAGE, 1);
  if (flags.has("help")) {
    ctx.out(jobsHelp(ctx));
    return EXIT.OK;
  }
  const query = flags.positionals[0];
  if (query === undefined) throw usageError("give the job: a Beam job id, a Flink JobID, or a unique prefix of either", CANCEL_USAGE);
  const client = openClient(flags, ctx);
  try {
    const { job } = await client.find(query);
    const report = await client.cancel(job, { progress: (line) => ctx.err(`sluice jobs: ${line}\n`) });
    const flinkPart =
      report.flinkJobId !== undefined
        ? `Flink ${report.flinkState ?? "?"}${report.flinkJobId === job.beamJobId || job.beamJobId === undefined ? "" : ` (${report.flinkJobId})`}`
        : client.endpoints.flinkRest !== undefined
          ? "no Flink job"
          : undefined;
    const states = [report.beamState && `Beam ${report.beamState}`, flinkPart].filter(Boolean).join(", ");
    const id = job.beamJobId ?? job.flinkJobId ?? job.name;
    ctx.out(
      report.settled
        ? `sluice jobs: cancelled ${id}: ${states}, after ${formatDuration(report.waitedMs)}\n`
        : `sluice jobs: cancelling ${id}: ${states}; not done after ${formatDuration(report.waitedMs)}: check with \`sluice jobs show ${report.flinkJobId ?? id}\`\n`,
    );
    return EXIT.OK;
  } finally {
    client.close();
  }
}

const STOP_USAGE = "sluice jobs stop <id> --savepoint <dir> [--drain] [--job_endpoint host:port] [--flink_rest host:port]";

async function stop(args: readonly string[], ctx: CliContext): Promise<number> {
  const flags = parse(args, ["drain"], STOP_USAGE, 1, ["savepoint"]);
  if (flags.has("help")) {
    ctx.out(jobsHelp(ctx));
    return EXIT.OK;
  }
  const query = flags.positionals[0];
  if (query === undefined) throw usageError("give the job: a Beam job id, a Flink JobID, or a unique prefix of either", STOP_USAGE);
  const dir = flags.get("savepoint");
  if (typeof dir !== "string" || dir === "") {
    throw usageError("give the directory Flink writes the savepoint to (--savepoint DIR; to end a job without one, use `sluice jobs cancel`)", STOP_USAGE);
  }
  // Flink's JobManager writes the savepoint: give it an absolute path (a URI such as file:// or s3:// as it is).
  const directory = /^[a-z][a-z0-9+.-]*:\/\//i.test(dir) ? dir : resolvePath(ctx.cwd, dir);
  const client = openClient(flags, ctx);
  try {
    const { job } = await client.find(query);
    const report = await client.stop(job, { directory, drain: flags.has("drain"), progress: (line) => ctx.err(`sluice jobs: ${line}\n`) });
    ctx.out(`sluice jobs: stopped ${job.beamJobId ?? report.flinkJobId} (Flink ${report.flinkState ?? "?"}) after ${formatDuration(report.waitedMs)}; savepoint: ${report.savepoint}\n`);
    ctx.out(`sluice jobs: resume it with: sluice run <pipeline> … --savepoint_path ${report.savepoint}\n`);
    return EXIT.OK;
  } finally {
    client.close();
  }
}

export const jobsCommand: Command = commandGroup({
  ...JOBS_INFO,
  help: jobsHelp,
  subcommands: { list, show, cancel, stop },
});

function jobsHelp(ctx: CliContext): string {
  return [
    `sluice ${ctx.version}`,
    "",
    "Usage: sluice jobs <subcommand> [options]",
    "",
    "The jobs of the running cluster (`sluice cluster up`), joined from both places that know them:",
    "the Beam job server's Job API (Beam job ids and states) and Flink's REST API (Flink JobIDs,",
    "states, per-vertex progress). The Flink job of a Beam job has the Beam job's name; jobs of the",
    "same name (--job_name reused) are told apart by options id and time. The job server remembers",
    "only its last 10 finished jobs, so older jobs (and jobs submitted to Flink directly) show no",
    "Beam job id; Flink forgets finished jobs after an hour.",
    "",
    "Subcommands:",
    "  list          one row per job: Beam job id, Flink JobID, name, both states, start, duration",
    "  show <id>     a job's states and each Flink vertex: status, parallelism, records and bytes in",
    "                and out, duration; the root exception when it failed",
    "  cancel <id>   cancel through the Job API (Beam's state goes CANCELLED) and, as the job server",
    "                leaves batch jobs running on Flink, through Flink's REST API too (alone for jobs",
    "                without a Beam id); waits up to 30 s for Flink to report CANCELED",
    "  stop <id> --savepoint <dir>",
    "                stop a streaming job with a savepoint (Flink's stop-with-savepoint, through its",
    "                REST API): prints the savepoint's path; `sluice run … --savepoint_path <path>`",
    "                resumes the same pipeline from it, state and Kafka offsets included.",
    "                --drain first ends event time (every window fires): for a job not resumed",
    "",
    "<id>: a Beam job id, a Flink JobID, or a unique prefix of either.",
    "",
    "Options:",
    "  --json                       machine-readable output (list, show)",
    `  --job_endpoint host:port     the Beam job server's Job API (gRPC; the cluster's, ${DEFAULT_PORTS.jobServer} by default)`,
    `  --flink_rest host:port       Flink's REST API (HTTP; the cluster's, ${DEFAULT_PORTS.flinkRest} by default)`,
    "  --verbose                    show: the full root exception",
    "",
    `The running cluster is found through its state in ${stateDir(ctx.env)} (SLUICE_STATE_DIR overrides).`,
    "",
    "Examples:",
    "  sluice jobs list",
    "  sluice jobs show BeamApp-root-1123223855",
    "  sluice jobs cancel 5fcf1a1f",
    "  sluice jobs stop 5fcf1a1f --savepoint /tmp/savepoints",
    "",
  ].join("\n");
}
