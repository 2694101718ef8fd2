/**
 * Beam schemas (schema.proto's Schema message) and a small hand-written protobuf codec for the
 * parts a row coder needs. Field numbers follow org/apache/beam/model/pipeline/v1/schema.proto.
 * Options and logical-type arguments are kept as their raw encoded messages, so decoding and
 * re-encoding a schema is lossless for everything this module models.
 */
import { ByteReader, ByteWriter } from "./bytes.js";
import { readVarInt64, readVarLength, utf8Bytes, utf8String, writeVarInt64 } from "./wire.js";
import { SluiceError } from "../../internal/errors.js";
import { corruptData } from "./errors.js";

/** Schema.proto's AtomicType names (UNSPECIFIED excluded). */
export type AtomicTypeName = "BYTE" | "INT16" | "INT32" | "INT64" | "FLOAT" | "DOUBLE" | "STRING" | "BOOLEAN" | "BYTES";

const ATOMIC_NAMES: readonly (AtomicTypeName | undefined)[] = [
  undefined,
  "BYTE",
  "INT16",
  "INT32",
  "INT64",
  "FLOAT",
  "DOUBLE",
  "STRING",
  "BOOLEAN",
  "BYTES",
];

export type FieldType = AtomicFieldType | ArrayFieldType | IterableFieldType | MapFieldType | RowFieldType | LogicalFieldType;

interface NullableFlag {
  /** Whether the value may be null. Omitted means false. */
  readonly nullable?: boolean;
}
export interface AtomicFieldType extends NullableFlag {
  readonly kind: "atomic";
  readonly atomic: AtomicTypeName;
}
export interface ArrayFieldType extends NullableFlag {
  readonly kind: "array";
  readonly elementType: FieldType;
}
export interface IterableFieldType extends NullableFlag {
  readonly kind: "iterable";
  readonly elementType: FieldType;
}
export interface MapFieldType extends NullableFlag {
  readonly kind: "map";
  readonly keyType: FieldType;
  readonly valueType: FieldType;
}
export interface RowFieldType extends NullableFlag {
  readonly kind: "row";
  readonly schema: Schema;
}
export interface LogicalFieldType extends NullableFlag {
  readonly kind: "logical";
  readonly urn: string;
  readonly payload?: Uint8Array;
  readonly representation: FieldType;
  readonly argumentType?: FieldType;
  /** The argument as an encoded FieldValue message. */
  readonly argument?: Uint8Array;
}

export interface Field {
  readonly name: string;
  readonly type: FieldType;
  readonly description?: string;
  readonly id?: number;
  readonly encodingPosition?: number;
  /** Encoded Option messages. */
  readonly options?: readonly Uint8Array[];
}

export interface Schema {
  readonly fields: readonly Field[];
  /** Usually a UUID. */
  readonly id?: string;
  /** Encoded Option messages. */
  readonly options?: readonly Uint8Array[];
  /** When true, fields are encoded in the order of their `encodingPosition`. */
  readonly encodingPositionsSet?: boolean;
}

/** Shorthands for building field types. */
export const FieldTypes = {
  atomic: (atomic: AtomicTypeName, nullable = false): AtomicFieldType => (nullable ? { kind: "atomic", atomic, nullable } : { kind: "atomic", atomic }),
  array: (elementType: FieldType, nullable = false): ArrayFieldType =>
    nullable ? { kind: "array", elementType, nullable } : { kind: "array", elementType },
  iterable: (elementType: FieldType, nullable = false): IterableFieldType =>
    nullable ? { kind: "iterable", elementType, nullable } : { kind: "iterable", elementType },
  map: (keyType: FieldType, valueType: FieldType, nullable = false): MapFieldType =>
    nullable ? { kind: "map", keyType, valueType, nullable } : { kind: "map", keyType, valueType },
  row: (schema: Schema, nullable = false): RowFieldType => (nullable ? { kind: "row", schema, nullable } : { kind: "row", schema }),
  nullable: <F extends FieldType>(type: F): F => ({ ...type, nullable: true }),
} as const;

// ---- Protobuf decoding -----------------------------------------------------------------------

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

class ProtoInput {
  readonly r: ByteReader;
  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    this.r = new ByteReader(buf, start, end);
  }
  atEnd(): boolean {
    return this.r.atEnd();
  }
  tag(): { field: number; wire: number } {
    const t = readVarLength(this.r);
    return { field: Math.floor(t / 8), wire: t & 7 };
  }
  int(): number {
    const v = readVarInt64(this.r);
    // int32 fields are sign-extended to 64 bits on the wire.
    return typeof v === "number" ? v : Number(BigInt.asIntN(32, v));
  }
  bool(): boolean {
    return this.int() !== 0;
  }
  bytes(): Uint8Array {
    const n = readVarLength(this.r);
    const view = this.r.bytes(n);
    return view.slice();
  }
  string(): string {
    const n = readVarLength(this.r);
    return utf8String(this.r.bytes(n));
  }
  message(): ProtoInput {
    const n = readVarLength(this.r);
    const start = this.r.pos;
    this.r.bytes(n);
    return new ProtoInput(this.r.buf, start, start + n);
  }
  skip(wire: number): void {
    switch (wire) {
      case WIRE_VARINT:
        readVarInt64(this.r);
        return;
      case WIRE_FIXED64:
        this.r.bytes(8);
        return;
      case WIRE_LEN:
        this.r.bytes(readVarLength(this.r));
        return;
      case WIRE_FIXED32:
        this.r.bytes(4);
        return;
      default:
        throw new SluiceError("UNSUPPORTED", `schema proto: unsupported wire type ${wire}`, { hint: "This schema uses a type Sluice does not support; use another coder for this collection." });
    }
  }
  expect(wire: number, actual: number, what: string): void {
    if (wire !== actual) throw corruptData(`schema proto: ${what} has wire type ${actual}, expected ${wire}`);
  }
}

/** Decodes a serialized Schema proto (a row coder's payload). */
export function decodeSchema(bytes: Uint8Array): Schema {
  return readSchema(new ProtoInput(bytes));
}

function readSchema(p: ProtoInput): Schema {
  const fields: Field[] = [];
  const options: Uint8Array[] = [];
  let id: string | undefined;
  let encodingPositionsSet = false;
  while (!p.atEnd()) {
    const { field, wire } = p.tag();
    switch (field) {
      case 1:
        p.expect(WIRE_LEN, wire, "Schema.fields");
        fields.push(readField(p.message()));
        break;
      case 2:
        p.expect(WIRE_LEN, wire, "Schema.id");
        id = p.string();
        break;
      case 3:
        p.expect(WIRE_LEN, wire, "Schema.options");
        options.push(p.bytes());
        break;
      case 4:
        p.expect(WIRE_VARINT, wire, "Schema.encoding_positions_set");
        encodingPositionsSet = p.bool();
        break;
      default:
        p.skip(wire);
    }
  }
  return {
    fields,
    ...(id !== undefined && id !== "" ? { id } : {}),
    ...(options.length > 0 ? { options } : {}),
    ...(encodingPositionsSet ? { encodingPositionsSet } : {}),
  };
}

function readField(p: ProtoInput): Field {
  let name = "";
  let description = "";
  let type: FieldType | undefined;
  let id = 0;
  let encodingPosition = 0;
  const options: Uint8Array[] = [];
  while (!p.atEnd()) {
    const { field, wire } = p.tag();
    switch (field) {
      case 1:
        p.expect(WIRE_LEN, wire, "Field.name");
        name = p.string();
        break;
      case 2:
        p.expect(WIRE_LEN, wire, "Field.description");
        description = p.string();
        break;
      case 3:
        p.expect(WIRE_LEN, wire, "Field.type");
        type = readFieldType(p.message());
        break;
      case 4:
        p.expect(WIRE_VARINT, wire, "Field.id");
        id = p.int();
        break;
      case 5:
        p.expect(WIRE_VARINT, wire, "Field.encoding_position");
        encodingPosition = p.int();
        break;
      case 6:
        p.expect(WIRE_LEN, wire, "Field.options");
        options.push(p.bytes());
        break;
      default:
        p.skip(wire);
    }
  }
  if (type === undefined) throw corruptData(`schema proto: field "${name}" has no type`);
  return {
    name,
    type,
    ...(description !== "" ? { description } : {}),
    ...(id !== 0 ? { id } : {}),
    ...(encodingPosition !== 0 ? { encodingPosition } : {}),
    ...(options.length > 0 ? { options } : {}),
  };
}

function readElementType(p: ProtoInput, what: string): FieldType {
  let element: FieldType | undefined;
  while (!p.atEnd()) {
    const { field, wire } = p.tag();
    if (field === 1) {
      p.expect(WIRE_LEN, wire, what);
      element = readFieldType(p.message());
    } else {
      p.skip(wire);
    }
  }
  if (element === undefined) throw corruptData(`schema proto: ${what} is missing`);
  return element;
}

function readFieldType(p: ProtoInput): FieldType {
  let nullable = false;
  let type: FieldType | undefined;
  while (!p.atEnd()) {
    const { field, wire } = p.tag();
    switch (field) {
      case 1:
        p.expect(WIRE_VARINT, wire, "FieldType.nullable");
        nullable = p.bool();
        break;
      case 2: {
        p.expect(WIRE_VARINT, wire, "FieldType.atomic_type");
        const code = p.int();
        const atomic = ATOMIC_NAMES[code];
        if (atomic === undefined) throw new SluiceError("UNSUPPORTED", `schema proto: unsupported atomic type ${code}`, { hint: "This schema uses a type Sluice does not support; use another coder for this collection." });
        type = { kind: "atomic", atomic };
        break;
      }
      case 3:
        p.expect(WIRE_LEN, wire, "FieldType.array_type");
        type = { kind: "array", elementType: readElementType(p.message(), "ArrayType.element_type") };
        break;
      case 4:
        p.expect(WIRE_LEN, wire, "FieldType.iterable_type");
        type = { kind: "iterable", elementType: readElementType(p.message(), "IterableType.element_type") };
        break;
      case 5:
        p.expect(WIRE_LEN, wire, "FieldType.map_type");
        type = readMapType(p.message());
        break;
      case 6: {
        p.expect(WIRE_LEN, wire, "FieldType.row_type");
        const rt = p.message();
        let schema: Schema = { fields: [] };
        while (!rt.atEnd()) {
          const t = rt.tag();
          if (t.field === 1) {
            rt.expect(WIRE_LEN, t.wire, "RowType.schema");
            schema = readSchema(rt.message());
          } else {
            rt.skip(t.wire);
          }
        }
        type = { kind: "row", schema };
        break;
      }
      case 7:
        p.expect(WIRE_LEN, wire, "FieldType.logical_type");
        type = readLogicalType(p.message());
        break;
      default:
        p.skip(wire);
    }
  }
  if (type === undefined) throw corruptData("schema proto: FieldType has no type_info");
  return nullable ? { ...type, nullable: true } : type;
}

function readMapType(p: ProtoInput): MapFieldType {
  let keyType: FieldType | undefined;
  let valueType: FieldType | undefined;
  while (!p.atEnd()) {
    const { field, wire } = p.tag();
    if (field === 1) {
      p.expect(WIRE_LEN, wire, "MapType.key_type");
      keyType = readFieldType(p.message());
    } else if (field === 2) {
      p.expect(WIRE_LEN, wire, "MapType.value_type");
      valueType = readFieldType(p.message());
    } else {
      p.skip(wire);
    }
  }
  if (keyType === undefined || valueType === undefined) throw corruptData("schema proto: MapType needs key and value types");
  return { kind: "map", keyType, valueType };
}

function readLogicalType(p: ProtoInput): LogicalFieldType {
  let urn = "";
  let payload: Uint8Array | undefined;
  let representation: FieldType | undefined;
  let argumentType: FieldType | undefined;
  let argument: Uint8Array | undefined;
  while (!p.atEnd()) {
    const { field, wire } = p.tag();
    switch (field) {
      case 1:
        p.expect(WIRE_LEN, wire, "LogicalType.urn");
        urn = p.string();
        break;
      case 2:
        p.expect(WIRE_LEN, wire, "LogicalType.payload");
        payload = p.bytes();
        break;
      case 3:
        p.expect(WIRE_LEN, wire, "LogicalType.representation");
        representation = readFieldType(p.message());
        break;
      case 4:
        p.expect(WIRE_LEN, wire, "LogicalType.argument_type");
        argumentType = readFieldType(p.message());
        break;
      case 5:
        p.expect(WIRE_LEN, wire, "LogicalType.argument");
        argument = p.bytes();
        break;
      default:
        p.skip(wire);
    }
  }
  if (representation === undefined) throw corruptData(`schema proto: logical type ${urn} has no representation`);
  return {
    kind: "logical",
    urn,
    representation,
    ...(payload !== undefined && payload.length > 0 ? { payload } : {}),
    ...(argumentType !== undefined ? { argumentType } : {}),
    ...(argument !== undefined ? { argument } : {}),
  };
}

// ---- Protobuf encoding -----------------------------------------------------------------------

function tag(out: ByteWriter, field: number, wire: number): void {
  writeVarInt64(out, field * 8 + wire);
}

function lenBytes(out: ByteWriter, field: number, bytes: Uint8Array): void {
  tag(out, field, WIRE_LEN);
  writeVarInt64(out, bytes.length);
  out.bytes(bytes);
}

function str(out: ByteWriter, field: number, s: string): void {
  if (s !== "") lenBytes(out, field, utf8Bytes(s));
}

function int(out: ByteWriter, field: number, v: number): void {
  if (v !== 0) {
    tag(out, field, WIRE_VARINT);
    writeVarInt64(out, v);
  }
}

function message(out: ByteWriter, field: number, write: (w: ByteWriter) => void): void {
  const w = new ByteWriter(64);
  write(w);
  lenBytes(out, field, w.view_());
}

/** Serializes a Schema proto, fields in field-number order as protobuf serializers write them. */
export function encodeSchema(schema: Schema): Uint8Array {
  const out = new ByteWriter(128);
  writeSchema(out, schema);
  return out.finish();
}

function writeSchema(out: ByteWriter, schema: Schema): void {
  for (const f of schema.fields) message(out, 1, (w) => writeField(w, f));
  str(out, 2, schema.id ?? "");
  for (const o of schema.options ?? []) lenBytes(out, 3, o);
  if (schema.encodingPositionsSet === true) int(out, 4, 1);
}

function writeField(out: ByteWriter, f: Field): void {
  str(out, 1, f.name);
  str(out, 2, f.description ?? "");
  message(out, 3, (w) => writeFieldType(w, f.type));
  int(out, 4, f.id ?? 0);
  int(out, 5, f.encodingPosition ?? 0);
  for (const o of f.options ?? []) lenBytes(out, 6, o);
}

function writeFieldType(out: ByteWriter, t: FieldType): void {
  if (t.nullable === true) int(out, 1, 1);
  switch (t.kind) {
    case "atomic":
      // A oneof member is written even when it holds the default value.
      tag(out, 2, WIRE_VARINT);
      writeVarInt64(out, ATOMIC_NAMES.indexOf(t.atomic));
      return;
    case "array":
      message(out, 3, (w) => message(w, 1, (e) => writeFieldType(e, t.elementType)));
      return;
    case "iterable":
      message(out, 4, (w) => message(w, 1, (e) => writeFieldType(e, t.elementType)));
      return;
    case "map":
      message(out, 5, (w) => {
        message(w, 1, (k) => writeFieldType(k, t.keyType));
        message(w, 2, (v) => writeFieldType(v, t.valueType));
      });
      return;
    case "row":
      message(out, 6, (w) => message(w, 1, (s) => writeSchema(s, t.schema)));
      return;
    case "logical":
      message(out, 7, (w) => {
        str(w, 1, t.urn);
        if (t.payload !== undefined && t.payload.length > 0) lenBytes(w, 2, t.payload);
        message(w, 3, (r) => writeFieldType(r, t.representation));
        if (t.argumentType !== undefined) {
          const argumentType = t.argumentType;
          message(w, 4, (a) => writeFieldType(a, argumentType));
        }
        if (t.argument !== undefined) lenBytes(w, 5, t.argument);
      });
      return;
  }
}

/** A readable form of a field type: `array<nullable string>`, `logical(beam:logical_type:decimal:v1)`. */
export function fieldTypeToString(t: FieldType): string {
  const prefix = t.nullable === true ? "nullable " : "";
  switch (t.kind) {
    case "atomic":
      return prefix + t.atomic.toLowerCase();
    case "array":
      return `${prefix}array<${fieldTypeToString(t.elementType)}>`;
    case "iterable":
      return `${prefix}iterable<${fieldTypeToString(t.elementType)}>`;
    case "map":
      return `${prefix}map<${fieldTypeToString(t.keyType)}, ${fieldTypeToString(t.valueType)}>`;
    case "row":
      return `${prefix}row<${t.schema.fields.map((f) => `${f.name}: ${fieldTypeToString(f.type)}`).join(", ")}>`;
    case "logical":
      return `${prefix}logical(${t.urn})`;
  }
}
