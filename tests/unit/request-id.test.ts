/**
 * The request-id middleware: a sane incoming X-Request-Id is kept, anything else is replaced by a fresh UUID;
 * the id goes back in the response header and into the JSON error log line of a failed request.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { createApp } from '../../server/api/app.ts';
import { REQUEST_ID_HEADER, requestIdFor } from '../../server/api/middleware/request-id.ts';
import { buildDeps } from '../../server/cli/deps.ts';
import { TEST_ADMIN_TOKEN } from '../helpers/api.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('a sane incoming id is kept; an absent, long or odd one is replaced by a UUID', () => {
  assert.equal(requestIdFor('trace-42.a_b:c'), 'trace-42.a_b:c');
  assert.equal(requestIdFor('x'.repeat(128)), 'x'.repeat(128));
  for (const bad of [undefined, '', 'x'.repeat(129), 'two words', 'line\nbreak', '{"level":60}', 'ünïcode']) {
    assert.match(requestIdFor(bad), UUID, `replaced: ${JSON.stringify(bad)}`);
  }
  assert.notEqual(requestIdFor(undefined), requestIdFor(undefined), 'a new id for every request');
});

let database: TestDatabase;
const logged: string[] = [];
let app: ReturnType<typeof createApp>;

before(async () => {
  database = await freshDatabase();
  const deps = await buildDeps({ db: database.db, dataDir: database.dir, publicUrl: 'http://127.0.0.1:9', adminToken: TEST_ADMIN_TOKEN, env: {} });
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logged.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  app = createApp({ ...deps, logger: pino({ level: 'info' }, sink) });
});
after(() => database.cleanup());

test("every response carries the id: the caller's when sane, else a new one", async () => {
  const kept = await app.request('/healthz', { headers: { [REQUEST_ID_HEADER]: 'from-the-proxy-1' } });
  assert.equal(kept.headers.get(REQUEST_ID_HEADER), 'from-the-proxy-1');
  const replaced = await app.request('/healthz', { headers: { [REQUEST_ID_HEADER]: 'x'.repeat(500) } });
  assert.match(replaced.headers.get(REQUEST_ID_HEADER) ?? '', UUID);
  const refused = await app.request('/api/workflows');
  assert.equal(refused.status, 401);
  assert.match(refused.headers.get(REQUEST_ID_HEADER) ?? '', UUID, 'refusals carry it too');
  const missing = await app.request('/no-such-page.js');
  assert.equal(missing.status, 404);
  assert.match(missing.headers.get(REQUEST_ID_HEADER) ?? '', UUID, 'not-found answers carry it too');
});

test('a failed request answers 500 with its id, and the JSON error log line names the same id', async () => {
  database.client.close(); // every query now fails: the next request that reads the database errors out
  const response = await app.request('/api/workflows', { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, [REQUEST_ID_HEADER]: 'failing-request-7' } });
  assert.equal(response.status, 500);
  assert.equal(response.headers.get(REQUEST_ID_HEADER), 'failing-request-7');
  const body = (await response.json()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, 'internal');
  assert.ok(!/\.ts:\d+|\n\s+at /.test(JSON.stringify(body)), 'no stack trace in the answer');
  const line = logged.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.requestId === 'failing-request-7');
  assert.ok(line, `a log line names the request: ${logged.join('\n')}`);
  assert.equal(line.level, 50, 'logged as an error');
  assert.equal(line.msg, 'request failed');
  assert.equal(line.path, '/api/workflows');
  assert.ok((line.err as { stack?: string }).stack, 'the log (not the answer) keeps the stack');
});
