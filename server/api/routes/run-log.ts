import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { getRun } from '../../services/runs.ts';
import { readRunLog, readRunLogTail } from '../../services/whole-log.ts';
import type { AppEnv } from '../env.ts';
import { respondWithText } from '../log-stream.ts';
import { ApiErrorSchema, jsonContent, validationHook } from '../validation.ts';

const wholeLog = createRoute({
  method: 'get',
  path: '/runs/{id}/log',
  tags: ['runs'],
  summary:
    "The whole run's log as raw text: every step's log in run order under a heading; with tail_lines only its last lines (X-Log-Truncated: 1 when earlier lines were left out)",
  request: { params: z.object({ id: z.string().min(1).max(64) }), query: z.object({ tail_lines: z.coerce.number().int().min(1).max(1_000_000).optional() }) },
  responses: {
    200: { description: 'The log', content: { 'text/plain': { schema: z.string() } } },
    400: jsonContent(ApiErrorSchema, 'Malformed request'),
    404: jsonContent(ApiErrorSchema, 'Not found'),
  },
});

async function respondWithRunLog(c: Context<AppEnv>, runId: string, tailLines: number | undefined): Promise<Response> {
  const { db } = c.get('deps');
  const run = await getRun(db, runId);
  return respondWithText(c, {
    filename: `${run.workflowName}-${run.number}.log`,
    tail: tailLines === undefined ? undefined : () => readRunLogTail(db, run.id, run.steps, tailLines),
    whole: () => readRunLog(db, run.id, run.steps),
  });
}

export const runLogRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook }).openapi(
  wholeLog,
  async (c) => (await respondWithRunLog(c, c.req.valid('param').id, c.req.valid('query').tail_lines)) as never,
);
