/**
 * TestStream: the script it builds, its checks, the unbounded collections it makes, and how the
 * Runner API carries it (runners execute it; see triggers-portable.test.ts for Prism).
 */
import { create, fromBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { Create, FixedWindows, Map, MAX_TIMESTAMP_MILLIS, Pipeline, PipelineOptions, StringUtf8Coder, TestStream, WindowInto } from "sluice";
import { EnvironmentSchema, IsBounded_Enum, TestStreamPayloadSchema } from "../src/model/gen/org/apache/beam/model/pipeline/v1/beam_runner_api_pb.js";
import { Urns } from "../src/model/urns.js";
import { decodeFromBytes } from "../src/sdk/coders/coder.js";
import { translate } from "../src/runners/portable/translate.js";
import { thrown } from "./support.js";

const env = create(EnvironmentSchema, { urn: Urns.environments.external });

describe("TestStream", () => {
  it("makes its output and everything downstream unbounded; other branches stay bounded", () => {
    const p = Pipeline.create(PipelineOptions.create());
    const stream = p.apply("Events", TestStream.create<number>().addElements(1).advanceWatermarkToInfinity());
    const doubled = stream.apply("Window", WindowInto(FixedWindows(1000))).apply("Double", Map((x: number) => x * 2));
    const other = p.apply("Other", Create.of([1]));
    expect(stream.isBounded).toBe(false);
    expect(doubled.isBounded).toBe(false);
    expect(other.isBounded).toBe(true);
    const c = translate(p, { environment: env }).proto.components!;
    const bounded = Object.values(c.pcollections).map((pc) => [pc.uniqueName, pc.isBounded] as const);
    expect(bounded.filter(([, b]) => b === IsBounded_Enum.UNBOUNDED).length).toBeGreaterThanOrEqual(3);
    expect(bounded.filter(([n]) => n.startsWith("Other")).every(([, b]) => b === IsBounded_Enum.BOUNDED)).toBe(true);
  });

  it("translates to Beam's TestStreamPayload: elements encoded with the output's coder, watermarks, processing time", () => {
    const p = Pipeline.create(PipelineOptions.create());
    p.apply(
      "Events",
      TestStream.create<string>(StringUtf8Coder)
        .addElements({ value: "seven", timestamp: 1000 }, "eight")
        .advanceWatermarkTo(5000)
        .advanceProcessingTime(250)
        .advanceWatermarkToInfinity(),
    );
    const c = translate(p, { environment: env }).proto.components!;
    const t = Object.values(c.transforms).find((x) => x.uniqueName === "Events")!;
    expect(t.spec?.urn).toBe("beam:transform:teststream:v1");
    const payload = fromBinary(TestStreamPayloadSchema, t.spec!.payload);
    expect(c.coders[payload.coderId]!.spec?.urn).toBe("beam:coder:string_utf8:v1");
    const [add, wm, pt, end] = payload.events.map((e) => e.event);
    expect(add?.case).toBe("elementEvent");
    const elements = (add!.value as { elements: { encodedElement: Uint8Array; timestamp: bigint }[] }).elements;
    expect(elements.map((e) => [decodeFromBytes(StringUtf8Coder, e.encodedElement), e.timestamp])).toEqual([
      ["seven", 1000n],
      ["eight", -9223372036854775n], // a plain element takes the current watermark: here, the start
    ]);
    expect(wm).toMatchObject({ case: "watermarkEvent", value: { newWatermark: 5000n } });
    expect(pt).toMatchObject({ case: "processingTimeEvent", value: { advanceDuration: 250n } });
    expect(end).toMatchObject({ case: "watermarkEvent", value: { newWatermark: MAX_TIMESTAMP_MILLIS } });
  });

  it("refuses a watermark that goes back, an empty addElements and a non-positive processing-time step", () => {
    const s = TestStream.create<number>().advanceWatermarkTo(1000);
    expect(thrown(() => s.advanceWatermarkTo(500)).message).toContain("would move the watermark back from 1000");
    expect(thrown(() => s.addElements()).code).toBe("INVALID_ARGUMENT");
    expect(thrown(() => s.advanceProcessingTime(0)).message).toContain("needs a positive duration");
  });
});
