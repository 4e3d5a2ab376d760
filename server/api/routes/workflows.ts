import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import {
  createWorkflow,
  deleteWorkflow,
  getVersion,
  getWorkflow,
  listVersions,
  listWorkflows,
  publishWorkflow,
  restoreVersion,
  tryActivateWorkflow,
  updateDraft,
  type PublishResult,
} from '../../services/workflows.ts';
import { identifier } from '../../engine/schema/common.ts';
import { BuildFailedSchema, buildFailedBody, buildOkBody, BuildResultSchema, DiagnosticSchema, LiveCheckQuery, VersionBuildSchema } from '../build-response.ts';
import type { AppEnv } from '../env.ts';
import { withIsoDates as iso } from '../json-dates.ts';
import { requireRole } from '../middleware/auth.ts';
import { ApiErrorSchema, jsonContent, validationHook } from '../validation.ts';
import { MAX_LOG_RETENTION_DAYS, setLogRetention } from '../../services/log-archive.ts';

const MAX_YAML = 2 * 1024 * 1024;
const IdParams = z.object({ id: z.string().min(1).max(64) });
const VersionParams = IdParams.extend({ n: z.coerce.number().int().positive() });

const WorkflowSummarySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    draftRevision: z.number().int(),
    activeVersion: z.number().int().nullable(),
    updatedAt: z.string(),
    updatedBy: z.string().nullable(),
  })
  .openapi('WorkflowSummary');
const WorkflowSchema = WorkflowSummarySchema.extend({
  draftYaml: z.string(),
  createdAt: z.string(),
  lockedReason: z.string().nullable().openapi({ description: 'Why nobody may change or run it (a plugin validation workflow); null for every other workflow' }),
}).openapi('Workflow');
const VersionSummarySchema = z
  .object({
    number: z.number().int(),
    sha256: z.string(),
    message: z.string(),
    restoredFrom: z.number().int().nullable(),
    createdAt: z.string(),
    createdBy: z.string().nullable(),
  })
  .openapi('VersionSummary');
const PublishedSchema = z
  .object({ status: z.literal('published'), version: z.number().int(), sha256: z.string(), diagnostics: z.array(DiagnosticSchema) })
  .openapi('Published');
const RolledBackSchema = z
  .object({ status: z.literal('rolled_back'), error: z.string(), reason: z.string(), activeVersion: z.number().int().nullable() })
  .openapi('RolledBack');
const VersionSchema = VersionSummarySchema.extend({ yaml: z.string(), buildResult: VersionBuildSchema }).openapi('Version');

const errors = { 400: jsonContent(ApiErrorSchema, 'Malformed request'), 404: jsonContent(ApiErrorSchema, 'No such workflow') };

const routes = {
  list: createRoute({
    method: 'get',
    path: '/',
    tags: ['workflows'],
    summary: 'List workflows',
    responses: { 200: jsonContent(z.object({ workflows: z.array(WorkflowSummarySchema) }), 'Workflows') },
  }),
  create: createRoute({
    method: 'post',
    path: '/',
    tags: ['workflows'],
    summary: 'Create a workflow with a draft',
    middleware: [requireRole('editor')] as const,
    request: { body: { ...jsonContent(z.object({ name: identifier, yaml: z.string().max(MAX_YAML) }), 'Name and draft YAML'), required: true } },
    responses: { 201: jsonContent(WorkflowSchema, 'Created'), 409: jsonContent(ApiErrorSchema, 'Name taken'), ...errors },
  }),
  get: createRoute({
    method: 'get',
    path: '/{id}',
    tags: ['workflows'],
    summary: 'A workflow with its draft',
    request: { params: IdParams },
    responses: { 200: jsonContent(WorkflowSchema, 'The workflow'), ...errors },
  }),
  delete: createRoute({
    method: 'delete',
    path: '/{id}',
    tags: ['workflows'],
    summary: 'Delete a workflow, its versions and registrations',
    middleware: [requireRole('editor')] as const,
    request: { params: IdParams },
    responses: { 204: { description: 'Deleted' }, ...errors },
  }),
  saveDraft: createRoute({
    method: 'put',
    path: '/{id}/draft',
    tags: ['workflows'],
    summary: 'Save the draft if it is still at baseRevision',
    middleware: [requireRole('editor')] as const,
    request: {
      params: IdParams,
      body: {
        ...jsonContent(z.object({ yaml: z.string().max(MAX_YAML), baseRevision: z.number().int().positive() }), 'Draft and the revision it was edited from'),
        required: true,
      },
    },
    responses: {
      200: jsonContent(z.object({ revision: z.number().int(), updatedAt: z.string() }), 'Saved'),
      409: jsonContent(ApiErrorSchema, 'Stale revision'),
      ...errors,
    },
  }),
  tryActivate: createRoute({
    method: 'post',
    path: '/{id}/try-activate',
    tags: ['workflows'],
    summary: 'Build the draft (or a posted YAML) against the published version, changing nothing',
    request: {
      params: IdParams,
      query: LiveCheckQuery,
      body: { ...jsonContent(z.object({ yaml: z.string().max(MAX_YAML).optional() }), 'Optional candidate YAML; the draft otherwise'), required: false },
    },
    responses: {
      200: jsonContent(BuildResultSchema, 'Builds (or, with live=true, any answer)'),
      422: jsonContent(BuildFailedSchema, 'Does not build'),
      ...errors,
    },
  }),
  publish: createRoute({
    method: 'post',
    path: '/{id}/publish',
    tags: ['workflows'],
    summary: 'Build, then activate in place of the current version; rolls back if activation fails',
    middleware: [requireRole('editor')] as const,
    request: {
      params: IdParams,
      body: {
        ...jsonContent(
          z.object({ yaml: z.string().max(MAX_YAML).optional(), message: z.string().max(2000).optional() }),
          'Optional YAML (the draft otherwise) and message',
        ),
        required: false,
      },
    },
    responses: {
      200: jsonContent(PublishedSchema, 'Published'),
      409: jsonContent(RolledBackSchema, 'Activation failed and was rolled back'),
      422: jsonContent(BuildFailedSchema, 'Does not build'),
      ...errors,
    },
  }),
  versions: createRoute({
    method: 'get',
    path: '/{id}/versions',
    tags: ['versions'],
    summary: 'Published versions, newest first',
    request: { params: IdParams },
    responses: { 200: jsonContent(z.object({ versions: z.array(VersionSummarySchema) }), 'Versions'), ...errors },
  }),
  version: createRoute({
    method: 'get',
    path: '/{id}/versions/{n}',
    tags: ['versions'],
    summary: 'One published version with its YAML and build result',
    request: { params: VersionParams },
    responses: { 200: jsonContent(VersionSchema, 'The version'), ...errors },
  }),
  restore: createRoute({
    method: 'post',
    path: '/{id}/versions/{n}/restore',
    tags: ['versions'],
    summary: 'Publish an old version again through the safe path',
    middleware: [requireRole('editor')] as const,
    request: { params: VersionParams },
    responses: {
      200: jsonContent(PublishedSchema, 'Published'),
      409: jsonContent(RolledBackSchema, 'Rolled back'),
      422: jsonContent(BuildFailedSchema, 'Does not build'),
      ...errors,
    },
  }),
  settings: createRoute({
    method: 'patch',
    path: '/{id}/settings',
    middleware: [requireRole('editor')] as const,
    request: {
      params: IdParams,
      body: {
        ...jsonContent(
          z.object({
            logRetentionDays: z
              .number()
              .int()
              .min(1)
              .max(MAX_LOG_RETENTION_DAYS)
              .nullable()
              .openapi({ description: 'Days a finished run keeps its step logs; null keeps them forever' }),
          }),
          'Settings to change',
        ),
        required: true,
      },
    },
    responses: { 200: jsonContent(z.object({ logRetentionDays: z.number().int().nullable() }), 'Settings now'), ...errors },
  }),
};

function publishResponse(result: PublishResult) {
  if (result.status === 'build_failed') return { body: buildFailedBody(result.build), status: 422 as const };
  if (result.status === 'rolled_back') {
    return {
      body: { status: 'rolled_back' as const, error: `rolled back: ${result.reason}`, reason: result.reason, activeVersion: result.activeVersion },
      status: 409 as const,
    };
  }
  return {
    body: { status: 'published' as const, version: result.version, sha256: result.sha256, diagnostics: result.build.diagnostics },
    status: 200 as const,
  };
}

export const workflowRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(routes.list, async (c) => c.json({ workflows: (await listWorkflows(c.get('deps').db)).map(iso) }, 200))
  .openapi(routes.create, async (c) => c.json(iso(await createWorkflow(c.get('deps').db, c.req.valid('json'), c.get('user'))), 201))
  .openapi(routes.get, async (c) => c.json(iso(await getWorkflow(c.get('deps').db, c.req.valid('param').id)), 200))
  .openapi(routes.delete, async (c) => {
    await deleteWorkflow(c.get('deps').db, c.req.valid('param').id);
    return c.body(null, 204);
  })
  .openapi(routes.saveDraft, async (c) => {
    const saved = await updateDraft(c.get('deps').db, c.get('deps').events, c.req.valid('param').id, c.req.valid('json'), c.get('user'));
    return c.json({ revision: saved.revision, updatedAt: saved.updatedAt.toISOString() }, 200);
  })
  .openapi(routes.tryActivate, async (c) => {
    const result = await tryActivateWorkflow(c.get('deps').db, c.req.valid('param').id, c.req.valid('json')?.yaml);
    if (result.status === 'build_ok') return c.json(buildOkBody(result.build, result.changes), 200);
    return c.req.valid('query').live === 'true' ? c.json(buildFailedBody(result.build), 200) : c.json(buildFailedBody(result.build), 422);
  })
  .openapi(routes.publish, async (c) => {
    const input = c.req.valid('json') ?? {};
    const { body: out, status } = publishResponse(await publishWorkflow(c.get('deps').db, c.req.valid('param').id, input, c.get('user')));
    return c.json(out as never, status);
  })
  .openapi(routes.versions, async (c) => c.json({ versions: (await listVersions(c.get('deps').db, c.req.valid('param').id)).map(iso) }, 200))
  .openapi(routes.version, async (c) => {
    const { id, n } = c.req.valid('param');
    const version = iso(await getVersion(c.get('deps').db, id, n));
    // Written by publishWorkflow from the build (see VersionBuildSchema); the column itself is untyped JSON.
    return c.json({ ...version, buildResult: version.buildResult as z.infer<typeof VersionBuildSchema> }, 200);
  })
  .openapi(routes.restore, async (c) => {
    const { id, n } = c.req.valid('param');
    const { body, status } = publishResponse(await restoreVersion(c.get('deps').db, id, n, c.get('user')));
    return c.json(body as never, status);
  })
  .openapi(routes.settings, async (c) =>
    c.json({ logRetentionDays: await setLogRetention(c.get('deps').db, c.req.valid('param').id, c.req.valid('json').logRetentionDays) }, 200),
  );
