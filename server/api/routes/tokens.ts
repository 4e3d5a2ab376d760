import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { createApiToken, listApiTokens, revokeApiToken, type ApiTokenSummary } from '../../services/auth.ts';
import type { AppEnv } from '../env.ts';
import { ApiErrorSchema, jsonContent, validationHook } from '../validation.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

const ApiTokenSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    displayPrefix: z.string().openapi({ description: 'First characters of the token, to recognise it' }),
    createdAt: z.string(),
    lastUsedAt: z.string().nullable(),
    expiresAt: z.string().nullable(),
    revokedAt: z.string().nullable(),
  })
  .openapi('ApiToken');

const CreateApiTokenSchema = z
  .object({
    name: z.string().trim().min(1).max(100),
    expiresInDays: z.number().int().min(1).max(3650).optional(),
  })
  .openapi('CreateApiTokenRequest');

const CreatedApiTokenSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    token: z.string().openapi({ description: 'The secret; shown only in this response' }),
  })
  .openapi('CreatedApiToken');

const listRoute = createRoute({
  method: 'get',
  path: '/',
  tags: ['tokens'],
  summary: 'Your API tokens (never the secrets)',
  responses: { 200: jsonContent(z.object({ tokens: z.array(ApiTokenSchema) }), 'Your API tokens') },
});

const createTokenRoute = createRoute({
  method: 'post',
  path: '/',
  tags: ['tokens'],
  summary: 'Create an API token; the response is the only time it is shown',
  request: { body: { ...jsonContent(CreateApiTokenSchema, 'Token name and optional lifetime'), required: true } },
  responses: {
    201: jsonContent(CreatedApiTokenSchema, 'Created'),
    400: jsonContent(ApiErrorSchema, 'Malformed request'),
  },
});

const revokeRoute = createRoute({
  method: 'delete',
  path: '/{id}',
  tags: ['tokens'],
  summary: 'Revoke one of your API tokens; it is refused from then on',
  request: { params: z.object({ id: z.string() }) },
  responses: {
    204: { description: 'Revoked' },
    404: jsonContent(ApiErrorSchema, 'You have no token with this id'),
  },
});

const toJson = (token: ApiTokenSummary) => ({
  ...token,
  createdAt: token.createdAt.toISOString(),
  lastUsedAt: token.lastUsedAt?.toISOString() ?? null,
  expiresAt: token.expiresAt?.toISOString() ?? null,
  revokedAt: token.revokedAt?.toISOString() ?? null,
});

/** Mounted at `/api/tokens`, behind `requireAuth`; every user manages only their own tokens. */
export const tokenRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(listRoute, async (c) => {
    const tokens = await listApiTokens(c.get('deps').db, c.get('user').id);
    return c.json({ tokens: tokens.map(toJson) }, 200);
  })
  .openapi(createTokenRoute, async (c) => {
    const { name, expiresInDays } = c.req.valid('json');
    const expiresAt = expiresInDays === undefined ? undefined : new Date(Date.now() + expiresInDays * DAY_MS);
    const created = await createApiToken(c.get('deps').db, c.get('user').id, name, expiresAt);
    return c.json({ id: created.id, name, token: created.token }, 201);
  })
  .openapi(revokeRoute, async (c) => {
    const revoked = await revokeApiToken(c.get('deps').db, c.get('user').id, c.req.valid('param').id);
    if (!revoked) return c.json({ error: { code: 'not_found', message: 'API token not found' } }, 404);
    return c.body(null, 204);
  });
