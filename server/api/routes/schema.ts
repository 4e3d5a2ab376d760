import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { workflowJsonSchema, WORKFLOW_SCHEMA_PATH } from '../../engine/json-schema.ts';
import { stepTypes } from '../../engine/schema/steps.ts';
import type { AppEnv } from '../env.ts';
import { validationHook } from '../validation.ts';

const workflowSchemaRoute = createRoute({
  method: 'get',
  path: '/workflow.json',
  tags: ['schema'],
  summary: 'JSON Schema of the workflow language, for editors (`# yaml-language-server: $schema=<url>`)',
  responses: {
    200: { content: { 'application/json': { schema: z.record(z.string(), z.unknown()) } }, description: 'JSON Schema, draft 2020-12' },
  },
});

const StepTypeSummarySchema = z
  .object({
    type: z.string(),
    description: z.string(),
    outputs: z.record(z.string(), z.object({ description: z.string(), fields: z.array(z.string()).optional() })),
    dynamicOutputs: z.boolean().describe('true when the keys of config.values are outputs too (step.set)'),
  })
  .openapi('StepTypeSummary');

const stepTypesRoute = createRoute({
  method: 'get',
  path: '/step-types.json',
  tags: ['schema'],
  summary: 'Every step type with its description and declared outputs, for completion of templates in editors',
  responses: {
    200: { content: { 'application/json': { schema: z.object({ stepTypes: z.array(StepTypeSummarySchema) }) } }, description: 'Step types' },
  },
});

const stepTypeSummaries = stepTypes.map((def) => ({
  type: def.type,
  description: def.description,
  outputs: Object.fromEntries(
    Object.entries(def.outputs).map(([name, output]) => [name, { description: output.description, ...(output.fields ? { fields: [...output.fields] } : {}) }]),
  ),
  dynamicOutputs: def.dynamicOutputs ?? false,
}));

export const schemaRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(workflowSchemaRoute, (c) => {
    const url = new URL(WORKFLOW_SCHEMA_PATH, c.get('deps').config.publicUrl).toString();
    c.header('Cache-Control', 'public, max-age=300');
    c.header('Access-Control-Allow-Origin', '*');
    c.header('Content-Type', 'application/schema+json');
    return c.json(workflowJsonSchema(url) as Record<string, never>, 200);
  })
  .openapi(stepTypesRoute, (c) => {
    c.header('Cache-Control', 'public, max-age=300');
    return c.json({ stepTypes: stepTypeSummaries }, 200);
  });
