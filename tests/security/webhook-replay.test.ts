import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { pruneWebhookDeliveries, signWebhook } from '../../server/services/triggers.ts';
import { testApi, type TestApi } from '../helpers/api.ts';

let api: TestApi;
before(async () => {
  api = await testApi();
});
after(() => api.database.cleanup());

async function publishedHook(path: string, secret = 'replay-secret') {
  const yaml = `name: replay-${path.replace(/\W/g, '')}
secrets: [HOOK_SECRET]
pipelines:
  on-push:
    trigger: { type: http, config: { path: ${path}, secret: HOOK_SECRET } }
    steps:
      - name: say
        type: step.log
        config: { message: hi }
`;
  const created = (await (await api.call('POST', '/api/workflows', { name: `replay${path.replace(/\W/g, '-')}`, yaml })).json()) as { id: string };
  assert.equal((await api.call('POST', `/api/workflows/${created.id}/publish`)).status, 200);
  assert.ok((await api.call('PUT', `/api/workflows/${created.id}/secrets/HOOK_SECRET`, { value: secret })).ok);
  return created.id;
}

const runsOf = async (workflowId: string) =>
  Number((await api.database.client.execute({ sql: 'select count(*) as n from runs where workflow_id = ?', args: [workflowId] })).rows[0]!.n);
const nowSeconds = () => Math.floor(Date.now() / 1000);

async function signedHeaders(body: string, timestamp: number, deliveryId: string, secret = 'replay-secret'): Promise<Record<string, string>> {
  return {
    'x-flowyard-delivery': deliveryId,
    'x-flowyard-timestamp': String(timestamp),
    'x-flowyard-signature': await signWebhook(secret, String(timestamp), new TextEncoder().encode(body)),
  };
}

const errorOf = async (response: Response) => ((await response.json()) as { error: { code: string; message: string } }).error;

test('one signed request replayed three times starts one run; the copies get 409', async () => {
  const id = await publishedHook('/replay/sequential');
  const body = JSON.stringify({ ref: 'refs/heads/main' });
  const headers = await signedHeaders(body, nowSeconds(), 'delivery-seq-1');
  const statuses = [];
  for (let i = 0; i < 3; i++) statuses.push((await api.app.request('/hooks/replay/sequential', { method: 'POST', body, headers })).status);
  assert.deepEqual(statuses, [202, 409, 409]);
  assert.equal(await runsOf(id), 1);
  const again = await api.app.request('/hooks/replay/sequential', { method: 'POST', body, headers });
  assert.equal(again.status, 409);
  assert.equal((await errorOf(again)).code, 'duplicate_delivery');
  const [row] = (await api.database.client.execute({ sql: 'select run_id from webhook_deliveries where delivery_id = ?', args: ['delivery-seq-1'] })).rows;
  assert.ok(row?.run_id, 'the delivery row names its run');
});

test('three concurrent copies of one signed request start one run', async () => {
  const id = await publishedHook('/replay/concurrent');
  const body = JSON.stringify({ ref: 'refs/heads/race' });
  const headers = await signedHeaders(body, nowSeconds(), 'delivery-race-1');
  const responses = await Promise.all([1, 2, 3].map(() => api.app.request('/hooks/replay/concurrent', { method: 'POST', body, headers })));
  assert.deepEqual(responses.map((r) => r.status).sort(), [202, 409, 409]);
  assert.equal(await runsOf(id), 1);
});

test('a replay under a fresh delivery id is caught by its signature', async () => {
  const id = await publishedHook('/replay/fresh-id');
  const body = JSON.stringify({ ref: 'refs/heads/main' });
  const timestamp = nowSeconds();
  const first = await api.app.request('/hooks/replay/fresh-id', { method: 'POST', body, headers: await signedHeaders(body, timestamp, 'delivery-a') });
  assert.equal(first.status, 202);
  const copy = { ...(await signedHeaders(body, timestamp, 'delivery-a')), 'x-flowyard-delivery': 'delivery-b-forged' };
  assert.equal((await api.app.request('/hooks/replay/fresh-id', { method: 'POST', body, headers: copy })).status, 409);
  assert.equal(await runsOf(id), 1);
  // The forged id was not kept: a genuine later delivery may use it.
  const genuine = await api.app.request('/hooks/replay/fresh-id', {
    method: 'POST',
    body,
    headers: await signedHeaders(body, timestamp + 1, 'delivery-b-forged'),
  });
  assert.equal(genuine.status, 202, await genuine.clone().text());
  assert.equal(await runsOf(id), 2);
});

test('a request signed 6 minutes ago, or 6 minutes ahead, is refused with 401 and runs nothing', async () => {
  const id = await publishedHook('/replay/stale');
  const body = JSON.stringify({ ref: 'refs/heads/old' });
  const old = await api.app.request('/hooks/replay/stale', { method: 'POST', body, headers: await signedHeaders(body, nowSeconds() - 360, 'delivery-old') });
  assert.equal(old.status, 401);
  const error = await errorOf(old);
  assert.equal(error.code, 'stale_timestamp');
  assert.match(error.message, /x-flowyard-timestamp is 36\d s old/);
  const future = await api.app.request('/hooks/replay/stale', {
    method: 'POST',
    body,
    headers: await signedHeaders(body, nowSeconds() + 360, 'delivery-future'),
  });
  assert.equal(future.status, 401);
  assert.match((await errorOf(future)).message, /in the future/);
  assert.equal(await runsOf(id), 0);
  // Refused deliveries are not recorded, so their ids are not burnt.
  const kept = await api.database.client.execute("select count(*) as n from webhook_deliveries where delivery_id in ('delivery-old', 'delivery-future')");
  assert.equal(Number(kept.rows[0]!.n), 0);
});

test('moving the timestamp of a signed request breaks its signature', async () => {
  const id = await publishedHook('/replay/tampered');
  const body = JSON.stringify({ ref: 'refs/heads/main' });
  const stale = await signedHeaders(body, nowSeconds() - 400, 'delivery-tamper');
  const tampered = { ...stale, 'x-flowyard-timestamp': String(nowSeconds()) };
  const response = await api.app.request('/hooks/replay/tampered', { method: 'POST', body, headers: tampered });
  assert.equal(response.status, 401);
  assert.equal((await errorOf(response)).code, 'bad_signature');
  const { 'x-flowyard-timestamp': _dropped, ...noTimestamp } = stale;
  assert.equal((await api.app.request('/hooks/replay/tampered', { method: 'POST', body, headers: noTimestamp })).status, 401);
  assert.equal(await runsOf(id), 0);
});

test('delivery ids are required and at most 200 characters', async () => {
  const id = await publishedHook('/replay/ids');
  const body = '{}';
  const long = await api.app.request('/hooks/replay/ids', { method: 'POST', body, headers: await signedHeaders(body, nowSeconds(), 'x'.repeat(201)) });
  assert.equal(long.status, 400);
  assert.match((await errorOf(long)).message, /200 characters/);
  assert.equal(await runsOf(id), 0);
  assert.equal(
    (await api.app.request('/hooks/replay/ids', { method: 'POST', body, headers: await signedHeaders(body, nowSeconds(), 'x'.repeat(200)) })).status,
    202,
  );
});

test('delivery records older than a day are pruned, newer ones kept', async () => {
  const now = Date.now();
  await api.database.client.execute({
    sql: "insert into webhook_deliveries (delivery_id, path, received_at) values ('prune-old', '/x', ?), ('prune-new', '/x', ?)",
    args: [now - 25 * 3_600_000, now - 3_600_000],
  });
  assert.ok((await pruneWebhookDeliveries(api.database.db, now)) >= 1);
  const left = await api.database.client.execute("select delivery_id from webhook_deliveries where delivery_id like 'prune-%'");
  assert.deepEqual(
    left.rows.map((r) => r.delivery_id),
    ['prune-new'],
  );
});
