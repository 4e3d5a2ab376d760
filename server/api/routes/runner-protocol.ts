import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { protocolMismatch, RUNNER_ROUTES as table } from '../../../runners/protocol/v1.ts';
import { appendLogChunks } from '../../services/logs.ts';
import { commitArtifact, signArtifactDownload, signArtifactUpload } from '../../services/run-artifacts.ts';
import { pluginArchive } from '../../services/plugin-archives.ts';
import { claimWaitersFor, type Offer } from '../../services/claim-waiters.ts';
import { registerRunner } from '../../services/runners.ts';
import { cancelledJobs, claimJob, finishJob, isCancelRequested, releaseJob, renewLease, reportStep, runOfHeldJob } from '../../services/runs.ts';
import type { AppEnv } from '../env.ts';
import { requireRunner } from '../middleware/runner-auth.ts';
import { ApiErrorSchema, jsonContent, validationHook } from '../validation.ts';
import { decodeBase64 } from '../base64.ts';
import { decodeLogFrames, LogFramesError } from '../../../runners/protocol/log-frames.ts';
import { ApiError } from '../../services/errors.ts';

const POLL_INTERVAL_MS = 250;
/** A waiting claim is woken by a matching job of this process at once; this poll finds jobs queued by other API processes. */
const CLAIM_POLL_MS = 2000;
const body = <T extends z.ZodType>(schema: T, description: string) => ({ body: { ...jsonContent(schema, description), required: true } });
const errors = {
  400: jsonContent(ApiErrorSchema, 'Malformed request'),
  401: jsonContent(ApiErrorSchema, 'Bad runner token'),
  409: jsonContent(ApiErrorSchema, 'Job not held by this runner'),
};
const tags = ['runner protocol v1'];
const authed = requireRunner;
const method = <M extends 'GET' | 'POST'>(name: M) => name.toLowerCase() as Lowercase<M>;

/**
 * Refuses a runner of another protocol before its body is validated against this one's schema, so it learns
 * what is wrong (code `protocol_version`) rather than which of our fields its body lacks.
 */
const sameProtocol: MiddlewareHandler<AppEnv> = async (c, next) => {
  const spoken = ((await c.req.json().catch(() => undefined)) as { protocol?: unknown } | undefined)?.protocol;
  const mismatch = typeof spoken === 'number' ? protocolMismatch(spoken) : undefined;
  if (mismatch) return c.json({ error: { code: 'protocol_version', message: mismatch } }, 400);
  await next();
};

const {
  register,
  heartbeat,
  claim,
  renewLease: lease,
  awaitCancel,
  reportStep: step,
  appendLogs,
  appendLogFrames,
  artifactUploadUrl,
  commitArtifact: commit,
  artifactDownloadUrl,
  pluginArchive: archive,
  release,
  done,
} = table;

/** Each route is the table's entry (method, path, schemas) plus what only the server knows: summary, auth, statuses. */
const routes = {
  register: createRoute({
    method: method(register.method),
    path: register.path,
    tags,
    middleware: sameProtocol,
    summary: 'Exchange a registration token for a runner token (shown once); a one-time token is spent',
    request: body(register.request, 'Runner identity and the protocol it speaks'),
    responses: {
      201: jsonContent(register.response, 'Registered'),
      ...errors,
      400: jsonContent(ApiErrorSchema, 'Malformed request, or a runner of another protocol (code protocol_version)'),
      401: jsonContent(ApiErrorSchema, 'Registration token unknown, expired, revoked or used'),
      403: jsonContent(ApiErrorSchema, 'Labels the registration token does not grant'),
    },
  }),
  heartbeat: createRoute({
    method: method(heartbeat.method),
    path: heartbeat.path,
    tags,
    middleware: authed,
    summary: 'Report liveness; learn which running jobs were cancelled',
    request: body(heartbeat.request, 'Jobs running here'),
    responses: { 200: jsonContent(heartbeat.response, 'Jobs to cancel'), ...errors },
  }),
  claim: createRoute({
    method: method(claim.method),
    path: claim.path,
    tags,
    middleware: authed,
    summary: "Long-poll for a job matching this runner's labels",
    request: body(claim.request, 'How long to wait'),
    responses: { 200: jsonContent(claim.response, 'A job, leased to this runner'), 204: { description: 'No job within the wait' }, ...errors },
  }),
  lease: createRoute({
    method: method(lease.method),
    path: lease.path,
    tags,
    middleware: authed,
    summary: 'Renew the lease on a job',
    request: { params: lease.params },
    responses: { 200: jsonContent(lease.response, 'Renewed'), ...errors },
  }),
  waitCancel: createRoute({
    method: method(awaitCancel.method),
    path: awaitCancel.path,
    tags,
    middleware: authed,
    summary: 'Long-poll until the job is cancelled (or the wait ends)',
    request: { params: awaitCancel.params, query: awaitCancel.query },
    responses: { 200: jsonContent(awaitCancel.response, 'Whether a cancel is pending'), ...errors },
  }),
  step: createRoute({
    method: method(step.method),
    path: step.path,
    tags,
    middleware: authed,
    summary: "Report a step's state, exit code and outputs",
    request: { params: step.params, ...body(step.request, 'Step state') },
    responses: { 204: { description: 'Recorded' }, ...errors },
  }),
  logs: createRoute({
    method: method(appendLogs.method),
    path: appendLogs.path,
    tags,
    middleware: authed,
    summary: 'Append numbered log chunks; re-sent chunks are ignored',
    request: { params: appendLogs.params, ...body(appendLogs.request, 'Chunks') },
    responses: { 200: jsonContent(appendLogs.response, 'Stored'), ...errors },
  }),
  logFrames: createRoute({
    method: method(appendLogFrames.method),
    path: appendLogFrames.path,
    tags,
    middleware: authed,
    summary:
      'Append numbered log chunks as raw bytes: frames of a 12-byte header (step index, seq, data length: big-endian u32) and the data; re-sent chunks are ignored',
    request: {
      params: appendLogFrames.params,
      body: { content: { [appendLogFrames.binaryRequest]: { schema: z.string().openapi({ format: 'binary' }) } }, required: true },
    },
    responses: {
      200: jsonContent(appendLogFrames.response, 'Stored'),
      ...errors,
      400: jsonContent(
        ApiErrorSchema,
        `Malformed frames (the message names the frame and byte offset), or a body that is not ${appendLogFrames.binaryRequest}`,
      ),
    },
  }),
  uploadUrl: createRoute({
    method: method(artifactUploadUrl.method),
    path: artifactUploadUrl.path,
    tags,
    middleware: authed,
    summary: "A signed URL to upload an artifact of this job's run",
    request: { params: artifactUploadUrl.params, ...body(artifactUploadUrl.request, 'Key, size and SHA-256') },
    responses: { 200: jsonContent(artifactUploadUrl.response, 'Where to PUT the bytes'), ...errors },
  }),
  commit: createRoute({
    method: method(commit.method),
    path: commit.path,
    tags,
    middleware: authed,
    summary: 'Record an uploaded artifact once its size and SHA-256 check out',
    request: { params: commit.params, ...body(commit.request, 'Key, size and SHA-256') },
    responses: { 204: { description: 'Recorded' }, ...errors },
  }),
  downloadUrl: createRoute({
    method: method(artifactDownloadUrl.method),
    path: artifactDownloadUrl.path,
    tags,
    middleware: authed,
    summary: 'A signed URL to download an artifact of this run or an earlier one',
    request: { params: artifactDownloadUrl.params, ...body(artifactDownloadUrl.request, 'Key and optional run') },
    responses: { 200: jsonContent(artifactDownloadUrl.response, 'Where to GET the bytes'), ...errors },
  }),
  pluginArchive: createRoute({
    method: method(archive.method),
    path: archive.path,
    tags,
    middleware: authed,
    summary: 'The archive of an installed plugin version, with its digest',
    request: body(archive.request, 'Plugin name and exact version'),
    responses: { 200: jsonContent(archive.response, 'The archive, base64'), 404: jsonContent(ApiErrorSchema, 'Not installed'), ...errors },
  }),
  release: createRoute({
    method: method(release.method),
    path: release.path,
    tags,
    middleware: authed,
    summary: 'Hand a job back (runner shutting down); it is queued again',
    request: { params: release.params },
    responses: { 204: { description: 'Requeued' }, ...errors },
  }),
  done: createRoute({
    method: method(done.method),
    path: done.path,
    tags,
    middleware: authed,
    summary: 'Finish the job with its result',
    request: { params: done.params, ...body(done.request, 'Result') },
    responses: { 204: { description: 'Recorded' }, ...errors },
  }),
};

export const runnerProtocolRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(routes.register, async (c) => c.json(await registerRunner(c.get('deps').db, c.req.valid('json')), 201))
  .openapi(routes.heartbeat, async (c) => c.json({ cancelJobs: await cancelledJobs(c.get('deps').db, c.get('runner'), c.req.valid('json').runningJobs) }, 200))
  .openapi(routes.claim, async (c) => {
    const { db, events, config, secretsKey } = c.get('deps');
    const runner = c.get('runner');
    const deadline = Date.now() + c.req.valid('json').waitSeconds * 1000;
    const signal = c.req.raw.signal;
    // Leases lapse on the sweeper's timer (server/cli/serve.ts), not here: a claim costs one statement, not a sweep.
    const waiters = claimWaitersFor(db, events);
    let offer: Offer | undefined;
    for (;;) {
      if (signal.aborted) {
        if (offer) await waiters.passOn(offer, runner.id);
        return c.body(null, 204);
      }
      const since = waiters.snapshot();
      const job = await claimJob(db, runner, secretsKey, config.leaseMs);
      // A run has one queued job at a time, so the run tells whether this claim took the offered job.
      if (offer && job?.runId !== offer.runId) await waiters.passOn(offer, runner.id);
      if (job) {
        await c.get('deps').metrics?.jobClaimed(job.jobId);
        return c.json({ job }, 200);
      }
      if (Date.now() >= deadline) return c.body(null, 204);
      offer = await waiters.wait(runner.id, runner.labels, since, Math.min(CLAIM_POLL_MS, deadline - Date.now()), signal);
    }
  })
  .openapi(routes.lease, async (c) =>
    c.json(await renewLease(c.get('deps').db, c.get('runner'), c.req.valid('param').jobId, c.get('deps').config.leaseMs), 200),
  )
  .openapi(routes.waitCancel, async (c) => {
    const { db, events } = c.get('deps');
    const runId = await runOfHeldJob(db, c.get('runner'), c.req.valid('param').jobId);
    const deadline = Date.now() + c.req.valid('query').wait * 1000;
    for (;;) {
      if (c.req.raw.signal.aborted) return c.json({ cancelled: false }, 200);
      if (await isCancelRequested(db, runId)) return c.json({ cancelled: true }, 200);
      if (Date.now() >= deadline) return c.json({ cancelled: false }, 200);
      await events.next('cancel.requested', POLL_INTERVAL_MS, (event) => event.runId === runId);
    }
  })
  .openapi(routes.step, async (c) => {
    const { jobId, index } = c.req.valid('param');
    await reportStep(c.get('deps').db, c.get('runner'), jobId, index, c.req.valid('json'), c.get('deps').secretsKey);
    return c.body(null, 204);
  })
  .openapi(routes.logs, async (c) => {
    const { db, events } = c.get('deps');
    const runId = await runOfHeldJob(db, c.get('runner'), c.req.valid('param').jobId);
    const chunks = c.req.valid('json').chunks.map((chunk) => ({ stepIndex: chunk.stepIndex, seq: chunk.seq, data: decodeBase64(chunk.data) }));
    const result = await appendLogChunks(db, events, runId, chunks);
    return c.json(result, 200);
  })
  .openapi(routes.logFrames, async (c) => {
    const { db, events } = c.get('deps');
    const runId = await runOfHeldJob(db, c.get('runner'), c.req.valid('param').jobId);
    const type = c.req.header('content-type') ?? '';
    if (type.split(';')[0]!.trim() !== appendLogFrames.binaryRequest) {
      throw new ApiError(
        400,
        'invalid_request',
        `log frames are sent as ${appendLogFrames.binaryRequest} (binary frames, not JSON); this body is ${JSON.stringify(type)}`,
      );
    }
    let frames;
    try {
      frames = decodeLogFrames(new Uint8Array(await c.req.arrayBuffer()));
    } catch (error) {
      if (error instanceof LogFramesError) throw new ApiError(400, 'invalid_request', error.message);
      throw error;
    }
    return c.json(await appendLogChunks(db, events, runId, frames), 200);
  })
  .openapi(routes.uploadUrl, async (c) => {
    const { db, artifacts } = c.get('deps');
    const runId = await runOfHeldJob(db, c.get('runner'), c.req.valid('param').jobId);
    return c.json(await signArtifactUpload(artifacts, runId, c.req.valid('json')), 200);
  })
  .openapi(routes.commit, async (c) => {
    const { db, artifacts } = c.get('deps');
    const runId = await runOfHeldJob(db, c.get('runner'), c.req.valid('param').jobId);
    await commitArtifact(db, artifacts, runId, c.req.valid('json'));
    return c.body(null, 204);
  })
  .openapi(routes.downloadUrl, async (c) => {
    const { db, artifacts } = c.get('deps');
    const runId = await runOfHeldJob(db, c.get('runner'), c.req.valid('param').jobId);
    return c.json(await signArtifactDownload(db, artifacts, runId, c.req.valid('json')), 200);
  })
  .openapi(routes.pluginArchive, async (c) => {
    const { name, version } = c.req.valid('json');
    return c.json(await pluginArchive(c.get('deps').db, name, version), 200);
  })
  .openapi(routes.release, async (c) => {
    await releaseJob(c.get('deps').db, c.get('deps').events, c.get('runner'), c.req.valid('param').jobId);
    return c.body(null, 204);
  })
  .openapi(routes.done, async (c) => {
    await finishJob(c.get('deps').db, c.get('deps').events, c.get('runner'), c.req.valid('param').jobId, c.req.valid('json'), c.get('deps').secretsKey);
    return c.body(null, 204);
  });
