/**
 * User metrics: counters, distributions and gauges, declared anywhere and updated inside DoFns.
 * Updates go to the container of the transform currently running (set by the runner around each
 * call into user code), so one declared metric reports per transform, as in Beam.
 */
import { SluiceError } from "../internal/errors.js";
import { AsyncLocalStorage } from "node:async_hooks";

export interface MetricName {
  readonly namespace: string;
  readonly name: string;
}

export interface MetricKey extends MetricName {
  /** Full label of the transform that reported it. */
  readonly step: string;
}

export interface DistributionValue {
  readonly count: number;
  readonly sum: number;
  readonly min: number;
  readonly max: number;
}

export interface GaugeValue {
  readonly value: number;
  readonly timestamp: number;
}

/** Per-transform metric cells. Runners create one per bundle and merge committed ones. */
export class MetricsContainer {
  readonly counters = new Map<string, number>();
  readonly distributions = new Map<string, { count: number; sum: number; min: number; max: number }>();
  readonly gauges = new Map<string, GaugeValue>();

  constructor(readonly step: string) {}

  static cellKey(namespace: string, name: string): string {
    return `${namespace}\u0000${name}`;
  }

  inc(key: string, n: number): void {
    this.counters.set(key, (this.counters.get(key) ?? 0) + n);
  }

  update(key: string, v: number): void {
    const d = this.distributions.get(key);
    if (d) {
      d.count++;
      d.sum += v;
      if (v < d.min) d.min = v;
      if (v > d.max) d.max = v;
    } else {
      this.distributions.set(key, { count: 1, sum: v, min: v, max: v });
    }
  }

  set(key: string, v: number): void {
    this.gauges.set(key, { value: v, timestamp: Date.now() });
  }

  isEmpty(): boolean {
    return this.counters.size === 0 && this.distributions.size === 0 && this.gauges.size === 0;
  }

  /** Adds another container's updates into this one. */
  mergeFrom(other: MetricsContainer): void {
    for (const [k, v] of other.counters) this.inc(k, v);
    for (const [k, d] of other.distributions) {
      const mine = this.distributions.get(k);
      if (mine) {
        mine.count += d.count;
        mine.sum += d.sum;
        mine.min = Math.min(mine.min, d.min);
        mine.max = Math.max(mine.max, d.max);
      } else {
        this.distributions.set(k, { ...d });
      }
    }
    for (const [k, g] of other.gauges) {
      const mine = this.gauges.get(k);
      if (!mine || mine.timestamp <= g.timestamp) this.gauges.set(k, g);
    }
  }

  clear(): void {
    this.counters.clear();
    this.distributions.clear();
    this.gauges.clear();
  }
}

let current: MetricsContainer | undefined;
/** Carries the container across awaits of async user code (set only around async calls: it costs). */
const asyncCurrent = new AsyncLocalStorage<MetricsContainer>();

/** @internal Runners set the container of the transform about to call user code; returns the previous. */
export function setCurrentMetricsContainer(container: MetricsContainer | undefined): MetricsContainer | undefined {
  const previous = current;
  current = container;
  return previous;
}

/** @internal Runs async user code so that metric updates after an await still reach `container`. */
export function runWithAsyncMetricsContainer<T>(container: MetricsContainer, f: () => T): T {
  return asyncCurrent.run(container, f);
}

function invoke<A, B, R>(fn: (this: unknown, a: A, b: B) => R, self: unknown, a: A, b: B): R {
  return fn.call(self, a, b);
}

/**
 * @internal Calls user code `self.fn(a, b)` with `container` current, synchronously and across any
 * awaits inside it: a function that returns a promise without being declared `async` (or calls
 * an async helper) still reports to its own step after the await. No closure is allocated.
 */
export function callUserCode<A, B, R>(container: MetricsContainer, fn: (this: unknown, a: A, b: B) => R, self: unknown, a: A, b: B): R {
  const previous = current;
  current = container;
  try {
    return asyncCurrent.run(container, invoke, fn, self, a, b) as R;
  } finally {
    current = previous;
  }
}

/** @internal The container of the user code running now (synchronously or after an await), if any. */
export function activeMetricsContainer(): MetricsContainer | undefined {
  return current ?? asyncCurrent.getStore();
}

function active(kind: string, namespace: string, name: string): MetricsContainer {
  // Synchronous calls set `current`; continuations of async user code find theirs in asyncCurrent.
  const container = current ?? asyncCurrent.getStore();
  if (container === undefined) {
    throw new SluiceError("FAILED_PRECONDITION", `${kind} ${namespace}:${name} was updated outside a running DoFn`, {
      hint: "Update metrics inside process, startBundle or finishBundle (or a CombineFn's methods).",
    });
  }
  return container;
}

export class Counter {
  private readonly key: string;
  constructor(readonly namespace: string, readonly name: string) {
    this.key = MetricsContainer.cellKey(namespace, name);
  }
  inc(n = 1): void {
    active("Counter", this.namespace, this.name).inc(this.key, n);
  }
  dec(n = 1): void {
    this.inc(-n);
  }
}

export class Distribution {
  private readonly key: string;
  constructor(readonly namespace: string, readonly name: string) {
    this.key = MetricsContainer.cellKey(namespace, name);
  }
  update(value: number): void {
    active("Distribution", this.namespace, this.name).update(this.key, value);
  }
}

export class Gauge {
  private readonly key: string;
  constructor(readonly namespace: string, readonly name: string) {
    this.key = MetricsContainer.cellKey(namespace, name);
  }
  set(value: number): void {
    active("Gauge", this.namespace, this.name).set(this.key, value);
  }
}

/** Declares metrics: `const seen = Metrics.counter("wordcount", "words")`, then `seen.inc()` in a DoFn. */
export const Metrics = {
  counter: (namespace: string, name: string): Counter => new Counter(namespace, name),
  distribution: (namespace: string, name: string): Distribution => new Distribution(namespace, name),
  gauge: (namespace: string, name: string): Gauge => new Gauge(namespace, name),
} as const;

export interface MetricResult<V> {
  readonly key: MetricKey;
  /** From bundles that succeeded. */
  readonly committed: V;
  /** From every attempt, failed bundles included. */
  readonly attempted: V;
}

export interface MetricFilter {
  readonly namespace?: string;
  readonly name?: string;
  /** Matches a step whose full label equals or contains this. */
  readonly step?: string;
}

export interface MetricQueryResults {
  readonly counters: readonly MetricResult<number>[];
  readonly distributions: readonly MetricResult<DistributionValue>[];
  readonly gauges: readonly MetricResult<GaugeValue>[];
}

/** Metrics of a finished run, queryable like Beam's `result.metrics().query(...)`. */
export class MetricResults {
  constructor(private readonly all: MetricQueryResults) {}

  /** Builds results from per-step committed and attempted containers. */
  static fromContainers(committed: Iterable<MetricsContainer>, attempted: Iterable<MetricsContainer>): MetricResults {
    const counters = new Map<string, { key: MetricKey; committed: number; attempted: number }>();
    const dists = new Map<string, { key: MetricKey; committed: DistributionValue; attempted: DistributionValue }>();
    const gauges = new Map<string, { key: MetricKey; committed: GaugeValue; attempted: GaugeValue }>();
    const zeroDist: DistributionValue = { count: 0, sum: 0, min: 0, max: 0 };
    const zeroGauge: GaugeValue = { value: 0, timestamp: 0 };
    const keyOf = (step: string, cell: string): MetricKey => {
      const [namespace = "", name = ""] = cell.split("\u0000");
      return { step, namespace, name };
    };
    const visit = (containers: Iterable<MetricsContainer>, which: "committed" | "attempted"): void => {
      for (const c of containers) {
        for (const [cell, v] of c.counters) {
          const id = `${c.step}\u0001${cell}`;
          const e = counters.get(id) ?? { key: keyOf(c.step, cell), committed: 0, attempted: 0 };
          e[which] += v;
          counters.set(id, e);
        }
        for (const [cell, d] of c.distributions) {
          const id = `${c.step}\u0001${cell}`;
          const e = dists.get(id) ?? { key: keyOf(c.step, cell), committed: zeroDist, attempted: zeroDist };
          const prev = e[which];
          e[which] =
            prev.count === 0
              ? { ...d }
              : { count: prev.count + d.count, sum: prev.sum + d.sum, min: Math.min(prev.min, d.min), max: Math.max(prev.max, d.max) };
          dists.set(id, e);
        }
        for (const [cell, g] of c.gauges) {
          const id = `${c.step}\u0001${cell}`;
          const e = gauges.get(id) ?? { key: keyOf(c.step, cell), committed: zeroGauge, attempted: zeroGauge };
          if (e[which].timestamp <= g.timestamp) e[which] = g;
          gauges.set(id, e);
        }
      }
    };
    visit(committed, "committed");
    visit(attempted, "attempted");
    return new MetricResults({ counters: [...counters.values()], distributions: [...dists.values()], gauges: [...gauges.values()] });
  }

  query(filter: MetricFilter = {}): MetricQueryResults {
    const match = (k: MetricKey): boolean =>
      (filter.namespace === undefined || k.namespace === filter.namespace) &&
      (filter.name === undefined || k.name === filter.name) &&
      (filter.step === undefined || k.step === filter.step || k.step.includes(filter.step));
    return {
      counters: this.all.counters.filter((r) => match(r.key)),
      distributions: this.all.distributions.filter((r) => match(r.key)),
      gauges: this.all.gauges.filter((r) => match(r.key)),
    };
  }

  /** Committed value of a counter summed over the steps that match. */
  counter(name: string, filter: Omit<MetricFilter, "name"> = {}): number {
    return this.query({ ...filter, name }).counters.reduce((s, r) => s + r.committed, 0);
  }

  /** Committed distribution summed over the steps that match (undefined when none reported). */
  distribution(name: string, filter: Omit<MetricFilter, "name"> = {}): DistributionValue | undefined {
    const rs = this.query({ ...filter, name }).distributions;
    if (rs.length === 0) return undefined;
    return rs.reduce<DistributionValue>(
      (a, r) => ({
        count: a.count + r.committed.count,
        sum: a.sum + r.committed.sum,
        min: Math.min(a.min, r.committed.min),
        max: Math.max(a.max, r.committed.max),
      }),
      { count: 0, sum: 0, min: Infinity, max: -Infinity },
    );
  }

  /** Latest committed gauge value over the steps that match. */
  gauge(name: string, filter: Omit<MetricFilter, "name"> = {}): number | undefined {
    const rs = this.query({ ...filter, name }).gauges;
    let best: GaugeValue | undefined;
    for (const r of rs) if (!best || r.committed.timestamp >= best.timestamp) best = r.committed;
    return best?.value;
  }

  toJSON(): MetricQueryResults {
    return this.all;
  }
}
