import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { workflowJsonSchema, WORKFLOW_SCHEMA_PATH } from '../../engine/json-schema.ts';
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

export const schemaRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook }).openapi(workflowSchemaRoute, (c) => {
  const url = new URL(WORKFLOW_SCHEMA_PATH, c.get('deps').config.publicUrl).toString();
  c.header('Cache-Control', 'public, max-age=300');
  c.header('Access-Control-Allow-Origin', '*');
  c.header('Content-Type', 'application/schema+json');
  return c.json(workflowJsonSchema(url) as Record<string, never>, 200);
});
