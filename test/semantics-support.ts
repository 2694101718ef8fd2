/** Helpers for the semantics tests: run a pipeline on the direct runner (both modes) and collect a collection in process. */
import { DirectRunner, ParDo, type PCollection, Pipeline, PipelineOptions, SluiceError } from "sluice";

export const modes = [
  { name: "direct", runner: new DirectRunner() },
  // CombinePerKey unlifted (GroupByKey + CombineValues), as portable runners may execute it.
  { name: "direct, composites expanded", runner: new DirectRunner({ nativeComposites: false, bundleSize: 2 }) },
] as const;

export type Runner = (typeof modes)[number]["runner"];

/** Runs what `build` makes and returns the elements of the collection it returns. */
export async function collect<T>(runner: Runner, build: (p: Pipeline) => PCollection<T>): Promise<T[]> {
  const out: T[] = [];
  const p = Pipeline.create(PipelineOptions.create());
  build(p).apply(
    "Collect",
    ParDo<T, never>({
      process(x) {
        out.push(x);
        return [];
      },
    }),
  );
  await runner.run(p);
  return out;
}

/** The SluiceError a run of what `build` makes fails with. */
export async function failure(runner: Runner, build: (p: Pipeline) => void): Promise<SluiceError> {
  const p = Pipeline.create(PipelineOptions.create());
  build(p);
  try {
    await runner.run(p);
  } catch (err) {
    if (!SluiceError.is(err)) throw new Error(`expected a SluiceError, got ${String(err)}`, { cause: err });
    return err;
  }
  throw new Error("expected the run to fail");
}
