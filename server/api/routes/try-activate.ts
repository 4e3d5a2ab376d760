import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { buildWorkflow } from '../../engine/build.ts';
import { installedPlugins } from '../../services/plugin-catalog.ts';
import { BuildFailedSchema, buildFailedBody, buildOkBody, BuildResultSchema, LiveCheckQuery, YamlBodySchema } from '../build-response.ts';
import type { AppEnv } from '../env.ts';
import { ApiErrorSchema, jsonContent, validationHook } from '../validation.ts';

const tryActivateRoute = createRoute({
  method: 'post',
  path: '/',
  tags: ['workflows'],
  summary: 'Build a candidate workflow and report what it would activate, changing nothing',
  request: { query: LiveCheckQuery, body: { ...jsonContent(YamlBodySchema, 'The candidate YAML'), required: true } },
  responses: {
    200: jsonContent(BuildResultSchema, 'The candidate builds (or, with live=true, any answer)'),
    400: jsonContent(ApiErrorSchema, 'Malformed request'),
    422: jsonContent(BuildFailedSchema, 'The candidate does not build'),
  },
});

export const tryActivateRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook }).openapi(tryActivateRoute, async (c) => {
  const build = buildWorkflow(c.req.valid('json').yaml, undefined, { plugins: await installedPlugins(c.get('deps').db) });
  if (build.ok) return c.json(buildOkBody(build), 200);
  return c.req.valid('query').live === 'true' ? c.json(buildFailedBody(build), 200) : c.json(buildFailedBody(build), 422);
});
