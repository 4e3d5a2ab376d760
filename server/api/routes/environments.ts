import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { environmentProviders, roles } from '../../../db/schema.ts';
import { identifier } from '../../engine/schema/common.ts';
import {
  createEnvironment,
  deleteEnvironment,
  deploymentHistory,
  environmentSecretValues,
  getEnvironment,
  listEnvironments,
  updateEnvironment,
} from '../../services/environments.ts';
import { isPluginProvider, pluginProviderConnection } from '../../services/plugins/provider-connection.ts';
import type { AppEnv } from '../env.ts';
import { withIsoDates as iso } from '../json-dates.ts';
import { requireRole } from '../middleware/auth.ts';
import { ApiErrorSchema, JsonObjectSchema, jsonContent, validationHook } from '../validation.ts';

const tags = ['environments'];
const Params = z.object({ id: z.string().min(1).max(64) });
const Approver = z
  .string()
  .regex(
    new RegExp(`^(role:(${roles.join('|')})|[^@\\s:]+@[^@\\s]+)$`),
    `an approver is an e-mail address or one of ${roles.map((r) => `role:${r}`).join(', ')}`,
  );
const ProviderSchema = z.enum(environmentProviders).openapi('EnvironmentProvider');
const EnvironmentBody = z
  .object({
    name: identifier,
    provider: ProviderSchema,
    region: z.string().max(100).nullable().optional(),
    config: z.record(z.string(), z.unknown()).default({}),
    secrets: z
      .record(
        z.string().regex(/^[A-Z][A-Z0-9_]*$/),
        z
          .string()
          .max(64 * 1024)
          .nullable(),
      )
      .optional()
      .openapi({ description: 'NAME → value to set, or null to delete; values are never returned' }),
    protected: z
      .boolean()
      .optional()
      .openapi({ description: 'Only allowed workflows deploy here, with the approvers below; new environments are protected; left out on update: unchanged' }),
    allowedWorkflows: z.array(identifier).max(200).optional().openapi({ description: 'Workflow names allowed to deploy while protected' }),
    approvers: z
      .array(Approver)
      .max(100)
      .optional()
      .openapi({ description: 'E-mails or role:<role> whose approval (at the step.gate before the deploy) every deployment needs' }),
  })
  .openapi('EnvironmentInput');
const EnvironmentSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    provider: ProviderSchema,
    region: z.string().nullable(),
    config: JsonObjectSchema,
    secretNames: z.array(z.string()).openapi({ description: 'Secrets are write-only: only their names come back' }),
    protected: z.boolean().openapi({ description: 'Only the allowed workflows deploy here, each deploy approved by the approvers (when any)' }),
    allowedWorkflows: z.array(z.string()),
    approvers: z.array(z.string()).openapi({ description: 'E-mails or role:<role>' }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Environment');
const ConnectionTestSchema = z.object({ ok: z.boolean(), message: z.string() }).openapi('ConnectionTest');
const DeploymentSchema = z
  .object({
    id: z.string(),
    environment: z.string(),
    workflowId: z.string(),
    runId: z.string(),
    step: z.string(),
    image: z.string(),
    version: z.string().nullable(),
    strategy: z.string(),
    result: z.string().openapi({ description: "deployed, rolled_back, failed, or the step's final state (cancelled, timed_out)" }),
    triggeredBy: z.string().nullable(),
    triggeredByEmail: z.string().nullable(),
    workflowName: z.string().nullable(),
    runNumber: z.number().int().nullable(),
    url: z.string().nullable().openapi({ description: 'Where the deployed version answers, when the deploy reported it' }),
    createdAt: z.string(),
  })
  .openapi('Deployment', { description: "One finished step.deploy in an environment's history" });
const errors = { 400: jsonContent(ApiErrorSchema, 'Malformed'), 404: jsonContent(ApiErrorSchema, 'No such environment') };
const admin = requireRole('admin');

const routes = {
  list: createRoute({
    method: 'get',
    path: '/',
    tags,
    summary: 'Environments (secret names only)',
    responses: { 200: jsonContent(z.object({ environments: z.array(EnvironmentSchema) }), 'Environments') },
  }),
  create: createRoute({
    method: 'post',
    path: '/',
    tags,
    summary: 'Create an environment',
    middleware: admin,
    request: { body: { ...jsonContent(EnvironmentBody, 'The environment'), required: true } },
    responses: { 201: jsonContent(EnvironmentSchema, 'Created'), 409: jsonContent(ApiErrorSchema, 'Name taken'), ...errors },
  }),
  get: createRoute({
    method: 'get',
    path: '/{id}',
    tags,
    summary: 'One environment (secret names only)',
    request: { params: Params },
    responses: { 200: jsonContent(EnvironmentSchema, 'The environment'), ...errors },
  }),
  update: createRoute({
    method: 'put',
    path: '/{id}',
    tags,
    summary: 'Update an environment; secrets are set or deleted by name',
    middleware: admin,
    request: { params: Params, body: { ...jsonContent(EnvironmentBody, 'The environment'), required: true } },
    responses: { 200: jsonContent(EnvironmentSchema, 'Updated'), ...errors },
  }),
  delete: createRoute({
    method: 'delete',
    path: '/{id}',
    tags,
    summary: 'Delete an environment',
    middleware: admin,
    request: { params: Params },
    responses: { 204: { description: 'Deleted' }, ...errors },
  }),
  test: createRoute({
    method: 'post',
    path: '/{id}/test',
    tags,
    summary: 'Really reach the target: engine ping, registry login, bucket access; for a cloud provider, its plugin and validation',
    middleware: [requireRole('editor')] as const,
    request: { params: Params },
    responses: { 200: jsonContent(ConnectionTestSchema, 'The outcome'), ...errors },
  }),
  deployments: createRoute({
    method: 'get',
    path: '/{id}/deployments',
    tags,
    summary: 'Deploy history: who, version, strategy, result',
    request: { params: Params },
    responses: { 200: jsonContent(z.object({ deployments: z.array(DeploymentSchema) }), 'History'), ...errors },
  }),
};

export const environmentRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(routes.list, async (c) => c.json({ environments: (await listEnvironments(c.get('deps').db, c.get('deps').secretsKey)).map(iso) }, 200))
  .openapi(routes.create, async (c) => c.json(iso(await createEnvironment(c.get('deps').db, c.get('deps').secretsKey, c.req.valid('json'))), 201))
  .openapi(routes.get, async (c) => c.json(iso(await getEnvironment(c.get('deps').db, c.get('deps').secretsKey, c.req.valid('param').id)), 200))
  .openapi(routes.update, async (c) =>
    c.json(iso(await updateEnvironment(c.get('deps').db, c.get('deps').secretsKey, c.req.valid('param').id, c.req.valid('json'))), 200),
  )
  .openapi(routes.delete, async (c) => {
    await deleteEnvironment(c.get('deps').db, c.req.valid('param').id);
    return c.body(null, 204);
  })
  .openapi(routes.test, async (c) => {
    const { db, secretsKey, testConnection } = c.get('deps');
    const environment = await getEnvironment(db, secretsKey, c.req.valid('param').id);
    if (isPluginProvider(environment.provider)) return c.json(await pluginProviderConnection(db, environment), 200);
    const secrets = await environmentSecretValues(db, secretsKey, environment.id);
    return c.json(await testConnection(environment.provider, environment.config, secrets), 200);
  })
  .openapi(routes.deployments, async (c) => {
    const { db, secretsKey } = c.get('deps');
    const environment = await getEnvironment(db, secretsKey, c.req.valid('param').id);
    return c.json({ deployments: (await deploymentHistory(db, environment.name)).map(iso) }, 200);
  });
