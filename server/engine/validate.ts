import type { z } from 'zod';
import type { Diagnostic, PathSegment } from './diagnostics.ts';
import { diagnosticAt } from './locate.ts';
import { builtInLanguage, type Language } from './plugin-language.ts';
import { unsupportedModuleTypes } from './schema/modules.ts';
import type { workflowSchema } from './schema/workflow.ts';
import type { SourceDocument } from './source.ts';
import { didYouMean, suggestionFix } from './suggest.ts';

type AnyDef = { type: string; [key: string]: unknown };
const defOf = (schema: unknown): AnyDef => (schema as { _zod: { def: AnyDef } })._zod.def;

/** Follows a path through the zod schema, choosing union options by the data's discriminator. */
function schemaAt(schema: z.ZodType, path: readonly PathSegment[], data: unknown): z.ZodType | null {
  let current: unknown = schema;
  let value: unknown = data;
  for (let i = 0; i <= path.length; i++) {
    // Unwrap wrappers and pick the union option before taking the next segment.
    for (;;) {
      const def = defOf(current);
      if (['optional', 'default', 'prefault', 'nullable', 'readonly', 'catch'].includes(def.type)) current = def.innerType;
      // A preprocessed schema (transform → schema) describes its data by its output side.
      else if (def.type === 'pipe') current = defOf(def.in).type === 'transform' ? def.out : def.in;
      else if (def.type === 'union' && typeof def.discriminator === 'string') {
        const tag = (value as Record<string, unknown> | undefined)?.[def.discriminator];
        const option = (def.options as z.ZodObject[]).find((o) =>
          defOf(o.shape[def.discriminator as string]).values instanceof Array
            ? (defOf(o.shape[def.discriminator as string]).values as unknown[]).includes(tag)
            : false,
        );
        if (!option) return null;
        current = option;
      } else break;
    }
    if (i === path.length) return current as z.ZodType;
    const segment = path[i]!;
    const def = defOf(current);
    if (def.type === 'object') current = (def.shape as Record<string, unknown>)[String(segment)];
    else if (def.type === 'record') current = def.valueType;
    else if (def.type === 'array') current = def.element;
    else return null;
    if (!current) return null;
    value = (value as Record<string | number, unknown> | undefined)?.[segment as never];
  }
  return null;
}

function valueAt(data: unknown, path: readonly PathSegment[]): unknown {
  let value = data;
  for (const segment of path) value = (value as Record<string | number, unknown> | undefined)?.[segment as never];
  return value;
}

function fieldName(path: readonly PathSegment[]): string {
  const last = [...path].reverse().find((segment) => typeof segment === 'string');
  return last === undefined ? 'value' : `"${last}"`;
}

function describeUnknownType(kind: 'step' | 'module' | 'trigger', value: unknown, options: readonly string[], stepHint = ''): string {
  if (value === undefined) return `missing "type": expected one of ${options.join(', ')}`;
  if (value === null || value === '') return `choose a ${kind} type: one of ${options.join(', ')}`;
  const text = String(value);
  if (kind === 'module') {
    const unsupported = unsupportedModuleTypes.get(text);
    if (unsupported) return unsupported;
    return `module type "${text}" is not provided by Flowyard${didYouMean(text, options)} (available: ${options.join(', ')})`;
  }
  if (kind === 'step') {
    return `unknown step type "${text}"${didYouMean(text, options)} (neither built in nor provided by an installed plugin${stepHint}; available: ${options.join(', ')})`;
  }
  return `unknown ${kind} type "${text}"${didYouMean(text, options)} (available: ${options.join(', ')})`;
}

function kindOfTypeAt(path: readonly PathSegment[]): 'step' | 'module' | 'trigger' {
  if (path[0] === 'modules') return 'module';
  if (path.includes('trigger') || path[0] === 'triggers') return 'trigger';
  return 'step';
}

interface IssueContext {
  source: SourceDocument;
  schema: z.ZodType;
  /** Added to the message of an unknown step type (the required plugins that are not installed). */
  stepHint: string;
}

function issueToDiagnostics(issue: z.core.$ZodIssue, { source, schema, stepHint }: IssueContext): Diagnostic[] {
  const path = issue.path as PathSegment[];
  switch (issue.code) {
    case 'unrecognized_keys': {
      if (path.length === 1 && path[0] === 'triggers') {
        return [
          diagnosticAt(
            source,
            path,
            'error',
            'invalid_type',
            "upstream's triggers mapping is not supported: give each pipeline its trigger, or list triggers with type, pipeline and config",
            'key',
          ),
        ];
      }
      const known = schemaAt(schema, path, source.value);
      const knownKeys = known && defOf(known).type === 'object' ? Object.keys(defOf(known).shape as object) : [];
      return issue.keys.map((key) => ({
        ...diagnosticAt(
          source,
          [...path, key],
          'error',
          'unknown_key',
          `unknown field "${key}"${didYouMean(key, knownKeys)}${knownKeys.length ? ` (allowed: ${knownKeys.join(', ')})` : ''}`,
          'key',
        ),
        ...suggestionFix(key, knownKeys),
      }));
    }
    case 'invalid_union': {
      if ('note' in issue && issue.note === 'No matching discriminator') {
        const options = (issue as unknown as { options: unknown[] }).options.map(String);
        const value = valueAt(source.value, path);
        const kind = kindOfTypeAt(path);
        const anchorPath = value === undefined ? path.slice(0, -1) : path;
        const diagnostic = diagnosticAt(
          source,
          anchorPath,
          'error',
          `unknown_${kind}_type`,
          describeUnknownType(kind, value, options, stepHint),
          value === undefined ? 'key' : 'value',
        );
        return [typeof value === 'string' && value !== '' ? { ...diagnostic, ...suggestionFix(value, options) } : diagnostic];
      }
      return [diagnosticAt(source, path, 'error', 'invalid_value', `${fieldName(path)}: ${issue.message}`)];
    }
    case 'invalid_type': {
      if (valueAt(source.value, path) === undefined) {
        return [diagnosticAt(source, path.slice(0, -1), 'error', 'missing_field', `missing required field ${fieldName(path)}`, 'key')];
      }
      return [
        diagnosticAt(
          source,
          path,
          'error',
          'invalid_type',
          `${fieldName(path)}: expected ${issue.expected}, got ${describeValue(valueAt(source.value, path))}`,
        ),
      ];
    }
    case 'invalid_value': {
      const allowed = issue.values.map(String);
      const value = String(valueAt(source.value, path));
      return [
        {
          ...diagnosticAt(
            source,
            path,
            'error',
            'invalid_value',
            `${fieldName(path)}: "${value}" is not allowed${didYouMean(value, allowed)} (expected one of ${allowed.join(', ')})`,
          ),
          ...suggestionFix(value, allowed),
        },
      ];
    }
    default:
      return [diagnosticAt(source, path, 'error', 'invalid_value', `${fieldName(path)}: ${issue.message}`)];
  }
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

export type ValidationOutcome = { ok: true; workflow: z.output<typeof workflowSchema>; diagnostics: Diagnostic[] } | { ok: false; diagnostics: Diagnostic[] };

/** Checks the document against the language's schema (the built-in step types, or those plus installed plugins'). */
export function validateWorkflow(source: SourceDocument, language: Language = builtInLanguage, stepHint = ''): ValidationOutcome {
  const schema = language.schemas.workflowSchema;
  const result = schema.safeParse(source.value);
  if (result.success) return { ok: true, workflow: result.data as z.output<typeof workflowSchema>, diagnostics: [] };
  return { ok: false, diagnostics: result.error.issues.flatMap((issue) => issueToDiagnostics(issue, { source, schema, stepHint })) };
}

/** The types the built-in language has (a build with plugins reports its own, with their step types). */
export const availableTypes = builtInLanguage.available;
