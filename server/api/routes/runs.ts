import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { cancelRun, createRun, getRun, listRuns } from '../../services/runs.ts';
import { listArtifacts, signArtifactDownload } from '../../services/run-artifacts.ts';
import { decideGate } from '../../services/gates.ts';
import { runStates } from '../../../db/schema.ts';
import type { AppEnv } from '../env.ts';
import { withIsoDates as iso } from '../json-dates.ts';
import { ArtifactSchema, runBody, RunSchema, RunSummarySchema, runSummaryBody } from '../run-schemas.ts';
import { requireRole } from '../middleware/auth.ts';
import { ApiErrorSchema, jsonContent, validationHook } from '../validation.ts';
import { respondWithStepLog } from '../log-stream.ts';

const RunParams = z.object({ id: z.string().min(1).max(64) });
const errors = { 400: jsonContent(ApiErrorSchema, 'Malformed request'), 404: jsonContent(ApiErrorSchema, 'Not found') };
const tags = ['runs'];

const routes = {
  create: createRoute({
    method: 'post',
    path: '/workflows/{id}/runs',
    tags,
    summary: 'Start a run of the active version (manual trigger)',
    middleware: [requireRole('editor')] as const,
    request: {
      params: RunParams,
      body: {
        ...jsonContent(z.object({ pipeline: z.string().optional(), inputs: z.record(z.string(), z.unknown()).default({}) }), 'Pipeline and inputs'),
        required: false,
      },
    },
    responses: {
      201: jsonContent(RunSchema, 'Queued'),
      409: jsonContent(ApiErrorSchema, 'Not published'),
      422: jsonContent(ApiErrorSchema, 'Bad inputs'),
      ...errors,
    },
  }),
  list: createRoute({
    method: 'get',
    path: '/workflows/{id}/runs',
    tags,
    summary: 'Runs of a workflow, newest first, paged by run number',
    request: {
      params: RunParams,
      query: z.object({
        limit: z.coerce.number().int().min(1).max(100).default(20),
        before: z.coerce.number().int().positive().optional(),
        state: z.enum(runStates).optional(),
        pipeline: z.string().min(1).max(200).optional(),
      }),
    },
    responses: { 200: jsonContent(z.object({ runs: z.array(RunSummarySchema), nextBefore: z.number().int().nullable() }), 'A page of runs'), ...errors },
  }),
  get: createRoute({
    method: 'get',
    path: '/runs/{id}',
    tags,
    summary: 'A run with its steps and jobs',
    request: { params: RunParams },
    responses: { 200: jsonContent(RunSchema, 'The run'), ...errors },
  }),
  cancel: createRoute({
    method: 'post',
    path: '/runs/{id}/cancel',
    tags,
    summary: 'Cancel a queued or running run',
    middleware: [requireRole('editor')] as const,
    request: { params: RunParams },
    responses: { 200: jsonContent(RunSchema, 'Cancelled or cancelling'), 409: jsonContent(ApiErrorSchema, 'Already finished'), ...errors },
  }),
  artifacts: createRoute({
    method: 'get',
    path: '/runs/{id}/artifacts',
    tags,
    summary: 'Artifacts of a run with size and SHA-256',
    request: { params: RunParams },
    responses: { 200: jsonContent(z.object({ artifacts: z.array(ArtifactSchema) }), 'Artifacts'), ...errors },
  }),
  artifactDownload: createRoute({
    method: 'get',
    path: '/runs/{id}/artifacts/download',
    tags,
    summary: 'Redirects to a short-lived signed URL for the artifact (a tar file)',
    request: { params: RunParams, query: z.object({ key: z.string().min(1).max(200) }) },
    responses: { 302: { description: 'To the signed URL' }, ...errors },
  }),
  decide: createRoute({
    method: 'post',
    path: '/runs/{id}/gates/{step}/{decision}',
    tags,
    summary: 'Approve or reject a waiting gate (listed approvers only); every decision is recorded',
    request: {
      params: RunParams.extend({ step: z.string().min(1), decision: z.enum(['approve', 'reject']) }),
      body: { ...jsonContent(z.object({ comment: z.string().max(2000).default('') }), 'Why'), required: false },
    },
    responses: {
      200: jsonContent(RunSchema, 'The run after the decision'),
      403: jsonContent(ApiErrorSchema, 'Not an approver'),
      409: jsonContent(ApiErrorSchema, 'Not waiting'),
      ...errors,
    },
  }),
  logs: createRoute({
    method: 'get',
    path: '/runs/{id}/logs',
    tags,
    summary: 'A step log: text/event-stream (live, resumable with Last-Event-ID) when asked for, raw text otherwise',
    request: { params: RunParams, query: z.object({ step: z.string().min(1), tail_lines: z.coerce.number().int().min(1).max(1_000_000).optional() }) },
    responses: {
      200: {
        description: 'Log as SSE (event id = chunk sequence) or text/plain',
        content: { 'text/plain': { schema: z.string() }, 'text/event-stream': { schema: z.string() } },
      },
      ...errors,
    },
  }),
};

export const runRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(routes.create, async (c) => {
    const body = c.req.valid('json') ?? { inputs: {} };
    const run = await createRun(c.get('deps').db, c.get('deps').events, c.req.valid('param').id, {
      pipeline: body.pipeline,
      inputs: body.inputs,
      triggerType: 'manual',
      triggeredBy: c.get('user').id,
    });
    return c.json(runBody(run), 201);
  })
  .openapi(routes.list, async (c) => {
    const page = await listRuns(c.get('deps').db, c.req.valid('param').id, c.req.valid('query'));
    return c.json({ runs: page.runs.map(runSummaryBody), nextBefore: page.nextBefore }, 200);
  })
  .openapi(routes.get, async (c) => c.json(runBody(await getRun(c.get('deps').db, c.req.valid('param').id)), 200))
  .openapi(routes.cancel, async (c) => {
    const run = await cancelRun(c.get('deps').db, c.get('deps').events, c.req.valid('param').id, c.get('user').id);
    return c.json(runBody(run), 200);
  })
  .openapi(routes.decide, async (c) => {
    const { id, step, decision } = c.req.valid('param');
    const { db, events, secretsKey } = c.get('deps');
    await decideGate(db, events, id, step, decision === 'approve' ? 'approved' : 'rejected', c.get('user'), c.req.valid('json')?.comment ?? '', secretsKey);
    return c.json(runBody(await getRun(db, id)), 200);
  })
  .openapi(
    routes.logs,
    async (c) => (await respondWithStepLog(c, c.req.valid('param').id, c.req.valid('query').step, c.req.valid('query').tail_lines)) as never,
  )
  .openapi(routes.artifacts, async (c) => {
    const { db } = c.get('deps');
    await getRun(db, c.req.valid('param').id);
    return c.json({ artifacts: (await listArtifacts(db, c.req.valid('param').id)).map(iso) }, 200);
  })
  .openapi(routes.artifactDownload, async (c) => {
    const { db, artifacts } = c.get('deps');
    const signed = await signArtifactDownload(db, artifacts, c.req.valid('param').id, { key: c.req.valid('query').key });
    return c.redirect(signed.url, 302);
  });
