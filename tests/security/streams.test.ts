/**
 * Attack: keep watching a live log after access was taken away, by holding open an SSE stream opened while
 * the share link / API token / user was still valid. Defence: the stream checks its credential again before
 * every page it sends and every idle second, and ends when it no longer holds.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createApiToken, createUser } from '../../server/services/auth.ts';
import { appendLogChunks } from '../../server/services/logs.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
let workflowId: string;
before(async () => {
  server = await startTestServer();
  const yaml = 'name: watched\npipelines:\n  p:\n    steps:\n      - { name: build, type: step.log, config: { message: hi } }\n';
  const created = await server.call('POST', '/api/workflows', { name: 'watched', yaml });
  workflowId = ((await created.json()) as { id: string }).id;
  assert.equal((await server.call('POST', `/api/workflows/${workflowId}/publish`)).status, 200);
});
after(() => server.close());

/** A queued run: its step stays pending, so a log stream on it stays open until something ends it. */
async function liveRun(): Promise<string> {
  const response = await server.call('POST', `/api/workflows/${workflowId}/runs`, {});
  assert.equal(response.status, 201);
  return ((await response.json()) as { id: string }).id;
}

const nextSeq = new Map<string, number>();
/** Appends a log line as the runner protocol would store it; the service wakes the streams at once. */
async function appendLine(runId: string, text: string) {
  const seq = nextSeq.get(runId) ?? 0;
  nextSeq.set(runId, seq + 1);
  await appendLogChunks(server.database.db, server.events, runId, [{ stepIndex: 0, seq, data: new TextEncoder().encode(text) }]);
}

interface OpenStream {
  text(): string;
  /** Resolves with the time the stream ended, or rejects after `ms`. */
  ended(ms: number): Promise<number>;
  waitFor(fragment: string): Promise<void>;
  close(): void;
}

async function openStream(path: string, headers: Record<string, string> = {}): Promise<OpenStream> {
  const abort = new AbortController();
  const response = await fetch(`${server.url}${path}`, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
  if (response.status !== 200) assert.fail(`${path} answered ${response.status}: ${await response.text()}`);
  assert.match(response.headers.get('content-type') ?? '', /text\/event-stream/);
  let received = '';
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const done = (async () => {
    for (;;) {
      const { done: finished, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (finished) return Date.now();
      received += value;
    }
  })();
  return {
    text: () => received,
    ended: (ms) =>
      Promise.race([
        done,
        new Promise<number>((_, reject) => setTimeout(() => reject(new Error(`the stream was still open after ${ms} ms; got:\n${received}`)), ms)),
      ]),
    async waitFor(fragment) {
      const deadline = Date.now() + 5000;
      while (!received.includes(fragment)) {
        if (Date.now() > deadline) throw new Error(`"${fragment}" never arrived; got:\n${received}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () => abort.abort(),
  };
}

/** Opens the stream, sees a line, takes access away, appends another line: the stream must end without it. */
async function assertRevocationEndsStream(runId: string, stream: OpenStream, revoke: () => Promise<void>) {
  try {
    await appendLine(runId, 'line before revoke\n');
    await stream.waitFor('line before revoke');
    await revoke();
    const revokedAt = Date.now();
    await appendLine(runId, 'line after revoke\n');
    const endedAt = await stream.ended(2500);
    assert.ok(endedAt - revokedAt <= 2000, `ended ${endedAt - revokedAt} ms after the revoke`);
    assert.ok(!stream.text().includes('line after revoke'), 'nothing appended after the revoke was delivered');
    assert.match(stream.text(), /event: revoked/);
  } finally {
    stream.close();
  }
}

test('a share-link log stream ends when the link is revoked', async () => {
  const runId = await liveRun();
  const share = (await (await server.call('POST', `/api/runs/${runId}/shares`, {})).json()) as { id: string; token: string };
  const stream = await openStream(`/api/share/${share.token}/logs?step=build`);
  await assertRevocationEndsStream(runId, stream, async () => {
    assert.equal((await server.call('DELETE', `/api/runs/${runId}/shares/${share.id}`)).status, 204);
  });
});

test('an API-token log stream ends when the token is revoked', async () => {
  const runId = await liveRun();
  const user = await createUser(server.database.db, { email: 'watcher@example.com', name: 'W', role: 'viewer' });
  const { id, token } = await createApiToken(server.database.db, user.id, 'dashboard');
  const stream = await openStream(`/api/runs/${runId}/logs?step=build`, { authorization: `Bearer ${token}` });
  await assertRevocationEndsStream(runId, stream, async () => {
    const revoked = await fetch(`${server.url}/api/tokens/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    assert.equal(revoked.status, 204);
  });
});

test('a session log stream ends when its user is disabled', async () => {
  const runId = await liveRun();
  const user = await createUser(server.database.db, { email: 'contractor@example.com', name: 'C', role: 'viewer', password: 'contractor password' });
  const login = await fetch(`${server.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: user.email, password: 'contractor password' }),
  });
  assert.equal(login.status, 200);
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
  const stream = await openStream(`/api/runs/${runId}/logs?step=build`, { cookie });
  await assertRevocationEndsStream(runId, stream, async () => {
    assert.equal((await server.call('PATCH', `/api/users/${user.id}`, { disabled: true })).status, 200);
  });
});

test('a stream whose credential still holds keeps delivering', async () => {
  const runId = await liveRun();
  const stream = await openStream(`/api/runs/${runId}/logs?step=build`, {
    authorization: `Bearer ${(await createApiToken(server.database.db, (await createUser(server.database.db, { email: 'stays@example.com', name: 'S', role: 'viewer' })).id, 't')).token}`,
  });
  try {
    await appendLine(runId, 'first\n');
    await stream.waitFor('first');
    await new Promise((r) => setTimeout(r, 1500));
    await appendLine(runId, 'second\n');
    await stream.waitFor('second');
    await assert.rejects(stream.ended(300), /still open/);
  } finally {
    stream.close();
  }
});
