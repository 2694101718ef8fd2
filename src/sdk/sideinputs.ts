/**
 * Side inputs: a whole PCollection (per window) made available to every element of a ParDo.
 * The view says how the ParDo sees it: one value, a list, or a map.
 */
import type { PCollection } from "./pvalue.js";

export type SideInputKind = "singleton" | "iterable" | "list" | "dict" | "multimap";

export interface SideInput<V> {
  /** Type-level only: the value a DoFn sees. */
  readonly __view?: () => V;
  readonly kind: SideInputKind;
  readonly pcoll: PCollection<unknown>;
  /** Builds the view's value from all elements of one window. */
  materialize(elements: readonly unknown[]): V;
}

/** The values a DoFn sees for a record of side inputs. */
export type SideInputValues<S> = { readonly [K in keyof S]: S[K] extends SideInput<infer V> ? V : never };

export type SideInputs = Readonly<Record<string, SideInput<unknown>>>;

const NO_DEFAULT = Symbol("no default");

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
        throw new RangeError(
          `AsSingleton side input '${pcoll.name}' is empty in this window; pass { defaultValue } or make sure it has one element`,
        );
      }
      throw new RangeError(
        `AsSingleton side input '${pcoll.name}' has ${elements.length} elements in this window; it must have exactly one (combine it first, e.g. with CombineGlobally)`,
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
      for (const kv of elements as readonly (readonly [K, V])[]) {
        if (m.has(kv[0])) {
          throw new RangeError(`AsDict side input '${pcoll.name}' has key ${String(kv[0])} more than once; use AsMultiMap`);
        }
        m.set(kv[0], kv[1]);
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
      for (const kv of elements as readonly (readonly [K, V])[]) {
        const list = m.get(kv[0]);
        if (list) list.push(kv[1]);
        else m.set(kv[0], [kv[1]]);
      }
      return m;
    },
  };
}
