/**
 * One's own unbounded source (ReadFromUnbounded) and --streaming on the direct runner: partitions
 * polled on the wall clock with their checkpoints, the watermark following the partitions' (the
 * least of them), windows closing as it passes them, the run ending when every partition is done;
 * processing-time timers on the wall clock with --streaming.
 */
import { describe, expect, it } from "vitest";
import {
  Duration,
  FixedWindows,
  GroupByKey,
  IntervalWindow,
  Map,
  ParDo,
  Pipeline,
  PipelineOptions,
  ReadFromUnbounded,
  type UnboundedSource,
  TimerSpec,
  WindowInto,
  Create,
} from "sluice";

describe("ReadFromUnbounded", () => {
  it("polls each partition from its checkpoint; the watermark is the least partition's; ends when all are done", async () => {
    // Two records per poll; a partition is done after a poll that reached its end (not the first).
    const data: Record<string, { value: string; timestamp: number }[]> = {
      a: [
        { value: "a1", timestamp: 1000 },
        { value: "a2", timestamp: 2000 },
        { value: "a3", timestamp: 11_000 },
        { value: "a4", timestamp: 12_000 },
      ],
      b: [
        { value: "b1", timestamp: 1500 },
        { value: "b2", timestamp: 13_000 },
      ],
    };
    const polls: string[] = [];
    const source: UnboundedSource<string, number> = {
      partitions: () => ["a", "b"],
      async poll(partition, offset = 0) {
        polls.push(`${partition}@${offset}`);
        await new Promise((r) => setTimeout(r, 5));
        const records = data[partition]!.slice(offset, offset + 2);
        const next = offset + records.length;
        return { records, checkpoint: next, done: next >= data[partition]!.length && offset > 0, pollAfterMs: 10 };
      },
    };
    const panes: string[] = [];
    const p = Pipeline.create(PipelineOptions.create());
    p.apply("Read", ReadFromUnbounded(source))
      .apply("Fixed", WindowInto<string>(FixedWindows(Duration.seconds(10))))
      .apply("Key", Map((v: string): [string, string] => [v[0]!, v]))
      .apply("Group", GroupByKey())
      .apply(
        "Seen",
        Map(([k, vs]: [string, string[]], c) => void panes.push(`${k} ${(c.window as IntervalWindow).start} ${[...vs].sort().join(",")} ${c.pane.timing}`)),
      );
    const started = Date.now();
    await p.run();
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(panes.sort()).toEqual(["a 0 a1,a2 ON_TIME", "a 10000 a3,a4 ON_TIME", "b 0 b1 ON_TIME", "b 10000 b2 ON_TIME"]);
    // Each partition is polled from where the last poll left it.
    expect(polls.filter((x) => x.startsWith("a"))).toEqual(["a@0", "a@2"]);
    expect(polls.filter((x) => x.startsWith("b"))).toEqual(["b@0", "b@2"]);
  });

  it("holds windows open until the slowest partition's watermark passes them", async () => {
    // "fast" jumps its watermark to 100 s at once; "slow" stays at 1 s for several polls, then
    // sends a record at 5 s: it lands on time in window [0, 10 s) because the output watermark
    // is the least of the partitions'.
    let slowPolls = 0;
    const source: UnboundedSource<string, boolean> = {
      partitions: () => ["fast", "slow"],
      poll(partition) {
        if (partition === "fast") return { records: [{ value: "f", timestamp: 2000 }], checkpoint: true, watermark: 100_000, done: true };
        slowPolls++;
        if (slowPolls < 4) return { records: [], checkpoint: false, watermark: 1000, pollAfterMs: 20 };
        return { records: [{ value: "s", timestamp: 5000 }], checkpoint: true, done: true };
      },
    };
    const panes: string[] = [];
    const p = Pipeline.create(PipelineOptions.create());
    p.apply("Read", ReadFromUnbounded(source))
      .apply("Fixed", WindowInto<string>(FixedWindows(Duration.seconds(10))))
      .apply("Key", Map((v: string): [string, string] => ["k", v]))
      .apply("Group", GroupByKey())
      .apply("Seen", Map(([, vs]: [string, string[]], c) => void panes.push(`${(c.window as IntervalWindow).start} ${[...vs].sort().join(",")}`)));
    const result = await p.run();
    expect(panes).toEqual(["0 f,s"]);
    expect(result.metrics.counter("droppedDueToLateness")).toBe(0);
  });
});

describe("--streaming", () => {
  it("runs processing-time timers on the wall clock, the run lasting until they fired", async () => {
    const fired: number[] = [];
    const p = Pipeline.create(PipelineOptions.fromArgs(["--streaming"]));
    const started = Date.now();
    p.apply("KVs", Create.of<[string, number]>([["k", 1]])).apply(
      "Later",
      ParDo({
        timers: { later: TimerSpec.processingTime() },
        process(_kv, ctx) {
          ctx.timers.later.setRelative(300);
        },
        onTimer: {
          later() {
            fired.push(Date.now() - started);
          },
        },
      }),
    );
    await p.run();
    expect(fired).toHaveLength(1);
    expect(fired[0]).toBeGreaterThanOrEqual(290);
  });
});
