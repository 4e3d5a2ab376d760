/**
 * google.protobuf.Struct in the object form @grpc/proto-loader encodes and decodes (oneofs as `kind`).
 * Values reaching `toStruct` have already passed the contract's filter (see contract.ts), so every one maps.
 */
import type { JsonObject, JsonValue } from './contract.ts';

export interface StructMessage {
  fields?: Record<string, ValueMessage>;
}

export interface ValueMessage {
  kind?: string;
  nullValue?: string | number;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: StructMessage;
  listValue?: { values?: ValueMessage[] };
}

export function toValue(value: JsonValue): ValueMessage {
  if (value === null) return { nullValue: 0 };
  if (typeof value === 'number') return { numberValue: value };
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (Array.isArray(value)) return { listValue: { values: value.map(toValue) } };
  return { structValue: toStruct(value) };
}

export function toStruct(object: JsonObject): StructMessage {
  return { fields: Object.fromEntries(Object.entries(object).map(([key, value]) => [key, toValue(value)])) };
}

export function fromValue(value: ValueMessage | undefined): JsonValue {
  switch (value?.kind) {
    case 'numberValue':
      return value.numberValue ?? 0;
    case 'stringValue':
      return value.stringValue ?? '';
    case 'boolValue':
      return value.boolValue ?? false;
    case 'structValue':
      return fromStruct(value.structValue);
    case 'listValue':
      return (value.listValue?.values ?? []).map(fromValue);
    default:
      return null;
  }
}

export function fromStruct(struct: StructMessage | undefined | null): JsonObject {
  return Object.fromEntries(Object.entries(struct?.fields ?? {}).map(([key, value]) => [key, fromValue(value)]));
}
