/**
 * PValues: what transforms consume and produce. A `PCollection<T>` is a typed, immutable,
 * possibly unbounded collection of elements of T; lists and records of PCollections feed
 * multi-input transforms (Flatten, CoGroupByKey) and come out of multi-output ones.
 */
import { SluiceError } from "../internal/errors.js";
import type { Coder } from "./coders/coder.js";
import type { TransformNode } from "./graph.js";
import type { Pipeline } from "./pipeline.js";
import type { PTransform } from "./transform.js";
import type { WindowingStrategy } from "./windowing/windowfns.js";

export class PCollection<T> {
  /** Type-level only: makes `PCollection<T>` covariant in T. */
  declare readonly __element: () => T;
  /** Transforms that read this collection (main or side input). */
  readonly consumers: TransformNode[] = [];
  private coderValue: Coder<T>;
  private coderExplicit = false;

  /** @internal Created by the pipeline while expanding a transform. */
  constructor(
    readonly pipeline: Pipeline,
    readonly id: string,
    readonly producer: TransformNode,
    readonly tag: string,
    coder: Coder<T>,
    public windowing: WindowingStrategy,
  ) {
    this.coderValue = coder;
  }

  /**
   * Whether the collection ends (Beam's IsBounded): unbounded when an unbounded source (TestStream)
   * produces it or any main input of its producer is unbounded. Runners run such pipelines as
   * streams.
   */
  get isBounded(): boolean {
    if (this.boundedValue === undefined) {
      const p = this.producer;
      this.boundedValue =
        p.primitive?.kind !== "test_stream" &&
        !(p.primitive?.kind === "pardo" && p.primitive.unboundedOutput === true) &&
        [...p.inputs].every(([tag, pc]) => tag.startsWith("side:") || pc.isBounded);
    }
    return this.boundedValue;
  }
  private boundedValue: boolean | undefined;

  /** The coder used when this collection's elements cross a process or a grouping. */
  get coder(): Coder<T> {
    return this.coderValue;
  }

  /** Whether the coder was chosen with `withCoder` (runners never refine it). */
  get hasExplicitCoder(): boolean {
    return this.coderExplicit;
  }

  /** Chooses this collection's coder explicitly. Call before applying consumers. */
  withCoder(coder: Coder<T>): this {
    if (this.consumers.length > 0) {
      this.pipeline.fail(
        "INVALID_PIPELINE",
        `withCoder on '${this.displayName}' comes after '${this.consumers[0]!.fullLabel}' already reads it`,
        "Call withCoder right after the transform that produces the collection.",
      );
    }
    this.coderValue = coder;
    this.coderExplicit = true;
    return this;
  }

  /** @internal Refines the default coder, e.g. to a KV coder when a grouping reads it. */
  setInferredCoder(coder: Coder<T>): void {
    this.coderValue = coder;
  }

  /** A readable name: the producing transform's label plus the output tag when not "main". */
  get name(): string {
    return this.tag === "main" ? this.producer.fullLabel : `${this.producer.fullLabel}.${this.tag}`;
  }

  /**
   * The name users gave it, for messages: the outermost transform that outputs this collection.
   * `p.apply("Cat", Create.of(...))` is produced by the internal 'Cat/FlatMap', but users know it
   * as 'Cat'. (`name` stays the unique producer-based name the Runner API translation uses.)
   */
  get displayName(): string {
    let node = this.producer;
    let tag = this.tag;
    for (let parent = node.parent; parent !== undefined && parent.parent !== undefined; parent = parent.parent) {
      const outer = [...parent.outputs].find(([, pc]) => pc === (this as PCollection<unknown>));
      if (outer === undefined) break;
      node = parent;
      tag = outer[0];
    }
    return tag === "main" ? node.fullLabel : `${node.fullLabel}.${tag}`;
  }

  /** Applies a transform under `label` (unique among its siblings). */
  apply<Out extends POutput>(label: string, transform: PTransform<PCollection<T>, Out>): Out;
  /** Applies a transform under its default label. */
  apply<Out extends POutput>(transform: PTransform<PCollection<T>, Out>): Out;
  apply<Out extends POutput>(
    labelOrTransform: string | PTransform<PCollection<T>, Out>,
    maybeTransform?: PTransform<PCollection<T>, Out>,
  ): Out {
    return this.pipeline.applyTransform(this, labelOrTransform, maybeTransform);
  }

  toString(): string {
    return `PCollection(${this.name})`;
  }
}

/** The input of a root transform: `pipeline.apply(label, Create.of(...))`. */
export class PBegin {
  declare private readonly __begin: true;
  constructor(readonly pipeline: Pipeline) {}
}

/** An ordered list of PCollections: input of Flatten, output of Partition. */
export class PCollectionList<T> {
  declare readonly __element: () => T;
  private constructor(
    readonly pipeline: Pipeline,
    readonly all: readonly PCollection<T>[],
  ) {}

  /** A list of collections of one pipeline (at least one). */
  static of<Ts extends readonly PCollection<unknown>[]>(
    ...pcolls: Ts
  ): PCollectionList<Ts[number] extends PCollection<infer U> ? U : never> {
    const first = pcolls[0];
    if (first === undefined) {
      throw new SluiceError("INVALID_ARGUMENT", "PCollectionList.of needs at least one PCollection", { hint: "Pass the collections to combine, e.g. PCollectionList.of(a, b)." });
    }
    return new PCollectionList(first.pipeline, pcolls as never);
  }

  get length(): number {
    return this.all.length;
  }

  /** The i-th collection; throws for an index out of range. */
  get(index: number): PCollection<T> {
    const p = this.all[index];
    if (p === undefined) {
      throw new SluiceError("INVALID_ARGUMENT", `PCollectionList has ${this.all.length} collections, no index ${index}`, { hint: `Use an index from 0 to ${this.all.length - 1}.` });
    }
    return p;
  }

  apply<Out extends POutput>(label: string, transform: PTransform<PCollectionList<T>, Out>): Out;
  apply<Out extends POutput>(transform: PTransform<PCollectionList<T>, Out>): Out;
  apply<Out extends POutput>(
    labelOrTransform: string | PTransform<PCollectionList<T>, Out>,
    maybeTransform?: PTransform<PCollectionList<T>, Out>,
  ): Out {
    return this.pipeline.applyTransform(this, labelOrTransform, maybeTransform);
  }
}

/** Named PCollections: the input of CoGroupByKey (`PCollectionRecord.of({ emails, phones })`). */
export class PCollectionRecord<R extends Readonly<Record<string, PCollection<unknown>>>> {
  private constructor(
    readonly pipeline: Pipeline,
    readonly all: R,
  ) {}

  static of<R extends Readonly<Record<string, PCollection<unknown>>>>(record: R): PCollectionRecord<R> {
    const first = Object.values(record)[0];
    if (first === undefined) {
      throw new SluiceError("INVALID_ARGUMENT", "PCollectionRecord.of needs at least one PCollection", { hint: "Pass a record of collections, e.g. PCollectionRecord.of({ a, b })." });
    }
    return new PCollectionRecord(first.pipeline, record);
  }

  apply<Out extends POutput>(label: string, transform: PTransform<PCollectionRecord<R>, Out>): Out;
  apply<Out extends POutput>(transform: PTransform<PCollectionRecord<R>, Out>): Out;
  apply<Out extends POutput>(
    labelOrTransform: string | PTransform<PCollectionRecord<R>, Out>,
    maybeTransform?: PTransform<PCollectionRecord<R>, Out>,
  ): Out {
    return this.pipeline.applyTransform(this, labelOrTransform, maybeTransform);
  }
}

/** What a transform may take as input. */
export type PInput =
  | PBegin
  | PCollection<unknown>
  | PCollectionList<unknown>
  | PCollectionRecord<Readonly<Record<string, PCollection<unknown>>>>;

/** What a transform may return: nothing (a sink), a collection, or a list or record of them. */
export type POutput =
  | void
  | PCollection<unknown>
  | PCollectionList<unknown>
  | Readonly<Record<string, PCollection<unknown>>>;

/** The PCollections inside an input or output value, by tag. */
export function collectionsOf(value: unknown): Map<string, PCollection<unknown>> {
  const out = new Map<string, PCollection<unknown>>();
  if (value === undefined || value instanceof PBegin) return out;
  if (value instanceof PCollection) {
    out.set("main", value);
  } else if (value instanceof PCollectionList) {
    value.all.forEach((p, i) => out.set(String(i), p));
  } else if (value instanceof PCollectionRecord) {
    for (const [k, p] of Object.entries(value.all)) out.set(k, p as PCollection<unknown>);
  } else if (typeof value === "object" && value !== null) {
    for (const [k, p] of Object.entries(value)) {
      if (p instanceof PCollection) out.set(k, p);
    }
  }
  return out;
}
