/**
 * `sluice jobs` without a cluster: joining the Job API's jobs with Flink's (by name, options id
 * and time), resolving ids, vertex names and exception summaries, formatting and endpoint errors.
 * Inputs are what a Beam 2.62 Flink job server and Flink 1.19 answered in real runs.
 */
import { thrown } from "./support.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  alignByTime,
  ambiguousNames,
  type BeamJob,
  type FlinkJob,
  formatBytes,
  formatDuration,
  joinJobs,
  nameFromBeamJobId,
  parseFlinkJobsOverview,
  parseHostPort,
  resolveEndpoints,
  resolveJob,
  shortVertexName,
  summarizeException,
  vertexRows,
} from "../src/cluster/jobs.js";

const TASKS_DONE = { running: 0, canceling: 0, canceled: 0, total: 9, created: 0, scheduled: 0, deploying: 0, reconciling: 0, finished: 9, initializing: 0, failed: 0 };

/** Flink 1.19's /jobs/overview while one job ran (end-time -1) and two had finished. */
const OVERVIEW = {
  jobs: [
    { jid: "f4c95e63d5c45285292a17a9987a3006", name: "SameName", "start-time": 1795474166015, "end-time": -1, duration: 115776, state: "RUNNING", "last-modification": 1795474166100, tasks: { ...TASKS_DONE, running: 7, finished: 2 } },
    { jid: "5fcf1a1f1e07d43ec6dde85b5336251e", name: "BeamApp-root-1123223855-65c24350", "start-time": 1795473547891, "end-time": 1795473553657, duration: 5766, state: "FINISHED", "last-modification": 1795473553657, tasks: TASKS_DONE },
    { jid: "5a25998d736f2dd0ea05aef315dee77d", name: "SimpleExample", "start-time": 1795473522879, "end-time": 1795473530358, duration: 7479, state: "FINISHED", "last-modification": 1795473530358, tasks: { ...TASKS_DONE, total: 11, finished: 11 } },
  ],
};

function flink(jid: string, name: string, state: FlinkJob["state"], start: number, end?: number, optionsId?: string): FlinkJob {
  return { jid, name, state, startTime: start, endTime: end, durationMs: end === undefined ? 0 : end - start, tasks: {}, optionsId };
}

function beam(jobId: string, state: BeamJob["state"], times?: BeamJob["times"], optionsId?: string): BeamJob {
  return { jobId, name: nameFromBeamJobId(jobId), state, times, optionsId };
}

describe("parseFlinkJobsOverview", () => {
  it("reads jobs, with no end time while running", () => {
    const jobs = parseFlinkJobsOverview(OVERVIEW);
    expect(jobs.map((j) => [j.jid, j.name, j.state, j.startTime, j.endTime, j.durationMs])).toEqual([
      ["f4c95e63d5c45285292a17a9987a3006", "SameName", "RUNNING", 1795474166015, undefined, 115776],
      ["5fcf1a1f1e07d43ec6dde85b5336251e", "BeamApp-root-1123223855-65c24350", "FINISHED", 1795473547891, 1795473553657, 5766],
      ["5a25998d736f2dd0ea05aef315dee77d", "SimpleExample", "FINISHED", 1795473522879, 1795473530358, 7479],
    ]);
    expect(jobs[0]?.tasks).toMatchObject({ running: 7, finished: 2, total: 9 });
  });

  it("rejects an answer that is not Flink's", () => {
    expect(() => parseFlinkJobsOverview({ jobInfo: [] })).toThrow(/no `jobs` list/);
  });
});

describe("nameFromBeamJobId", () => {
  it("strips the invocation's UUID", () => {
    expect(nameFromBeamJobId("BeamApp-root-1123223855-65c24350_20d25f47-5215-4bc1-bfd1-606640981128")).toBe("BeamApp-root-1123223855-65c24350");
    expect(nameFromBeamJobId("SimpleExample_0ca0b1ce-5f47-43d5-a6c8-c9d774c5c3d5")).toBe("SimpleExample");
    expect(nameFromBeamJobId("my_job_name")).toBe("my_job_name");
  });
});

describe("joinJobs", () => {
  const seedBeam = beam("BeamApp-root-1123223855-65c24350_20d25f47-5215-4bc1-bfd1-606640981128", "DONE", { created: 1795473535380, running: 1795473535380, ended: 1795473555245 });
  const pythonBeam = beam("SimpleExample_0ca0b1ce-5f47-43d5-a6c8-c9d774c5c3d5", "DONE", { created: 1795473508115, running: 1795473508121, ended: 1795473532372 });
  const seedFlink = flink("5fcf1a1f1e07d43ec6dde85b5336251e", "BeamApp-root-1123223855-65c24350", "FINISHED", 1795473547891, 1795473553657);
  const pythonFlink = flink("5a25998d736f2dd0ea05aef315dee77d", "SimpleExample", "FINISHED", 1795473522879, 1795473530358);

  it("joins a Beam job with the Flink job of its name, one row each, newest first", () => {
    const rows = joinJobs([pythonBeam, seedBeam], [seedFlink, pythonFlink]);
    expect(rows.map((r) => [r.beamJobId, r.flinkJobId, r.beamState, r.flinkState, r.matchedBy])).toEqual([
      [seedBeam.jobId, seedFlink.jid, "DONE", "FINISHED", "name"],
      [pythonBeam.jobId, pythonFlink.jid, "DONE", "FINISHED", "name"],
    ]);
    // Flink's times win: they are when the job really ran.
    expect(rows[0]).toMatchObject({ startTime: 1795473547891, endTime: 1795473553657, durationMs: 5766 });
  });

  it("keeps jobs only one side knows", () => {
    // A job the job server failed before submitting it (no Flink job), and a Flink job whose Beam job
    // the job server forgot (or that was submitted to Flink directly).
    const failedEarly = beam("BeamApp-root-1123224146-f0834813_3672516b-1f52-4e92-acf8-6e846182a34f", "FAILED", { created: 1795473706400, running: 1795473706410, ended: 1795473709000 });
    const orphan = flink("0123456789abcdef0123456789abcdef", "wordcount-java", "RUNNING", 1795473600000);
    const rows = joinJobs([failedEarly, seedBeam], [seedFlink, orphan], 1795473800000);
    expect(rows.map((r) => [r.beamJobId ?? null, r.flinkJobId ?? null, r.name])).toEqual([
      [failedEarly.jobId, null, "BeamApp-root-1123224146-f0834813"],
      [null, orphan.jid, "wordcount-java"],
      [seedBeam.jobId, seedFlink.jid, "BeamApp-root-1123223855-65c24350"],
    ]);
    expect(rows[0]).toMatchObject({ beamState: "FAILED", flinkState: undefined, startTime: 1795473706410, durationMs: 2590 });
  });

  it("gives a Beam job not on Flink yet a running duration", () => {
    const [row] = joinJobs([beam("EarlyCancel_a632a3c0-ecc2-480d-b00b-b2edce000b95", "RUNNING", { created: 1795474425000, running: 1795474425100 })], [], 1795474426000);
    expect(row).toMatchObject({ beamState: "RUNNING", flinkJobId: undefined, durationMs: 900 });
  });

  // Two `--job_name=SameName` runs 8 s apart (real times). The job server needed ~11.6 s from
  // RUNNING to Flink's start, so the later Beam job is nearer in time to the earlier Flink job:
  // nearest-first pairing swaps them. Job A (d578…) really is Flink 85d0… (the job server's log).
  const sameA = beam("SameName_d578eb66-a1f8-4d2f-b382-fe1695e51450", "DONE", { created: 1795474146180, running: 1795474146182, ended: 1795474265310 });
  const sameB = beam("SameName_2798c44f-e294-4b0d-98da-7a95eea36d1f", "RUNNING", { created: 1795474154187, running: 1795474154188 });
  const flinkA = flink("85d08c60a28b303ae0136b5141ed7eef", "SameName", "FINISHED", 1795474157783, 1795474264807);
  const flinkB = flink("f4c95e63d5c45285292a17a9987a3006", "SameName", "RUNNING", 1795474166015);

  it("pairs same-named jobs by time in submission order", () => {
    const rows = joinJobs([sameB, sameA], [flinkB, flinkA]);
    expect(rows.map((r) => [r.beamJobId, r.flinkJobId, r.matchedBy])).toEqual([
      [sameB.jobId, flinkB.jid, "time"],
      [sameA.jobId, flinkA.jid, "time"],
    ]);
  });

  it("pairs same-named jobs by options id before time", () => {
    // The options ids say the opposite of the times: they win.
    const rows = joinJobs([{ ...sameA, optionsId: "6" }, { ...sameB, optionsId: "5" }], [{ ...flinkA, optionsId: "5" }, { ...flinkB, optionsId: "6" }]);
    const byBeam = new Map(rows.map((r) => [r.beamJobId, [r.flinkJobId, r.matchedBy]]));
    expect(byBeam.get(sameA.jobId)).toEqual([flinkB.jid, "options-id"]);
    expect(byBeam.get(sameB.jobId)).toEqual([flinkA.jid, "options-id"]);
  });

  it("leaves the newest same-named Beam job alone while its Flink job is not submitted yet", () => {
    const sameC = beam("SameName_11111111-2222-3333-4444-555555555555", "RUNNING", { created: 1795474170000, running: 1795474170001 });
    const rows = joinJobs([sameA, sameB, sameC], [flinkA, flinkB], 1795474171000);
    const byBeam = new Map(rows.map((r) => [r.beamJobId, r.flinkJobId]));
    expect(byBeam.get(sameA.jobId)).toBe(flinkA.jid);
    expect(byBeam.get(sameB.jobId)).toBe(flinkB.jid);
    expect(byBeam.get(sameC.jobId)).toBeUndefined();
    expect(rows).toHaveLength(3);
  });

  it("does not join a Flink job that started long before the Beam job existed", () => {
    // Same --job_name, but the Flink job is from an hour earlier (the job server restarted since).
    const old = flink("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "SameName", "FINISHED", 1795470000000, 1795470050000);
    const rows = joinJobs([sameB], [old]);
    expect(rows.map((r) => [r.beamJobId ?? null, r.flinkJobId ?? null])).toEqual([
      [sameB.jobId, null],
      [null, old.jid],
    ]);
  });

  it("does not join a Flink job that started after its Beam job finished, unless it was cancelled", () => {
    const done = beam("Late_a632a3c0-ecc2-480d-b00b-b2edce000b95", "DONE", { created: 1795474425000, running: 1795474425100, ended: 1795474426000 });
    const later = flink("2bfad28435e5bc138e24ef791e291308", "Late", "CANCELED", 1795474437000, 1795474438000);
    expect(joinJobs([done], [later])).toHaveLength(2);
    // Cancelled through the Job API before Flink had it: the job server still submits it (seen live).
    const cancelled = { ...done, state: "CANCELLED" as const };
    expect(joinJobs([cancelled], [later]).map((r) => [r.beamJobId, r.flinkJobId])).toEqual([[cancelled.jobId, later.jid]]);
  });

  it("does not guess among same-named jobs when the Beam side's times are unknown", () => {
    const rows = joinJobs([{ ...sameA, times: undefined }], [flinkA, flinkB]);
    expect(rows.every((r) => r.beamJobId === undefined || r.flinkJobId === undefined)).toBe(true);
    expect(rows).toHaveLength(3);
  });

  it("joins a unique name without times (an old job server without state history)", () => {
    const rows = joinJobs([{ ...seedBeam, times: undefined }], [seedFlink]);
    expect(rows.map((r) => [r.beamJobId, r.flinkJobId, r.matchedBy])).toEqual([[seedBeam.jobId, seedFlink.jid, "name"]]);
  });

  it("names the ambiguous names (those needing options ids)", () => {
    expect([...ambiguousNames([sameA, sameB, seedBeam], [flinkA, flinkB, seedFlink, pythonFlink])]).toEqual(["SameName"]);
    expect([...ambiguousNames([sameA, sameB], [])]).toEqual([]);
  });

  it("alignByTime keeps order and skips what the other side lacks", () => {
    expect(alignByTime([sameB, sameA], [flinkB, flinkA]).map(([b, f]) => [b.jobId, f.jid])).toEqual([
      [sameA.jobId, flinkA.jid],
      [sameB.jobId, flinkB.jid],
    ]);
    expect(alignByTime([sameA], [flinkB, flinkA]).map(([b, f]) => [b.jobId, f.jid])).toEqual([[sameA.jobId, flinkA.jid]]);
    expect(alignByTime([], [flinkA])).toEqual([]);
  });
});

describe("resolveJob", () => {
  const rows = joinJobs(
    [
      beam("SameName_d578eb66-a1f8-4d2f-b382-fe1695e51450", "DONE", { created: 1795474146180, running: 1795474146182, ended: 1795474265310 }),
      beam("SameName_2798c44f-e294-4b0d-98da-7a95eea36d1f", "RUNNING", { created: 1795474154187, running: 1795474154188 }),
      beam("BeamApp-root-1123223855-65c24350_20d25f47-5215-4bc1-bfd1-606640981128", "DONE", { created: 1795473535380, running: 1795473535380, ended: 1795473555245 }),
    ],
    [
      flink("85d08c60a28b303ae0136b5141ed7eef", "SameName", "FINISHED", 1795474157783, 1795474264807),
      flink("f4c95e63d5c45285292a17a9987a3006", "SameName", "RUNNING", 1795474166015),
      flink("5fcf1a1f1e07d43ec6dde85b5336251e", "BeamApp-root-1123223855-65c24350", "FINISHED", 1795473547891, 1795473553657),
      flink("5a25998d736f2dd0ea05aef315dee77d", "SimpleExample", "FINISHED", 1795473522879, 1795473530358),
    ],
  );

  it("accepts a whole Beam job id or Flink JobID (any case)", () => {
    expect(resolveJob("SameName_2798c44f-e294-4b0d-98da-7a95eea36d1f", rows).flinkJobId).toBe("f4c95e63d5c45285292a17a9987a3006");
    expect(resolveJob("F4C95E63D5C45285292A17A9987A3006", rows).beamJobId).toBe("SameName_2798c44f-e294-4b0d-98da-7a95eea36d1f");
  });

  it("accepts a unique prefix of either", () => {
    expect(resolveJob("SameName_d5", rows).flinkJobId).toBe("85d08c60a28b303ae0136b5141ed7eef");
    expect(resolveJob("5fcf", rows).beamJobId).toBe("BeamApp-root-1123223855-65c24350_20d25f47-5215-4bc1-bfd1-606640981128");
    expect(resolveJob("BeamApp-root-1123223855", rows).flinkJobId).toBe("5fcf1a1f1e07d43ec6dde85b5336251e");
  });

  it("accepts the name of a Flink-only job", () => {
    expect(resolveJob("SimpleExample", rows).flinkJobId).toBe("5a25998d736f2dd0ea05aef315dee77d");
  });

  it("refuses an ambiguous prefix, listing the candidates", () => {
    // "5" starts two Flink JobIDs (5fcf…, 5a25…).
    const err = thrown(() => resolveJob("5", rows));
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.message).toBe('"5" matches 2 jobs');
    expect(err.hint).toContain("5fcf1a1f1e07d43ec6dde85b5336251e");
    expect(err.hint).toContain("5a25998d736f2dd0ea05aef315dee77d");
    expect(thrown(() => resolveJob("SameName", rows)).hint).toContain("SameName_d578eb66");
  });

  it("says when nothing matches", () => {
    const err = thrown(() => resolveJob("BeamApp-nobody", rows));
    expect(err.code).toBe("NOT_FOUND");
    expect(err.hint).toContain("sluice jobs list");
    expect(thrown(() => resolveJob("  ", rows)).code).toBe("INVALID_ARGUMENT");
  });
});

describe("shortVertexName", () => {
  it("turns a batch chain into its transforms, without Beam's plumbing operators", () => {
    expect(
      shortVertexName(
        "CHAIN MapPartition (MapPartition at [4]{Create words, Split words, Write to file}) -> FlatMap (FlatMap at ExtractOutput[0]) -> Map (Key Extractor) -> GroupCombine (GroupCombine at GroupCombine: Write to file/GroupByShard) -> Map (Key Extractor)",
      ),
    ).toBe("Create words, Split words, Write to file > GroupByShard (combine)");
    expect(shortVertexName("CHAIN MapPartition (MapPartition at [2]Write to file/CollectShards/{CombinePerKey, UnKey}) -> FlatMap (FlatMap at ExtractOutput[0])")).toBe(
      "Write to file/CollectShards/{CombinePerKey, UnKey}",
    );
  });

  it("names sources, groupings and sinks", () => {
    expect(shortVertexName("DataSource (Impulse)")).toBe("Impulse");
    expect(shortVertexName("GroupReduce (GroupReduce at Write to file/GroupByShard)")).toBe("Write to file/GroupByShard (group)");
    expect(shortVertexName("MapPartition (MapPartition at [2]Write to file/{CollectShards, Finalize})")).toBe("Write to file/{CollectShards, Finalize}");
    expect(shortVertexName("DataSink (DiscardingOutput)")).toBe("DiscardingOutput");
  });

  it("cuts long names with an ellipsis", () => {
    const python =
      "CHAIN MapPartition (MapPartition at [2]Write to file/Write/WriteImpl/DoOnce/{FlatMap(<lambda at core.py:3970>), Map(decode)}) -> FlatMap (FlatMap at ExtractOutput[0])";
    const short = shortVertexName(python);
    expect(short).toHaveLength(72);
    expect(short.startsWith("Write to file/Write/WriteImpl/DoOnce/{FlatMap(<lambda at core.py:3970>)")).toBe(true);
    expect(short.endsWith("…")).toBe(true);
    expect(shortVertexName(python, 20)).toBe("Write to file/Write…");
  });

  it("does not split inside a transform label, and reads streaming names", () => {
    expect(shortVertexName("CHAIN MapPartition (MapPartition at [2]{Parse a -> b, Format}) -> FlatMap (FlatMap at ExtractOutput[0])")).toBe("Parse a -> b, Format");
    expect(shortVertexName("Source: Impulse -> [3]{Create, Map, Write} -> ToKeyedWorkItem")).toBe("Impulse > Create, Map, Write");
  });
});

describe("vertexRows", () => {
  it("reads status, parallelism, records, bytes and duration", () => {
    const details = {
      jid: "bfef3c735818fafe6b8dac9f7e7d857a",
      state: "RUNNING",
      vertices: [
        {
          id: "24ae1c21b61d8d54f77e3ab007209391",
          name: "CHAIN MapPartition (MapPartition at [4]{Numbers, Slow square, Write squares}) -> FlatMap (FlatMap at ExtractOutput[0]) -> Map (Key Extractor) -> GroupCombine (GroupCombine at GroupCombine: Write squares/GroupByShard) -> Map (Key Extractor)",
          maxParallelism: 1,
          parallelism: 2,
          status: "RUNNING",
          "start-time": 1795474000000,
          "end-time": -1,
          duration: 19400,
          tasks: { RUNNING: 2, FINISHED: 0 },
          metrics: { "read-bytes": 22, "read-bytes-complete": true, "write-bytes": 1536, "write-bytes-complete": false, "read-records": 1, "read-records-complete": true, "write-records": 2000, "write-records-complete": true, "accumulated-busy-time": "NaN" },
        },
        { id: "4bf7", name: "DataSink (DiscardingOutput)", parallelism: 1, status: "CREATED", "start-time": -1, "end-time": -1, duration: -1, tasks: {}, metrics: {} },
      ],
    };
    const [a, b] = vertexRows(details);
    expect(a).toMatchObject({
      shortName: "Numbers, Slow square, Write squares > GroupByShard (combine)",
      status: "RUNNING",
      parallelism: 2,
      readRecords: 1,
      writeRecords: 2000,
      readBytes: 22,
      writeBytes: 1536,
      metricsComplete: false,
      durationMs: 19400,
      tasks: { RUNNING: 2, FINISHED: 0 },
    });
    expect(b).toMatchObject({ shortName: "DiscardingOutput", status: "CREATED", readRecords: 0, durationMs: undefined, metricsComplete: true });
    expect(vertexRows({})).toEqual([]);
  });
});

describe("summarizeException", () => {
  // Flink's root exception for a pipeline whose Map threw (abridged: fewer frames).
  const TRACE = [
    "org.apache.flink.runtime.JobException: Recovery is suppressed by FixedDelayRestartBackoffTimeStrategy(maxNumberRestartAttempts=10, backoffTimeMS=2000)",
    "\tat org.apache.flink.runtime.executiongraph.failover.ExecutionFailureHandler.handleFailure(ExecutionFailureHandler.java:180)",
    "\tat jdk.internal.reflect.GeneratedMethodAccessor17.invoke(Unknown Source)",
    "\tat java.base/java.util.concurrent.ForkJoinWorkerThread.run(ForkJoinWorkerThread.java:165)",
    "Caused by: java.util.concurrent.ExecutionException: java.lang.RuntimeException: Error received from SDK harness for instruction 1: Transform 'Explode' failed in process on element 2: cannot handle 2",
    "Fix the transform's code, or route failing elements aside with .withExceptionHandling().",
    "Error: cannot handle 2",
    "    at <anonymous> (/tmp/jobs-dev/fail.ts:9:24)",
    "    at Object.process (file:///work/main/dist/sdk/transforms/core.js:108:25)",
    "    at ParDoOperator.processOne (file:///work/main/dist/runners/direct/operators.js:374:27)",
    "\tat java.base/java.util.concurrent.CompletableFuture.reportGet(CompletableFuture.java:396)",
    "\tat org.apache.beam.runners.flink.translation.functions.FlinkExecutableStageFunction.mapPartition(FlinkExecutableStageFunction.java:269)",
    "\tat java.base/java.lang.Thread.run(Thread.java:840)",
    "Caused by: java.lang.RuntimeException: Error received from SDK harness for instruction 1: Transform 'Explode' failed in process on element 2: cannot handle 2",
    "Fix the transform's code, or route failing elements aside with .withExceptionHandling().",
    "Error: cannot handle 2",
    "    at <anonymous> (/tmp/jobs-dev/fail.ts:9:24)",
    "    at Object.process (file:///work/main/dist/sdk/transforms/core.js:108:25)",
    "\tat org.apache.beam.sdk.fn.stream.OutboundObserverFactory$1.onNext(OutboundObserverFactory.java:53)",
    "\t... 3 more",
    "",
  ].join("\n");

  it("keeps the messages, the causes and where the user's code threw; drops Java frames and repeats", () => {
    expect(summarizeException(TRACE)).toEqual([
      "org.apache.flink.runtime.JobException: Recovery is suppressed by FixedDelayRestartBackoffTimeStrategy(maxNumberRestartAttempts=10, backoffTimeMS=2000)",
      "Caused by: java.util.concurrent.ExecutionException: java.lang.RuntimeException: Error received from SDK harness for instruction 1: Transform 'Explode' failed in process on element 2: cannot handle 2",
      "Fix the transform's code, or route failing elements aside with .withExceptionHandling().",
      "Error: cannot handle 2",
      "    at <anonymous> (/tmp/jobs-dev/fail.ts:9:24)",
      "Caused by: java.lang.RuntimeException: Error received from SDK harness for instruction 1: Transform 'Explode' failed in process on element 2: cannot handle 2",
    ]);
  });

  it("keeps the innermost cause when cutting a long trace", () => {
    const long = ["java.lang.RuntimeException: outer", ...Array.from({ length: 40 }, (_, i) => `message line ${i}`), "Caused by: java.io.IOException: the real reason"].join("\n");
    const lines = summarizeException(long, 10);
    expect(lines.length).toBeLessThanOrEqual(10);
    expect(lines[0]).toBe("java.lang.RuntimeException: outer");
    expect(lines).toContain("Caused by: java.io.IOException: the real reason");
    expect(lines.some((l) => /^… \(\d+ more lines\)$/.test(l))).toBe(true);
  });
});

describe("formatting", () => {
  it("formats durations", () => {
    expect([undefined, -1, 850, 5766, 65_000, 3_725_000, 90_000_000].map(formatDuration)).toEqual(["-", "-", "850 ms", "5.8 s", "1m 05s", "1h 02m", "1d 01h"]);
  });

  it("formats bytes", () => {
    expect([0, 18, 1536, 20 * 1024 * 1024 + 300_000, 5 * 1024 ** 3].map(formatBytes)).toEqual(["0 B", "18 B", "1.5 KB", "20 MB", "5.0 GB"]);
  });
});

describe("endpoints", () => {
  const empty = mkdtempSync(join(tmpdir(), "sluice-jobs-test-"));
  afterAll(() => rmSync(empty, { recursive: true, force: true }));

  it("parses host:port, dropping an http:// prefix for Flink's REST address", () => {
    expect(parseHostPort("localhost:8099", "--job_endpoint")).toBe("localhost:8099");
    expect(parseHostPort("http://127.0.0.1:8081/", "--flink_rest")).toBe("127.0.0.1:8081");
    expect(parseHostPort("[::1]:8081", "--flink_rest")).toBe("[::1]:8081");
  });

  it("names both ports when an endpoint is malformed", () => {
    const err = thrown(() => parseHostPort("8099", "--job_endpoint"));
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.hint).toMatch(/8099.*8081/);
    expect(thrown(() => parseHostPort("localhost:99999", "--flink_rest")).hint).toMatch(/8081.*8099/);
  });

  it("without a running cluster and without flags, says to start one or name both endpoints", () => {
    const err = thrown(() => resolveEndpoints({ SLUICE_STATE_DIR: empty }, {}));
    expect(err.code).toBe("FAILED_PRECONDITION");
    expect(err.message).toContain(`no cluster is running (no cluster state in ${empty})`);
    expect(err.hint).toContain("sluice cluster up");
    expect(err.hint).toContain("--job_endpoint host:port (the Beam job server's Job API, 8099 by default)");
    expect(err.hint).toContain("--flink_rest host:port (Flink's REST API, 8081 by default)");
  });

  it("uses the flags without a cluster, one side alone if need be", () => {
    expect(resolveEndpoints({ SLUICE_STATE_DIR: empty }, { flinkRest: "127.0.0.1:18081" })).toMatchObject({ jobEndpoint: undefined, flinkRest: "127.0.0.1:18081" });
    expect(resolveEndpoints({ SLUICE_STATE_DIR: empty }, { jobEndpoint: "h:1", flinkRest: "h:2" })).toMatchObject({ jobEndpoint: "h:1", flinkRest: "h:2" });
  });
});

