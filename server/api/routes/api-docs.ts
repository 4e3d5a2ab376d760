/**
 * GET /api/docs: the API reference, Swagger UI rendering the served /api/openapi.json. Its files come from
 * the swagger-ui-dist package through this server (a self-hosted install may have no internet), under a
 * strict Content-Security-Policy: scripts and styles from this origin only, no inline script. Public, like
 * the OpenAPI document it renders; calling an operation from the page needs the usual credential.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Hono, type Context } from 'hono';
import { compress } from 'hono/compress';
import type { AppEnv } from '../env.ts';

export const API_DOCS_PATH = '/api/docs';
const ASSETS = `${API_DOCS_PATH}/assets`;

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  // Swagger UI sets style attributes on the elements it renders.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Flowyard API reference</title>
    <link rel="icon" href="data:," />
    <link rel="stylesheet" href="${ASSETS}/swagger-ui.css" />
  </head>
  <body>
    <div id="swagger-ui" data-spec-url="/api/openapi.json"></div>
    <script src="${ASSETS}/swagger-ui-bundle.js"></script>
    <script src="${ASSETS}/init.js"></script>
  </body>
</html>
`;

// validatorUrl null: Swagger UI would otherwise send the document to validator.swagger.io.
const INIT = `window.addEventListener('load', function () {
  var node = document.getElementById('swagger-ui');
  window.ui = SwaggerUIBundle({ url: node.dataset.specUrl, domNode: node, deepLinking: true, validatorUrl: null, presets: [SwaggerUIBundle.presets.apis], layout: 'BaseLayout' });
});
`;

/** The swagger-ui-dist files served, by the name in the URL; nothing else of the package is reachable. */
const DIST_FILES: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
};

const loaded = new Map<string, Promise<string>>();
function distFile(name: string): Promise<string> {
  let file = loaded.get(name);
  if (!file) {
    const dist = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
    file = readFile(join(dist, name), 'utf8');
    // A failed read is tried again on the next request rather than remembered.
    file.catch(() => loaded.delete(name));
    loaded.set(name, file);
  }
  return file;
}

export const apiDocsRoutes = new Hono<AppEnv>()
  .use('*', async (c, next) => {
    await next();
    c.header('Content-Security-Policy', CSP);
  })
  .use('/assets/*', compress())
  .get('/', (c) => c.html(PAGE))
  .get('/assets/init.js', (c) => c.body(INIT, 200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'no-cache' }))
  .get('/assets/swagger-ui.css', (c) => serveDist(c, 'swagger-ui.css'))
  .get('/assets/swagger-ui-bundle.js', (c) => serveDist(c, 'swagger-ui-bundle.js'));

async function serveDist(c: Context<AppEnv>, name: string) {
  try {
    return c.body(await distFile(name), 200, { 'Content-Type': DIST_FILES[name]!, 'Cache-Control': 'public, max-age=3600' });
  } catch {
    return c.json({ error: { code: 'unavailable', message: `the API reference files are not installed here (swagger-ui-dist/${name})` } }, 503);
  }
}
