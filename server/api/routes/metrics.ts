/**
 * GET /metrics in the Prometheus text format, and the middleware that times every HTTP request by its
 * matched route pattern (never the raw path: ids in paths would make one series per run).
 * Who may scrape: a caller with `Authorization: Bearer $FLOWYARD_METRICS_TOKEN`, or a signed-in admin;
 * everyone else gets 401 (no or a wrong credential) or 403 (a user who is not an admin).
 */
import { Hono, type MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { hasRole } from '../../services/auth.ts';
import type { AppEnv } from '../env.ts';
import { authenticateRequest } from '../middleware/auth.ts';

const sha256 = async (text: string) => new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));

/** Compares digests byte by byte without stopping early: the time taken tells nothing about the token. */
async function sameSecret(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([sha256(given), sha256(expected)]);
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i]! ^ b[i]!;
  return difference === 0;
}

/** Observes flowyard_http_request_duration_seconds once the response is known; mount first, on '*'. */
export const timeRequests: MiddlewareHandler<AppEnv> = async (c, next) => {
  const started = performance.now();
  await next();
  const metrics = c.get('deps').metrics;
  if (!metrics) return;
  const route = routePath(c) || 'unmatched';
  metrics.httpDuration.observe({ method: c.req.method, route, status: String(c.res.status) }, (performance.now() - started) / 1000);
  c.get('deps').logger?.debug({ requestId: c.get('requestId'), method: c.req.method, route, status: c.res.status }, 'request');
};

export const metricsRoutes = new Hono<AppEnv>().get('/metrics', async (c) => {
  const { metrics, config } = c.get('deps');
  if (!metrics) return c.json({ error: { code: 'not_found', message: 'this server keeps no metrics' } }, 404);
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('Authorization') ?? '')?.[1];
  const byToken = bearer !== undefined && config.metricsToken !== undefined && (await sameSecret(bearer, config.metricsToken));
  if (!byToken) {
    const auth = await authenticateRequest(c);
    if (!auth.ok) {
      const hint = config.metricsToken ? 'send "Authorization: Bearer <FLOWYARD_METRICS_TOKEN>"' : 'sign in as an admin (FLOWYARD_METRICS_TOKEN is not set)';
      return c.json({ error: { code: 'unauthorized', message: `reading /metrics needs a credential: ${hint}` } }, 401);
    }
    if (auth.user.mustChangePassword && !auth.viaAdminToken) {
      return c.json({ error: { code: 'password_change_required', message: 'choose a new password first: POST /api/auth/password' } }, 403);
    }
    if (!hasRole(auth.user, 'admin'))
      return c.json({ error: { code: 'forbidden', message: `reading /metrics needs the admin role; you are ${auth.user.role}` } }, 403);
  }
  c.header('Content-Type', metrics.registry.contentType);
  c.header('Cache-Control', 'no-store');
  return c.body(await metrics.registry.metrics(), 200);
});
