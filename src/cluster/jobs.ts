/**
 * Jobs on a Flink + Beam stack, seen from both sides: the Beam job server's Job API (GetJobs,
 * GetStateStream, Cancel) and Flink's REST API (/jobs/overview, /jobs/:jid, exceptions, cancel).
 *
 * The two know the same job under different ids. Beam's Flink job server names the Flink job after
 * the Beam job's name (`JobInfo.job_name`: `BeamApp-<user>-<MMddHHmmss>-<hash>` by default, or
 * `--job_name`), and the Beam job id is that name, `_`, and a UUID. `joinJobs` pairs them by name;
 * when a name is not unique (a user's `--job_name` reused) it pairs by the options id both sides
 * carry, else by time in submission order. Jobs the job server no longer remembers (it keeps its
 * last 10 finished ones) or never saw (submitted to Flink directly) have no Beam id; Beam jobs not
 * (yet) submitted to Flink, or expired from Flink's history (an hour), have no Flink JobID.
 *
 * Cancelling: the Job API's Cancel marks the Beam job CANCELLED, but Beam 2.62's Flink job server
 * leaves a batch job it submitted to a session cluster running on Flink (and still submits one it
 * was uploading), so `cancel` also cancels the Flink job through Flink's REST API.
 *
 * The pure parts (joining, id resolution, vertex names, formatting) are exported for tests; the
 * CLI (`sluice jobs`) only parses arguments and prints.
 */
import { SluiceError } from "../internal/errors.js";
import { createClient, type Client } from "../model/grpc.js";
import { JobApi } from "../model/protos.js";
import { FLINK_REST_NOTE, flinkRestCall } from "./flink.js";
import { sleep } from "../internal/process.js";
import { stateDir } from "../internal/dirs.js";
import { liveCluster, readState } from "./state.js";

// ---------------------------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------------------------

/** Beam's job states (JobApi.JobState.Enum) by name. */
export type BeamState =
  | "UNSPECIFIED"
  | "STOPPED"
  | "RUNNING"
  | "DONE"
  | "FAILED"
  | "CANCELLED"
  | "UPDATED"
  | "DRAINING"
  | "DRAINED"
  | "STARTING"
  | "CANCELLING";

/** Flink's job states (JobStatus). */
export type FlinkState =
  | "INITIALIZING"
  | "CREATED"
  | "RUNNING"
  | "FAILING"
  | "FAILED"
  | "CANCELLING"
  | "CANCELED"
  | "FINISHED"
  | "RESTARTING"
  | "SUSPENDED"
  | "RECONCILING";

const BEAM_TERMINAL: ReadonlySet<string> = new Set(["DONE", "FAILED", "CANCELLED", "UPDATED", "DRAINED"]);
const FLINK_TERMINAL: ReadonlySet<string> = new Set(["FINISHED", "FAILED", "CANCELED", "SUSPENDED"]);

export function isBeamTerminal(state: string | undefined): boolean {
  return state !== undefined && BEAM_TERMINAL.has(state);
}

export function isFlinkTerminal(state: string | undefined): boolean {
  return state !== undefined && FLINK_TERMINAL.has(state);
}

/** The name of a JobApi.JobState.Enum value. */
export function beamStateName(state: number): BeamState {
  return (JobApi.JobState_Enum[state] ?? "UNSPECIFIED") as BeamState;
}

/** When a Beam job passed its states (ms since the epoch), from its state history. */
export interface BeamJobTimes {
  /** The first state event (STOPPED: the invocation was created). */
  readonly created?: number | undefined;
  /** The first RUNNING event (the job server started the invocation; Flink's job starts later). */
  readonly running?: number | undefined;
  /** The first terminal event. */
  readonly ended?: number | undefined;
}

/** One job as the Beam job server's Job API lists it. */
export interface BeamJob {
  readonly jobId: string;
  /** `JobInfo.job_name`: the Flink job's name. */
  readonly name: string;
  readonly state: BeamState;
  /** Absent when the state history could not be read. */
  readonly times?: BeamJobTimes | undefined;
  /** The job server's `beam:option:options_id:v1` (unique within one job server's life). */
  readonly optionsId?: string | undefined;
}

/** One job as Flink's `/jobs/overview` lists it. */
export interface FlinkJob {
  readonly jid: string;
  readonly name: string;
  readonly state: FlinkState;
  /** ms since the epoch. */
  readonly startTime: number;
  /** ms since the epoch; undefined while the job runs (Flink says -1). */
  readonly endTime?: number | undefined;
  /** Flink's duration: to the end, or to the moment of the request while running. */
  readonly durationMs: number;
  /** Task counts by state (`finished`, `running`, `total`, …). */
  readonly tasks: Readonly<Record<string, number>>;
  /** `optionsId` of the Beam pipeline options in the job's config (fetched only when needed to join). */
  readonly optionsId?: string | undefined;
}

/** One row of `sluice jobs list`: a Beam job, a Flink job, or both joined. */
export interface JobRow {
  readonly name: string;
  readonly beamJobId?: string | undefined;
  readonly flinkJobId?: string | undefined;
  readonly beamState?: BeamState | undefined;
  readonly flinkState?: FlinkState | undefined;
  /** ms since the epoch: Flink's start time, else the Beam job's RUNNING (or creation) time. */
  readonly startTime?: number | undefined;
  readonly endTime?: number | undefined;
  readonly durationMs?: number | undefined;
  /**
   * How the two sides were paired: the only job of that name on each side ("name"), the same
   * options id ("options-id"), or by time among several of a name ("time").
   */
  readonly matchedBy?: "name" | "options-id" | "time" | undefined;
  /** Task counts from Flink. */
  readonly tasks?: Readonly<Record<string, number>> | undefined;
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

const UUID_SUFFIX = /_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The job name inside a Beam job id (`<name>_<uuid>`), used when JobInfo has no name. */
export function nameFromBeamJobId(jobId: string): string {
  return jobId.replace(UUID_SUFFIX, "");
}

function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** Flink's `/jobs/overview` answer → FlinkJobs (fields Flink leaves out are tolerated). */
export function parseFlinkJobsOverview(body: unknown): FlinkJob[] {
  const jobs = record(body)["jobs"];
  if (!Array.isArray(jobs)) throw new SluiceError("INVALID_DATA", "Flink's /jobs/overview answer has no `jobs` list");
  return jobs.map((raw) => {
    const j = record(raw);
    const end = num(j["end-time"]);
    const tasks: Record<string, number> = {};
    for (const [k, v] of Object.entries(record(j["tasks"]))) if (typeof v === "number") tasks[k] = v;
    return {
      jid: String(j["jid"] ?? ""),
      name: String(j["name"] ?? ""),
      state: String(j["state"] ?? "") as FlinkState,
      startTime: num(j["start-time"]) ?? -1,
      endTime: end !== undefined && end > 0 ? end : undefined,
      durationMs: num(j["duration"]) ?? 0,
      tasks,
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Joining
// ---------------------------------------------------------------------------------------------

/**
 * How far a Flink job may start before its Beam job's first state event and still be its job
 * (clock granularity; both run on the same machine or cluster).
 */
const SKEW_MS = 5_000;

/** What leaving a job unpaired costs in `alignByTime`, against the time distance of a pair (ms). */
const UNPAIRED_COST_MS = 30 * 60_000;

/**
 * Leaving a Beam job unpaired: a DONE job ran on Flink, so it costs double; a job still starting
 * or running may not be submitted yet, and a failed or cancelled one may never have been.
 */
function unpairedBeamCost(beam: BeamJob): number {
  return beam.state === "DONE" ? 2 * UNPAIRED_COST_MS : UNPAIRED_COST_MS;
}

/** Whether `flink` can be `beam`'s Flink job, by their times and options ids (true when unknown). */
function compatible(beam: BeamJob, flink: FlinkJob): boolean {
  if (beam.optionsId !== undefined && flink.optionsId !== undefined && beam.optionsId !== flink.optionsId) return false;
  const t = beam.times;
  if (t === undefined || flink.startTime < 0) return true;
  const first = t.created ?? t.running;
  if (first !== undefined && flink.startTime < first - SKEW_MS) return false;
  // A Beam job that finished or failed did so after its Flink job ran; one cancelled through the
  // Job API may still get its Flink job afterwards (the job server goes on submitting it).
  if (t.ended !== undefined && beam.state !== "CANCELLED" && flink.startTime > t.ended + SKEW_MS) return false;
  return true;
}

/** When the Beam job began, for ordering: its RUNNING time, else its creation. */
function began(beam: BeamJob): number | undefined {
  return beam.times?.running ?? beam.times?.created;
}

/**
 * How far apart the two jobs' times are: the wait from the Beam job's RUNNING to the Flink job's
 * start (the job server translates and uploads its jar in between: 10–20 s seen), plus the
 * difference of their ends when both ended by themselves (within a second or two when paired).
 */
function distance(beam: BeamJob, flink: FlinkJob): number {
  const delay = flink.startTime - (began(beam) as number);
  // A Flink job cannot start before its Beam job runs; within the clock skew it costs ten times more.
  let d = delay >= 0 ? delay : -10 * delay;
  const ended = beam.times?.ended;
  if (ended !== undefined && flink.endTime !== undefined && beam.state !== "CANCELLED") d += Math.abs(flink.endTime - ended);
  return d;
}

/**
 * Pairs same-named jobs by time, keeping order: the job server submits to Flink in the order it
 * starts invocations, so the k-th Beam job (by RUNNING time) goes with the k-th Flink job (by start
 * time), skipping jobs the other side lacks. An alignment (dynamic programming over both sorted
 * lists) minimising the pairs' time distances plus a cost per unpaired job. Nearest-first pairing
 * gets this wrong: the upload delay can be longer than the gap between two submissions.
 */
export function alignByTime(beams: readonly BeamJob[], flinks: readonly FlinkJob[]): [BeamJob, FlinkJob][] {
  const b = beams.filter((x) => began(x) !== undefined).sort((x, y) => (began(x) as number) - (began(y) as number));
  const f = flinks.filter((x) => x.startTime >= 0).sort((x, y) => x.startTime - y.startTime);
  const n = b.length;
  const m = f.length;
  // cost[i][j]: the best alignment of b[0..i) with f[0..j).
  const cost: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(Infinity));
  const move: ("pair" | "skipB" | "skipF")[][] = Array.from({ length: n + 1 }, () => new Array<"pair" | "skipB" | "skipF">(m + 1).fill("skipB"));
  (cost[0] as number[])[0] = 0;
  for (let i = 0; i <= n; i++) {
    for (let j = 0; j <= m; j++) {
      const here = (cost[i] as number[])[j] as number;
      if (here === Infinity) continue;
      const relax = (ii: number, jj: number, c: number, how: "pair" | "skipB" | "skipF"): void => {
        const row = cost[ii] as number[];
        if (c < (row[jj] as number)) {
          row[jj] = c;
          (move[ii] as ("pair" | "skipB" | "skipF")[])[jj] = how;
        }
      };
      if (i < n) relax(i + 1, j, here + unpairedBeamCost(b[i] as BeamJob), "skipB");
      if (j < m) relax(i, j + 1, here + UNPAIRED_COST_MS, "skipF");
      if (i < n && j < m && compatible(b[i] as BeamJob, f[j] as FlinkJob)) relax(i + 1, j + 1, here + distance(b[i] as BeamJob, f[j] as FlinkJob), "pair");
    }
  }
  const pairs: [BeamJob, FlinkJob][] = [];
  for (let i = n, j = m; i > 0 || j > 0; ) {
    const how = (move[i] as ("pair" | "skipB" | "skipF")[])[j];
    if (how === "pair") {
      pairs.push([b[i - 1] as BeamJob, f[j - 1] as FlinkJob]);
      i--;
      j--;
    } else if (how === "skipB") i--;
    else j--;
  }
  return pairs.reverse();
}

function joinedRow(beam: BeamJob | undefined, flink: FlinkJob | undefined, matchedBy: JobRow["matchedBy"], now: number): JobRow {
  const t = beam?.times;
  const startTime = flink && flink.startTime >= 0 ? flink.startTime : (t?.running ?? t?.created);
  const endTime = flink ? flink.endTime : t?.ended;
  let durationMs: number | undefined;
  if (flink) durationMs = flink.durationMs;
  else if (startTime !== undefined) durationMs = Math.max(0, (endTime ?? (isBeamTerminal(beam?.state) ? startTime : now)) - startTime);
  return {
    name: flink?.name ?? beam?.name ?? "",
    beamJobId: beam?.jobId,
    flinkJobId: flink?.jid,
    beamState: beam?.state,
    flinkState: flink?.state,
    startTime,
    endTime,
    durationMs,
    matchedBy,
    tasks: flink?.tasks,
  };
}

/** Names that more than one job on a side has, while the other side has that name too. */
export function ambiguousNames(beamJobs: readonly BeamJob[], flinkJobs: readonly FlinkJob[]): Set<string> {
  const count = (names: string[]): Map<string, number> => names.reduce((m, n) => m.set(n, (m.get(n) ?? 0) + 1), new Map<string, number>());
  const b = count(beamJobs.map((j) => j.name));
  const f = count(flinkJobs.map((j) => j.name));
  return new Set([...b.keys()].filter((n) => f.has(n) && ((b.get(n) as number) > 1 || (f.get(n) as number) > 1)));
}

/**
 * Joins the Job API's jobs with Flink's: one row per job, newest first. A name that only one job
 * on each side has → one row (unless their times or options ids contradict it). Several jobs of a
 * name → first by options id (the job server's `options_id`, which Flink's job config carries as
 * `optionsId`) where it is unique on both sides, then by time (`alignByTime`). Whatever is left
 * stays alone on its side.
 */
export function joinJobs(beamJobs: readonly BeamJob[], flinkJobs: readonly FlinkJob[], now: number = Date.now()): JobRow[] {
  const names = new Set([...beamJobs.map((b) => b.name), ...flinkJobs.map((f) => f.name)]);
  const rows: JobRow[] = [];
  for (const name of names) {
    const beams = beamJobs.filter((b) => b.name === name);
    const flinks = flinkJobs.filter((f) => f.name === name);
    const pairedBeam = new Set<BeamJob>();
    const pairedFlink = new Set<FlinkJob>();
    const pair = (b: BeamJob, f: FlinkJob, how: JobRow["matchedBy"]): void => {
      rows.push(joinedRow(b, f, how, now));
      pairedBeam.add(b);
      pairedFlink.add(f);
    };
    if (beams.length === 1 && flinks.length === 1) {
      const [b, f] = [beams[0] as BeamJob, flinks[0] as FlinkJob];
      if (compatible(b, f)) pair(b, f, b.optionsId !== undefined && b.optionsId === f.optionsId ? "options-id" : "name");
    } else if (beams.length > 0 && flinks.length > 0) {
      for (const b of beams) {
        if (b.optionsId === undefined) continue;
        const sameB = beams.filter((x) => x.optionsId === b.optionsId);
        const sameF = flinks.filter((x) => x.optionsId === b.optionsId);
        if (sameB.length === 1 && sameF.length === 1 && compatible(b, sameF[0] as FlinkJob)) pair(b, sameF[0] as FlinkJob, "options-id");
      }
      const restB = beams.filter((b) => !pairedBeam.has(b));
      const restF = flinks.filter((f) => !pairedFlink.has(f));
      for (const [b, f] of alignByTime(restB, restF)) pair(b, f, "time");
    }
    for (const b of beams) if (!pairedBeam.has(b)) rows.push(joinedRow(b, undefined, undefined, now));
    for (const f of flinks) if (!pairedFlink.has(f)) rows.push(joinedRow(undefined, f, undefined, now));
  }
  return rows.sort((x, y) => (y.startTime ?? -Infinity) - (x.startTime ?? -Infinity) || x.name.localeCompare(y.name));
}

// ---------------------------------------------------------------------------------------------
// Resolving an id
// ---------------------------------------------------------------------------------------------

function describeRow(r: JobRow): string {
  return [r.beamJobId, r.flinkJobId && `Flink ${r.flinkJobId}`].filter(Boolean).join(" / ") || r.name;
}

/**
 * The row `query` names: a Beam job id or Flink JobID exactly, else a unique prefix of either, else
 * a job name that only one row has. Throws NOT_FOUND (listing what exists) or INVALID_ARGUMENT
 * (listing the candidates) otherwise.
 */
export function resolveJob(query: string, rows: readonly JobRow[]): JobRow {
  const q = query.trim();
  if (q === "") throw new SluiceError("INVALID_ARGUMENT", "give a job id: a Beam job id, a Flink JobID, or a unique prefix of either");
  const jid = q.toLowerCase();
  const exact = rows.filter((r) => r.beamJobId === q || r.flinkJobId === jid);
  if (exact.length === 1) return exact[0] as JobRow;
  const prefixed = rows.filter((r) => r.beamJobId?.startsWith(q) || r.flinkJobId?.startsWith(jid));
  if (prefixed.length === 1) return prefixed[0] as JobRow;
  const named = rows.filter((r) => r.name === q);
  if (prefixed.length === 0 && named.length === 1) return named[0] as JobRow;
  const ambiguous = prefixed.length > 1 ? prefixed : named;
  if (ambiguous.length > 1) {
    throw new SluiceError("INVALID_ARGUMENT", `"${q}" matches ${ambiguous.length} jobs`, {
      hint: `Give more of the id: ${ambiguous.slice(0, 5).map(describeRow).join("; ")}${ambiguous.length > 5 ? "; …" : ""}`,
    });
  }
  throw new SluiceError("NOT_FOUND", `no job "${q}" (neither a Beam job id nor a Flink JobID, nor a prefix of one)`, {
    hint: rows.length === 0 ? "No jobs are known to the job server or Flink." : "See the jobs with `sluice jobs list`.",
  });
}

// ---------------------------------------------------------------------------------------------
// Vertices
// ---------------------------------------------------------------------------------------------

/** One vertex of a Flink job (`/jobs/:jid` → `vertices`). */
export interface VertexRow {
  readonly id: string;
  /** Flink's name, in full (Beam's are chains of operators named after fused stages). */
  readonly name: string;
  /** `shortVertexName(name)`. */
  readonly shortName: string;
  readonly status: string;
  readonly parallelism: number;
  readonly readRecords: number;
  readonly writeRecords: number;
  readonly readBytes: number;
  readonly writeBytes: number;
  /** Whether every subtask reported its metrics (Flink's `*-complete`). */
  readonly metricsComplete: boolean;
  /** Undefined until the vertex started (Flink says -1). */
  readonly durationMs?: number | undefined;
  readonly tasks: Readonly<Record<string, number>>;
}

/** Operators Beam's Flink translation adds around the user's transforms: hidden from short names. */
const PLUMBING = [/^ExtractOutput\[\d+\]$/, /^Key Extractor$/, /^ToKeyedWorkItem$/, /^ToBinaryKeyedWorkItem$/, /^DiscardingOutput$/];

/** Splits on " -> " outside brackets (Beam transform labels may hold anything inside braces). */
function splitChain(name: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < name.length; i++) {
    const c = name[i];
    if (c === "(" || c === "{" || c === "[") depth++;
    else if ((c === ")" || c === "}" || c === "]") && depth > 0) depth--;
    else if (depth === 0 && name.startsWith(" -> ", i)) {
      parts.push(name.slice(start, i));
      start = i + 4;
      i += 3;
    }
  }
  parts.push(name.slice(start));
  return parts.map((p) => p.trim()).filter((p) => p !== "");
}

/** A Beam fused stage's name: `[4]{a, b, c}` → `a, b, c`; `[2]Write/{Shard, Collect}` → `Write/{Shard, Collect}`. */
function fusedStage(name: string): string {
  const m = /^\[\d+\](.*)$/s.exec(name);
  if (!m) return name;
  const rest = m[1] as string;
  return rest.startsWith("{") && rest.endsWith("}") ? rest.slice(1, -1) : rest;
}

/** One operator of a chain → its label and whether it is plumbing. */
function operatorLabel(part: string): { label: string; plumbing: boolean } {
  // Batch operators: "<Kind> (<Kind> at <transform>)", or "<Kind> (<what>)".
  const m = /^([A-Za-z]+) \((.*)\)$/s.exec(part);
  const kind = m ? (m[1] as string) : "";
  let inner = m ? (m[2] as string) : part;
  if (kind !== "" && inner.startsWith(`${kind} at `)) inner = inner.slice(kind.length + 4);
  inner = inner.replace(/^Source: /, "").replace(/^GroupCombine: /, "");
  inner = fusedStage(inner.trim());
  const plumbing = PLUMBING.some((re) => re.test(inner));
  // The pre-combine of the grouping in the next vertex, which shows the full name.
  if (kind === "GroupCombine") return { label: `${inner.slice(inner.lastIndexOf("/") + 1)} (combine)`, plumbing };
  if (kind === "GroupReduce") return { label: `${inner} (group)`, plumbing };
  return { label: inner, plumbing };
}

/** `s` cut to `max` characters with an ellipsis. */
export function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, Math.max(1, max - 1))}…`;
}

/**
 * A readable name for a Flink vertex of a Beam job, at most `max` characters: the chain's user
 * transforms (fused stages as their transform labels), without the operators Beam's translation
 * adds (ExtractOutput, Key Extractor, …), joined by " > ". For example
 * `CHAIN MapPartition (MapPartition at [4]{Create words, Split words, Write to file}) -> FlatMap
 * (FlatMap at ExtractOutput[0]) -> Map (Key Extractor) -> GroupCombine (GroupCombine at
 * GroupCombine: Write to file/GroupByShard) -> Map (Key Extractor)` becomes
 * `Create words, Split words, Write to file > GroupByShard (combine)`.
 */
export function shortVertexName(name: string, max = 72): string {
  const chain = splitChain(name.trim().replace(/^CHAIN /, ""));
  const labels = chain.map(operatorLabel);
  const kept = labels.filter((l) => !l.plumbing);
  const chosen = (kept.length > 0 ? kept : labels.slice(0, 1)).map((l) => l.label);
  const deduped = chosen.filter((l, i) => l !== "" && l !== chosen[i - 1]);
  return truncate(deduped.join(" > ") || name.trim(), max);
}

/** Flink's `/jobs/:jid` answer → one VertexRow per vertex, in Flink's (topological) order. */
export function vertexRows(details: unknown): VertexRow[] {
  const vertices = record(details)["vertices"];
  if (!Array.isArray(vertices)) return [];
  return vertices.map((raw) => {
    const v = record(raw);
    const m = record(v["metrics"]);
    const name = String(v["name"] ?? "");
    const duration = num(v["duration"]);
    const tasks: Record<string, number> = {};
    for (const [k, n] of Object.entries(record(v["tasks"]))) if (typeof n === "number") tasks[k] = n;
    return {
      id: String(v["id"] ?? ""),
      name,
      shortName: shortVertexName(name),
      status: String(v["status"] ?? ""),
      parallelism: num(v["parallelism"]) ?? 0,
      readRecords: num(m["read-records"]) ?? 0,
      writeRecords: num(m["write-records"]) ?? 0,
      readBytes: num(m["read-bytes"]) ?? 0,
      writeBytes: num(m["write-bytes"]) ?? 0,
      metricsComplete: ["read-records-complete", "write-records-complete", "read-bytes-complete", "write-bytes-complete"].every((k) => m[k] !== false),
      durationMs: duration !== undefined && duration >= 0 ? duration : undefined,
      tasks,
    };
  });
}

/** A Java stack frame: `at pkg.Class.method(File.java:12)` (no space before the parenthesis). */
const JAVA_FRAME = /^\s*at [^\s(]+\([^)]*\)\s*$/;
/** Any other stack frame (Node's `at fn (file:line:col)`, `at file:line:col`). */
const OTHER_FRAME = /^\s*at\s/;

/**
 * The readable part of a Java stack trace: the exception line, its message lines and every
 * "Caused by:" line, without Java's `at …` frames. An SDK error embedded in a message (a Node
 * stack) keeps its first frame: where the user's code threw. Repeated lines (a wrapper repeats its
 * cause's message) appear once. At most `maxLines` lines of at most 400 characters.
 */
export function summarizeException(trace: string, maxLines = 20): string[] {
  const kept: string[] = [];
  let previousWasFrame = false;
  for (const raw of trace.split(/\r?\n/)) {
    const line = raw.trimEnd();
    const frame = OTHER_FRAME.test(line);
    if (line.trim() === "" || /^\s*\.\.\. \d+ more$/.test(line) || /^\s*Suppressed: /.test(line)) continue;
    if (frame && (JAVA_FRAME.test(line) || previousWasFrame)) {
      previousWasFrame = true;
      continue;
    }
    previousWasFrame = frame;
    kept.push(truncate(line, 400));
  }
  const lines = kept.filter((l, i) => /^\s*Caused by: /.test(l) || kept.indexOf(l) === i);
  if (lines.length <= maxLines) return lines;
  // Keep the head and the innermost cause, which usually says what went wrong.
  const lastCause = lines.map((l, i) => (/^\s*Caused by: /.test(l) ? i : -1)).filter((i) => i >= 0).pop();
  const tail = lastCause !== undefined && lastCause >= maxLines - 1 ? lines.slice(lastCause, lastCause + Math.ceil(maxLines / 2)) : [];
  const head = lines.slice(0, maxLines - tail.length - 1);
  return [...head, `… (${lines.length - head.length - tail.length} more lines)`, ...tail];
}

// ---------------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------------

/** 850 ms, 5.8 s, 2m 05s, 1h 02m, 3d 04h. */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return "-";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const total = Math.floor(s);
  const [d, h, m, sec] = [Math.floor(total / 86400), Math.floor(total / 3600) % 24, Math.floor(total / 60) % 60, total % 60];
  const two = (n: number): string => String(n).padStart(2, "0");
  if (d > 0) return `${d}d ${two(h)}h`;
  if (h > 0) return `${h}h ${two(m)}m`;
  return `${m}m ${two(sec)}s`;
}

/** 0 B, 512 B, 1.5 KB, 20.3 MB (powers of 1024). */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "-";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}

/** 1234567 → "1,234,567". */
export function formatCount(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "-";
}

/** Local time, `YYYY-MM-DD HH:MM:SS`. */
export function formatTime(ms: number | undefined): string {
  if (ms === undefined || ms < 0) return "-";
  const d = new Date(ms);
  const two = (n: number): string => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function renderTable(head: readonly string[], rows: readonly (readonly string[])[], rightAligned: readonly number[] = []): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  return [head, ...rows]
    .map((r) =>
      r
        .map((cell, i) => {
          const w = widths[i] as number;
          if (rightAligned.includes(i)) return cell.padStart(w);
          return i === r.length - 1 ? cell : cell.padEnd(w);
        })
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

// ---------------------------------------------------------------------------------------------
// Endpoints
// ---------------------------------------------------------------------------------------------

/** What to tell a user who mixed the two ports up. */
const JOB_ENDPOINT_NOTE = "--job_endpoint takes the Beam job server's Job API (gRPC, port 8099 by default), not Flink's REST port (8081 by default)";

/** Where the jobs are: the Job API and Flink's REST API, each possibly unknown. */
export interface JobEndpoints {
  /** "host:port" of the Beam job server's Job API. */
  readonly jobEndpoint?: string | undefined;
  /** "host:port" of Flink's REST API. */
  readonly flinkRest?: string | undefined;
  /** Where they came from, for messages ("the running cluster", "--job_endpoint"). */
  readonly origin: { readonly jobEndpoint?: string | undefined; readonly flinkRest?: string | undefined };
}

/** "host:port" from a flag value (an `http://` prefix and a trailing slash are dropped for REST). */
export function parseHostPort(value: string, flag: string): string {
  const v = value.trim().replace(/^https?:\/\//, "").replace(/\/+$/, "");
  const m = /^(\[[^\]]+\]|[^:\s/]+):(\d{1,5})$/.exec(v);
  const port = m ? Number(m[2]) : 0;
  if (!m || port < 1 || port > 65535) {
    throw new SluiceError("INVALID_ARGUMENT", `${flag} must be host:port, not "${value}"`, {
      hint: flag.includes("flink") ? `e.g. ${flag} localhost:8081 (${FLINK_REST_NOTE})` : `e.g. ${flag} localhost:8099 (${JOB_ENDPOINT_NOTE})`,
    });
  }
  return v;
}

/**
 * The endpoints to use: the flags where given, else the running cluster's (from its state file in
 * `stateDir(env)`). Without a cluster, one flag alone is enough (that side only); neither is an
 * error saying to start a cluster or to name the endpoints.
 */
export function resolveEndpoints(env: Readonly<Record<string, string | undefined>>, overrides: { readonly jobEndpoint?: string | undefined; readonly flinkRest?: string | undefined }): JobEndpoints {
  const origin: { jobEndpoint?: string; flinkRest?: string } = {};
  let jobEndpoint = overrides.jobEndpoint;
  let flinkRest = overrides.flinkRest;
  if (jobEndpoint !== undefined) origin.jobEndpoint = "--job_endpoint";
  if (flinkRest !== undefined) origin.flinkRest = "--flink_rest";
  if (jobEndpoint === undefined || flinkRest === undefined) {
    const dir = stateDir(env);
    const cluster = liveCluster(dir);
    if (cluster) {
      if (jobEndpoint === undefined) {
        jobEndpoint = `localhost:${cluster.ports.jobServer}`;
        origin.jobEndpoint = "the running cluster";
      }
      if (flinkRest === undefined) {
        flinkRest = `127.0.0.1:${cluster.ports.flinkRest}`;
        origin.flinkRest = "the running cluster";
      }
    } else if (jobEndpoint === undefined && flinkRest === undefined) {
      const stale = readState(dir);
      throw new SluiceError(
        "FAILED_PRECONDITION",
        stale
          ? `no cluster is running: the state in ${dir} is stale (its supervisor, pid ${stale.supervisor.pid}, is gone)`
          : `no cluster is running (no cluster state in ${dir})`,
        {
          hint:
            "Start one with `sluice cluster up --detach`" +
            (stale ? " (after `sluice cluster down` to clean up)" : "") +
            ", or name a running stack: --job_endpoint host:port (the Beam job server's Job API, 8099 by default) " +
            "and --flink_rest host:port (Flink's REST API, 8081 by default).",
        },
      );
    }
  }
  return { jobEndpoint, flinkRest, origin };
}

// ---------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------

/** Options of `createJobsClient`. */
export interface JobsClientOptions extends JobEndpoints {
  /** Deadline of each call in ms. Default 10 000. */
  readonly timeoutMs?: number | undefined;
}

/** `list()`: the joined rows, and what could not be read (one side may be down). */
export interface JobListing {
  readonly rows: readonly JobRow[];
  /** Failures of one side; the other side's jobs are still in `rows`. */
  readonly problems: readonly SluiceError[];
  /** Sides that were asked (an endpoint was known). */
  readonly asked: { readonly beam: boolean; readonly flink: boolean };
}

/** `show()`: a job and its Flink job's vertices and exception. */
export interface JobDetails {
  readonly job: JobRow;
  readonly vertices: readonly VertexRow[];
  /** The root exception's full trace, when Flink has one. */
  readonly rootException?: string | undefined;
  readonly exceptionTime?: number | undefined;
  /** How many failures Flink's exception history holds (restarts). */
  readonly exceptionCount: number;
  /** The Flink dashboard's page of the job. */
  readonly dashboard?: string | undefined;
  readonly problems: readonly SluiceError[];
}

/** `cancel()`'s outcome. */
export interface CancelReport {
  readonly job: JobRow;
  /** The Flink job cancelled or waited for (also one that appeared only after the Beam job's cancel). */
  readonly flinkJobId?: string | undefined;
  /** How the cancel was requested. */
  readonly via: readonly ("job-api" | "flink-rest")[];
  readonly beamState?: BeamState | undefined;
  readonly flinkState?: FlinkState | undefined;
  readonly waitedMs: number;
  /** Whether Flink reached a terminal state (CANCELED) before the deadline, not just CANCELLING. */
  readonly settled: boolean;
}

/** `stop()`'s outcome. */
export interface StopReport {
  readonly job: JobRow;
  readonly flinkJobId: string;
  /** Where Flink wrote the savepoint (what --savepoint_path takes to resume). */
  readonly savepoint: string;
  readonly flinkState: FlinkState | undefined;
  readonly waitedMs: number;
}

export interface JobsClient {
  readonly endpoints: JobEndpoints;
  /** Every job the job server and Flink know, joined. */
  list(): Promise<JobListing>;
  /** The job `query` names (see `resolveJob`), from a fresh listing. */
  find(query: string): Promise<{ job: JobRow; listing: JobListing }>;
  /** Vertices (and the root exception) of a job's Flink job. */
  show(job: JobRow): Promise<JobDetails>;
  /**
   * Cancels a job that has not ended: through the Job API when it has a Beam id (then Flink's REST
   * API if the Flink job keeps running), else through Flink's REST API; then waits up to
   * `timeoutMs` (default 30 s) for Flink to report CANCELED. `progress` gets one line per step.
   */
  cancel(job: JobRow, options?: { timeoutMs?: number; progress?: (line: string) => void }): Promise<CancelReport>;
  /**
   * Stops a running Flink job with a savepoint in `directory` (Flink's stop-with-savepoint: sources
   * stop, a last savepoint is taken, the job FINISHES), through Flink's REST API; waits up to
   * `timeoutMs` (default 120 s) for the savepoint and the job's end. `drain` first sends the end of
   * event time (every window and timer fires), for a job that is not to be resumed.
   */
  stop(job: JobRow, options: { directory: string; drain?: boolean; timeoutMs?: number; progress?: (line: string) => void }): Promise<StopReport>;
  close(): void;
}


/** Creates a client of both sides. Endpoints left undefined are not asked. */
export function createJobsClient(options: JobsClientOptions): JobsClient {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const { jobEndpoint, flinkRest } = options;
  let jobApi: Client<typeof JobApi.JobService> | undefined;
  const beam = (): Client<typeof JobApi.JobService> => {
    if (jobEndpoint === undefined) throw new SluiceError("FAILED_PRECONDITION", "no Beam job server endpoint is known", { hint: "Pass --job_endpoint host:port." });
    jobApi ??= createClient(JobApi.JobService, jobEndpoint, {
      label: "the Beam job server's Job API",
      hint: `${JOB_ENDPOINT_NOTE}; \`sluice cluster status\` shows the cluster's`,
      unaryTimeoutMs: timeoutMs,
    });
    return jobApi;
  };
  /** grpc-js reports an HTTP/1.1 server (Flink's REST port) as a "Protocol error". */
  const explainGrpc = (err: unknown): SluiceError => {
    const e = SluiceError.from(err);
    if (/Protocol error/i.test(e.message)) {
      return new SluiceError(e.code, `${e.message} — ${jobEndpoint} does not speak gRPC: it looks like an HTTP port such as Flink's REST API (8081)`, {
        hint: `${JOB_ENDPOINT_NOTE}.`,
        cause: err,
      });
    }
    return e;
  };

  async function beamTimes(client: Client<typeof JobApi.JobService>, jobId: string, current: BeamState): Promise<BeamJobTimes | undefined> {
    // The state stream replays the job's history first; for a job still going, stop once it
    // reached the state GetJobs reported (the stream would stay open until the job ends).
    const times: { created?: number; running?: number; ended?: number } = {};
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), Math.min(timeoutMs, 3000));
    try {
      for await (const ev of client.getStateStream({ jobId }, { signal: abort.signal })) {
        const state = beamStateName(ev.state);
        const ts = ev.timestamp ? Number(ev.timestamp.seconds) * 1000 + Math.floor(ev.timestamp.nanos / 1e6) : undefined;
        if (ts !== undefined) {
          times.created ??= ts;
          if (state === "RUNNING") times.running ??= ts;
          if (isBeamTerminal(state)) times.ended ??= ts;
        }
        if (isBeamTerminal(state) || (state === current && !isBeamTerminal(current))) break;
      }
    } catch {
      // No history (an old job server, a deadline): the job is joined by name alone.
    } finally {
      clearTimeout(timer);
      abort.abort();
    }
    return times.created === undefined ? undefined : times;
  }

  async function listBeam(): Promise<BeamJob[]> {
    const client = beam();
    let infos: JobApi.JobInfo[];
    try {
      infos = (await client.getJobs({})).jobInfo;
    } catch (err) {
      throw explainGrpc(err);
    }
    return Promise.all(
      infos.map(async (info) => {
        const state = beamStateName(info.state);
        const optionsId = info.pipelineOptions?.["beam:option:options_id:v1"];
        return {
          jobId: info.jobId,
          name: info.jobName || nameFromBeamJobId(info.jobId),
          state,
          times: await beamTimes(client, info.jobId, state),
          optionsId: typeof optionsId === "number" || typeof optionsId === "string" ? String(optionsId) : undefined,
        };
      }),
    );
  }

  async function listFlink(): Promise<FlinkJob[]> {
    if (flinkRest === undefined) return [];
    const { body } = await flinkRestCall(flinkRest, "/jobs/overview", { timeoutMs });
    return parseFlinkJobsOverview(body);
  }

  /** `optionsId` from the Beam pipeline options Beam's Flink runner puts in the job's config. */
  async function flinkOptionsId(jid: string): Promise<string | undefined> {
    if (flinkRest === undefined) return undefined;
    try {
      const { body } = await flinkRestCall(flinkRest, `/jobs/${jid}/config`, { timeoutMs, allow404: true });
      const id = record(record(record(body)["execution-config"])["user-config"])["optionsId"];
      return typeof id === "string" || typeof id === "number" ? String(id) : undefined;
    } catch {
      return undefined;
    }
  }

  async function flinkState(jid: string): Promise<FlinkState | undefined> {
    if (flinkRest === undefined) return undefined;
    const { body } = await flinkRestCall(flinkRest, `/jobs/${jid}`, { timeoutMs, allow404: true });
    const s = record(body)["state"];
    return typeof s === "string" ? (s as FlinkState) : undefined;
  }

  async function beamState(jobId: string): Promise<BeamState | undefined> {
    try {
      return beamStateName((await beam().getState({ jobId })).state);
    } catch {
      return undefined;
    }
  }

  const client: JobsClient = {
    endpoints: options,

    async list() {
      const [b, f] = await Promise.allSettled([jobEndpoint === undefined ? Promise.resolve([]) : listBeam(), listFlink()]);
      const problems: SluiceError[] = [];
      if (b.status === "rejected") problems.push(SluiceError.from(b.reason));
      if (f.status === "rejected") problems.push(SluiceError.from(f.reason));
      const asked = { beam: jobEndpoint !== undefined, flink: flinkRest !== undefined };
      if (problems.length > 0 && problems.length === Number(asked.beam) + Number(asked.flink)) {
        if (problems.length === 1) throw problems[0] as SluiceError;
        throw new SluiceError("UNAVAILABLE", `cannot list jobs: neither side answered\n  ${problems.map((p) => p.message).join("\n  ")}`, {
          hint: `Check the cluster with \`sluice cluster status\`. ${JOB_ENDPOINT_NOTE}; ${FLINK_REST_NOTE}.`,
          cause: problems[0],
        });
      }
      const beamJobs = b.status === "fulfilled" ? b.value : [];
      let flinkJobs = f.status === "fulfilled" ? f.value : [];
      // Same-named jobs: read the options id from each such Flink job's config to pair them exactly.
      const ambiguous = ambiguousNames(beamJobs, flinkJobs);
      if (ambiguous.size > 0 && flinkRest !== undefined) {
        flinkJobs = await Promise.all(flinkJobs.map(async (j) => (ambiguous.has(j.name) ? { ...j, optionsId: await flinkOptionsId(j.jid) } : j)));
      }
      return { rows: joinJobs(beamJobs, flinkJobs), problems, asked };
    },

    async find(query) {
      const listing = await client.list();
      try {
        return { job: resolveJob(query, listing.rows), listing };
      } catch (err) {
        if (SluiceError.is(err, "NOT_FOUND") && listing.problems.length > 0) {
          throw new SluiceError("NOT_FOUND", `${err.message}; but not every side could be asked: ${listing.problems.map((p) => p.message).join("; ")}`, { hint: err.hint, cause: err });
        }
        throw err;
      }
    },

    async show(job) {
      const problems: SluiceError[] = [];
      if (job.flinkJobId === undefined || flinkRest === undefined) {
        return { job, vertices: [], exceptionCount: 0, problems };
      }
      const jid = job.flinkJobId;
      const [details, exceptions] = await Promise.allSettled([
        flinkRestCall(flinkRest, `/jobs/${jid}`, { timeoutMs }),
        flinkRestCall(flinkRest, `/jobs/${jid}/exceptions`, { timeoutMs }),
      ]);
      let vertices: VertexRow[] = [];
      let state = job.flinkState;
      if (details.status === "fulfilled") {
        vertices = vertexRows(details.value.body);
        const d = record(details.value.body);
        if (typeof d["state"] === "string") state = d["state"] as FlinkState;
      } else {
        problems.push(SluiceError.from(details.reason));
      }
      let rootException: string | undefined;
      let exceptionTime: number | undefined;
      let exceptionCount = 0;
      if (exceptions.status === "fulfilled") {
        const e = record(exceptions.value.body);
        if (typeof e["root-exception"] === "string" && e["root-exception"] !== "") rootException = e["root-exception"];
        exceptionTime = num(e["timestamp"]);
        const entries = record(e["exceptionHistory"])["entries"];
        exceptionCount = Array.isArray(entries) ? entries.length : 0;
      } else {
        problems.push(SluiceError.from(exceptions.reason));
      }
      const page = isFlinkTerminal(state) ? "completed" : "running";
      return {
        job: { ...job, flinkState: state },
        vertices,
        rootException,
        exceptionTime,
        exceptionCount,
        dashboard: `http://${flinkRest}/#/job/${page}/${jid}/overview`,
        problems,
      };
    },

    async cancel(job, opts = {}) {
      const progress = opts.progress ?? ((): void => undefined);
      const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
      const started = Date.now();
      const id = job.beamJobId ?? job.flinkJobId ?? job.name;
      const ended = (isBeamTerminal(job.beamState) || job.beamState === undefined) && (isFlinkTerminal(job.flinkState) || job.flinkState === undefined);
      if (ended) {
        const states = [job.beamState && `Beam: ${job.beamState}`, job.flinkState && `Flink: ${job.flinkState}`].filter(Boolean).join(", ");
        throw new SluiceError("FAILED_PRECONDITION", `job ${id} has already ended (${states}): nothing to cancel`, {
          hint: "See the jobs still running with `sluice jobs list`.",
        });
      }
      // A Beam job with no Flink job yet (the job server translates and uploads its jar first) may
      // still get one: remember the Flink jobs of its name now, to notice a new one afterwards.
      let jid = job.flinkJobId;
      const before =
        jid === undefined && job.beamJobId !== undefined && flinkRest !== undefined
          ? new Set((await listFlink().catch(() => [])).filter((f) => f.name === job.name).map((f) => f.jid))
          : undefined;
      const via: ("job-api" | "flink-rest")[] = [];
      let beamAfter: BeamState | undefined;
      const cancelThroughFlink = async (why: string): Promise<void> => {
        if (jid === undefined || flinkRest === undefined) return;
        progress(`${why}cancelling Flink job ${jid} through Flink's REST API at ${flinkRest}`);
        await flinkRestCall(flinkRest, `/jobs/${jid}?mode=cancel`, { method: "PATCH", timeoutMs });
        via.push("flink-rest");
      };

      if (job.beamJobId !== undefined && jobEndpoint !== undefined && !isBeamTerminal(job.beamState)) {
        progress(`cancelling Beam job ${job.beamJobId} through the job server's Job API at ${jobEndpoint}`);
        try {
          const res = await beam().cancel({ jobId: job.beamJobId });
          beamAfter = beamStateName(res.state);
          via.push("job-api");
        } catch (err) {
          const e = explainGrpc(err);
          if (jid === undefined || flinkRest === undefined) throw e;
          await cancelThroughFlink(`the Job API failed (${e.message}); `);
        }
      } else {
        await cancelThroughFlink("");
      }

      // Wait for Flink. The job server marks its invocation CANCELLED at once, but Beam 2.62's Flink
      // job server does not stop a batch job it submitted to a remote cluster (observed: still
      // RUNNING 45 s later): unless Flink is cancelling within a short grace, cancel it through
      // Flink's REST API as well.
      let flink = job.flinkState;
      const graceEnd = Date.now() + 3_000;
      const lateEnd = Math.min(deadline, Date.now() + 15_000);
      if (before !== undefined) progress(`watching for its Flink job for up to ${Math.round((lateEnd - Date.now()) / 1000)} s (it had none yet)`);
      while (flinkRest !== undefined) {
        if (jid === undefined) {
          if (before === undefined || Date.now() >= lateEnd) break;
          const late = (await listFlink().catch(() => [])).find((f) => f.name === job.name && !before.has(f.jid));
          if (late === undefined) {
            await sleep(1000);
            continue;
          }
          jid = late.jid;
          flink = late.state;
          progress(`its Flink job ${jid} appeared (${flink})`);
        }
        flink = (await flinkState(jid).catch(() => undefined)) ?? flink;
        if (isFlinkTerminal(flink) || Date.now() >= deadline) break;
        if (!via.includes("flink-rest") && flink !== "CANCELLING" && (!via.includes("job-api") || Date.now() >= graceEnd)) {
          await cancelThroughFlink(via.includes("job-api") ? `Flink still reports ${flink} ${Math.round((Date.now() - started) / 1000)} s after the Job API's cancel; ` : "");
        }
        await sleep(500);
      }
      if (job.beamJobId !== undefined && jobEndpoint !== undefined) beamAfter = (await beamState(job.beamJobId)) ?? beamAfter;
      const report: CancelReport = {
        job,
        flinkJobId: jid,
        via,
        beamState: beamAfter,
        flinkState: jid === undefined ? undefined : flink,
        waitedMs: Date.now() - started,
        settled: jid === undefined ? isBeamTerminal(beamAfter) : isFlinkTerminal(flink),
      };
      if (jid !== undefined && flinkRest !== undefined && flink !== "CANCELLING" && !isFlinkTerminal(flink)) {
        throw new SluiceError("DEADLINE_EXCEEDED", `asked to cancel job ${id}, but Flink still reports ${flink ?? "nothing"} for ${jid} after ${Math.round(report.waitedMs / 1000)} s`, {
          hint: `See \`sluice jobs show ${jid}\` and \`sluice cluster logs jobmanager\`; Flink's dashboard: http://${flinkRest}/#/job/running/${jid}/overview`,
        });
      }
      return report;
    },

    async stop(job, opts) {
      const progress = opts.progress ?? ((): void => undefined);
      const started = Date.now();
      const deadline = started + (opts.timeoutMs ?? 120_000);
      const id = job.beamJobId ?? job.flinkJobId ?? job.name;
      if (flinkRest === undefined) throw new SluiceError("FAILED_PRECONDITION", `stopping job ${id} with a savepoint needs Flink's REST API`, { hint: `Pass --flink_rest host:port. ${FLINK_REST_NOTE}.` });
      const jid = job.flinkJobId;
      if (jid === undefined) {
        throw new SluiceError("FAILED_PRECONDITION", `job ${id} has no Flink job${job.beamState ? ` (Beam: ${job.beamState})` : ""}: there is nothing to take a savepoint of`, {
          hint: "A job gets its Flink job once the job server has submitted it; see `sluice jobs list`.",
        });
      }
      const state = (await flinkState(jid)) ?? job.flinkState;
      if (state !== "RUNNING") {
        throw new SluiceError("FAILED_PRECONDITION", `Flink job ${jid} is ${state ?? "unknown to Flink"}, not RUNNING: only a running job can be stopped with a savepoint`, {
          hint: isFlinkTerminal(state) ? "It has ended already; a job that ran with --checkpointing_interval can be resumed from its last retained checkpoint instead." : "Wait until it runs (sluice jobs show).",
        });
      }
      progress(`stopping Flink job ${jid} with a savepoint in ${opts.directory}${opts.drain ? " (draining: the end of event time first)" : ""}`);
      const { body } = await flinkRestCall(flinkRest, `/jobs/${jid}/stop`, { method: "POST", timeoutMs, json: { targetDirectory: opts.directory, drain: opts.drain === true } });
      const trigger = record(body)["request-id"];
      if (typeof trigger !== "string") throw new SluiceError("UNAVAILABLE", `Flink did not accept the stop of ${jid}: ${JSON.stringify(body)}`, { hint: "See `sluice cluster logs jobmanager`." });
      let savepoint: string | undefined;
      while (savepoint === undefined) {
        if (Date.now() >= deadline) {
          throw new SluiceError("DEADLINE_EXCEEDED", `Flink's savepoint of ${jid} did not complete within ${Math.round((Date.now() - started) / 1000)} s`, {
            hint: `A savepoint waits for every task's checkpoint barrier: see \`sluice jobs show ${jid}\` and \`sluice cluster logs taskmanager\`.`,
          });
        }
        await sleep(500);
        const status = record((await flinkRestCall(flinkRest, `/jobs/${jid}/savepoints/${trigger}`, { timeoutMs })).body);
        if (record(status["status"])["id"] !== "COMPLETED") continue;
        const op = record(status["operation"]);
        if (typeof op["location"] === "string") {
          savepoint = op["location"];
          break;
        }
        const cause = record(op["failure-cause"]);
        const trace = typeof cause["stack-trace"] === "string" ? summarizeException(cause["stack-trace"], 8).join("\n  ") : JSON.stringify(op);
        throw new SluiceError("JOB_FAILED", `Flink could not stop ${jid} with a savepoint:\n  ${trace}`, { hint: `The job keeps running; see \`sluice jobs show ${jid}\`.` });
      }
      progress(`savepoint written: ${savepoint}`);
      let flink: FlinkState | undefined = state;
      while (!isFlinkTerminal(flink) && Date.now() < deadline) {
        flink = (await flinkState(jid).catch(() => undefined)) ?? flink;
        if (!isFlinkTerminal(flink)) await sleep(300);
      }
      return { job, flinkJobId: jid, savepoint, flinkState: flink, waitedMs: Date.now() - started };
    },

    close() {
      jobApi?.close();
      jobApi = undefined;
    },
  };
  return client;
}
