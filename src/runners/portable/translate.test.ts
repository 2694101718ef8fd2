import { create, fromBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  AccumulationMode_Enum,
  CombinePayloadSchema,
  EnvironmentSchema,
  IsBounded_Enum,
  MergeStatus_Enum,
  ParDoPayloadSchema,
  WindowIntoPayloadSchema,
} from "../../model/gen/org/apache/beam/model/pipeline/v1/beam_runner_api_pb.js";
import { FixedWindowsPayloadSchema } from "../../model/gen/org/apache/beam/model/pipeline/v1/standard_window_fns_pb.js";
import { Urns } from "../../model/urns.js";
import { Duration } from "../../sdk/time.js";
import { AfterCount, AfterProcessingTime, AfterWatermark, Repeatedly } from "../../sdk/windowing/triggers.js";
import { FixedWindows, Sessions } from "../../sdk/windowing/windowfns.js";
import { Pipeline } from "../../sdk/pipeline.js";
import { PipelineOptions } from "../../sdk/options.js";
import { AsSingleton } from "../../sdk/sideinputs.js";
import { Create, Map } from "../../sdk/transforms/core.js";
import { Count, Sum } from "../../sdk/transforms/combine.js";
import { WindowInto } from "../../sdk/transforms/util.js";
import { WriteToText } from "../../sdk/io/text.js";
import { readUserFnRef } from "../../harness/refs.js";
import { pipelineFingerprint, translate } from "./translate.js";

const env = create(EnvironmentSchema, { urn: Urns.environments.external });

function build(): Pipeline {
  const p = Pipeline.create(PipelineOptions.create());
  const words = p.apply("Words", Create.of(["a", "b", "a"]));
  const total = p.apply("Nums", Create.of([1, 2])).apply("Total", Sum.globally());
  words
    .apply("Window", WindowInto(FixedWindows(Duration.minutes(1))))
    .apply("Count", Count.perElement())
    .apply("Format", Map(([w, n]: [string, number], c) => `${w}:${n}:${c.sideInputs.t}`, { sideInputs: { t: AsSingleton(total) } }))
    .apply("Write", WriteToText("/tmp/never"));
  return p;
}

describe("translate", () => {
  const p = build();
  const { proto, transformIds } = translate(p, { environment: env });
  const c = proto.components!;
  const byName = (name: string) => {
    const t = Object.values(c.transforms).find((x) => x.uniqueName === name);
    if (!t) throw new Error(`no transform ${name}`);
    return t;
  };

  it("keeps composites with the user's labels as unique names", () => {
    expect(proto.rootTransformIds.map((id) => c.transforms[id]!.uniqueName)).toEqual(["Words", "Nums", "Total", "Window", "Count", "Format", "Write"]);
    const count = byName("Count");
    expect(count.subtransforms.map((id) => c.transforms[id]!.uniqueName)).toEqual(["Count/PairWithOne", "Count/CombinePerKey"]);
    // Every transform is reachable from the roots and every PCollection a transform names exists,
    // so a runner's fuser finds no orphan (the lifted combine's plain expansion is left out).
    const reached = new Set<string>();
    const walk = (id: string): void => {
      reached.add(id);
      c.transforms[id]!.subtransforms.forEach(walk);
    };
    proto.rootTransformIds.forEach(walk);
    expect([...reached].sort()).toEqual(Object.keys(c.transforms).sort());
    for (const t of Object.values(c.transforms)) {
      for (const pid of [...Object.values(t.inputs), ...Object.values(t.outputs)]) expect(c.pcollections[pid], `${t.uniqueName} names ${pid}`).toBeDefined();
    }
    const produced = new Set(Object.values(c.transforms).flatMap((t) => (t.subtransforms.length === 0 ? Object.values(t.outputs) : [])));
    expect(Object.keys(c.pcollections).filter((pid) => !produced.has(pid))).toEqual([]);
    expect(transformIds.size).toBe(Object.keys(c.transforms).length - 3 * 4); // Total, Count and Write/CollectShards: four phases each
  });

  it("lifts CombinePerKey as Beam Python does: precombine in the SDK, only accumulators cross the shuffle", () => {
    const lifted = byName("Count/CombinePerKey");
    expect(lifted.spec?.urn).toBe("beam:transform:combine_per_key:v1");
    const phases = lifted.subtransforms.map((id) => c.transforms[id]!);
    expect(phases.map((t) => [t.uniqueName, t.spec?.urn, t.environmentId])).toEqual([
      ["Count/CombinePerKey/Precombine", "beam:transform:combine_per_key_precombine:v1", "sluice"],
      ["Count/CombinePerKey/GroupByKey", "beam:transform:group_by_key:v1", ""],
      ["Count/CombinePerKey/MergeAccumulators", "beam:transform:combine_per_key_merge_accumulators:v1", "sluice"],
      ["Count/CombinePerKey/ExtractOutputs", "beam:transform:combine_per_key_extract_outputs:v1", "sluice"],
    ]);
    // A chain from the combine's input to its output.
    expect(Object.values(phases[0]!.inputs)).toEqual(Object.values(lifted.inputs));
    for (let i = 1; i < 4; i++) expect(Object.values(phases[i]!.inputs)).toEqual(Object.values(phases[i - 1]!.outputs));
    expect(Object.values(phases[3]!.outputs)).toEqual(Object.values(lifted.outputs));
    const grouped = c.pcollections[Object.values(phases[1]!.outputs)[0]!]!;
    const coder = c.coders[grouped.coderId]!;
    expect(coder.spec?.urn).toBe("beam:coder:kv:v1");
    expect(c.coders[coder.componentCoderIds[1]!]!.spec?.urn).toBe("beam:coder:iterable:v1");
  });

  it("uses standard URNs and payloads", () => {
    expect(byName("Words/Impulse").spec?.urn).toBe("beam:transform:impulse:v1");
    expect(byName("Count/CombinePerKey/GroupByKey").spec?.urn).toBe("beam:transform:group_by_key:v1");
    const combine = byName("Count/CombinePerKey");
    expect(combine.spec?.urn).toBe("beam:transform:combine_per_key:v1");
    const cp = fromBinary(CombinePayloadSchema, combine.spec!.payload);
    expect(readUserFnRef(cp.combineFn, "x").transform).toBe("Count/CombinePerKey");
    expect(c.coders[cp.accumulatorCoderId]).toBeDefined();
    const win = byName("Window");
    expect(win.spec?.urn).toBe("beam:transform:window_into:v1");
    const wfn = fromBinary(WindowIntoPayloadSchema, win.spec!.payload).windowFn!;
    expect(wfn.urn).toBe("beam:window_fn:fixed_windows:v1");
    expect(fromBinary(FixedWindowsPayloadSchema, wfn.payload).size?.seconds).toBe(60n);
  });

  it("references DoFns by transform name and declares side inputs", () => {
    const fmt = byName("Format");
    expect(fmt.spec?.urn).toBe("beam:transform:pardo:v1");
    expect(fmt.environmentId).toBe("sluice");
    const payload = fromBinary(ParDoPayloadSchema, fmt.spec!.payload);
    expect(readUserFnRef(payload.doFn, "Format")).toEqual({ transform: "Format" });
    expect(Object.keys(payload.sideInputs)).toEqual(["side:t"]);
    expect(payload.sideInputs["side:t"]!.accessPattern?.urn).toBe("beam:side_input:iterable:v1");
    expect(fmt.inputs["side:t"]).toBeDefined();
  });

  it("gives every PCollection a coder and a windowing strategy", () => {
    for (const pc of Object.values(c.pcollections)) {
      expect(c.coders[pc.coderId]).toBeDefined();
      expect(c.windowingStrategies[pc.windowingStrategyId]).toBeDefined();
      expect(pc.isBounded).toBe(IsBounded_Enum.BOUNDED);
    }
    const gbkOut = Object.values(byName("Count/CombinePerKey/GroupByKey").outputs)[0]!;
    const kv = c.coders[c.pcollections[gbkOut]!.coderId]!;
    expect(kv.spec?.urn).toBe("beam:coder:kv:v1");
    expect(c.coders[kv.componentCoderIds[1]!]!.spec?.urn).toBe("beam:coder:iterable:v1");
    const windowed = Object.values(byName("Window").outputs)[0]!;
    const ws = c.windowingStrategies[c.pcollections[windowed]!.windowingStrategyId]!;
    expect(ws.windowFn?.urn).toBe("beam:window_fn:fixed_windows:v1");
    expect(ws.mergeStatus).toBe(MergeStatus_Enum.NON_MERGING);
    expect(c.coders[ws.windowCoderId]!.spec?.urn).toBe("beam:coder:interval_window:v1");
  });

  it("carries the trigger, accumulation mode and allowed lateness in the windowing strategy", () => {
    const q = Pipeline.create(PipelineOptions.create());
    q.apply("C", Create.of([1])).apply(
      "W",
      WindowInto(FixedWindows(60_000), {
        trigger: AfterWatermark({ early: AfterCount(2), late: Repeatedly(AfterProcessingTime(1500)) }),
        accumulationMode: "ACCUMULATING",
        allowedLateness: Duration.minutes(5),
      }),
    );
    const t = translate(q, { environment: env }).proto.components!;
    const out = Object.values(t.transforms).find((x) => x.uniqueName === "W")!;
    const ws = t.windowingStrategies[t.pcollections[Object.values(out.outputs)[0]!]!.windowingStrategyId]!;
    expect(ws.accumulationMode).toBe(AccumulationMode_Enum.ACCUMULATING);
    expect(ws.allowedLateness).toBe(300_000n);
    const trig = ws.trigger!.trigger;
    expect(trig.case).toBe("afterEndOfWindow");
    const eow = trig.value as { earlyFirings?: { trigger: { case: string; value: { elementCount?: number; subtrigger?: unknown } } }; lateFirings?: { trigger: { case: string; value: { subtrigger?: { trigger: { case: string; value: { timestampTransforms: { timestampTransform: { case: string; value: { delayMillis: bigint } } }[] } } } } } } };
    expect(eow.earlyFirings?.trigger.case).toBe("elementCount");
    expect(eow.earlyFirings?.trigger.value.elementCount).toBe(2);
    expect(eow.lateFirings?.trigger.case).toBe("repeat");
    const apt = eow.lateFirings!.trigger.value.subtrigger!.trigger;
    expect(apt.case).toBe("afterProcessingTime");
    expect(apt.value.timestampTransforms[0]!.timestampTransform).toMatchObject({ case: "delay", value: { delayMillis: 1500n } });
    // The default stays the default (what every runner executes without asking).
    const c0 = Object.values(t.windowingStrategies).find((w) => w.windowFn?.urn === "beam:window_fn:global_windows:v1")!;
    expect(c0.trigger!.trigger.case).toBe("default");
    expect(c0.accumulationMode).toBe(AccumulationMode_Enum.DISCARDING);
  });

  it("marks merging window fns", () => {
    const q = Pipeline.create(PipelineOptions.create());
    q.apply("C", Create.of([1])).apply("S", WindowInto(Sessions(1000)));
    const t = translate(q, { environment: env }).proto.components!;
    expect(Object.values(t.windowingStrategies).some((w) => w.mergeStatus === MergeStatus_Enum.NEEDS_MERGE)).toBe(true);
  });

  it("fingerprints the structure deterministically", () => {
    expect(pipelineFingerprint(build())).toBe(pipelineFingerprint(p));
    const other = build();
    other.apply("Extra", Create.of([1]));
    expect(pipelineFingerprint(other)).not.toBe(pipelineFingerprint(p));
  });
});
