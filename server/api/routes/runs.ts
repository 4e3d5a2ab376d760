import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { stream } from 'hono/streaming';
import { cancelRun, createRun, getRun, listRuns } from '../../services/runs.ts';
import { readWholeLog } from '../../services/logs.ts';
import type { AppEnv } from '../env.ts';
import { ApiError } from '../errors.ts';
import { withIsoDates as iso } from '../json-dates.ts';
import { requireRole } from '../middleware/auth.ts';
import { ApiErrorSchema, jsonContent, validationHook } from '../validation.ts';
import { JOBS_TOPIC, wakeups } from '../wakeups.ts';
import { streamStepLog } from '../log-stream.ts';

const RunParams = z.object({ id: z.string().min(1).max(64) });
const RunSchema = z.record(z.string(), z.unknown()).openapi('Run');
const errors = { 400: jsonContent(ApiErrorSchema, 'Malformed request'), 404: jsonContent(ApiErrorSchema, 'Not found') };
const tags = ['runs'];

const routes = {
  create: createRoute({
    method: 'post', path: '/workflows/{id}/runs', tags, summary: 'Start a run of the active version (manual trigger)', middleware: [requireRole('editor')] as const,
    request: { params: RunParams, body: { ...jsonContent(z.object({ pipeline: z.string().optional(), inputs: z.record(z.string(), z.unknown()).default({}) }), 'Pipeline and inputs'), required: false } },
    responses: { 201: jsonContent(RunSchema, 'Queued'), 409: jsonContent(ApiErrorSchema, 'Not published'), 422: jsonContent(ApiErrorSchema, 'Bad inputs'), ...errors },
  }),
  list: createRoute({
    method: 'get', path: '/workflows/{id}/runs', tags, summary: 'Runs of a workflow, newest first, paged by run number',
    request: { params: RunParams, query: z.object({ limit: z.coerce.number().int().min(1).max(100).default(20), before: z.coerce.number().int().positive().optional() }) },
    responses: { 200: jsonContent(z.object({ runs: z.array(RunSchema), nextBefore: z.number().int().nullable() }), 'A page of runs'), ...errors },
  }),
  get: createRoute({ method: 'get', path: '/runs/{id}', tags, summary: 'A run with its steps and jobs', request: { params: RunParams }, responses: { 200: jsonContent(RunSchema, 'The run'), ...errors } }),
  cancel: createRoute({
    method: 'post', path: '/runs/{id}/cancel', tags, summary: 'Cancel a queued or running run', middleware: [requireRole('editor')] as const,
    request: { params: RunParams }, responses: { 200: jsonContent(RunSchema, 'Cancelled or cancelling'), 409: jsonContent(ApiErrorSchema, 'Already finished'), ...errors },
  }),
  logs: createRoute({
    method: 'get', path: '/runs/{id}/logs', tags,
    summary: 'A step log: text/event-stream (live, resumable with Last-Event-ID) when asked for, raw text otherwise',
    request: { params: RunParams, query: z.object({ step: z.string().min(1) }) },
    responses: { 200: { description: 'Log as SSE (event id = chunk sequence) or text/plain', content: { 'text/plain': { schema: z.string() }, 'text/event-stream': { schema: z.string() } } }, ...errors },
  }),
};

const runBody = (run: Awaited<ReturnType<typeof getRun>>) => ({
  ...iso(run),
  steps: run.steps.map(iso),
}) as Record<string, unknown>;

export const runRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(routes.create, async (c) => {
    const body = c.req.valid('json') ?? { inputs: {} };
    const run = await createRun(c.get('deps').db, c.req.valid('param').id, { pipeline: body.pipeline, inputs: body.inputs, triggerType: 'manual', triggeredBy: c.get('user').id });
    wakeups.signal(JOBS_TOPIC);
    return c.json(runBody(run), 201);
  })
  .openapi(routes.list, async (c) => {
    const { limit, before } = c.req.valid('query');
    const page = await listRuns(c.get('deps').db, c.req.valid('param').id, { limit, before });
    return c.json({ runs: page.runs.map((r) => iso(r) as Record<string, unknown>), nextBefore: page.nextBefore }, 200);
  })
  .openapi(routes.get, async (c) => c.json(runBody(await getRun(c.get('deps').db, c.req.valid('param').id)), 200))
  .openapi(routes.cancel, async (c) => c.json(runBody(await cancelRun(c.get('deps').db, c.req.valid('param').id)), 200))
  .openapi(routes.logs, async (c) => {
    const { db } = c.get('deps');
    const run = await getRun(db, c.req.valid('param').id);
    const step = run.steps.find((s) => s.name === c.req.valid('query').step);
    if (!step) throw new ApiError(404, 'not_found', `run #${run.number} has no step "${c.req.valid('query').step}"`);
    if ((c.req.header('Accept') ?? '').includes('text/event-stream')) {
      const lastEventId = Number(c.req.header('Last-Event-ID') ?? c.req.query('lastEventId') ?? -1);
      return streamStepLog(c, run.id, step.index, Number.isInteger(lastEventId) ? lastEventId : -1);
    }
    c.header('Content-Type', 'text/plain; charset=utf-8');
    c.header('Content-Disposition', `attachment; filename="${run.workflowName}-${run.number}-${step.name}.log"`);
    return stream(c, async (out) => {
      for await (const chunk of readWholeLog(db, run.id, step.index)) await out.write(chunk);
    }) as never;
  });

