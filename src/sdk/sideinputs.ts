/**
 * Side inputs: a whole PCollection (per window) made available to every element of a ParDo.
 * The view says how the ParDo sees it: one value, a list, or a map.
 */
import { SluiceError } from "../internal/errors.js";
import type { PCollection } from "./pvalue.js";

export type SideInputKind = "singleton" | "iterable" | "list" | "dict" | "multimap";

export interface SideInput<V> {
  /** Type-level only: the value a DoFn sees. */
  readonly __view?: () => V;
  readonly kind: SideInputKind;
  readonly pcoll: PCollection<unknown>;
  /**
   * Builds the view's value from all elements of one window. Throws a SluiceError
   * (FAILED_PRECONDITION) when the elements do not fit the view; the runner adds the reading
   * transform, the side input's name and the window.
   */
  materialize(elements: readonly unknown[]): V;
}

/** The values a DoFn sees for a record of side inputs. */
export type SideInputValues<S> = { readonly [K in keyof S]: S[K] extends SideInput<infer V> ? V : never };

export type SideInputs = Readonly<Record<string, SideInput<unknown>>>;

const NO_DEFAULT = Symbol("no default");

/** Side-input elements that do not fit their view (too many, too few, repeated keys). */
function unfit(message: string, hint: string): SluiceError {
  return new SluiceError("FAILED_PRECONDITION", message, { hint });
}

function isKv(value: unknown): value is readonly [unknown, unknown] {
  return Array.isArray(value) && value.length === 2;
}

function notKv(view: string, pcoll: PCollection<unknown>, value: unknown): SluiceError {
  return unfit(`${view} side input '${pcoll.displayName}' has an element that is not a [key, value] pair: ${show(value)}`, `Map '${pcoll.displayName}' to [key, value] pairs first, or read it with AsList.`);
}

/** A short rendering of a key or element for messages. */
function show(value: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v)) ?? String(value);
  } catch {
    s = String(value);
  }
  return s.length > 100 ? `${s.slice(0, 100)}…` : s;
}

/** The single element of `pcoll` (per window); fails when there are none (unless a default is given) or several. */
export function AsSingleton<T>(pcoll: PCollection<T>, options?: { readonly defaultValue: T }): SideInput<T> {
  const fallback: T | typeof NO_DEFAULT = options ? options.defaultValue : NO_DEFAULT;
  return {
    kind: "singleton",
    pcoll,
    materialize(elements) {
      if (elements.length === 1) return elements[0] as T;
      if (elements.length === 0) {
        if (fallback !== NO_DEFAULT) return fallback;
        throw unfit(`AsSingleton side input '${pcoll.displayName}' is empty`, "Pass AsSingleton(pcoll, { defaultValue }) or make sure it has one element per window.");
      }
      throw unfit(
        `AsSingleton side input '${pcoll.displayName}' has ${elements.length} elements; it must have exactly one`,
        "Combine it to one value first (e.g. CombineGlobally or Sum.globally()), or read it with AsList/AsIterable.",
      );
    },
  };
}

/** All elements of `pcoll` (per window), in no particular order. */
export function AsIterable<T>(pcoll: PCollection<T>): SideInput<Iterable<T>> {
  return { kind: "iterable", pcoll, materialize: (elements) => elements as readonly T[] };
}

/** All elements of `pcoll` (per window) as an array, in no particular order. */
export function AsList<T>(pcoll: PCollection<T>): SideInput<readonly T[]> {
  return { kind: "list", pcoll, materialize: (elements) => elements as readonly T[] };
}

/** A KV collection as a Map (per window); a key appearing twice is an error. */
export function AsDict<K, V>(pcoll: PCollection<readonly [K, V]>): SideInput<ReadonlyMap<K, V>> {
  return {
    kind: "dict",
    pcoll: pcoll as PCollection<unknown>,
    materialize(elements) {
      const m = new Map<K, V>();
      for (const kv of elements) {
        if (!isKv(kv)) throw notKv("AsDict", pcoll, kv);
        if (m.has(kv[0] as K)) {
          throw unfit(
            `AsDict side input '${pcoll.displayName}' has key ${show(kv[0])} more than once`,
            "Read it with AsMultiMap to see every value of a key, or make the keys unique first (e.g. with CombinePerKey).",
          );
        }
        m.set(kv[0] as K, kv[1] as V);
      }
      return m;
    },
  };
}

/** A KV collection as a Map from each key to all its values (per window). */
export function AsMultiMap<K, V>(pcoll: PCollection<readonly [K, V]>): SideInput<ReadonlyMap<K, readonly V[]>> {
  return {
    kind: "multimap",
    pcoll: pcoll as PCollection<unknown>,
    materialize(elements) {
      const m = new Map<K, V[]>();
      for (const kv of elements) {
        if (!isKv(kv)) throw notKv("AsMultiMap", pcoll, kv);
        const list = m.get(kv[0] as K);
        if (list) list.push(kv[1] as V);
        else m.set(kv[0] as K, [kv[1] as V]);
      }
      return m;
    },
  };
}
