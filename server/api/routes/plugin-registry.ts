/**
 * This Flowyard's installed plugins served in the registry layout (docs/plugins.md), so another Flowyard, or
 * anyone, can install from it: `/registry/index.json`, `/registry/plugins/{owner}/{name}/{version}/plugin.yaml`
 * and `.../plugin.tar.gz`. Read-only and public, like npm's public registry: plugins are code meant to be
 * shared, hold no secrets (those live in environments and workflows), and publishing here takes an admin.
 * Bounded: fixed paths with checked parameters, answers of at most one archive (8 MiB).
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { installedArchive } from '../../services/plugins/installed.ts';
import { servedIndex, servedManifest } from '../../services/plugins/registry-serve.ts';
import { pluginName, semverText } from '../../engine/plugin-manifest.ts';
import type { AppEnv } from '../env.ts';
import { ApiErrorSchema, jsonContent, validationHook } from '../validation.ts';

const tags = ['plugin registry'];
const FileParams = z.object({ owner: z.string().min(1).max(39), name: z.string().min(1).max(100), version: semverText });
const CACHE = 'public, max-age=60';

const IndexSchema = z
  .object({
    plugins: z.array(
      z.object({
        name: z.string(),
        description: z.string(),
        status: z.enum(['verified', 'experimental', 'deprecated']),
        stepTypes: z.array(z.string()),
        versions: z.array(z.object({ version: z.string(), digest: z.string(), flowyard: z.string() })),
      }),
    ),
  })
  .openapi('PluginRegistryIndex');

const routes = {
  index: createRoute({
    method: 'get',
    path: '/index.json',
    tags,
    summary: 'The registry index (public, read-only; ETag and If-None-Match)',
    responses: { 200: jsonContent(IndexSchema, 'The index'), 304: { description: 'Not modified' } },
  }),
  manifest: createRoute({
    method: 'get',
    path: '/plugins/{owner}/{name}/{version}/plugin.yaml',
    tags,
    summary: "An installed version's plugin.yaml",
    request: { params: FileParams },
    responses: {
      200: { content: { 'application/yaml': { schema: z.string() } }, description: 'plugin.yaml' },
      404: jsonContent(ApiErrorSchema, 'Not installed'),
    },
  }),
  archive: createRoute({
    method: 'get',
    path: '/plugins/{owner}/{name}/{version}/plugin.tar.gz',
    tags,
    summary: "An installed version's archive; its sha256 is the index's digest",
    request: { params: FileParams },
    responses: {
      200: { content: { 'application/gzip': { schema: z.string().openapi({ format: 'binary' }) } }, description: 'The archive' },
      404: jsonContent(ApiErrorSchema, 'Not installed'),
    },
  }),
};

/** owner/name checked as a plugin name; an invalid one is simply not installed. */
function nameOf(c: Context<AppEnv>, params: { owner: string; name: string }): string | undefined {
  const name = `${params.owner}/${params.name}`;
  return pluginName.safeParse(name).success ? name : undefined;
}

const missing = (c: Context<AppEnv>, what: string) => c.json({ error: { code: 'not_found', message: `installed plugin ${what} not found` } }, 404);

export const pluginRegistryRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(routes.index, async (c) => {
    const { body, etag } = await servedIndex(c.get('deps').db);
    const headers = { etag, 'cache-control': CACHE };
    const ifNoneMatch = c.req.header('if-none-match');
    if (ifNoneMatch && (ifNoneMatch.trim() === '*' || ifNoneMatch.split(',').some((tag) => tag.trim() === etag))) return c.body(null, 304, headers);
    return c.body(body, 200, { ...headers, 'content-type': 'application/json' });
  })
  .openapi(routes.manifest, async (c) => {
    const params = c.req.valid('param');
    const name = nameOf(c, params);
    if (!name) return missing(c, `${params.owner}/${params.name}`);
    return c.body(await servedManifest(c.get('deps').db, name, params.version), 200, {
      'content-type': 'application/yaml; charset=utf-8',
      'cache-control': CACHE,
    });
  })
  .openapi(routes.archive, async (c) => {
    const params = c.req.valid('param');
    const name = nameOf(c, params);
    if (!name) return missing(c, `${params.owner}/${params.name}`);
    const archive = await installedArchive(c.get('deps').db, name, params.version);
    return c.body(new Uint8Array(archive), 200, { 'content-type': 'application/gzip', 'cache-control': CACHE });
  });
