/**
 * PTransform: the unit of a pipeline. Composite transforms build themselves out of other
 * transforms in `expand`; primitives (Impulse, ParDo, GroupByKey, Flatten, WindowInto) declare a
 * spec through the expand context instead.
 */
import type { Coder } from "./coders/coder.js";
import type { CompositeSpec, PrimitiveSpec, TransformNode } from "./graph.js";
import type { PCollection, PInput, POutput } from "./pvalue.js";
import type { WindowingStrategy } from "./windowing/windowfns.js";

/** What a transform's `expand` may ask of the pipeline it is applied in. */
export interface ExpandContext {
  /** The node being expanded: its label, full label and inputs. */
  readonly node: TransformNode;
  /** Declares this node a primitive a runner executes. */
  primitive(spec: PrimitiveSpec): void;
  /** Marks this composite as one a runner may execute directly. */
  composite(spec: CompositeSpec): void;
  /** Creates an output PCollection of a primitive. */
  output<T>(tag: string, coder: Coder<T>, windowing: WindowingStrategy): PCollection<T>;
  /** Registers an extra (side) input of a primitive. */
  sideInput(tag: string, pcoll: PCollection<unknown>): void;
  /** Fails construction with an error naming this transform. */
  fail(message: string, hint: string): never;
}

export abstract class PTransform<In extends PInput, Out extends POutput> {
  /** Type-level only: makes transforms contravariant in their input, so misuse is a compile error. */
  declare readonly __input: (input: In) => void;
  declare readonly __output: () => Out;

  constructor(readonly defaultLabel: string) {}

  /** Builds the transform's output from its input; called once, when the transform is applied. */
  abstract expand(input: In, context: ExpandContext): Out;
}

class FunctionTransform<In extends PInput, Out extends POutput> extends PTransform<In, Out> {
  constructor(
    label: string,
    private readonly body: (input: In) => Out,
  ) {
    super(label);
  }
  expand(input: In): Out {
    return this.body(input);
  }
}

/**
 * A composite transform from a function, for reuse without a class:
 *
 * ```ts
 * const CountWords = composite("CountWords", (lines: PCollection<string>) =>
 *   lines.apply("Split", FlatMap((l) => l.split(" "))).apply("Count", Count.perElement()));
 * ```
 */
export function composite<In extends PInput, Out extends POutput>(
  defaultLabel: string,
  body: (input: In) => Out,
): PTransform<In, Out> {
  return new FunctionTransform(defaultLabel, body);
}
