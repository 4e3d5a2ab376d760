import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { buildWorkflow } from '../../engine/build.ts';
import { BuildFailedSchema, buildFailedBody, BuildOkSchema, buildOkBody, YamlBodySchema } from '../build-response.ts';
import type { AppEnv } from '../env.ts';
import { ApiErrorSchema, jsonContent, validationHook } from '../validation.ts';

const tryActivateRoute = createRoute({
  method: 'post',
  path: '/',
  tags: ['workflows'],
  summary: 'Build a candidate workflow and report what it would activate, changing nothing',
  request: { body: { ...jsonContent(YamlBodySchema, 'The candidate YAML'), required: true } },
  responses: {
    200: jsonContent(BuildOkSchema, 'The candidate builds'),
    400: jsonContent(ApiErrorSchema, 'Malformed request'),
    422: jsonContent(BuildFailedSchema, 'The candidate does not build'),
  },
});

export const tryActivateRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook }).openapi(tryActivateRoute, (c) => {
  const build = buildWorkflow(c.req.valid('json').yaml);
  return build.ok ? c.json(buildOkBody(build), 200) : c.json(buildFailedBody(build), 422);
});
