export type WithIsoDates<T> = {
  [K in keyof T]: T[K] extends Date ? string : T[K] extends Date | null ? string | null : T[K];
};

/** Database rows carry Date objects; JSON answers carry ISO 8601 strings. */
export function withIsoDates<T extends object>(row: T): WithIsoDates<T> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) out[key] = value instanceof Date ? value.toISOString() : value;
  return out as WithIsoDates<T>;
}
