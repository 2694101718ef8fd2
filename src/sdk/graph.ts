/**
 * The pipeline graph, as construction records it: transform nodes (composites with their parts,
 * primitives with a spec a runner executes) and the PCollections between them. It mirrors the
 * Runner API's `Components`, so translation to protos is a walk over it.
 */
import type { Coder } from "./coders/coder.js";
import type { AnyDoFn } from "./dofn.js";
import type { PCollection } from "./pvalue.js";
import type { SideInput } from "./sideinputs.js";
import type { StateSpecData, TimerSpecData } from "./state.js";
import type { AnyCombineFn } from "./transforms/combinefn.js";
import type { WindowFn } from "./windowing/windowfns.js";

/** Primitive transforms every runner must execute. */
/** The state and timers a stateful DoFn declares, and the coder of the keys they are kept per. */
export interface StatefulSpec {
  readonly keyCoder: Coder<unknown>;
  readonly state: Readonly<Record<string, StateSpecData>>;
  readonly timers: Readonly<Record<string, TimerSpecData>>;
}

export type PrimitiveSpec =
  | { readonly kind: "impulse" }
  | {
      readonly kind: "pardo";
      readonly fn: AnyDoFn;
      readonly sideInputs: Readonly<Record<string, SideInput<unknown>>>;
      /** Output tags besides "main". */
      readonly taggedOutputs: readonly string[];
      /** Whether the fn looks at windows (element explodes per window) or not (Map, FlatMap…). */
      readonly observesWindow: boolean;
      /** Route failing elements to the "failed" output instead of failing the run. */
      readonly exceptionHandling: boolean;
      /** A stateful DoFn's declarations and the key coder its state is kept by. */
      readonly stateful?: StatefulSpec;
      /** Its outputs are unbounded whatever its input (an unbounded source's reader). */
      readonly unboundedOutput?: boolean;
    }
  | { readonly kind: "group_by_key" }
  | { readonly kind: "flatten" }
  | { readonly kind: "assign_windows"; readonly windowFn: WindowFn }
  /** A scripted unbounded source (sdk/testing/test_stream.ts). */
  | { readonly kind: "test_stream"; readonly events: readonly TestStreamEvent[] }


/** One step of a TestStream's script. */
export type TestStreamEvent =
  | { readonly kind: "elements"; readonly elements: readonly { readonly value: unknown; readonly timestamp: number }[] }
  | { readonly kind: "watermark"; readonly to: number }
  | { readonly kind: "processing_time"; readonly advanceBy: number };

/**
 * Composites with a meaning runners may recognise and execute directly instead of expanding them
 * (Beam's runner-recognised composites). A runner that does not know one runs its parts.
 */
export type CompositeSpec =
  | { readonly kind: "combine_per_key"; readonly combineFn: AnyCombineFn }
  /** Count.perElement: a lifted sum per element (a runner may count elements without pairing them). */
  | { readonly kind: "count_per_element"; readonly combineFn: AnyCombineFn }
  | { readonly kind: "reshuffle" }
  | { readonly kind: "write_text"; readonly sink: unknown };

export interface TransformNode {
  /** Unique name: labels from the root joined by "/", as Beam's `unique_name`. */
  readonly fullLabel: string;
  readonly label: string;
  readonly parent: TransformNode | undefined;
  readonly parts: TransformNode[];
  /** Main and side inputs by tag. */
  readonly inputs: Map<string, PCollection<unknown>>;
  readonly outputs: Map<string, PCollection<unknown>>;
  primitive: PrimitiveSpec | undefined;
  composite: CompositeSpec | undefined;
}
