import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { TEST_ADMIN_TOKEN } from '../helpers/api.ts';
import { json } from '../helpers/runs.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.close());

const initial = 'name: shared-draft\npipelines:\n  p:\n    steps:\n      - { name: a, type: step.log, config: { message: one } }\n';

/** A co-editor as a browser would be: a Yjs doc synced over the y-websocket protocol. */
function connect(workflowId: string, token = TEST_ADMIN_TOKEN) {
  const doc = new Y.Doc();
  const AuthedWebSocket = class extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols, { headers: { authorization: `Bearer ${token}` } });
    }
  };
  const provider = new WebsocketProvider(`ws://127.0.0.1:${server.port}/api/collab`, workflowId, doc, {
    WebSocketPolyfill: AuthedWebSocket as never,
    disableBc: true,
  });
  const synced = new Promise<void>((resolve) => provider.once('sync', () => resolve()));
  return {
    doc,
    text: doc.getText('yaml'),
    provider,
    synced,
    close: () => {
      provider.destroy();
      doc.destroy();
    },
  };
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function createDraft(name: string) {
  const response = await server.call('POST', '/api/workflows', { name, yaml: initial.replace('shared-draft', name) });
  return (await json(response)).id as string;
}

test('two co-editors see each other within a second; the draft follows the document', async () => {
  const id = await createDraft('co-edited');
  const alice = connect(id);
  const bob = connect(id);
  await Promise.all([alice.synced, bob.synced]);
  assert.equal(alice.text.toString(), initial.replace('shared-draft', 'co-edited'));
  alice.text.insert(alice.text.length, '# from alice\n');
  const sent = Date.now();
  await until(() => bob.text.toString().includes('# from alice'), 'bob to see alice');
  assert.ok(Date.now() - sent < 1000);
  bob.text.insert(0, '# from bob\n');
  await until(() => alice.text.toString().startsWith('# from bob'), 'alice to see bob');
  await until(async () => (await json(await server.call('GET', `/api/workflows/${id}`))).draftYaml === alice.text.toString(), 'the draft to be saved');
  const workflow = await json(await server.call('GET', `/api/workflows/${id}`));
  assert.ok(workflow.draftRevision > 1);
  alice.close();
  bob.close();
});

test('edits survive a server restart, and a REST draft save reaches live editors', async () => {
  const id = await createDraft('durable');
  const first = connect(id);
  await first.synced;
  first.text.insert(0, '# kept\n');
  await until(async () => (await json(await server.call('GET', `/api/workflows/${id}`))).draftYaml.startsWith('# kept'), 'save');
  first.close();
  await server.stop();
  await server.restart();
  const again = connect(id);
  await again.synced;
  assert.ok(again.text.toString().startsWith('# kept\n'));
  const { draftRevision } = await json(await server.call('GET', `/api/workflows/${id}`));
  const saved = await server.call('PUT', `/api/workflows/${id}/draft`, { yaml: `# via rest\n${initial}`, baseRevision: draftRevision });
  assert.equal(saved.status, 200);
  await until(() => again.text.toString() === `# via rest\n${initial}`, 'the live doc to take the REST save');
  again.close();
});

test('offline edits merge on reconnect', async () => {
  const id = await createDraft('offline');
  const online = connect(id);
  const offline = connect(id);
  await Promise.all([online.synced, offline.synced]);
  offline.provider.disconnect();
  offline.text.insert(0, '# written offline\n');
  online.text.insert(online.text.length, '# written online\n');
  await new Promise((r) => setTimeout(r, 300));
  offline.provider.connect();
  await until(() => online.text.toString().includes('# written offline') && offline.text.toString().includes('# written online'), 'merge');
  assert.equal(online.text.toString(), offline.text.toString());
  online.close();
  offline.close();
});

test('the collab socket needs an editor credential and an existing workflow', async () => {
  const refused = (path: string, headers: Record<string, string> = {}) =>
    new Promise<number>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}${path}`, { headers });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
    });
  const id = await createDraft('guarded');
  assert.equal(await refused(`/api/collab/${id}`), 401);
  assert.equal(await refused(`/api/collab/${id}`, { authorization: 'Bearer wrong' }), 401);
  assert.equal(await refused('/api/collab/no-such-workflow', { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }), 404);
});
