import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { appendLogChunks } from '../../server/services/logs.ts';
import { testApi, type TestApi } from '../helpers/api.ts';

let api: TestApi;
before(async () => {
  api = await testApi();
});
after(() => api.database.cleanup());

async function queuedRun(name: string) {
  const yaml = `name: ${name}\npipelines:\n  p:\n    steps:\n      - { name: say, type: step.log, config: { message: hi } }\n`;
  const wf = (await (await api.call('POST', '/api/workflows', { name, yaml })).json()) as { id: string };
  await api.call('POST', `/api/workflows/${wf.id}/publish`);
  await api.call('PUT', `/api/workflows/${wf.id}/secrets/NOT_SHOWN`, { value: 'do-not-leak' });
  return (await (await api.call('POST', `/api/workflows/${wf.id}/runs`, {})).json()) as { id: string; workflowId: string };
}

test('a share link shows one run read-only to a signed-out visitor, and nothing after revoke', async () => {
  const run = await queuedRun('shared');
  await appendLogChunks(api.database.db, api.events, run.id, [{ stepIndex: 0, seq: 0, data: new TextEncoder().encode('\x1b[32mhello\x1b[0m\n') }]);
  const created = await api.call('POST', `/api/runs/${run.id}/shares`, {});
  assert.equal(created.status, 201);
  const { id, token, url } = (await created.json()) as { id: string; token: string; url: string };
  assert.match(token, /^fy_share_[A-Za-z0-9_-]{43}$/, '256 random bits');
  assert.equal(url, `http://127.0.0.1:8080/share/${token}`);

  const view = await api.app.request(`/api/share/${token}`);
  assert.equal(view.status, 200);
  const body = (await view.json()) as Record<string, any>;
  assert.equal(body.workflowName, 'shared');
  assert.deepEqual(
    body.steps.map((s: any) => s.name),
    ['say'],
  );
  for (const hidden of ['workflowId', 'inputs', 'triggerPayload', 'triggeredBy', 'id']) assert.ok(!(hidden in body), `${hidden} is not shared`);
  assert.ok(!JSON.stringify(body).includes('do-not-leak'));
  const log = await api.app.request(`/api/share/${token}/logs?step=say`);
  assert.equal(await log.text(), '\x1b[32mhello\x1b[0m\n');

  // The token opens this run only: nothing else of the workspace.
  for (const path of ['/api/workflows', `/api/runs/${run.id}`, `/api/workflows/${run.workflowId}/secrets`]) {
    assert.equal((await api.app.request(path, { headers: { authorization: `Bearer ${token}` } })).status, 401, path);
  }

  const stored = await api.database.client.execute('select token_hash from share_links');
  assert.ok(stored.rows.every((r) => r.token_hash !== token));

  const listed = (await (await api.call('GET', `/api/runs/${run.id}/shares`)).json()) as { shares: Array<{ id: string; revokedAt: string | null }> };
  assert.deepEqual(
    listed.shares.map((s) => [s.id, s.revokedAt]),
    [[id, null]],
  );
  assert.ok(!JSON.stringify(listed).includes(token));
  assert.equal((await api.call('DELETE', `/api/runs/${run.id}/shares/${id}`)).status, 204);
  assert.equal((await api.app.request(`/api/share/${token}`)).status, 404);
  assert.equal((await api.app.request(`/api/share/${token}/logs?step=say`)).status, 404);
  assert.equal((await api.app.request('/api/share/fy_share_guess')).status, 404);
});

test('an expired share link opens nothing', async () => {
  const run = await queuedRun('expiring');
  const { token } = (await (await api.call('POST', `/api/runs/${run.id}/shares`, { expiresInHours: 1 })).json()) as { token: string };
  assert.equal((await api.app.request(`/api/share/${token}`)).status, 200);
  await api.database.client.execute('update share_links set expires_at = 0');
  assert.equal((await api.app.request(`/api/share/${token}`)).status, 404);
});

test('the raw log can be asked for its last lines only', async () => {
  const run = await queuedRun('tailed');
  const lines = Array.from({ length: 250 }, (_, i) => `line ${i + 1}\n`);
  // Chunks of uneven sizes, so the cut falls inside a chunk.
  const chunks = [lines.slice(0, 7), lines.slice(7, 120), lines.slice(120, 121), lines.slice(121)].map((part, seq) => ({
    stepIndex: 0,
    seq,
    data: new TextEncoder().encode(part.join('')),
  }));
  await appendLogChunks(api.database.db, api.events, run.id, chunks);
  const tail = await api.call('GET', `/api/runs/${run.id}/logs?step=say&tail_lines=130`);
  assert.equal(tail.headers.get('x-log-truncated'), '1');
  assert.equal(await tail.text(), lines.slice(120).join(''));
  const all = await api.call('GET', `/api/runs/${run.id}/logs?step=say&tail_lines=1000`);
  assert.equal(all.headers.get('x-log-truncated'), '0');
  assert.equal(await all.text(), lines.join(''));
  assert.equal(await (await api.call('GET', `/api/runs/${run.id}/logs?step=say`)).text(), lines.join(''));
});
