/**
 * sluice's coders: Beam's standard coders, byte-exact with the Java and Python SDKs (checked
 * against Beam's standard_coders.yaml), a default deterministic coder for JS values, and the
 * registry that rebuilds coders from their Runner API spec.
 *
 * Stateless coders are singleton values (`BytesCoder`, `VarIntCoder`, `JsValueCoder`, …; the
 * name is also their type, and `…Impl` is the class); parameterised coders are classes
 * (`new KvCoder(StringUtf8Coder, VarIntCoder)`).
 */
export { ByteReader, ByteWriter } from "./bytes.js";
export { decodeFromBytes, encodedKey, encodeToBytes, type Coder, type CoderType } from "./coder.js";
export { CoderUrns, type StandardCoderUrn } from "./urns.js";
export {
  AbstractCoder,
  BoolCoder,
  BoolCoderImpl,
  BytesCoder,
  BytesCoderImpl,
  DoubleCoder,
  DoubleCoderImpl,
  StringUtf8Coder,
  StringUtf8CoderImpl,
  VarIntCoder,
  VarIntCoderImpl,
  type Int64,
} from "./primitives.js";
export {
  IterableCoder,
  KvCoder,
  LengthPrefixCoder,
  NullableCoder,
  ShardedKeyCoder,
  StateBackedIterable,
  StateBackedIterableCoder,
  type KV,
  type ShardedKey,
  type StateReader,
} from "./structured.js";
export {
  decodePaneInfo,
  encodePaneInfo,
  GlobalWindowCoder,
  GlobalWindowCoderImpl,
  IntervalWindowCoder,
  IntervalWindowCoderImpl,
  ParamWindowedValueCoder,
  TimerCoder,
  TimestampPrefixingWindowCoder,
  WindowedValueCoder,
  type ClearedTimer,
  type SetTimer,
  type Timer,
  type WindowedValueParams,
} from "./windowed.js";
export {
  decodeSchema,
  encodeSchema,
  FieldTypes,
  fieldTypeToString,
  type ArrayFieldType,
  type AtomicFieldType,
  type AtomicTypeName,
  type Field,
  type FieldType,
  type IterableFieldType,
  type LogicalFieldType,
  type MapFieldType,
  type RowFieldType,
  type Schema,
} from "./schema.js";
export { formatDecimal, LogicalTypeUrns, parseDecimal, RowCoder, type Row } from "./row.js";
export { JsValueCoder, JsValueCoderError, JsValueCoderImpl } from "./js_value.js";
export {
  coderFromSpec,
  coderFromUrn,
  codersEqual,
  coderToSpec,
  coderToString,
  isCoderUrnRegistered,
  registerCoder,
  registeredCoderUrns,
  UnknownCoderUrnError,
  type CoderFactory,
  type CoderSpec,
} from "./registry.js";
