/**
 * GET /api/docs on a real server: the page, its Swagger UI files served by this server (no CDN), the HTML
 * pointing at the local /api/openapi.json, a strict CSP with no inline script, no sign-in needed, and
 * nothing of the swagger-ui-dist package reachable beyond the files listed.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.close());

test('the page is served without a credential and references only local files and the local spec', async () => {
  const page = await fetch(`${server.url}/api/docs`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  const html = await page.text();
  assert.match(html, /data-spec-url="\/api\/openapi\.json"/);
  const references = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!).filter((r) => r !== 'data:,');
  assert.deepEqual(references.sort(), ['/api/docs/assets/init.js', '/api/docs/assets/swagger-ui-bundle.js', '/api/docs/assets/swagger-ui.css']);
  assert.ok(!/<script>|<script [^>]*>[^<]/.test(html), 'no inline script');
  assert.ok(!/https?:\/\//.test(html), 'nothing from another host');

  const csp = page.headers.get('content-security-policy') ?? '';
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.match(csp, /connect-src 'self'/);
  assert.ok(!csp.includes('unsafe-eval'));
});

test('the assets are the swagger-ui-dist files, with their types; the spec they load is served', async () => {
  const bundle = await fetch(`${server.url}/api/docs/assets/swagger-ui-bundle.js`);
  assert.equal(bundle.status, 200);
  assert.match(bundle.headers.get('content-type') ?? '', /^text\/javascript/);
  assert.ok((await bundle.text()).includes('SwaggerUIBundle'));
  const css = await fetch(`${server.url}/api/docs/assets/swagger-ui.css`);
  assert.equal(css.status, 200);
  assert.match(css.headers.get('content-type') ?? '', /^text\/css/);
  assert.ok((await css.text()).includes('.swagger-ui'));
  const init = await (await fetch(`${server.url}/api/docs/assets/init.js`)).text();
  assert.match(init, /validatorUrl: null/, 'the document is not sent to an outside validator');
  const compressed = await fetch(`${server.url}/api/docs/assets/swagger-ui-bundle.js`, { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(compressed.headers.get('content-encoding'), 'gzip');

  const spec = await fetch(`${server.url}/api/openapi.json`);
  assert.equal(spec.status, 200);
  assert.ok(Object.keys(((await spec.json()) as { paths: object }).paths).length > 20);
});

test('other files of the package and path tricks are not served', async () => {
  for (const path of [
    '/api/docs/assets/package.json',
    '/api/docs/assets/index.html',
    '/api/docs/assets/../../../package.json',
    '/api/docs/assets/%2e%2e/%2e%2e/package.json',
    '/api/docs/assets/swagger-ui-bundle.js.map',
  ]) {
    const response = await fetch(`${server.url}${path}`);
    assert.ok(response.status === 401 || response.status === 404, `${path}: ${response.status}`);
    assert.ok(!(await response.text()).includes('"swagger-ui-dist"'), `${path} leaks the package`);
  }
});
