import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { sql } from 'drizzle-orm';
import type { AppEnv } from '../env.ts';
import { jsonContent } from '../validation.ts';

const healthRoute = createRoute({
  method: 'get',
  path: '/healthz',
  tags: ['health'],
  summary: 'Liveness and database reachability; needs no credential',
  responses: {
    200: jsonContent(z.object({ status: z.literal('ok') }), 'Healthy'),
    503: jsonContent(z.object({ status: z.literal('unavailable'), reason: z.string() }), 'Database unreachable'),
  },
});

export const healthRoutes = new OpenAPIHono<AppEnv>().openapi(healthRoute, async (c) => {
  try {
    await c.get('deps').db.run(sql`select 1`);
    return c.json({ status: 'ok' as const }, 200);
  } catch (error) {
    return c.json({ status: 'unavailable' as const, reason: (error as Error).message }, 503);
  }
});
