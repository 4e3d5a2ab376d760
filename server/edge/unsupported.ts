/**
 * The routes a Worker cannot serve, answered 501 with the reason before the app sees them (the README's
 * support table and docs/deploy.md list the same). Everything else of the API runs on the edge.
 */
interface UnsupportedRoute {
  method: string;
  path: RegExp;
  route: string;
  reason: string;
}

export const EDGE_UNSUPPORTED: UnsupportedRoute[] = [
  {
    method: 'GET',
    path: /^\/downloads\/[^/]+$/,
    route: 'GET /downloads/<package>.tgz',
    reason: 'the runner package is built by `npm pack` on a Node server; install the runner from npm (npx flowyard runner)',
  },
  {
    method: 'POST',
    path: /^\/api\/environments\/[^/]+\/test$/,
    route: 'POST /api/environments/:id/test',
    reason: 'connection tests open raw sockets to Docker or SSH hosts; run them from a Node server',
  },
  {
    method: '*',
    path: /^\/api\/blobs\//,
    route: '/api/blobs/*',
    reason: 'the built-in blob store keeps files on the server disk; artifacts go to the S3 or R2 bucket of ARTIFACTS_URL',
  },
  {
    method: 'GET',
    path: /^\/metrics$/,
    route: 'GET /metrics',
    reason: 'Prometheus counters live in one long-running process; use Workers Analytics or Logpush',
  },
  {
    method: 'GET',
    path: /^\/api\/docs(\/.*)?$/,
    route: 'GET /api/docs',
    reason: 'the Swagger UI files are read from node_modules; the OpenAPI document itself is at /api/openapi.json',
  },
];

/** The 501 answer for a route the edge does not serve, or undefined. */
export function refuseUnsupported(request: Request): Response | undefined {
  const { pathname } = new URL(request.url);
  const refused = EDGE_UNSUPPORTED.find((entry) => (entry.method === '*' || entry.method === request.method) && entry.path.test(pathname));
  if (!refused) return undefined;
  const message = `${refused.route} is not available on Cloudflare Workers: ${refused.reason}`;
  return Response.json({ error: { code: 'not_implemented', message } }, { status: 501 });
}
