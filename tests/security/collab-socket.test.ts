/**
 * Attacks on the co-editing WebSocket (/api/collab/<workflow id>), which is served outside the Hono app:
 * - an editor sends one frame over the 4 MiB message limit. The ws library refuses it with an 'error' event on
 *   the server's socket; with no listener that is an uncaught exception, which ends the API process for everyone.
 *   Expected: the frame closes that connection (1009) and nothing else.
 * - someone signs in with a printed (reset) password, perhaps read from a log. Every API route but changing the
 *   password answers 403 until it is changed; the WebSocket handshake must refuse that session too.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { createUser, resetPassword } from '../../server/services/auth.ts';
import { TEST_ADMIN_TOKEN } from '../helpers/api.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const MiB = 1024 * 1024;
let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.close());

async function newWorkflow(name: string): Promise<string> {
  const created = await server.call('POST', '/api/workflows', {
    name,
    yaml: `name: ${name}\npipelines:\n  build:\n    steps:\n      - name: say\n        type: step.log\n        config: { message: hi }\n`,
  });
  assert.equal(created.status, 201, await created.clone().text());
  return ((await created.json()) as { id: string }).id;
}

test('a session whose password must be changed first cannot co-edit', async () => {
  const id = await newWorkflow('pending');
  await createUser(server.database.db, { email: 'pending@example.com', name: 'pending', role: 'admin', password: 'a long enough password' });
  const printed = await resetPassword(server.database.db, 'pending@example.com');
  const login = await fetch(`${server.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'pending@example.com', password: printed }),
  });
  assert.equal(login.status, 200);
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
  assert.equal((await fetch(`${server.url}/api/workflows/${id}`, { headers: { cookie } })).status, 403, 'the REST API refuses it');
  const socket = new WebSocket(`ws://127.0.0.1:${server.port}/api/collab/${id}`, { headers: { cookie, origin: server.url } });
  const status = await new Promise<number>((resolve) => {
    socket.on('open', () => {
      socket.terminate();
      resolve(101);
    });
    socket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
    socket.on('error', () => {});
  });
  assert.equal(status, 403);
});

test('a co-editing frame over the message limit closes its connection and leaves the server up', async () => {
  const id = await newWorkflow('frames');
  const socket = new WebSocket(`ws://127.0.0.1:${server.port}/api/collab/${id}`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
  const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
  socket.on('error', () => {});
  await new Promise((resolve) => socket.once('open', resolve));
  socket.send(Buffer.alloc(5 * MiB));
  assert.equal(await closed, 1009, 'closed as "message too big"');
  assert.equal((await fetch(`${server.url}/healthz`)).status, 200, 'the API still answers');
});
