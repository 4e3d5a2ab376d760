/** Largest string a template may produce, as output or as any intermediate value (1 MiB of UTF-16 units). */
export const MAX_STRING = 1 << 20;

export function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function isNil(v: unknown): v is null | undefined {
  return v === null || v === undefined;
}

/** Go's truthiness: nil, false, 0, "" and empty lists and maps are false. */
export function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (isMap(v)) return Object.keys(v).length > 0;
  return Boolean(v);
}

/** How a value prints: nil as "", lists and maps as JSON. */
export function printValue(v: unknown): string {
  if (isNil(v)) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export function typeName(v: unknown): string {
  if (isNil(v)) return 'nil';
  if (Array.isArray(v)) return 'list';
  if (isMap(v)) return 'map';
  return typeof v === 'boolean' ? 'bool' : typeof v;
}

export function checkSize(length: number): void {
  if (length > MAX_STRING) throw new Error(`result exceeds ${MAX_STRING} characters`);
}
