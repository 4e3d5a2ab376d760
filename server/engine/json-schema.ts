import { z } from 'zod';
import { builtInLanguage, type Language } from './plugin-language.ts';
import { anyCaseSchemas } from './schema/common.ts';

export const WORKFLOW_SCHEMA_PATH = '/api/schema/workflow.json';

const cache = new WeakMap<Language, Record<string, unknown>>();

/**
 * JSON Schema (draft 2020-12) of the workflow language for editors: input shapes, so defaulted fields are
 * optional and unknown keys are flagged. `id` is the URL it is served from. With a language that has plugins
 * (plugin-language.ts), their step types are in it too, so editors complete and describe them.
 */
export function workflowJsonSchema(id?: string, language: Language = builtInLanguage): Record<string, unknown> {
  let schema = cache.get(language);
  if (!schema) {
    schema = z.toJSONSchema(language.schemas.workflowSchema, {
      io: 'input',
      unrepresentable: 'any',
      override: ({ zodSchema, jsonSchema }) => {
        const synonyms = anyCaseSchemas.get(zodSchema);
        if (synonyms && Array.isArray(jsonSchema.enum)) {
          const values = [...jsonSchema.enum.map(String), ...synonyms];
          jsonSchema.enum = [...new Set([...values, ...values.map((v) => v.toUpperCase()), ...values.map((v) => v.toLowerCase())])];
        }
      },
    }) as Record<string, unknown>;
    cache.set(language, schema);
  }
  return id ? { ...schema, $id: id, title: 'Flowyard workflow' } : { ...schema, title: 'Flowyard workflow' };
}
