/**
 * Key and value coders of a keyed collection: what groupings and stateful DoFns key by.
 */
import type { Coder } from "../coders/coder.js";
import { JsValueCoder, KvCoder } from "../coders/index.js";
import type { PCollection } from "../pvalue.js";
import type { ExpandContext } from "../transform.js";

const KV_URN = "beam:coder:kv:v1";

/**
 * The key and value coders of a collection a grouping reads. The default JS value coder is
 * refined to KV(JS, JS); a collection with another explicit coder is not KV and is refused.
 */
export function keyValueCoders(
  input: PCollection<unknown>,
  ctx: ExpandContext,
  what: string,
): { key: Coder<unknown>; value: Coder<unknown> } {
  let coder = input.coder;
  if (coder.urn !== KV_URN) {
    if (coder !== JsValueCoder) {
      ctx.fail(
        `${what} needs [key, value] pairs, but its input '${input.name}' has coder ${coder.toString()}`,
        `Produce [key, value] tuples (e.g. Map((x) => [key(x), x])) or give the input a KvCoder with withCoder().`,
      );
    }
    coder = new KvCoder(JsValueCoder, JsValueCoder) as Coder<unknown>;
    refineToKv(input, coder);
  }
  const [key, value] = coder.components as [Coder<unknown>, Coder<unknown>];
  if (!key.deterministic) {
    ctx.fail(
      `${what} groups by encoded key, but the key coder ${key.toString()} of '${input.name}' is not deterministic`,
      "Use a deterministic key coder (strings, integers, the default JS value coder) or key by a string form of the key.",
    );
  }
  return { key, value };
}

/**
 * Gives a default-coded collection the KV coder, and through Flatten its inputs too: a Flatten's
 * inputs and output must share one encoding, since runners pass their bytes through unchanged.
 */
function refineToKv(pcoll: PCollection<unknown>, kv: Coder<unknown>): void {
  if (pcoll.coder !== JsValueCoder) return;
  pcoll.setInferredCoder(kv);
  if (pcoll.producer.primitive?.kind === "flatten") {
    for (const input of pcoll.producer.inputs.values()) refineToKv(input, kv);
  }
}

