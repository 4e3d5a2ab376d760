import { formatPrintf } from './printf.ts';
import { sha256Hex } from './sha256.ts';
import { checkSize, isMap, isNil, printValue, truthy, typeName } from './values.ts';

export interface TemplateFunction {
  /** One line, starting with the call's shape, e.g. `replace OLD NEW S: …`. */
  description: string;
  minArgs: number;
  /** `Infinity` for variadic functions. */
  maxArgs: number;
  call: (...args: unknown[]) => unknown;
  /** The renderer passes this top-level field of the data as the first argument, before the template's own. */
  readsRoot?: 'steps' | 'trigger';
}

const str = printValue;

function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (isNil(v)) return 0;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (Number.isNaN(n)) throw new Error(`cannot convert ${typeName(v)} ${JSON.stringify(str(v))} to a number`);
  return n;
}

function scalar(v: unknown): unknown {
  if (typeof v === 'object' && v !== null) throw new Error(`non-comparable type ${typeName(v)}`);
  return v ?? null;
}

function firstOrLast(args: unknown[], predicate: (v: unknown) => boolean): unknown {
  const i = args.findIndex(predicate);
  return args[i < 0 ? args.length - 1 : i];
}

function compare(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  throw new Error(`incompatible types for comparison: ${typeName(a)} and ${typeName(b)}`);
}

function index(collection: unknown, ...keys: unknown[]): unknown {
  let v = collection;
  for (const key of keys) {
    if (isNil(v)) return undefined;
    if (Array.isArray(v)) {
      if (typeof key !== 'number' || !Number.isInteger(key)) throw new Error(`cannot index a list with ${typeName(key)}`);
      if (key < 0 || key >= v.length) throw new Error(`index out of range: ${key}`);
      v = v[key];
    } else if (isMap(v)) {
      const k = str(key);
      v = Object.hasOwn(v, k) ? v[k] : undefined;
    } else {
      throw new Error(`cannot index into ${typeName(v)}`);
    }
  }
  return v;
}

function replace(old: unknown, replacement: unknown, s: unknown): string {
  const [o, r, text] = [str(old), str(replacement), str(s)];
  // Like Go's strings.ReplaceAll, an empty OLD matches before every character and at the end.
  const parts = o === '' ? ['', ...Array.from(text), ''] : text.split(o);
  checkSize(text.length + (parts.length - 1) * (r.length - o.length));
  return parts.join(r);
}

function join(sep: unknown, list: unknown): string {
  if (!Array.isArray(list)) return str(list);
  const items = list.map(str);
  const separator = str(sep);
  checkSize(items.reduce((n, s) => n + s.length, 0) + separator.length * Math.max(items.length - 1, 0));
  return items.join(separator);
}

function base64Encode(s: string): string {
  let binary = '';
  for (const byte of new TextEncoder().encode(s)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function base64Decode(s: string): string {
  let binary: string;
  try {
    binary = atob(s);
  } catch {
    throw new Error('invalid base64 input');
  }
  return new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
}

function arithmetic(op: (a: number, b: number) => number) {
  return (...args: unknown[]): number => args.map(toNumber).reduce(op);
}

function nonZero(b: number): number {
  if (b === 0) throw new Error('division by zero');
  return b;
}

function divide(a: number, b: number): number {
  return Number.isInteger(a) && Number.isInteger(b) ? Math.trunc(a / nonZero(b)) : a / nonZero(b);
}

const fn = (
  description: string,
  minArgs: number,
  maxArgs: number,
  call: TemplateFunction['call'],
  readsRoot?: TemplateFunction['readsRoot'],
): TemplateFunction => Object.freeze(readsRoot ? { description, minArgs, maxArgs, call, readsRoot } : { description, minArgs, maxArgs, call });

export const TEMPLATE_FUNCTIONS: Readonly<Record<string, TemplateFunction>> = Object.freeze({
  default: fn('default FALLBACK VALUE: VALUE, or FALLBACK when VALUE is nil or empty', 2, 2, (fallback, value) => (truthy(value) ? value : fallback)),
  json: fn('json VALUE: VALUE encoded as JSON', 1, 1, (v) => JSON.stringify(v ?? null)),
  lower: fn('lower S: S in lower case', 1, 1, (s) => str(s).toLowerCase()),
  upper: fn('upper S: S in upper case', 1, 1, (s) => str(s).toUpperCase()),
  title: fn('title S: S with the first letter of each word in upper case', 1, 1, (s) =>
    str(s).replace(/(^|[^\p{L}\p{N}_])(\p{L})/gu, (_, sep: string, c: string) => sep + c.toUpperCase()),
  ),
  trim: fn('trim S: S without leading and trailing whitespace', 1, 1, (s) => str(s).trim()),
  trimPrefix: fn('trimPrefix PREFIX S: S without PREFIX at its start', 2, 2, (prefix, s) => {
    const [p, text] = [str(prefix), str(s)];
    return text.startsWith(p) ? text.slice(p.length) : text;
  }),
  trimSuffix: fn('trimSuffix SUFFIX S: S without SUFFIX at its end', 2, 2, (suffix, s) => {
    const [x, text] = [str(suffix), str(s)];
    return x && text.endsWith(x) ? text.slice(0, -x.length) : text;
  }),
  replace: fn('replace OLD NEW S: S with every OLD replaced by NEW', 3, 3, replace),
  contains: fn('contains SUBSTR S: whether S contains SUBSTR', 2, 2, (sub, s) => str(s).includes(str(sub))),
  hasPrefix: fn('hasPrefix PREFIX S: whether S starts with PREFIX', 2, 2, (p, s) => str(s).startsWith(str(p))),
  hasSuffix: fn('hasSuffix SUFFIX S: whether S ends with SUFFIX', 2, 2, (x, s) => str(s).endsWith(str(x))),
  split: fn('split SEP S: the list of parts of S between each SEP', 2, 2, (sep, s) => (str(sep) === '' ? Array.from(str(s)) : str(s).split(str(sep)))),
  join: fn('join SEP LIST: the items of LIST joined with SEP', 2, 2, join),
  toInt: fn('toInt V: V converted to an integer (truncating)', 1, 1, (v) => Math.trunc(toNumber(v))),
  toFloat: fn('toFloat V: V converted to a number', 1, 1, toNumber),
  toString: fn('toString V: V as it would print', 1, 1, str),
  len: fn('len V: the number of characters in a string, items in a list or keys in a map', 1, 1, (v) => {
    if (typeof v === 'string') return Array.from(v).length;
    if (Array.isArray(v)) return v.length;
    if (isMap(v)) return Object.keys(v).length;
    if (isNil(v)) return 0;
    throw new Error(`len of ${typeName(v)}`);
  }),
  index: fn('index COLLECTION KEY...: the item of a list or map at KEY (then at each further KEY)', 1, Infinity, index),
  eq: fn('eq A B...: whether A equals B (or any further argument)', 2, Infinity, (a, ...rest) => rest.some((b) => scalar(a) === scalar(b))),
  ne: fn('ne A B: whether A differs from B', 2, 2, (a, b) => scalar(a) !== scalar(b)),
  lt: fn('lt A B: whether A < B (numbers or strings)', 2, 2, (a, b) => compare(a, b) < 0),
  le: fn('le A B: whether A <= B (numbers or strings)', 2, 2, (a, b) => compare(a, b) <= 0),
  gt: fn('gt A B: whether A > B (numbers or strings)', 2, 2, (a, b) => compare(a, b) > 0),
  ge: fn('ge A B: whether A >= B (numbers or strings)', 2, 2, (a, b) => compare(a, b) >= 0),
  and: fn('and A B...: the first empty argument, or the last', 1, Infinity, (...args) => firstOrLast(args, (v) => !truthy(v))),
  or: fn('or A B...: the first non-empty argument, or the last', 1, Infinity, (...args) => firstOrLast(args, truthy)),
  not: fn('not V: true when V is empty, false otherwise', 1, 1, (v) => !truthy(v)),
  printf: fn('printf FORMAT ARGS...: ARGS formatted as in Go (%s %v %q %d %f)', 1, Infinity, (format, ...args) => formatPrintf(str(format), args)),
  quote: fn('quote S: S in double quotes, with special characters escaped', 1, 1, (s) => JSON.stringify(str(s))),
  now: fn('now: the current time in RFC 3339 format, UTC', 0, 0, () => new Date().toISOString().replace(/\.\d+Z$/, 'Z')),
  uuidv4: fn('uuidv4: a random UUID (version 4)', 0, 0, () => globalThis.crypto.randomUUID()),
  b64enc: fn('b64enc S: S (as UTF-8) encoded as base64', 1, 1, (s) => base64Encode(str(s))),
  b64dec: fn('b64dec S: base64 S decoded as UTF-8', 1, 1, (s) => base64Decode(str(s))),
  sha256: fn('sha256 S: the SHA-256 digest of S (as UTF-8) in hex', 1, 1, (s) => sha256Hex(str(s))),
  add: fn(
    'add A B...: the sum of the numbers',
    2,
    Infinity,
    arithmetic((a, b) => a + b),
  ),
  sub: fn(
    'sub A B: A minus B',
    2,
    2,
    arithmetic((a, b) => a - b),
  ),
  mul: fn(
    'mul A B...: the product of the numbers',
    2,
    Infinity,
    arithmetic((a, b) => a * b),
  ),
  div: fn('div A B: A divided by B (integer division when both are integers)', 2, 2, arithmetic(divide)),
  mod: fn(
    'mod A B: the remainder of A divided by B',
    2,
    2,
    arithmetic((a, b) => a % nonZero(b)),
  ),
  step: fn('step NAME KEY...: the output KEY (then each further KEY) of the earlier step NAME, as .steps.NAME.KEY', 1, Infinity, index, 'steps'),
  trigger: fn('trigger KEY...: the trigger payload at KEY (then each further KEY), as .trigger.KEY', 1, Infinity, index, 'trigger'),
});

export function lookupFunction(name: string): TemplateFunction | undefined {
  return Object.hasOwn(TEMPLATE_FUNCTIONS, name) ? TEMPLATE_FUNCTIONS[name] : undefined;
}
