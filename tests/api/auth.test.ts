import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { OpenAPIHono } from '@hono/zod-openapi';
import { openDatabase, type DbHandle } from '../../db/client.ts';
import { migrateDatabase } from '../../db/migrate.ts';
import { authUnlessPublic, requireRole } from '../../server/api/middleware/auth.ts';
import { authRoutes } from '../../server/api/routes/auth.ts';
import { tokenRoutes } from '../../server/api/routes/tokens.ts';
import type { AppEnv } from '../../server/api/env.ts';
import type { ServerConfig } from '../../server/config.ts';
import { createUser, ensureFirstAdmin } from '../../server/services/auth.ts';
import { secretsKeyFrom } from '../../server/services/secrets.ts';
import { createLocalStore } from '../../server/services/artifacts/index.ts';
import { createLocalEventBus } from '../../server/services/events.ts';

const ADMIN_TOKEN = 'test-admin-token-value';
const PUBLIC_URL = 'https://flowyard.example';
const OWN_ORIGIN = 'http://localhost'; // what `app.request('/path')` uses

let dir: string;
let handle: DbHandle;
let secretsKey: CryptoKey;

/** The app as the lead wires it: deps on the context, auth on /api/* except public paths, routers below. */
function buildApp(config: Partial<ServerConfig> = {}) {
  const app = new OpenAPIHono<AppEnv>();
  const deps = {
    db: handle.db,
    secretsKey,
    artifacts: createLocalStore({ dir: join(dir, 'artifacts'), publicUrl: PUBLIC_URL, signingKey: 'test' }),
    events: createLocalEventBus(),
    testConnection: async () => ({ ok: false, message: 'not used here' }),
    config: { publicUrl: PUBLIC_URL, adminToken: ADMIN_TOKEN, secureCookies: false, leaseMs: 30_000, ...config },
  };
  app.use('*', async (c, next) => {
    c.set('deps', deps);
    await next();
  });
  app.use('/api/*', authUnlessPublic);
  app.route('/api/auth', authRoutes);
  app.route('/api/tokens', tokenRoutes);
  app.get('/api/admin-only', requireRole('admin'), (c) => c.json({ ok: true }));
  app.get('/api/schema/workflow.json', (c) => c.json({ schema: true }));
  return app;
}

const jsonBody = (body: unknown, headers: Record<string, string> = {}) => ({
  method: 'POST',
  headers: { 'Content-Type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

async function login(app: ReturnType<typeof buildApp>, email: string, password: string) {
  const response = await app.request('/api/auth/login', jsonBody({ email, password }));
  const setCookie = response.headers.get('set-cookie') ?? '';
  return { response, setCookie, cookie: setCookie.split(';')[0]! };
}

before(async () => {
  secretsKey = await secretsKeyFrom('test-secret');
  dir = mkdtempSync(join(tmpdir(), 'flowyard-auth-api-'));
  handle = await openDatabase('file:' + join(dir, 'test.db'));
  await migrateDatabase(handle.db);
  await ensureFirstAdmin(handle.db, { adminToken: ADMIN_TOKEN });
  await createUser(handle.db, { email: 'vic@example.com', name: 'Vic', role: 'viewer', password: 'viewer password' });
});

after(() => {
  handle.close();
  rmSync(dir, { recursive: true, force: true });
});

test('no credential → 401 JSON; public paths stay open', async () => {
  const app = buildApp();
  const response = await app.request('/api/auth/me');
  assert.equal(response.status, 401);
  const body = (await response.json()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, 'unauthorized');
  assert.ok(body.error.message.length > 0);
  assert.equal((await app.request('/api/tokens', { headers: { Authorization: 'Bearer nope' } })).status, 401);
  assert.equal((await app.request('/api/tokens', { headers: { Authorization: 'Basic abc' } })).status, 401);
  assert.equal((await app.request('/api/schema/workflow.json')).status, 200);
});

test('login sets an HttpOnly SameSite=Lax cookie; wrong credentials give the same 401', async () => {
  const app = buildApp();
  const { response, setCookie } = await login(app, 'VIC@example.com', 'viewer password');
  assert.equal(response.status, 200);
  const { user } = (await response.json()) as { user: Record<string, unknown> };
  assert.deepEqual(Object.keys(user).sort(), ['email', 'id', 'mustChangePassword', 'name', 'role']);
  assert.deepEqual([user.email, user.name, user.role, user.mustChangePassword], ['vic@example.com', 'Vic', 'viewer', false]);
  assert.match(setCookie, /^flowyard_session=fy_sess_[\w-]+;/);
  assert.match(setCookie, /HttpOnly/);
  assert.match(setCookie, /SameSite=Lax/);
  assert.match(setCookie, /Path=\//);
  assert.doesNotMatch(setCookie, /Secure/);

  const wrongPassword = await login(app, 'vic@example.com', 'not the password');
  const unknownEmail = await login(app, 'nobody@example.com', 'viewer password');
  assert.equal(wrongPassword.response.status, 401);
  assert.equal(unknownEmail.response.status, 401);
  assert.deepEqual(await wrongPassword.response.json(), await unknownEmail.response.json());
  assert.equal(wrongPassword.setCookie, '');

  const secure = await login(buildApp({ secureCookies: true }), 'vic@example.com', 'viewer password');
  assert.match(secure.setCookie, /Secure/);
});

test('cookie auth: GET works; unsafe methods need a same-origin Origin', async () => {
  const app = buildApp();
  const { cookie } = await login(app, 'vic@example.com', 'viewer password');
  const me = await app.request('/api/auth/me', { headers: { Cookie: cookie } });
  assert.equal(me.status, 200);
  assert.equal(((await me.json()) as { user: { email: string } }).user.email, 'vic@example.com');

  const create = (headers: Record<string, string>) => app.request('/api/tokens', jsonBody({ name: 'cli' }, { Cookie: cookie, ...headers }));
  const noOrigin = await create({});
  assert.equal(noOrigin.status, 403);
  assert.equal(((await noOrigin.json()) as { error: { code: string } }).error.code, 'csrf_rejected');
  assert.equal((await create({ Origin: 'https://evil.example' })).status, 403);
  assert.equal((await create({ Origin: OWN_ORIGIN })).status, 201);
  assert.equal((await create({ Origin: PUBLIC_URL })).status, 201);
  assert.equal((await create({ 'Sec-Fetch-Site': 'same-origin' })).status, 201);
});

test('Bearer auth: the admin token works and unsafe methods need no Origin', async () => {
  const app = buildApp();
  const auth = { Authorization: `Bearer ${ADMIN_TOKEN}` };
  const me = await app.request('/api/auth/me', { headers: auth });
  assert.deepEqual(((await me.json()) as { user: { email: string; role: string } }).user.role, 'admin');
  assert.equal((await app.request('/api/tokens', jsonBody({ name: 'automation' }, auth))).status, 201);
});

test('token create shows the token once, list never does, revoke refuses it at once', async () => {
  const app = buildApp();
  const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };
  const created = await app.request('/api/tokens', jsonBody({ name: 'deploy', expiresInDays: 30 }, admin));
  assert.equal(created.status, 201);
  const { id, name, token } = (await created.json()) as { id: string; name: string; token: string };
  assert.equal(name, 'deploy');
  assert.match(token, /^fy_pat_/);

  const listResponse = await app.request('/api/tokens', { headers: admin });
  const listText = await listResponse.text();
  assert.ok(!listText.includes(token), 'list never shows a token');
  const { tokens } = JSON.parse(listText) as { tokens: Array<Record<string, unknown>> };
  const listed = tokens.find((entry) => entry.id === id);
  assert.equal(listed?.displayPrefix, token.slice(0, 12));
  assert.equal(typeof listed?.expiresAt, 'string');
  assert.equal(listed?.revokedAt, null);

  const asNewToken = { Authorization: `Bearer ${token}` };
  assert.equal((await app.request('/api/auth/me', { headers: asNewToken })).status, 200);
  const { cookie } = await login(app, 'vic@example.com', 'viewer password');
  const notYours = await app.request(`/api/tokens/${id}`, { method: 'DELETE', headers: { Cookie: cookie, Origin: OWN_ORIGIN } });
  assert.equal(notYours.status, 404);
  assert.equal((await app.request(`/api/tokens/${id}`, { method: 'DELETE', headers: admin })).status, 204);
  assert.equal((await app.request('/api/auth/me', { headers: asNewToken })).status, 401);
});

test('invalid body → 400 invalid_request with issues', async () => {
  const app = buildApp();
  const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };
  const response = await app.request('/api/tokens', jsonBody({ name: '', expiresInDays: 'soon' }, admin));
  assert.equal(response.status, 400);
  const { error } = (await response.json()) as { error: { code: string; message: string; issues: Array<{ path: string; message: string }> } };
  assert.equal(error.code, 'invalid_request');
  assert.deepEqual(error.issues.map((issue) => issue.path).sort(), ['expiresInDays', 'name']);
  assert.match(error.message, /name/);

  const missingPassword = await app.request('/api/auth/login', jsonBody({ email: 'vic@example.com' }));
  assert.equal(missingPassword.status, 400);
  assert.equal(((await missingPassword.json()) as { error: { issues: Array<{ path: string }> } }).error.issues[0]?.path, 'password');

  const malformed = await app.request('/api/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"email":' });
  assert.equal(malformed.status, 400);
});

test('requireRole: 403 with a clear message below the required role', async () => {
  const app = buildApp();
  const { cookie } = await login(app, 'vic@example.com', 'viewer password');
  const denied = await app.request('/api/admin-only', { headers: { Cookie: cookie } });
  assert.equal(denied.status, 403);
  const { error } = (await denied.json()) as { error: { code: string; message: string } };
  assert.equal(error.code, 'forbidden');
  assert.match(error.message, /admin role/);
  assert.equal((await app.request('/api/admin-only', { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).status, 200);
});

test('logout deletes the session and clears the cookie', async () => {
  const app = buildApp();
  const { cookie } = await login(app, 'vic@example.com', 'viewer password');
  const logout = await app.request('/api/auth/logout', { method: 'POST', headers: { Cookie: cookie, Origin: OWN_ORIGIN } });
  assert.equal(logout.status, 204);
  assert.match(logout.headers.get('set-cookie') ?? '', /^flowyard_session=;.*Max-Age=0/);
  assert.equal((await app.request('/api/auth/me', { headers: { Cookie: cookie } })).status, 401);
});

test('routes appear in the OpenAPI document', () => {
  const document = buildApp().getOpenAPIDocument({ openapi: '3.0.0', info: { title: 'Flowyard', version: '0' } });
  for (const path of ['/api/auth/login', '/api/auth/logout', '/api/auth/me', '/api/tokens', '/api/tokens/{id}']) {
    assert.ok(document.paths?.[path], `${path} documented`);
  }
});
