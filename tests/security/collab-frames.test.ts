/**
 * Attack: an editor sends one co-editing WebSocket frame over the 4 MiB message limit. The ws library refuses
 * it with an 'error' event on the server's socket; with no listener that is an uncaught exception, which ends
 * the API process for everyone. Defence expected: the frame closes that connection (1009) and nothing else.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { TEST_ADMIN_TOKEN } from '../helpers/api.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const MiB = 1024 * 1024;
let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.close());

test('a co-editing frame over the message limit closes its connection and leaves the server up', async () => {
  const created = await server.call('POST', '/api/workflows', { name: 'frames', yaml: 'name: frames\npipelines:\n  build:\n    steps:\n      - name: say\n        type: step.log\n        config: { message: hi }\n' });
  assert.equal(created.status, 201, await created.clone().text());
  const { id } = (await created.json()) as { id: string };
  const socket = new WebSocket(`ws://127.0.0.1:${server.port}/api/collab/${id}`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
  const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
  socket.on('error', () => {});
  await new Promise((resolve) => socket.once('open', resolve));
  socket.send(Buffer.alloc(5 * MiB));
  assert.equal(await closed, 1009, 'closed as "message too big"');
  assert.equal((await fetch(`${server.url}/healthz`)).status, 200, 'the API still answers');
});
