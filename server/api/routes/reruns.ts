import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { rerunRun } from '../../services/reruns.ts';
import type { AppEnv } from '../env.ts';
import { runBody, RunSchema } from '../run-schemas.ts';
import { requireRole } from '../middleware/auth.ts';
import { ApiErrorSchema, jsonContent, validationHook } from '../validation.ts';

const rerun = createRoute({
  method: 'post',
  path: '/runs/{id}/rerun',
  tags: ['runs'],
  summary: 'Run a finished run again: the same version, pipeline and inputs; with fromFailed, from the job that failed, carrying the earlier jobs over',
  middleware: [requireRole('editor')] as const,
  request: {
    params: z.object({ id: z.string().min(1).max(64) }),
    body: { ...jsonContent(z.object({ fromFailed: z.boolean().default(false) }).strict(), 'Whole run or from the failed job'), required: false },
  },
  responses: {
    201: jsonContent(RunSchema, 'The new run, queued'),
    400: jsonContent(ApiErrorSchema, 'Malformed request'),
    404: jsonContent(ApiErrorSchema, 'Not found'),
    409: jsonContent(ApiErrorSchema, 'Still active, nothing failed, or the version no longer builds'),
  },
});

export const rerunRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook }).openapi(rerun, async (c) => {
  const run = await rerunRun(c.get('deps').db, c.get('deps').events, c.req.valid('param').id, {
    fromFailed: c.req.valid('json')?.fromFailed ?? false,
    userId: c.get('user').id,
  });
  return c.json(runBody(run), 201);
});
