/**
 * A Map, FlatMap or Filter of a plain function (one argument, not async), as its DoFn carries it
 * under ELEMENT_FN: runners may call the function itself per element instead of the DoFn around
 * it (the direct runner's ParDoOperator does), with the same outputs and errors. Internal: not in
 * the public entry.
 */
export interface ElementFn {
  readonly kind: "map" | "flatMap" | "filter";
  readonly fn: (element: unknown) => unknown;
}

export const ELEMENT_FN: unique symbol = Symbol.for("sluice.elementFn") as never;

/** Marks `dofn` as calling `fn` per element, when `fn` takes no context (one argument: see observesContext in core.ts) and is not async. */
export function plainElementFn<D extends object>(dofn: D, kind: ElementFn["kind"], fn: (...args: never[]) => unknown): D {
  if (fn.length < 2 && fn.constructor.name !== "AsyncFunction") {
    Object.defineProperty(dofn, ELEMENT_FN, { value: { kind, fn: fn as ElementFn["fn"] } satisfies ElementFn });
  }
  return dofn;
}

/** What a FlatMap's function returned, checked to be an iterable of outputs (not a string). */
export function flatMapOutputs<Out>(out: Iterable<Out>): Iterable<Out> {
  if (Array.isArray(out)) return out;
  if (typeof out === "string") {
    throw new TypeError("FlatMap's function returned a string; return an array of outputs (e.g. [s] or s.split(' '))");
  }
  if (out === null || typeof out !== "object" || typeof (out as Iterable<Out>)[Symbol.iterator] !== "function") {
    throw new TypeError(`FlatMap's function returned ${out === null ? "null" : typeof out}; return an iterable of outputs (an array, a generator)`);
  }
  return out;
}

