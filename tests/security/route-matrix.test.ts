/**
 * Attacker's matrix: every served route × every credential (none, viewer/editor/admin by session and by API
 * token, runner, share token, revoked token, disabled user, expired session). A credential below a route's
 * minimum gets 401/403 (never 2xx, never 5xx, never a stack trace), runner and user tokens do not cross, a share
 * token reads only its run, cookie requests from another origin are refused, and every body is bounded.
 * Path parameters name real objects, so a 404 cannot hide a missing check.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { after, before, test } from 'node:test';
import { RUNNER_PROTOCOL_PREFIX } from '../../runners/protocol/v1.ts';
import { createApp } from '../../server/api/app.ts';
import { buildDeps } from '../../server/cli/deps.ts';
import { COLLAB_PATH_PREFIX } from '../../server/collab/ws.ts';
import { TEST_ADMIN_TOKEN } from '../helpers/api.ts';
import { buildAttackWorld, type AttackWorld, type Credential } from '../helpers/attack-world.ts';
import { COLLAB_ROUTE, concretePath, isUserAccess, openApiPath, ROUTE_ACCESS, userRank } from '../helpers/route-table.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const MiB = 1024 * 1024;
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const ROLE_RANK = { viewer: 1, editor: 2, admin: 3 } as const;
const STACK_TRACE = /\n\s+at |\.ts:\d+|node_modules|file:\/\//;

let server: TestServer;
let world: AttackWorld;
before(async () => {
  server = await startTestServer();
  world = await buildAttackWorld(server);
});
after(() => server.close());

interface Seen {
  status: number;
  body: string;
}

/**
 * One request on its own connection (node:http, not fetch): when the server answers 413 before reading an
 * oversized body and closes the connection, the answer is kept and the write error that follows is ignored.
 */
function send(method: string, path: string, headers: Record<string, string>, body?: string, options: { chunked?: boolean } = {}): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(body);
    const request = httpRequest(`${server.url}${path}`, {
      method,
      agent: false,
      headers: {
        ...headers,
        ...(payload === undefined
          ? {}
          : { 'content-type': 'application/json', ...(options.chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(payload.length) }) }),
      },
    });
    let answered = false;
    request.on('response', (response) => {
      answered = true;
      const parts: Buffer[] = [];
      response.on('data', (part: Buffer) => parts.push(part));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(parts).toString() }));
      response.on('error', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(parts).toString() }));
    });
    request.on('error', (error) => {
      if (!answered) reject(error);
    });
    // Chunked: no Content-Length to refuse up front, so the limit must hold while the body streams in.
    if (options.chunked && payload) for (let at = 0; at < payload.length && !answered; at += 64 * 1024) request.write(payload.subarray(at, at + 64 * 1024));
    request.end(options.chunked ? undefined : payload);
  });
}

const routesWith = (predicate: (key: string, access: string) => boolean) =>
  Object.entries(ROUTE_ACCESS)
    .filter(([key, access]) => predicate(key, access))
    .map(([key]) => key);
const methodOf = (key: string) => key.slice(0, key.indexOf(' '));
const bodyFor = (key: string) => (UNSAFE.has(methodOf(key)) ? '{}' : undefined);
const describe = (key: string, credential: Credential | string, seen: Seen) =>
  `${key} as ${typeof credential === 'string' ? credential : credential.name}: ${seen.status} ${seen.body.slice(0, 160)}`;

/** A refusal: 401 or 403, a JSON error, no stack trace. */
function refusalProblem(seen: Seen): string | undefined {
  if (seen.status !== 401 && seen.status !== 403) return 'expected 401 or 403';
  if (STACK_TRACE.test(seen.body)) return 'stack trace in the body';
  return undefined;
}

test('the matrix classifies exactly the routes the API serves', async () => {
  const document = (await send('GET', '/api/openapi.json', {})).body;
  const paths = (JSON.parse(document) as { paths: Record<string, Record<string, unknown>> }).paths;
  const openApiRoutes = Object.entries(paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`));
  const unclassifiedOpenApi = openApiRoutes.filter((key) => !(key in ROUTE_ACCESS));
  assert.deepEqual(unclassifiedOpenApi, [], 'OpenAPI operations missing from ROUTE_ACCESS');

  const deps = await buildDeps({ db: server.database.db, dataDir: server.database.dir, publicUrl: server.url, adminToken: TEST_ADMIN_TOKEN, env: {} });
  const served = new Set(
    createApp(deps)
      .routes.filter((route) => route.method !== 'ALL')
      .map((route) => `${route.method} ${openApiPath(route.path)}`),
  );
  for (const key of openApiRoutes) served.add(key);
  assert.deepEqual([...served].filter((key) => !(key in ROUTE_ACCESS)).sort(), [], 'served routes missing from ROUTE_ACCESS');
  assert.deepEqual(
    Object.keys(ROUTE_ACCESS)
      .filter((key) => !served.has(key))
      .sort(),
    [],
    'ROUTE_ACCESS lists routes that are no longer served',
  );
  assert.equal(RUNNER_PROTOCOL_PREFIX, '/api/runner/v1', 'the runner protocol moved: re-check its rows');
  assert.equal(`${COLLAB_PATH_PREFIX}{id}`, COLLAB_ROUTE.path);
});

test('user routes refuse every credential below their minimum role, with real path parameters', async () => {
  const problems: string[] = [];
  for (const key of routesWith((_, access) => isUserAccess(access as never))) {
    const needed = userRank(ROUTE_ACCESS[key] as never);
    const below = world.credentials.filter((c) => (c.role === null || c.runner || ROLE_RANK[c.role] < needed) && !c.stillAllowed?.includes(key));
    // HEAD runs the GET route in Hono, so it is refused the same way.
    const methods = methodOf(key) === 'GET' ? ['GET', 'HEAD'] : [methodOf(key)];
    await Promise.all(
      below.flatMap((credential) =>
        methods.map(async (method) => {
          const seen = await send(method, concretePath(key, world), credential.headers, bodyFor(key));
          const problem = refusalProblem(seen);
          if (problem) problems.push(`${problem}: ${describe(method === 'HEAD' ? `HEAD ${key.slice(4)}` : key, credential, seen)}`);
        }),
      ),
    );
  }
  assert.deepEqual(problems, []);
});

test('readable user routes answer their minimum credential (the matrix above is not vacuous)', async () => {
  const problems: string[] = [];
  for (const key of routesWith((key, access) => methodOf(key) === 'GET' && isUserAccess(access as never))) {
    const needed = userRank(ROUTE_ACCESS[key] as never);
    await Promise.all(
      world.credentials
        .filter((c) => c.role !== null && ROLE_RANK[c.role] >= needed)
        .map(async (credential) => {
          const seen = await send('GET', concretePath(key, world), credential.headers);
          const allowed = seen.status < 400 || (key === 'GET /api/runs/{id}/artifacts/download' && seen.status === 404);
          if (!allowed) problems.push(`expected success: ${describe(key, credential, seen)}`);
          for (const secret of [world.secretValue, world.environmentSecretValue])
            if (seen.body.includes(secret)) problems.push(`a secret value leaked: ${describe(key, credential, seen)}`);
        }),
    );
  }
  assert.deepEqual(problems, []);
});

test('runner-protocol routes refuse every user credential; user routes refuse the runner token', async () => {
  const problems: string[] = [];
  for (const key of routesWith((_, access) => access === 'runner')) {
    for (const credential of world.credentials.filter((c) => !c.runner)) {
      const seen = await send(methodOf(key), concretePath(key, world), credential.headers, bodyFor(key));
      if (seen.status !== 401 || STACK_TRACE.test(seen.body)) problems.push(`expected 401: ${describe(key, credential, seen)}`);
    }
  }
  assert.deepEqual(problems, []);
  const runner = world.byName('runner token');
  assert.equal((await send('GET', `${RUNNER_PROTOCOL_PREFIX}/jobs/${world.jobId}/cancel?wait=0`, runner.headers)).status, 200, 'the runner token itself works');
  // Registering needs a registration token: neither an admin's API token nor a runner token is one.
  for (const token of [TEST_ADMIN_TOKEN, runner.headers.authorization!.slice('Bearer '.length), world.shareToken]) {
    const seen = await send(
      'POST',
      `${RUNNER_PROTOCOL_PREFIX}/register`,
      { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      JSON.stringify({ registrationToken: token, name: 'intruder', labels: [] }),
    );
    assert.equal(seen.status, 401, describe('POST /api/runner/v1/register', 'a non-registration token', seen));
  }
  assert.equal((await send('GET', '/api/workflows', runner.headers)).status, 401);
});

test('a runner reaches only the jobs it holds', async () => {
  const registration = JSON.parse(
    (await send('POST', '/api/runner-tokens', world.byName('admin API token').headers, JSON.stringify({ labels: ['elsewhere'] }))).body,
  ) as { token: string };
  const registered = await send(
    'POST',
    `${RUNNER_PROTOCOL_PREFIX}/register`,
    {},
    JSON.stringify({ registrationToken: registration.token, name: 'other-runner', labels: ['elsewhere'] }),
  );
  assert.equal(registered.status, 201, registered.body);
  const other = { authorization: `Bearer ${(JSON.parse(registered.body) as { token: string }).token}` };
  const problems: string[] = [];
  for (const key of routesWith((key, access) => access === 'runner' && key.includes('{jobId}'))) {
    const body = key.endsWith('/logs')
      ? JSON.stringify({ chunks: [{ stepIndex: 0, seq: 99, data: Buffer.from('forged line').toString('base64') }] })
      : key.includes('/artifacts/')
        ? JSON.stringify({ key: 'a.tar', size: 1, sha256: '0'.repeat(64), uploadId: 'u', partNumber: 1, parts: [{ partNumber: 1, etag: '"1"' }] })
        : key.endsWith('/done') || key.includes('/steps/')
          ? JSON.stringify({ state: 'failed' })
          : bodyFor(key);
    const seen = await send(methodOf(key), concretePath(key, world), other, body);
    if (seen.status !== 409 || !seen.body.includes('job_not_held')) problems.push(`expected 409 job_not_held: ${describe(key, 'another runner', seen)}`);
  }
  assert.deepEqual(problems, []);
  const log = await send('GET', `/api/runs/${world.runId}/logs?step=say`, world.byName('admin API token').headers);
  assert.ok(!log.body.includes('forged line'), 'no line was appended to a job the runner does not hold');

  // Once revoked, its token opens no runner route at all.
  const { runnerId } = JSON.parse(registered.body) as { runnerId: string };
  assert.equal((await send('DELETE', `/api/runners/${runnerId}`, world.byName('admin API token').headers)).status, 204);
  const afterRevoke: string[] = [];
  for (const key of routesWith((_, access) => access === 'runner')) {
    const seen = await send(methodOf(key), concretePath(key, world), other, bodyFor(key));
    if (seen.status !== 401) afterRevoke.push(`expected 401: ${describe(key, 'a revoked runner', seen)}`);
  }
  assert.deepEqual(afterRevoke, []);
});

test('a share token reads its own run and its log, nothing else', async () => {
  const view = await send('GET', `/api/share/${world.shareToken}`, {});
  assert.equal(view.status, 200, view.body);
  const run = JSON.parse((await send('GET', `/api/runs/${world.runId}`, world.byName('admin API token').headers)).body) as { number: number };
  assert.deepEqual(JSON.parse(view.body).number, run.number, 'the shared view is of the shared run');
  assert.ok(!view.body.includes(world.otherRunId) && !view.body.includes(world.secretValue), 'the shared view names no other run and no secret');
  const log = await send('GET', `/api/share/${world.shareToken}/logs?step=say`, {});
  assert.equal(log.status, 200, log.body);
  assert.ok(log.body.includes(world.runLogText), log.body);
  assert.ok(!log.body.includes(world.otherRunLogText), "the other run's log of the same step does not leak");

  const share = world.byName('share token as Bearer');
  for (const path of [
    `/api/runs/${world.otherRunId}`,
    `/api/runs/${world.runId}`,
    `/api/runs/${world.otherRunId}/logs?step=say`,
    '/api/workflows',
    `/api/workflows/${world.workflowId}/secrets`,
    '/api/environments',
  ]) {
    const seen = await send('GET', path, share.headers);
    assert.equal(seen.status, 401, describe(`GET ${path}`, share, seen));
    // Not as a cookie either.
    assert.equal((await send('GET', path, { cookie: `flowyard_session=${world.shareToken}` })).status, 401, path);
  }
  for (const path of ['/api/share/not-a-real-token', `/api/share/${world.runId}`, `/api/share/${world.shareToken.slice(0, -1)}x`]) {
    assert.equal((await send('GET', path, world.byName('admin API token').headers)).status, 404, `${path}: no user credential makes a bad share token valid`);
  }
  const revoked = JSON.parse((await send('POST', `/api/runs/${world.runId}/shares`, world.byName('admin API token').headers, '{}')).body) as {
    id: string;
    token: string;
  };
  assert.equal((await send('DELETE', `/api/runs/${world.runId}/shares/${revoked.id}`, world.byName('admin API token').headers)).status, 204);
  assert.equal((await send('GET', `/api/share/${revoked.token}`, {})).status, 404, 'a revoked share link reads nothing');
  assert.equal((await send('GET', `/api/share/${revoked.token}/logs?step=say`, {})).status, 404);
});

test('a user manages only their own API tokens', async () => {
  const viewer = world.byName('viewer API token');
  const seen = await send('DELETE', `/api/tokens/${world.editorTokenId}`, viewer.headers);
  assert.equal(seen.status, 404, seen.body);
  assert.equal((await send('GET', '/api/auth/me', world.byName('editor API token').headers)).status, 200, "the editor's token still works");
});

test('cookie-authenticated unsafe requests from another origin are refused (CSRF)', async () => {
  const admin = world.byName('admin session');
  const forged: Record<string, Record<string, string>> = {
    'no Origin': { cookie: admin.cookie! },
    'another Origin': { cookie: admin.cookie!, origin: 'https://evil.example' },
    'null Origin': { cookie: admin.cookie!, origin: 'null' },
    'cross-site fetch metadata': { cookie: admin.cookie!, 'sec-fetch-site': 'cross-site' },
  };
  const problems: string[] = [];
  for (const key of routesWith((key, access) => UNSAFE.has(methodOf(key)) && isUserAccess(access as never))) {
    await Promise.all(
      Object.entries(forged).map(async ([how, headers]) => {
        const seen = await send(methodOf(key), concretePath(key, world), headers, bodyFor(key));
        if (seen.status !== 403 || !seen.body.includes('csrf_rejected')) problems.push(`expected 403 csrf_rejected: ${describe(key, how, seen)}`);
      }),
    );
  }
  assert.deepEqual(problems, []);
  assert.equal((await send('GET', '/api/auth/me', { cookie: admin.cookie! })).status, 200, 'the session itself is still valid');
});

test('blob URLs need their signature whoever asks; a signed upload is held to its signed size', async () => {
  const blobPath = concretePath('GET /api/blobs/{storageKey}', world);
  for (const credential of world.credentials) {
    for (const method of ['GET', 'PUT']) {
      const seen = await send(method, blobPath, credential.headers, method === 'PUT' ? 'x' : undefined);
      assert.equal(seen.status, 403, describe(`${method} /api/blobs/{storageKey}`, credential, seen));
    }
  }
  const content = Buffer.from('sixteen bytes!!!');
  const runner = world.byName('runner token');
  const signed = await send(
    'POST',
    `${RUNNER_PROTOCOL_PREFIX}/jobs/${world.jobId}/artifacts/upload-url`,
    runner.headers,
    JSON.stringify({ key: 'a.tar', size: content.length, sha256: createHash('sha256').update(content).digest('hex') }),
  );
  assert.equal(signed.status, 200, signed.body);
  const url = new URL((JSON.parse(signed.body) as { url: string }).url);
  const tampered = new URL(url);
  for (const [name, value] of url.searchParams)
    if (/sig/i.test(name))
      tampered.searchParams.set(
        name,
        value.replace(/.$/, (c) => (c === 'a' ? 'b' : 'a')),
      );
  assert.equal((await send('PUT', tampered.pathname + tampered.search, {}, content.toString())).status, 403, 'a tampered signature is refused');
  for (const chunked of [false, true]) {
    const huge = await send('PUT', url.pathname + url.search, {}, 'x'.repeat(2 * MiB), { chunked });
    assert.equal(huge.status, 413, `${chunked ? 'chunked' : 'with Content-Length'}: ${huge.body}`);
  }
});

test('webhook deliveries need the HMAC signature, whatever else the caller holds', async () => {
  for (const credential of world.credentials) {
    const headers = {
      ...credential.headers,
      'x-flowyard-delivery': `matrix-${credential.name}`,
      'x-flowyard-timestamp': String(Math.floor(Date.now() / 1000)),
      'x-flowyard-signature': 'sha256=00',
    };
    const post = await send('POST', world.hookPath, headers, '{"ref":"main"}');
    assert.equal(post.status, 401, describe('POST /hooks/*', credential, post));
    // The hook listens for POST: other methods are refused before any signature could matter.
    const put = await send('PUT', world.hookPath, headers, '{"ref":"main"}');
    assert.ok(put.status >= 400 && put.status < 500, describe('PUT /hooks/*', credential, put));
    const get = await send('GET', `${world.hookPath}?ref=main`, headers);
    assert.ok(get.status >= 400 && get.status < 500, describe('GET /hooks/*', credential, get));
  }
});

/** The status the co-editing WebSocket handshake answers (101 when it upgrades). */
function upgradeStatus(path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${server.url}${path}`, {
      headers: { ...headers, connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' },
    });
    request.on('upgrade', (_response, socket) => {
      socket.destroy();
      resolve(101);
    });
    request.on('response', (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('error', reject);
    request.end();
  });
}

test('the co-editing WebSocket admits editors only, and cookies only from our origin', async () => {
  const path = `${COLLAB_PATH_PREFIX}${world.workflowId}`;
  // The session awaiting a forced password change is covered by collab-socket.test.ts.
  for (const credential of world.credentials.filter((c) => !c.stillAllowed)) {
    const status = await upgradeStatus(path, credential.headers);
    const allowed = credential.role !== null && !credential.runner && ROLE_RANK[credential.role] >= ROLE_RANK.editor;
    if (allowed) assert.equal(status, 101, `${credential.name} may co-edit`);
    else assert.ok(status === 401 || status === 403, `${credential.name}: ${status}`);
  }
  const editor = world.byName('editor session');
  assert.equal(await upgradeStatus(path, { cookie: editor.cookie!, origin: 'https://evil.example' }), 401, 'a cross-site handshake with the editor cookie');
});

/** OpenAPI operations that declare a request body. */
async function operationsWithBodies(): Promise<string[]> {
  const paths = (JSON.parse((await send('GET', '/api/openapi.json', {})).body) as { paths: Record<string, Record<string, { requestBody?: unknown }>> }).paths;
  return Object.entries(paths).flatMap(([path, operations]) =>
    Object.entries(operations)
      // Binary log frames take no JSON; tests/api/log-frames.test.ts sends them malformed frames and other content types.
      .filter(([, operation]) => operation.requestBody && !path.endsWith('/log-frames'))
      .map(([method]) => `${method.toUpperCase()} ${path}`),
  );
}

test('every unsafe route answers a 2 MiB JSON body with 413, before any credential is checked', async () => {
  const problems: string[] = [];
  const huge = JSON.stringify({ padding: 'x'.repeat(2 * MiB) });
  const credentialFor = (key: string) => (ROUTE_ACCESS[key] === 'runner' ? world.byName('runner token') : world.byName('admin API token'));
  for (const key of routesWith((key, access) => UNSAFE.has(methodOf(key)) && access !== 'signed-url')) {
    for (const [who, headers] of [
      [credentialFor(key).name, credentialFor(key).headers],
      ['anonymous', {}],
    ] as const) {
      const seen = await send(methodOf(key), concretePath(key, world), headers, huge);
      if (seen.status !== 413 || !seen.body.includes('too_large')) problems.push(`expected 413: ${describe(key, who, seen)}`);
    }
  }
  // Without a Content-Length the limit holds while the body streams in, on every route that reads a body.
  for (const key of [...(await operationsWithBodies()), 'POST /hooks/*', 'PUT /hooks/*']) {
    const seen = await send(methodOf(key), concretePath(key, world), credentialFor(key).headers, huge, { chunked: true });
    if (seen.status !== 413 || !seen.body.includes('too_large')) problems.push(`expected 413: ${describe(key, `${credentialFor(key).name}, chunked`, seen)}`);
  }
  assert.deepEqual(problems, []);
});

test('the runner log route is bounded by the body limit and by its chunk count', async () => {
  const runner = world.byName('runner token');
  const chunks = Array.from({ length: 1001 }, (_, seq) => ({ stepIndex: 0, seq: 1000 + seq, data: '' }));
  const seen = await send('POST', `${RUNNER_PROTOCOL_PREFIX}/jobs/${world.jobId}/logs`, runner.headers, JSON.stringify({ chunks }));
  assert.equal(seen.status, 400, seen.body);
  assert.match(seen.body, /chunks/);
});

test('malformed JSON gets 400 with a clear message on every route that takes a body', async () => {
  const withBodies = await operationsWithBodies();
  assert.ok(withBodies.length >= 20, `found only ${withBodies.length} routes with bodies`);
  const problems: string[] = [];
  for (const key of withBodies) {
    const credential = ROUTE_ACCESS[key] === 'runner' ? world.byName('runner token') : world.byName('admin API token');
    const seen = await send(methodOf(key), concretePath(key, world), credential.headers, '{"name": "unterminated');
    const message = seen.status === 400 ? ((JSON.parse(seen.body) as { error?: { message?: string } }).error?.message ?? '') : '';
    if (seen.status !== 400 || !/json/i.test(message) || STACK_TRACE.test(seen.body))
      problems.push(`expected 400 naming JSON: ${describe(key, credential, seen)}`);
  }
  assert.deepEqual(problems, []);
});

test('a gate nobody is listed for is decided by editors, not viewers', async () => {
  const gateState = async () =>
    (JSON.parse((await send('GET', `/api/runs/${world.gatedRunId}`, world.byName('admin API token').headers)).body) as { steps: { state: string }[] }).steps[1]!
      .state;
  // Waiting for a decision, so the refusals below are the approver check's, not a 409.
  assert.equal(await gateState(), 'waiting');
  const path = `/api/runs/${world.gatedRunId}/gates/approval/approve`;
  for (const name of ['viewer session', 'viewer API token']) {
    const seen = await send('POST', path, world.byName(name).headers, '{}');
    assert.equal(seen.status, 403, describe('POST /api/runs/{id}/gates/{step}/{decision}', name, seen));
  }
  for (const credential of world.credentials.filter((c) => c.role === null)) {
    const seen = await send('POST', path, credential.headers, '{}');
    assert.equal(refusalProblem(seen), undefined, describe('POST /api/runs/{id}/gates/{step}/{decision}', credential, seen));
  }
  assert.equal(await gateState(), 'waiting', 'nobody decided it');
});

test('dot segments, encoded slashes and case tricks do not turn a public prefix into a way around sign-in', async () => {
  const problems: string[] = [];
  const tricks = [
    '/api/share/x/../../users',
    '/api/share/x/..%2F..%2Fusers',
    '/api/schema/%2e%2e/users',
    '/api/schema/..%2fusers',
    '/api/blobs/../users',
    '/api/blobs/..%2F..%2Fapi%2Fusers',
    '/api/runner/v1/../../users',
    '/api/runner/v1/%2e%2e/%2e%2e/workflows',
    '/api/openapi.json/../users',
    '/API/users',
    '/api/users/',
    '/api//users',
    `/api/share/${world.shareToken}/../../runs/${world.otherRunId}`,
  ];
  for (const path of tricks) {
    const seen = await send('GET', path, {});
    if (seen.status < 400 || seen.status >= 500 || seen.body.includes('victim@example.com') || seen.body.includes(world.otherRunLogText)) {
      problems.push(`expected a refusal: ${describe(`GET ${path}`, 'anonymous', seen)}`);
    }
  }
  assert.deepEqual(problems, []);
});
