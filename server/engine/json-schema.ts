import { z } from 'zod';
import { anyCaseSchemas } from './schema/common.ts';
import { workflowSchema } from './schema/workflow.ts';

export const WORKFLOW_SCHEMA_PATH = '/api/schema/workflow.json';

let cached: Record<string, unknown> | undefined;

/**
 * JSON Schema (draft 2020-12) of the workflow language for editors: input shapes, so defaulted fields are
 * optional and unknown keys are flagged. `id` is the URL it is served from.
 */
export function workflowJsonSchema(id?: string): Record<string, unknown> {
  cached ??= z.toJSONSchema(workflowSchema, {
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
  return id ? { ...cached, $id: id, title: 'Flowyard workflow' } : { ...cached, title: 'Flowyard workflow' };
}
