import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fireDueSchedules, signWebhook } from '../../server/services/triggers.ts';
import { testApi, type TestApi } from '../helpers/api.ts';

let api: TestApi;
before(async () => {
  api = await testApi();
});
after(() => api.database.cleanup());

const hookYaml = (path: string, secret = true) => `name: hooked-${path.replace(/\W/g, '')}
secrets: [HOOK_SECRET]
pipelines:
  on-push:
    trigger: { type: http, config: { path: ${path}${secret ? ', secret: HOOK_SECRET' : ''} } }
    steps:
      - name: say
        type: step.log
        config: { message: "ref {{ .ref }}" }
`;

async function published(yaml: string, name: string) {
  const created = (await (await api.call('POST', '/api/workflows', { name, yaml })).json()) as { id: string };
  assert.equal((await api.call('POST', `/api/workflows/${created.id}/publish`)).status, 200);
  return created.id;
}

const runCount = async () => Number((await api.database.client.execute('select count(*) as n from runs')).rows[0]!.n);

test('a signed webhook starts a run with the payload; unsigned or wrong ones run nothing', async () => {
  const id = await published(hookYaml('/gh/push'), 'hooked');
  await api.call('PUT', `/api/workflows/${id}/secrets/HOOK_SECRET`, { value: 'hook-secret-1' });
  const body = JSON.stringify({ ref: 'refs/heads/main' });
  const before = await runCount();
  const timestamp = String(Math.floor(Date.now() / 1000));
  const unsigned = await api.app.request('/hooks/gh/push', {
    method: 'POST',
    body,
    headers: { 'x-flowyard-delivery': 'd-unsigned', 'x-flowyard-timestamp': timestamp },
  });
  assert.equal(unsigned.status, 401);
  const wrong = await api.app.request('/hooks/gh/push', {
    method: 'POST',
    body,
    headers: { 'x-flowyard-delivery': 'd-wrong', 'x-flowyard-timestamp': timestamp, 'x-flowyard-signature': `sha256=${'0'.repeat(64)}` },
  });
  assert.equal(wrong.status, 401);
  const signature = await signWebhook('hook-secret-1', timestamp, new TextEncoder().encode(body));
  const noDelivery = await api.app.request('/hooks/gh/push', {
    method: 'POST',
    body,
    headers: { 'x-flowyard-timestamp': timestamp, 'x-flowyard-signature': signature },
  });
  assert.equal(noDelivery.status, 400);
  assert.match(((await noDelivery.json()) as { error: { message: string } }).error.message, /x-flowyard-delivery/);
  assert.equal(await runCount(), before);
  const ok = await api.app.request('/hooks/gh/push', {
    method: 'POST',
    body,
    headers: { 'x-flowyard-delivery': 'd-ok', 'x-flowyard-timestamp': timestamp, 'x-flowyard-signature': signature },
  });
  assert.equal(ok.status, 202, await ok.clone().text());
  const { runId } = (await ok.json()) as { runId: string };
  const run = (await (await api.call('GET', `/api/runs/${runId}`)).json()) as { triggerType: string; triggerPayload: { ref: string } };
  assert.equal(run.triggerType, 'http');
  assert.equal(run.triggerPayload.ref, 'refs/heads/main');
  assert.equal((await api.app.request('/hooks/nowhere', { method: 'POST', body, headers: { 'x-flowyard-delivery': 'd-nowhere' } })).status, 404);
});

test('schedules fire once per slot even when several processes tick at once', async () => {
  const yaml = `name: nightly
pipelines:
  nightly:
    trigger: { type: schedule, config: { cron: "*/5 * * * *", timezone: UTC } }
    steps:
      - name: say
        type: step.log
        config: { message: tick }
`;
  const id = await published(yaml, 'nightly');
  const [registration] = (await api.database.client.execute({ sql: 'select next_run_at from schedule_registrations where workflow_id = ?', args: [id] })).rows;
  const slot = new Date(Number(registration!.next_run_at));
  assert.equal(slot.getUTCMinutes() % 5, 0);
  const before = await runCount();
  const fired = await Promise.all([
    fireDueSchedules(api.database.db, api.events, new Date(slot.getTime() + 1000)),
    fireDueSchedules(api.database.db, api.events, new Date(slot.getTime() + 1000)),
    fireDueSchedules(api.database.db, api.events, new Date(slot.getTime() + 2000)),
  ]);
  assert.equal(
    fired.reduce((a, b) => a + b, 0),
    1,
  );
  assert.equal(await runCount(), before + 1);
  // Two hours of downtime: one catch-up run, not 24.
  const later = new Date(slot.getTime() + 2 * 3_600_000);
  assert.equal(await fireDueSchedules(api.database.db, api.events, later), 1);
  assert.equal(await fireDueSchedules(api.database.db, api.events, later), 0);
  const runs = (await (await api.call('GET', `/api/workflows/${id}/runs`)).json()) as { runs: Array<{ triggerType: string }> };
  assert.deepEqual(
    runs.runs.map((r) => r.triggerType),
    ['schedule', 'schedule'],
  );
});

test('an http trigger with method GET takes its payload from the signed query string', async () => {
  const id = await published(hookYaml('/gh/ping').replace('path: /gh/ping', 'path: /gh/ping, method: GET'), 'hooked-get');
  await api.call('PUT', `/api/workflows/${id}/secrets/HOOK_SECRET`, { value: 'hook-secret-get' });
  const query = 'ref=refs%2Fheads%2Fmain&sha=abc123';
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = await signWebhook('hook-secret-get', timestamp, new TextEncoder().encode(query));
  const headers = { 'x-flowyard-delivery': 'd-get-1', 'x-flowyard-timestamp': timestamp, 'x-flowyard-signature': signature };
  const accepted = await api.app.request(`/hooks/gh/ping?${query}`, { method: 'GET', headers });
  assert.equal(accepted.status, 202, await accepted.clone().text());
  const { runId } = (await accepted.json()) as { runId: string };
  const run = (await (await api.call('GET', `/api/runs/${runId}`)).json()) as { triggerPayload: { ref: string; sha: string } };
  assert.equal(run.triggerPayload.ref, 'refs/heads/main');
  assert.equal(run.triggerPayload.sha, 'abc123');
  const tampered = await api.app.request(`/hooks/gh/ping?ref=refs%2Fheads%2Fevil&sha=abc123`, {
    method: 'GET',
    headers: { ...headers, 'x-flowyard-delivery': 'd-get-2' },
  });
  assert.equal(tampered.status, 401, 'a changed query string breaks the signature');
  assert.equal((await api.app.request(`/hooks/gh/ping?${query}`, { method: 'POST', headers: { ...headers, 'x-flowyard-delivery': 'd-get-3' } })).status, 405);
});
