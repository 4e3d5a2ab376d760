import { z } from 'zod';

const DURATION_UNITS_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION_PATTERN = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;

/** `300s`, `1h30m`, `24h` → milliseconds; null when the text is not a duration. */
export function parseDuration(text: string): number | null {
  if (!DURATION_PATTERN.test(text)) return null;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) {
    total += Number(amount) * DURATION_UNITS_MS[unit as keyof typeof DURATION_UNITS_MS];
  }
  return Math.round(total);
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
const SIZE_PATTERN = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i;

/** `512m`, `1g`, `256MiB`, `1024` → bytes (binary units, as Docker reads them); null when not a size. */
export function parseSize(text: string | number): number | null {
  if (typeof text === 'number') return Number.isFinite(text) && text >= 0 ? Math.floor(text) : null;
  const match = SIZE_PATTERN.exec(text.trim());
  if (!match) return null;
  const unit = SIZE_UNITS[(match[2] ?? '').toLowerCase()] ?? 1;
  return Math.floor(Number(match[1]) * unit);
}

export const duration = z
  .string()
  .regex(DURATION_PATTERN, { message: 'expected a duration such as 30s, 5m, 1h30m or 24h' })
  .describe('A duration: a number with a unit (ms, s, m, h, d), e.g. 300s, 30m, 24h.');

export const size = z
  .union([z.number().int().nonnegative(), z.string().regex(SIZE_PATTERN, { message: 'expected a size such as 512m, 1g or 256MiB' })])
  .describe('A size in bytes, or with a binary unit: 512m, 1g, 256MiB.');

export const envMap = z
  .record(
    z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'environment variable names are letters, digits and _' }),
    z.union([z.string(), z.number(), z.boolean()]),
  )
  .describe('Environment variables: NAME: value. Values may use templates.');

/** Names used in references (`.steps.<name>`), so they must be simple identifiers. */
export const identifier = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { message: 'names are letters, digits, _, . and -, starting with a letter or digit' });

export const secretName = z.string().regex(/^[A-Z][A-Z0-9_]*$/, { message: 'secret names are UPPER_CASE letters, digits and _' });

export const networkMode = z
  .enum(['none', 'host', 'bridge'])
  .describe('Container network: none (default, no network), host (the runner host network) or bridge.');

export const pullPolicy = z.enum(['if_not_present', 'always', 'never']).describe('When to pull the image: if_not_present (default), always, never.');

/**
 * Enumerations whose values are accepted in any letter case, with their synonyms: the JSON Schema lists the
 * upper-case spellings and the synonyms too, so editors accept what the build accepts.
 */
export const anyCaseSchemas = new WeakMap<object, readonly string[]>();

const lowerCased = (value: unknown) => (typeof value === 'string' ? value.toLowerCase() : value);

/** An enumeration accepted in any case (`HIGH`, `High`, `high`) and built as its lower-case value. */
export function anyCaseEnum<const T extends readonly [string, ...string[]]>(values: T, synonyms: Record<string, T[number]> = {}) {
  const schema = z.enum(values);
  anyCaseSchemas.set(schema, Object.keys(synonyms));
  return z.preprocess((value) => {
    const lower = lowerCased(value);
    return typeof lower === 'string' && Object.hasOwn(synonyms, lower) ? synonyms[lower] : lower;
  }, schema);
}

export const severityLevels = ['critical', 'high', 'medium', 'low', 'info', 'none'] as const;

export const severity = anyCaseEnum(severityLevels).describe('Lowest finding severity that fails the gate (any case: HIGH or high); none never fails.');

/** Semgrep rates its rules ERROR, WARNING or INFO; those map onto the SARIF levels the gate reads (docs/scans.md). */
export const semgrepSeverity = anyCaseEnum(severityLevels, { error: 'high', warning: 'medium' }).describe(
  "Lowest finding severity that fails the gate: critical, high, medium, low, info or none, or Semgrep's error (high), warning (medium), info; none never fails.",
);

export const outputFormat = anyCaseEnum(['sarif'])
  .optional()
  .describe('Report format; SARIF is the only one (accepted for upstream files, not kept in the built workflow).');

export const artifactKey = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9_.-][A-Za-z0-9_./-]*$/, { message: 'artifact keys are letters, digits, _, ., - and /' })
  .refine((key) => !key.split('/').includes('..'), { message: 'artifact keys may not contain ..' })
  .describe('Artifact key, scoped to the run.');
