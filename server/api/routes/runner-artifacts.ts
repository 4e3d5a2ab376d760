/**
 * Runner protocol v1, multipart artifact uploads: start, sign a part, complete (and commit), abort. Each call is
 * authorised to the job the runner holds; the upload id (a sealed token) is checked against that job and key.
 */
import { createRoute, OpenAPIHono, type z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { RUNNER_ROUTES as table } from '../../../runners/protocol/v1.ts';
import { abortArtifactUpload, completeArtifactUpload, signArtifactPart, startArtifactUpload } from '../../services/run-artifacts.ts';
import { runOfHeldJob } from '../../services/runs.ts';
import type { AppEnv } from '../env.ts';
import { requireRunner } from '../middleware/runner-auth.ts';
import { ApiErrorSchema, jsonContent, validationHook } from '../validation.ts';

const body = <T extends z.ZodType>(schema: T, description: string) => ({ body: { ...jsonContent(schema, description), required: true } });
const errors = {
  400: jsonContent(ApiErrorSchema, 'Malformed request, or parts that do not add up to the declared size'),
  401: jsonContent(ApiErrorSchema, 'Bad runner token'),
  403: jsonContent(ApiErrorSchema, "An upload id of another job's artifact, forged or expired (code upload_refused)"),
  409: jsonContent(ApiErrorSchema, 'Job not held by this runner'),
};
const tags = ['runner protocol v1'];
const { startArtifactUpload: start, artifactPartUrl: partUrl, completeArtifactUpload: complete, abortArtifactUpload: abort } = table;

const routes = {
  start: createRoute({
    method: 'post',
    path: start.path,
    tags,
    middleware: requireRunner,
    summary: "Start a multipart upload of an artifact of this job's run",
    request: { params: start.params, ...body(start.request, 'Artifact key') },
    responses: { 200: jsonContent(start.response, 'The upload id, part size and how many parts to keep in flight'), ...errors },
  }),
  partUrl: createRoute({
    method: 'post',
    path: partUrl.path,
    tags,
    middleware: requireRunner,
    summary: 'A signed URL to PUT one part to (its size, and SHA-256 when asked for, are signed in)',
    request: { params: partUrl.params, ...body(partUrl.request, 'Upload id, part number, size and SHA-256') },
    responses: { 200: jsonContent(partUrl.response, 'Where to PUT the part'), ...errors },
  }),
  complete: createRoute({
    method: 'post',
    path: complete.path,
    tags,
    middleware: requireRunner,
    summary: 'Assemble the parts and record the artifact once its size and SHA-256 check out',
    request: { params: complete.params, ...body(complete.request, 'Upload id, size, SHA-256 and the parts with their ETags') },
    responses: {
      204: { description: 'Recorded' },
      ...errors,
      422: jsonContent(ApiErrorSchema, 'The assembled bytes have another SHA-256 than declared (code sha256_mismatch)'),
    },
  }),
  abort: createRoute({
    method: 'post',
    path: abort.path,
    tags,
    middleware: requireRunner,
    summary: 'Abort a multipart upload: its parts are dropped',
    request: { params: abort.params, ...body(abort.request, 'Upload id') },
    responses: { 204: { description: 'Aborted (or already gone)' }, ...errors },
  }),
};

/** The run of the job this runner holds, with the job: the scope every upload call is checked against. */
const scopeOf = async (c: Context<AppEnv>, jobId: string) => ({ runId: await runOfHeldJob(c.get('deps').db, c.get('runner'), jobId), jobId });

export const runnerArtifactRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(routes.start, async (c) => {
    const scope = await scopeOf(c, c.req.valid('param').jobId);
    return c.json(await startArtifactUpload(c.get('deps').artifacts, scope, c.req.valid('json')), 200);
  })
  .openapi(routes.partUrl, async (c) => {
    const scope = await scopeOf(c, c.req.valid('param').jobId);
    return c.json(await signArtifactPart(c.get('deps').artifacts, scope, c.req.valid('json')), 200);
  })
  .openapi(routes.complete, async (c) => {
    const scope = await scopeOf(c, c.req.valid('param').jobId);
    await completeArtifactUpload(c.get('deps').db, c.get('deps').artifacts, scope, c.req.valid('json'));
    return c.body(null, 204);
  })
  .openapi(routes.abort, async (c) => {
    const scope = await scopeOf(c, c.req.valid('param').jobId);
    await abortArtifactUpload(c.get('deps').artifacts, scope, c.req.valid('json'));
    return c.body(null, 204);
  });
