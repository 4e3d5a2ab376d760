import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { createRegistrationToken, listRegistrationTokens, listRunners, revokeRegistrationToken, revokeRunner } from '../../services/runners.ts';
import type { AppEnv } from '../env.ts';
import { notFound } from '../../services/errors.ts';
import { withIsoDates as iso } from '../json-dates.ts';
import { requireRole } from '../middleware/auth.ts';
import { ApiErrorSchema, jsonContent, validationHook } from '../validation.ts';
import { runnerInstallCommand } from '../../services/runner-install.ts';

const tags = ['runners'];
const RunnerSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    labels: z.array(z.string()),
    capacity: z.number().int(),
    version: z.string(),
    createdAt: z.string(),
    lastSeenAt: z.string().nullable(),
    online: z.boolean(),
    currentJobs: z.array(z.object({ jobId: z.string(), runId: z.string() })),
  })
  .openapi('Runner');
const Label = z
  .string()
  .trim()
  .min(1)
  .max(50)
  .regex(/^[^\s,]+$/, 'a label has no spaces or commas');
const RegistrationTokenSchema = z
  .object({
    id: z.string(),
    description: z.string(),
    labels: z.array(z.string()),
    reusable: z.boolean(),
    createdAt: z.string(),
    expiresAt: z.string().nullable(),
    usedAt: z.string().nullable(),
    revokedAt: z.string().nullable(),
    state: z.enum(['active', 'used', 'expired', 'revoked']),
  })
  .openapi('RunnerRegistrationToken');
const CreatedRegistrationTokenSchema = z
  .object({
    id: z.string(),
    token: z.string().openapi({ description: 'Shown only in this answer' }),
    expiresAt: z.string().nullable(),
    labels: z.array(z.string()),
    reusable: z.boolean(),
    command: z.string().openapi({ description: 'The exact command that starts a runner with this token' }),
  })
  .openapi('CreatedRegistrationToken');
const TokenParams = z.object({ id: z.string().min(1).max(64) });

const routes = {
  list: createRoute({
    method: 'get',
    path: '/runners',
    tags,
    summary: 'Registered runners with their state',
    responses: { 200: jsonContent(z.object({ runners: z.array(RunnerSchema) }), 'Runners') },
  }),
  revoke: createRoute({
    method: 'delete',
    path: '/runners/{id}',
    tags,
    summary: 'Revoke a runner; its token is refused at once',
    middleware: [requireRole('admin')] as const,
    request: { params: z.object({ id: z.string() }) },
    responses: { 204: { description: 'Revoked' }, 404: jsonContent(ApiErrorSchema, 'No such runner') },
  }),
  createToken: createRoute({
    method: 'post',
    path: '/runner-tokens',
    tags,
    summary: 'Create a registration token for new runners (shown once)',
    middleware: [requireRole('admin')] as const,
    request: {
      body: {
        ...jsonContent(
          z.object({
            description: z.string().max(200).optional(),
            expiresInHours: z
              .number()
              .int()
              .min(1)
              .max(24 * 365)
              .optional()
              .openapi({ description: 'Lifetime; 24 hours when absent' }),
            labels: z
              .array(Label)
              .max(50)
              .optional()
              .openapi({ description: 'The only labels runners registered with it may have; none lets the runner choose' }),
            reusable: z
              .boolean()
              .optional()
              .openapi({ description: 'Registers any number of runners until it expires (fleets); one registration when absent' }),
          }),
          'Token options',
        ),
        required: false,
      },
    },
    responses: {
      201: jsonContent(CreatedRegistrationTokenSchema, 'The token and the command to start a runner'),
    },
  }),
  listTokens: createRoute({
    method: 'get',
    path: '/runner-tokens',
    tags,
    summary: 'Registration tokens (never their secret) and their state',
    middleware: [requireRole('admin')] as const,
    responses: { 200: jsonContent(z.object({ tokens: z.array(RegistrationTokenSchema) }), 'Registration tokens') },
  }),
  revokeToken: createRoute({
    method: 'delete',
    path: '/runner-tokens/{id}',
    tags,
    summary: 'Revoke a registration token; registering with it is refused at once',
    middleware: [requireRole('admin')] as const,
    request: { params: TokenParams },
    responses: { 204: { description: 'Revoked' }, 404: jsonContent(ApiErrorSchema, 'No such token, or already revoked') },
  }),
};

export const runnerRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(routes.list, async (c) => c.json({ runners: (await listRunners(c.get('deps').db)).map(iso) }, 200))
  .openapi(routes.revoke, async (c) => {
    if (!(await revokeRunner(c.get('deps').db, c.req.valid('param').id))) throw notFound(`runner ${c.req.valid('param').id}`);
    return c.body(null, 204);
  })
  .openapi(routes.createToken, async (c) => {
    const created = await createRegistrationToken(c.get('deps').db, c.req.valid('json') ?? {}, c.get('user').id);
    const labels = created.labels.length ? created.labels.join(',') : 'linux,docker';
    const version = await (await import('../../services/package-tarball.ts')).packageVersion();
    const command = runnerInstallCommand(c.get('deps').config.publicUrl, version, created.token, labels);
    return c.json(
      { id: created.id, token: created.token, expiresAt: created.expiresAt.toISOString(), labels: created.labels, reusable: created.reusable, command },
      201,
    );
  })
  .openapi(routes.listTokens, async (c) => c.json({ tokens: (await listRegistrationTokens(c.get('deps').db)).map(iso) }, 200))
  .openapi(routes.revokeToken, async (c) => {
    if (!(await revokeRegistrationToken(c.get('deps').db, c.req.valid('param').id))) throw notFound(`registration token ${c.req.valid('param').id}`);
    return c.body(null, 204);
  });
