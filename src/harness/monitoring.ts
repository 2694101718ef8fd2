/**
 * User metrics as Beam MonitoringInfos, both ways: the harness reports them per bundle, the
 * portable runner reads a job's back into the same MetricResults the direct runner returns.
 * Integers use the int64 encodings, other numbers the double ones.
 */
import { create } from "@bufbuild/protobuf";
import { type MonitoringInfo, MonitoringInfoSchema } from "../model/gen/org/apache/beam/model/pipeline/v1/metrics_pb.js";
import { MonitoringInfoLabels, MonitoringInfoSpecs } from "../model/urns.js";
import type { StepMetrics } from "../runners/direct/operators.js";
import { ByteReader, ByteWriter } from "../sdk/coders/bytes.js";
import { MetricsContainer } from "../sdk/metrics.js";

const L = MonitoringInfoLabels;
const S = MonitoringInfoSpecs;

function varint(out: ByteWriter, n: number): void {
  out.varInt64(BigInt(Math.round(n)));
}

function info(urn: string, type: string, payload: Uint8Array, transformId: string, cell: string): MonitoringInfo {
  const [namespace = "", name = ""] = cell.split("\u0000");
  return create(MonitoringInfoSchema, {
    urn,
    type,
    payload,
    labels: { [L.transform]: transformId, [L.namespace]: namespace, [L.name]: name },
  });
}

/** The committed metrics of each step as MonitoringInfos, labelled with the runner's transform ids. */
export function monitoringInfos(steps: readonly StepMetrics[], transformIds: ReadonlyMap<string, string>): MonitoringInfo[] {
  const out: MonitoringInfo[] = [];
  for (const step of steps) {
    const c = step.committed;
    const id = transformIds.get(c.step) ?? c.step;
    for (const [cell, v] of c.counters) {
      const w = new ByteWriter(16);
      if (Number.isInteger(v)) {
        varint(w, v);
        out.push(info(S.userSumInt64.urn, S.userSumInt64.type, w.finish(), id, cell));
      } else {
        w.float64BE(v);
        out.push(info(S.userSumDouble.urn, S.userSumDouble.type, w.finish(), id, cell));
      }
    }
    for (const [cell, d] of c.distributions) {
      const w = new ByteWriter(48);
      if ([d.sum, d.min, d.max].every(Number.isInteger)) {
        for (const v of [d.count, d.sum, d.min, d.max]) varint(w, v);
        out.push(info(S.userDistributionInt64.urn, S.userDistributionInt64.type, w.finish(), id, cell));
      } else {
        varint(w, d.count);
        for (const v of [d.sum, d.min, d.max]) w.float64BE(v);
        out.push(info(S.userDistributionDouble.urn, S.userDistributionDouble.type, w.finish(), id, cell));
      }
    }
    for (const [cell, g] of c.gauges) {
      const w = new ByteWriter(24);
      varint(w, g.timestamp);
      if (Number.isInteger(g.value)) {
        varint(w, g.value);
        out.push(info(S.userLatestInt64.urn, S.userLatestInt64.type, w.finish(), id, cell));
      } else {
        w.float64BE(g.value);
        out.push(info(S.userLatestDouble.urn, S.userLatestDouble.type, w.finish(), id, cell));
      }
    }
  }
  return out;
}

/**
 * Folds user-metric MonitoringInfos into per-step containers (others are ignored). `stepName`
 * maps a transform id to the name results report (the user's label).
 */
export function containersFromMonitoringInfos(
  infos: Iterable<MonitoringInfo>,
  stepName: (transformId: string) => string,
): MetricsContainer[] {
  const byStep = new Map<string, MetricsContainer>();
  const container = (id: string): MetricsContainer => {
    const name = stepName(id);
    let c = byStep.get(name);
    if (!c) {
      c = new MetricsContainer(name);
      byStep.set(name, c);
    }
    return c;
  };
  for (const mi of infos) {
    const id = mi.labels[L.transform];
    const ns = mi.labels[L.namespace];
    const name = mi.labels[L.name];
    if (id === undefined || ns === undefined || name === undefined) continue;
    const cell = MetricsContainer.cellKey(ns, name);
    const r = new ByteReader(mi.payload);
    const int = (): number => Number(r.varInt64());
    switch (mi.urn) {
      case S.userSumInt64.urn:
        container(id).inc(cell, int());
        break;
      case S.userSumDouble.urn:
        container(id).inc(cell, r.float64BE());
        break;
      case S.userDistributionInt64.urn:
      case S.userDistributionDouble.urn: {
        const count = int();
        const double = mi.urn === S.userDistributionDouble.urn;
        const [sum, min, max] = [0, 0, 0].map(() => (double ? r.float64BE() : int())) as [number, number, number];
        const c = container(id);
        const prev = c.distributions.get(cell);
        if (prev) {
          prev.count += count;
          prev.sum += sum;
          prev.min = Math.min(prev.min, min);
          prev.max = Math.max(prev.max, max);
        } else if (count > 0) {
          c.distributions.set(cell, { count, sum, min, max });
        }
        break;
      }
      case S.userLatestInt64.urn:
      case S.userLatestDouble.urn: {
        const timestamp = int();
        const value = mi.urn === S.userLatestDouble.urn ? r.float64BE() : int();
        const c = container(id);
        const prev = c.gauges.get(cell);
        if (!prev || prev.timestamp <= timestamp) c.gauges.set(cell, { value, timestamp });
        break;
      }
      default:
        break;
    }
  }
  return [...byStep.values()];
}
