import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { ApiCallError, RunnerApi } from '../../runners/daemon/client.ts';
import { RUNNER_PROTOCOL_PREFIX, RUNNER_PROTOCOL_VERSION } from '../../runners/protocol/v1.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;

before(async () => {
  server = await startTestServer();
});
after(() => server.close());

const identity = { name: 'versioned', labels: ['protocol-test'] };

test('a runner of another protocol is refused at register with code protocol_version, and its token is not spent', async () => {
  const token = await server.registrationToken();
  const refused = await new RunnerApi(server.url).register({ registrationToken: token, ...identity, protocol: RUNNER_PROTOCOL_VERSION + 1 }).then(
    () => assert.fail('a v2 runner was registered'),
    (error: unknown) => error,
  );
  assert.ok(refused instanceof ApiCallError);
  assert.equal(refused.status, 400);
  assert.equal(refused.code, 'protocol_version');
  assert.match(refused.message, /this runner speaks protocol v2; the server speaks v1 — upgrade the server/);
  assert.equal(refused.transient, false, 'retrying cannot help');

  const registered = await new RunnerApi(server.url).register({ registrationToken: token, ...identity });
  assert.ok(registered.token, 'the same one-time token still registers a runner of this protocol');
});

test("the refusal comes before the body is checked against this protocol's schema", async () => {
  const response = await fetch(`${server.url}${RUNNER_PROTOCOL_PREFIX}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ protocol: 7, enrolment: { secret: 'x' } }),
  });
  assert.equal(response.status, 400);
  const body = (await response.json()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, 'protocol_version');
  assert.equal(body.error.message, 'this runner speaks protocol v7; the server speaks v1 — upgrade the server');
});

test('a runner that names no protocol (one from before the field) and one that names v1 are both served', async () => {
  const silent = await fetch(`${server.url}${RUNNER_PROTOCOL_PREFIX}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ registrationToken: await server.registrationToken(), ...identity }),
  });
  assert.equal(silent.status, 201, await silent.clone().text());
  const explicit = await new RunnerApi(server.url).register({ registrationToken: await server.registrationToken(), ...identity, protocol: 1 });
  assert.match(explicit.runnerId, /\S/);
});

test('a protocol that is not a number is a validation error naming the field', async () => {
  const response = await fetch(`${server.url}${RUNNER_PROTOCOL_PREFIX}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ registrationToken: await server.registrationToken(), ...identity, protocol: 'two' }),
  });
  assert.equal(response.status, 400);
  const body = (await response.json()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, 'invalid_request');
  assert.match(body.error.message, /protocol/);
});

test('an answer of the wrong shape is a clear, permanent error on the runner', async () => {
  const impostor: Server = createServer((request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(request.url?.endsWith('/heartbeat') ? JSON.stringify({ cancel: 'everything' }) : 'not json');
  });
  await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
  try {
    const api = new RunnerApi(`http://127.0.0.1:${(impostor.address() as AddressInfo).port}`, 'fy_runner_token');
    const wrongShape = await api.heartbeat([]).then(
      () => assert.fail('a wrong answer was accepted'),
      (error: unknown) => error,
    );
    assert.ok(wrongShape instanceof ApiCallError);
    assert.equal(wrongShape.code, 'unexpected_answer');
    assert.equal(wrongShape.transient, false);
    assert.match(wrongShape.message, /POST \/heartbeat: the server answered a shape protocol v1 does not allow/);
    assert.match(wrongShape.message, /cancelJobs/);
    await assert.rejects(
      api.renewLease('job-1'),
      (error: unknown) => error instanceof ApiCallError && error.code === 'unexpected_answer' && /not JSON/.test(error.message),
    );
  } finally {
    await new Promise((resolve) => impostor.close(resolve));
  }
});
