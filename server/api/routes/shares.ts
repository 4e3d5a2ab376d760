import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { createShareLink, listShareLinks, revokeShareLink, runIdForShareToken, sharedRunView } from '../../services/shares.ts';
import type { AppEnv } from '../env.ts';
import { withIsoDates as iso } from '../json-dates.ts';
import { respondWithStepLog } from '../log-stream.ts';
import { sharedRunBody, SharedRunSchema } from '../run-schemas.ts';
import { requireRole } from '../middleware/auth.ts';
import { ApiErrorSchema, jsonContent, validationHook } from '../validation.ts';

const tags = ['share links'];
const RunParams = z.object({ id: z.string().min(1).max(64) });
const TokenParams = z.object({ token: z.string().min(1).max(200) });
const ShareLinkSchema = z
  .object({ id: z.string(), createdAt: z.string(), expiresAt: z.string().nullable(), revokedAt: z.string().nullable() })
  .openapi('ShareLink', { description: 'A read-only link to a run (never its token, which is shown only when created)' });
const CreatedShareLinkSchema = z
  .object({
    id: z.string(),
    token: z.string().openapi({ description: 'Shown only in this answer' }),
    url: z.string().openapi({ description: 'The page that shows the run: <public URL>/share/<token>' }),
    expiresAt: z.string().nullable(),
  })
  .openapi('CreatedShareLink');
const notFound = { 404: jsonContent(ApiErrorSchema, 'Unknown, expired or revoked') };
/** A link nobody set a lifetime for lasts a week; `expiresInHours: null` asks for one that lasts until revoked. */
export const DEFAULT_SHARE_HOURS = 24 * 7;

const routes = {
  create: createRoute({
    method: 'post',
    path: '/runs/{id}/shares',
    tags,
    summary: 'Create a read-only link to a run; the token is shown once',
    middleware: [requireRole('editor')] as const,
    request: {
      params: RunParams,
      body: {
        ...jsonContent(
          z.object({
            expiresInHours: z
              .number()
              .int()
              .min(1)
              .max(24 * 365)
              .nullable()
              .default(DEFAULT_SHARE_HOURS),
          }),
          'Lifetime in hours (default 7 days; null: until revoked)',
        ),
        required: false,
      },
    },
    responses: { 201: jsonContent(CreatedShareLinkSchema, 'The link'), ...notFound },
  }),
  list: createRoute({
    method: 'get',
    path: '/runs/{id}/shares',
    tags,
    summary: 'Share links of a run (never their tokens)',
    request: { params: RunParams },
    responses: { 200: jsonContent(z.object({ shares: z.array(ShareLinkSchema) }), 'Links'), ...notFound },
  }),
  revoke: createRoute({
    method: 'delete',
    path: '/runs/{id}/shares/{shareId}',
    tags,
    summary: 'Revoke a share link at once',
    middleware: [requireRole('editor')] as const,
    request: { params: RunParams.extend({ shareId: z.string() }) },
    responses: { 204: { description: 'Revoked' }, ...notFound },
  }),
  view: createRoute({
    method: 'get',
    path: '/share/{token}',
    tags,
    summary: 'The shared run, read-only, without an account',
    security: [],
    request: { params: TokenParams },
    responses: { 200: jsonContent(SharedRunSchema, 'State, steps and timings'), ...notFound },
  }),
  logs: createRoute({
    method: 'get',
    path: '/share/{token}/logs',
    tags,
    summary: 'A step log of the shared run (SSE or raw), without an account',
    security: [],
    request: { params: TokenParams, query: z.object({ step: z.string().min(1), tail_lines: z.coerce.number().int().min(1).max(1_000_000).optional() }) },
    responses: { 200: { description: 'The log' }, ...notFound },
  }),
};

export const shareRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(routes.create, async (c) => {
    // Without a JSON body nothing is validated (and no default applied), so the default is applied here too.
    const hours = c.req.valid('json')?.expiresInHours;
    const created = await createShareLink(
      c.get('deps').db,
      c.req.valid('param').id,
      c.get('user').id,
      hours === undefined ? DEFAULT_SHARE_HOURS : (hours ?? undefined),
    );
    const url = new URL(`/share/${created.token}`, c.get('deps').config.publicUrl).toString();
    return c.json({ id: created.id, token: created.token, url, expiresAt: created.expiresAt?.toISOString() ?? null }, 201);
  })
  .openapi(routes.list, async (c) => c.json({ shares: (await listShareLinks(c.get('deps').db, c.req.valid('param').id)).map(iso) }, 200))
  .openapi(routes.revoke, async (c) => {
    await revokeShareLink(c.get('deps').db, c.req.valid('param').id, c.req.valid('param').shareId);
    return c.body(null, 204);
  })
  .openapi(routes.view, async (c) => {
    const { db } = c.get('deps');
    c.header('Cache-Control', 'no-store');
    return c.json(sharedRunBody(await sharedRunView(db, await runIdForShareToken(db, c.req.valid('param').token))), 200);
  })
  .openapi(routes.logs, async (c) => {
    const runId = await runIdForShareToken(c.get('deps').db, c.req.valid('param').token);
    return (await respondWithStepLog(c, runId, c.req.valid('query').step, c.req.valid('query').tail_lines)) as never;
  });
