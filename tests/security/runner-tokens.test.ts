import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { RunnerApi } from '../../runners/daemon/client.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { json, publishWorkflow, startRun } from '../helpers/runs.ts';

let server: TestServer;

before(async () => {
  server = await startTestServer();
});
after(() => server.close());

async function createToken(options: { labels?: string[]; reusable?: boolean; expiresInHours?: number } = {}) {
  const response = await server.call('POST', '/api/runner-tokens', { description: 'test', ...options });
  assert.equal(response.status, 201, await response.clone().text());
  return (await response.json()) as { id: string; token: string; expiresAt: string; labels: string[]; reusable: boolean; command: string };
}

/** POST /register as a runner would; resolves to the HTTP status and the answer. */
async function register(registrationToken: string, labels?: string[]) {
  const response = await fetch(`${server.url}/api/runner/v1/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ registrationToken, name: 'runner', ...(labels ? { labels } : {}) }),
  });
  return { status: response.status, body: await json(response) };
}

async function tokenState(id: string): Promise<string> {
  const listed = await json(await server.call('GET', '/api/runner-tokens'));
  return listed.tokens.find((t: any) => t.id === id).state;
}

test('a registration token is one-time and expires after 24 hours by default', async () => {
  const created = await createToken();
  assert.equal(created.reusable, false);
  const lifetime = Date.parse(created.expiresAt) - Date.now();
  assert.ok(lifetime > 23.9 * 3_600_000 && lifetime <= 24 * 3_600_000, `expires in ${lifetime} ms`);
  assert.equal((await register(created.token, ['linux'])).status, 201);
  const again = await register(created.token, ['linux']);
  assert.equal(again.status, 401);
  assert.match(again.body.error.message, /already used/);
  assert.equal(await tokenState(created.id), 'used');
});

test('two registrations racing with one one-time token: exactly one wins', async () => {
  const created = await createToken();
  const answers = await Promise.all(Array.from({ length: 6 }, () => register(created.token)));
  assert.deepEqual(answers.map((a) => a.status).sort(), [201, 401, 401, 401, 401, 401]);
  const runners = await server.database.client.execute(
    "select count(*) as n from runners where name = 'runner' and created_at >= (select created_at from runner_registration_tokens where id = ?)",
    [created.id],
  );
  assert.equal(Number(runners.rows[0]!.n), 1);
});

test('an expired token is refused', async () => {
  const created = await createToken({ expiresInHours: 1 });
  await server.database.client.execute('update runner_registration_tokens set expires_at = ? where id = ?', [Date.now() - 1000, created.id]);
  assert.equal((await register(created.token)).status, 401);
  assert.equal(await tokenState(created.id), 'expired');
});

test('a revoked token is refused; revoking twice or an unknown id answers 404', async () => {
  const created = await createToken({ reusable: true });
  assert.equal((await server.call('DELETE', `/api/runner-tokens/${created.id}`)).status, 204);
  assert.equal((await register(created.token)).status, 401);
  assert.equal(await tokenState(created.id), 'revoked');
  assert.equal((await server.call('DELETE', `/api/runner-tokens/${created.id}`)).status, 404);
  assert.equal((await server.call('DELETE', '/api/runner-tokens/nope')).status, 404);
  const listed = JSON.stringify(await json(await server.call('GET', '/api/runner-tokens')));
  assert.ok(!listed.includes(created.token) && !listed.includes('token_hash') && !listed.includes('tokenHash'), 'the list never shows a token');
});

test("a runner cannot register with labels its token does not grant; with none it gets the token's", async () => {
  const created = await createToken({ labels: ['linux', 'arm64'] });
  assert.match(created.command, /--labels arm64,linux$/);
  const refused = await register(created.token, ['linux', 'docker', 'gpu']);
  assert.equal(refused.status, 403);
  assert.match(refused.body.error.message, /does not grant the labels docker, gpu/);
  const granted = await register(created.token);
  assert.equal(granted.status, 201, 'the refusal did not spend the token');
  assert.deepEqual(granted.body.labels, ['arm64', 'linux']);
  const listed = await json(await server.call('GET', '/api/runners'));
  assert.deepEqual(listed.runners.find((r: any) => r.id === granted.body.runnerId).labels, ['arm64', 'linux']);
});

test('a reusable token registers a fleet until it is revoked', async () => {
  const created = await createToken({ reusable: true, labels: ['fleet'] });
  for (let i = 0; i < 3; i++) assert.equal((await register(created.token, ['fleet'])).status, 201);
  assert.equal(await tokenState(created.id), 'active');
  assert.equal((await server.call('DELETE', `/api/runner-tokens/${created.id}`)).status, 204);
  assert.equal((await register(created.token, ['fleet'])).status, 401);
});

test('a runner cannot claim a job that needs labels it was not granted', async () => {
  const id = await publishWorkflow(
    server,
    'needs-docker',
    `name: needs-docker
pipelines:
  main:
    runs_on: [linux, docker]
    steps:
      - name: hi
        type: step.log
        config: { message: hi }
`,
  );
  const run = await startRun(server, id);
  const narrow = await register((await createToken({ labels: ['linux'] })).token);
  assert.deepEqual(narrow.body.labels, ['linux']);
  const api = new RunnerApi(server.url, narrow.body.token);
  assert.equal(await api.call('POST', '/claim', { waitSeconds: 1 }), null, 'no job for a runner without the docker label');
  const wide = await register((await createToken({ labels: ['linux', 'docker'] })).token);
  const claimed = await new RunnerApi(server.url, wide.body.token).call<{ job: { runId: string } }>('POST', '/claim', { waitSeconds: 1 });
  assert.equal(claimed?.job.runId, run.id, 'a runner granted both labels gets it');
});

test('bad token options are refused with a clear error', async () => {
  const response = await server.call('POST', '/api/runner-tokens', { labels: ['has space'] });
  assert.equal(response.status, 400);
  assert.match(await response.text(), /labels/);
});
