import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { etag } from 'hono/etag';
import { workflowJsonSchema, WORKFLOW_SCHEMA_PATH } from '../../engine/json-schema.ts';
import type { Language } from '../../engine/plugin-language.ts';
import { editorLanguage } from '../../services/plugin-catalog.ts';
import type { AppEnv } from '../env.ts';
import { validationHook } from '../validation.ts';

const workflowSchemaRoute = createRoute({
  method: 'get',
  path: '/workflow.json',
  tags: ['schema'],
  summary: "JSON Schema of the workflow language with the installed plugins' step types, for editors (`# yaml-language-server: $schema=<url>`)",
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
  summary: 'Every step type (built in, and of the installed plugins) with its description and declared outputs, for completion of templates in editors',
  responses: {
    200: { content: { 'application/json': { schema: z.object({ stepTypes: z.array(StepTypeSummarySchema) }) } }, description: 'Step types' },
  },
});

const stepTypeSummaries = (language: Language) =>
  language.stepTypes.map((def) => ({
    type: def.type,
    description: def.description,
    outputs: Object.fromEntries(
      Object.entries(def.outputs).map(([name, output]) => [
        name,
        { description: output.description, ...(output.fields ? { fields: [...output.fields] } : {}) },
      ]),
    ),
    dynamicOutputs: def.dynamicOutputs ?? false,
  }));

// Installing a plugin changes both answers: caches revalidate every time, and an unchanged answer is a 304.
const routes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
routes.use('*', etag());

export const schemaRoutes = routes
  .openapi(workflowSchemaRoute, async (c) => {
    const url = new URL(WORKFLOW_SCHEMA_PATH, c.get('deps').config.publicUrl).toString();
    c.header('Cache-Control', 'no-cache');
    c.header('Access-Control-Allow-Origin', '*');
    c.header('Content-Type', 'application/schema+json');
    return c.json(workflowJsonSchema(url, await editorLanguage(c.get('deps').db)) as Record<string, never>, 200);
  })
  .openapi(stepTypesRoute, async (c) => {
    c.header('Cache-Control', 'no-cache');
    return c.json({ stepTypes: stepTypeSummaries(await editorLanguage(c.get('deps').db)) }, 200);
  });
