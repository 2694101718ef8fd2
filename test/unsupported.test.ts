/**
 * The known-unsupported list: what a runner cannot do, each asserted to fail loudly with a clear
 * error (never silently wrong). When a feature starts working, its entry moves to the corpus.
 */
import { describe, expect, it } from "vitest";
import { AsSingleton, Create, type ErrorCode, Map, ParDo, Pipeline, TimerSpec, PipelineOptions, Sessions, SluiceError, TestStream, WindowInto } from "sluice";

interface Unsupported {
  readonly feature: string;
  readonly runners: string;
  readonly run: () => Promise<unknown>;
  readonly error: RegExp;
  /** The code a caller can branch on: UNSUPPORTED for what Sluice or the runner cannot do. */
  readonly code: ErrorCode;
}

const seed = (args: string[]): Pipeline => {
  const p = Pipeline.create(PipelineOptions.fromArgs(args));
  p.apply("Create", Create.of([1])).apply("Id", Map((x: number) => x));
  return p;
};

const list: readonly Unsupported[] = [
  {
    feature: "processing-time timers on a bounded input in Flink's streaming mode (the runner never fires them)",
    runners: "flink",
    run: () => {
      const p = Pipeline.create(PipelineOptions.fromArgs(["--runner=flink", "--streaming"]));
      p.apply("Create", Create.of<[string, number]>([["k", 1]])).apply(
        "Flush",
        ParDo({
          timers: { flush: TimerSpec.processingTime() },
          process(_kv: [string, number], ctx) {
            ctx.timers.flush.setRelative(1000);
          },
          onTimer: { flush() {} },
        }),
      );
      return p.run();
    },
    error: /'Flush' sets processing-time timer \(flush\) on a bounded input, which Beam's Flink runner never fires in streaming mode/,
    code: "UNSUPPORTED",
  },
  {
    feature: "DOCKER environments (no Docker engine; use LOOPBACK or EXTERNAL)",
    runners: "portable, flink, prism",
    run: () => seed(["--runner=PortableRunner", "--job_endpoint=127.0.0.1:9", "--environment_type=DOCKER"]).run(),
    error: /--environment_type=DOCKER is not supported/,
    code: "UNSUPPORTED",
  },
  {
    feature: "Flink versions other than the pinned job server's",
    runners: "flink",
    run: () => seed(["--runner=FlinkRunner", "--flink_version=1.18"]).run(),
    error: /--flink_version=1\.18 is not available: Sluice runs Beam .* Flink 1\.19 job server/,
    code: "UNSUPPORTED",
  },
  {
    feature: "side inputs windowed by Sessions (merging windows have no side-input mapping)",
    runners: "all",
    run: () => {
      const p = Pipeline.create(PipelineOptions.create());
      const side = p.apply("Side", Create.of([1])).apply("Sessions", WindowInto(Sessions(1000)));
      p.apply("Main", Create.of([1])).apply("Use", Map((x: number, c) => x + c.sideInputs.s, { sideInputs: { s: AsSingleton(side) } }));
      return p.run();
    },
    error: /Sessions windowing cannot be used for side inputs/,
    code: "UNSUPPORTED",
  },
  {
    feature: "two TestStreams in one pipeline on the direct runner",
    runners: "direct",
    run: () => {
      const p = Pipeline.create(PipelineOptions.create());
      p.apply("A", TestStream.create<number>().addElements(1)).apply("IdA", Map((x: number) => x));
      p.apply("B", TestStream.create<number>().addElements(2)).apply("IdB", Map((x: number) => x));
      return p.run();
    },
    error: /'B' is a second TestStream: the direct runner plays one per pipeline/,
    code: "UNSUPPORTED",
  },
];

describe("known unsupported features fail loudly", () => {
  for (const u of list) {
    it(`${u.feature} [${u.runners}]`, async () => {
      // At construction or at run: either way a SluiceError with the code.
      const err = await Promise.resolve()
        .then(u.run)
        .then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SluiceError);
      expect((err as Error).message).toMatch(u.error);
      expect((err as SluiceError).code).toBe(u.code);
    });
  }
});
