/**
 * Groupings: GroupByKey (the shuffle primitive) and CoGroupByKey (a join built on it).
 */
import type { Coder } from "../coders/coder.js";
import { IterableCoder, KvCoder } from "../coders/index.js";
import { keyValueCoders } from "./kv.js";
import { PCollection, PCollectionList, PCollectionRecord } from "../pvalue.js";
import { type ExpandContext, PTransform } from "../transform.js";
import { Map } from "./core.js";
import { Flatten } from "./util.js";

class GroupByKeyTransform<K, V> extends PTransform<PCollection<readonly [K, V]>, PCollection<[K, V[]]>> {
  constructor() {
    super("GroupByKey");
  }
  expand(input: PCollection<readonly [K, V]>, ctx: ExpandContext): PCollection<[K, V[]]> {
    const { key, value } = keyValueCoders(input as PCollection<unknown>, ctx, "GroupByKey");
    ctx.primitive({ kind: "group_by_key" });
    return ctx.output("main", new KvCoder(key, new IterableCoder(value)) as unknown as Coder<[K, V[]]>, input.windowing);
  }
}

/** Groups `[key, value]` pairs by key, per window: `[key, values[]]`. Keys compare by encoded bytes. */
export function GroupByKey<K, V>(): PTransform<PCollection<readonly [K, V]>, PCollection<[K, V[]]>> {
  return new GroupByKeyTransform<K, V>();
}

type CoGbkInput = Readonly<Record<string, PCollection<readonly [unknown, unknown]>>>;
type CoGbkKey<R extends CoGbkInput> = R[keyof R] extends PCollection<readonly [infer K, unknown]> ? K : never;
type CoGbkValues<R extends CoGbkInput> = {
  [T in keyof R]: R[T] extends PCollection<readonly [unknown, infer V]> ? V[] : never;
};

class CoGroupByKeyTransform<R extends CoGbkInput> extends PTransform<
  PCollectionRecord<R>,
  PCollection<[CoGbkKey<R>, CoGbkValues<R>]>
> {
  constructor() {
    super("CoGroupByKey");
  }
  expand(input: PCollectionRecord<R>): PCollection<[CoGbkKey<R>, CoGbkValues<R>]> {
    const tags = Object.keys(input.all);
    const tagged = tags.map((tag, i) =>
      (input.all[tag] as PCollection<readonly [unknown, unknown]>).apply(
        `Tag[${tag}]`,
        Map((kv: readonly [unknown, unknown]): [unknown, [number, unknown]] => [kv[0], [i, kv[1]]]),
      ),
    );
    return PCollectionList.of(...tagged)
      .apply("Flatten", Flatten())
      .apply("GroupByKey", GroupByKey<unknown, [number, unknown]>())
      .apply(
        "Collect",
        Map(([key, values]: [unknown, [number, unknown][]]) => {
          const lists = tags.map((): unknown[] => []);
          for (const [i, v] of values) lists[i]!.push(v);
          return [key, Object.fromEntries(tags.map((t, i) => [t, lists[i]]))] as [CoGbkKey<R>, CoGbkValues<R>];
        }),
      );
  }
}

/**
 * Joins keyed collections: for each key, the values of every input.
 *
 * ```ts
 * PCollectionRecord.of({ emails, phones }).apply("Join", CoGroupByKey())
 * // PCollection<[name, { emails: string[]; phones: string[] }]>
 * ```
 */
export function CoGroupByKey<R extends CoGbkInput>(): PTransform<PCollectionRecord<R>, PCollection<[CoGbkKey<R>, CoGbkValues<R>]>> {
  return new CoGroupByKeyTransform<R>();
}
