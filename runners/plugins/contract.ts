/**
 * The rules every plugin step follows, whichever runtime runs it: what a plugin is sent (values a protobuf
 * Struct can carry, no engine-internal keys in strict mode, only the secrets and outputs its templates name)
 * and what it may answer (the outputs its plugin.yaml declares). Pure functions; the runtimes apply them.
 */
import { hasTemplate, parseTemplate, templateReferences } from '../../server/engine/templates/index.ts';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Why a value at `path` was left out of what a plugin is sent. */
export interface DroppedValue {
  path: string;
  reason: string;
}

function unrepresentable(value: unknown): string | undefined {
  switch (typeof value) {
    case 'function':
      return 'a function';
    case 'bigint':
      return 'a bigint';
    case 'symbol':
      return 'a symbol';
    case 'undefined':
      return 'undefined';
    case 'number':
      return Number.isFinite(value) ? undefined : `${value} (not a finite number)`;
  }
  if (value instanceof Date) return 'a Date';
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) return 'binary data';
  if (value instanceof Map || value instanceof Set || value instanceof RegExp || value instanceof Promise) return `a ${value.constructor.name}`;
  return undefined;
}

/**
 * `value` reduced to what a google.protobuf.Struct (and JSON) can represent: null, booleans, finite numbers,
 * strings, lists and string-keyed objects. Anything else (functions, Dates, binary, cycles, NaN, Infinity,
 * undefined, bigint) is dropped and named in `dropped`, never an error: a plugin step does not fail because
 * the engine's metadata carried something a plugin cannot receive.
 */
export function toRepresentable(value: unknown, dropped: DroppedValue[], path = '', ancestors: object[] = []): JsonValue | undefined {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  const reason = unrepresentable(value);
  if (reason) {
    dropped.push({ path: path || '(root)', reason });
    return undefined;
  }
  if (typeof value === 'number') return value;
  const object = value as object;
  if (ancestors.includes(object)) {
    dropped.push({ path, reason: 'a cycle back to an enclosing object' });
    return undefined;
  }
  const inside = [...ancestors, object];
  if (Array.isArray(object)) {
    // A list keeps its length: an element that cannot be sent becomes null rather than shifting the others.
    return object.map((item: unknown, i) => toRepresentable(item, dropped, `${path}[${i}]`, inside) ?? null);
  }
  const result: JsonObject = {};
  for (const [key, item] of Object.entries(object)) {
    const kept = toRepresentable(item, dropped, path ? `${path}.${key}` : key, inside);
    if (kept !== undefined) result[key] = kept;
  }
  return result;
}

/** An object's representable part (an empty object when `value` is not an object at all). */
export function representableObject(value: unknown, dropped: DroppedValue[], path: string): JsonObject {
  const kept = toRepresentable(value, dropped, path);
  return kept !== null && typeof kept === 'object' && !Array.isArray(kept) ? kept : {};
}

/**
 * Strict typed mode: a plugin that declares a protobuf message for its config decodes it with a strict decoder,
 * which rejects fields it does not know. Keys starting with `_` are the engine's own (a config directory, say),
 * so they are removed from the config's top level before it is encoded.
 */
export function stripInternalKeys(config: JsonObject): JsonObject {
  return Object.fromEntries(Object.entries(config).filter(([key]) => !key.startsWith('_')));
}

/** Every template reference in a (not yet resolved) config value, as field chains. */
function referencedPaths(value: unknown, into: string[][] = []): string[][] {
  if (typeof value === 'string') {
    if (!hasTemplate(value)) return into;
    const { template } = parseTemplate(value);
    if (template) for (const ref of templateReferences(template)) into.push(ref.path);
  } else if (Array.isArray(value)) {
    for (const item of value) referencedPaths(item, into);
  } else if (value && typeof value === 'object') {
    for (const item of Object.values(value)) referencedPaths(item, into);
  }
  return into;
}

/**
 * The names under `root` (`Secrets`, `steps`) that a step's templates refer to. A reference to the root itself
 * (`range .Secrets`) names all of `available`.
 */
export function referencedNames(config: unknown, root: 'Secrets' | 'steps', available: readonly string[]): string[] {
  const names = new Set<string>();
  for (const path of referencedPaths(config)) {
    if (path[0] !== root) continue;
    if (path.length === 1) return [...available];
    if (available.includes(path[1]!)) names.add(path[1]!);
  }
  return [...names];
}

export const pick = <T>(record: Record<string, T>, names: readonly string[]): Record<string, T> =>
  Object.fromEntries(names.filter((name) => Object.hasOwn(record, name)).map((name) => [name, record[name]!]));

/**
 * A plugin's answer checked against the outputs its plugin.yaml declares: an object whose keys are all declared
 * and whose values are representable. Returns the outputs, or an error naming what is wrong.
 */
export function checkOutputs(answer: unknown, declared: readonly string[], where: string): { outputs: JsonObject } | { error: string } {
  if (answer === null || typeof answer !== 'object' || Array.isArray(answer)) {
    return { error: `${where} must hold a JSON object of outputs, not ${Array.isArray(answer) ? 'a list' : answer === null ? 'null' : typeof answer}` };
  }
  const undeclared = Object.keys(answer).filter((key) => !declared.includes(key));
  if (undeclared.length) {
    const known = declared.length ? `it declares ${declared.join(', ')}` : 'it declares none';
    return { error: `${where} has undeclared output(s) ${undeclared.join(', ')}: ${known} in plugin.yaml` };
  }
  const dropped: DroppedValue[] = [];
  const outputs = representableObject(answer, dropped, 'outputs');
  if (dropped.length) return { error: `${where}: ${dropped.map((d) => `${d.path} is ${d.reason}`).join('; ')}` };
  return { outputs };
}

/** A debug note for each value left out of a request. */
export const droppedNotes = (dropped: readonly DroppedValue[]): string[] =>
  dropped.map((d) => `debug: ${d.path} not sent to the plugin: ${d.reason} cannot be represented in a protobuf Struct`);
