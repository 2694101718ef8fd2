/**
 * Rebuilding coders from their Runner API form (URN, component coders, payload), as the portable
 * runner receives them in a pipeline or process bundle descriptor.
 */
import type { Coder } from "./coder.js";
import { JsValueCoder } from "./js_value.js";
import { BoolCoder, BytesCoder, DoubleCoder, StringUtf8Coder, VarIntCoder } from "./primitives.js";
import { RowCoder } from "./row.js";
import { IterableCoder, KvCoder, LengthPrefixCoder, NullableCoder, ShardedKeyCoder, StateBackedIterableCoder } from "./structured.js";
import { CoderUrns } from "./urns.js";
import { bytesEqual, EMPTY_BYTES } from "./wire.js";
import {
  GlobalWindowCoder,
  IntervalWindowCoder,
  ParamWindowedValueCoder,
  TimerCoder,
  TimestampPrefixingWindowCoder,
  WindowedValueCoder,
} from "./windowed.js";
import type { BoundedWindow } from "../windowing/window.js";
import { SluiceError } from "../../internal/errors.js";

/** Builds a coder from its components and payload. */
export type CoderFactory = (components: readonly Coder<unknown>[], payload: Uint8Array) => Coder<unknown>;

/** Thrown by coderFromUrn for a URN nothing is registered for. */
export class UnknownCoderUrnError extends Error {
  constructor(readonly urn: string) {
    super(`no coder is registered for URN ${urn} (register one with registerCoder)`);
    this.name = "UnknownCoderUrnError";
  }
}

const factories = new Map<string, CoderFactory>();

function arity(urn: string, components: readonly Coder<unknown>[], n: number): void {
  if (components.length !== n) {
    throw new SluiceError("INVALID_ARGUMENT", `${urn} takes ${n} component coder(s), got ${components.length}`, { hint: "Check the coder's components in the pipeline proto." });
  }
}

function component(components: readonly Coder<unknown>[], i: number): Coder<unknown> {
  return components[i]!;
}

function windowComponent(components: readonly Coder<unknown>[], i: number): Coder<BoundedWindow> {
  return components[i] as Coder<BoundedWindow>;
}

function noComponents(coder: Coder<unknown>): CoderFactory {
  return (components) => {
    arity(coder.urn, components, 0);
    return coder;
  };
}

factories.set(CoderUrns.BYTES, noComponents(BytesCoder));
factories.set(CoderUrns.STRING_UTF8, noComponents(StringUtf8Coder));
factories.set(CoderUrns.VARINT, noComponents(VarIntCoder));
factories.set(CoderUrns.DOUBLE, noComponents(DoubleCoder));
factories.set(CoderUrns.BOOL, noComponents(BoolCoder));
factories.set(CoderUrns.GLOBAL_WINDOW, noComponents(GlobalWindowCoder));
factories.set(CoderUrns.INTERVAL_WINDOW, noComponents(IntervalWindowCoder));
factories.set(CoderUrns.JS_VALUE, noComponents(JsValueCoder));
factories.set(CoderUrns.KV, (c) => {
  arity(CoderUrns.KV, c, 2);
  return new KvCoder(component(c, 0), component(c, 1));
});
factories.set(CoderUrns.ITERABLE, (c) => {
  arity(CoderUrns.ITERABLE, c, 1);
  return new IterableCoder(component(c, 0));
});
factories.set(CoderUrns.STATE_BACKED_ITERABLE, (c) => {
  arity(CoderUrns.STATE_BACKED_ITERABLE, c, 1);
  return new StateBackedIterableCoder(component(c, 0));
});
factories.set(CoderUrns.LENGTH_PREFIX, (c) => {
  arity(CoderUrns.LENGTH_PREFIX, c, 1);
  return new LengthPrefixCoder(component(c, 0));
});
factories.set(CoderUrns.NULLABLE, (c) => {
  arity(CoderUrns.NULLABLE, c, 1);
  return new NullableCoder(component(c, 0));
});
factories.set(CoderUrns.SHARDED_KEY, (c) => {
  arity(CoderUrns.SHARDED_KEY, c, 1);
  return new ShardedKeyCoder(component(c, 0));
});
factories.set(CoderUrns.CUSTOM_WINDOW, (c) => {
  arity(CoderUrns.CUSTOM_WINDOW, c, 1);
  return new TimestampPrefixingWindowCoder(windowComponent(c, 0));
});
factories.set(CoderUrns.WINDOWED_VALUE, (c) => {
  arity(CoderUrns.WINDOWED_VALUE, c, 2);
  return new WindowedValueCoder(component(c, 0), windowComponent(c, 1));
});
factories.set(CoderUrns.PARAM_WINDOWED_VALUE, (c, payload) => {
  arity(CoderUrns.PARAM_WINDOWED_VALUE, c, 2);
  return new ParamWindowedValueCoder(component(c, 0), windowComponent(c, 1), payload);
});
factories.set(CoderUrns.TIMER, (c) => {
  arity(CoderUrns.TIMER, c, 2);
  return new TimerCoder(component(c, 0), windowComponent(c, 1));
});
factories.set(CoderUrns.ROW, (c, payload) => {
  arity(CoderUrns.ROW, c, 0);
  return new RowCoder(payload);
});

/** Registers (or replaces) the factory for a URN, e.g. for a custom coder the SDK defines. */
export function registerCoder(urn: string, factory: CoderFactory): void {
  factories.set(urn, factory);
}

/** Whether coderFromUrn can build `urn`. */
export function isCoderUrnRegistered(urn: string): boolean {
  return factories.has(urn);
}

/** The URNs coderFromUrn can build. */
export function registeredCoderUrns(): string[] {
  return [...factories.keys()];
}

/**
 * Rebuilds a coder from its Runner API spec: `urn`, the already-rebuilt component coders (in
 * `component_coder_ids` order) and the FunctionSpec payload. Throws UnknownCoderUrnError for an
 * unregistered URN.
 */
export function coderFromUrn(urn: string, components: readonly Coder<unknown>[] = [], payload: Uint8Array = EMPTY_BYTES): Coder<unknown> {
  const factory = factories.get(urn);
  if (factory === undefined) throw new UnknownCoderUrnError(urn);
  return factory(components, payload);
}

/** A coder's Runner API shape, with components inline rather than by id. */
export interface CoderSpec {
  readonly urn: string;
  readonly components?: readonly CoderSpec[];
  readonly payload?: Uint8Array;
}

/** Rebuilds a coder tree from a CoderSpec (components first). */
export function coderFromSpec(spec: CoderSpec): Coder<unknown> {
  const components = (spec.components ?? []).map(coderFromSpec);
  return coderFromUrn(spec.urn, components, spec.payload ?? EMPTY_BYTES);
}

/** The CoderSpec of a coder tree. */
export function coderToSpec(coder: Coder<unknown>): CoderSpec {
  const spec: { urn: string; components?: CoderSpec[]; payload?: Uint8Array } = { urn: coder.urn };
  if (coder.components.length > 0) spec.components = coder.components.map(coderToSpec);
  if (coder.payload.length > 0) spec.payload = coder.payload;
  return spec;
}

/** Whether two coders have the same Runner API spec (URN, payload and components, recursively): encodings are then identical. */
export function codersEqual(a: Coder<unknown>, b: Coder<unknown>): boolean {
  if (a === b) return true;
  if (a.urn !== b.urn || !bytesEqual(a.payload, b.payload) || a.components.length !== b.components.length) return false;
  for (let i = 0; i < a.components.length; i++) {
    if (!codersEqual(a.components[i]!, b.components[i]!)) return false;
  }
  return true;
}

/**
 * A readable name for a coder, for error messages: its own toString when it defines one
 * (`KvCoder(StringUtf8Coder, VarIntCoder)`), else built from its URN and components.
 */
export function coderToString(coder: Coder<unknown>): string {
  if (Object.prototype.hasOwnProperty.call(coder, "toString") || hasCustomToString(coder)) return coder.toString();
  const args = coder.components.map(coderToString);
  return args.length > 0 ? `${coder.urn}(${args.join(", ")})` : coder.urn;
}

function hasCustomToString(coder: Coder<unknown>): boolean {
  // A class or object anywhere up the chain other than Object.prototype defines toString.
  let proto: unknown = Object.getPrototypeOf(coder);
  while (proto !== null && proto !== Object.prototype) {
    if (Object.prototype.hasOwnProperty.call(proto, "toString")) return true;
    proto = Object.getPrototypeOf(proto);
  }
  return false;
}
