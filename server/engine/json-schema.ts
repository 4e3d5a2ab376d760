import { z } from 'zod';
import { workflowSchema } from './schema/workflow.ts';

export const WORKFLOW_SCHEMA_PATH = '/api/schema/workflow.json';

let cached: Record<string, unknown> | undefined;

/**
 * JSON Schema (draft 2020-12) of the workflow language for editors: input shapes, so defaulted fields are
 * optional and unknown keys are flagged. `id` is the URL it is served from.
 */
export function workflowJsonSchema(id?: string): Record<string, unknown> {
  cached ??= z.toJSONSchema(workflowSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return id ? { ...cached, $id: id, title: 'Flowyard workflow' } : { ...cached, title: 'Flowyard workflow' };
}
