import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createClient, type Client } from '@libsql/client';
import { openDatabase } from '../../db/client.ts';
import { migrateDatabase } from '../../db/migrate.ts';
import { startHranaStandin, type HranaStandin } from '../helpers/hrana-standin.ts';

const root = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'flowyard-hrana-'));
let standin: HranaStandin;
let client: Client;

before(async () => {
  standin = await startHranaStandin({ file: join(dir, 'db.sqlite') });
  client = createClient({ url: standin.url });
  await client.execute('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT UNIQUE, data BLOB, score REAL, big INTEGER)');
});
after(async () => {
  client.close();
  await standin.close();
  rmSync(dir, { recursive: true, force: true });
});

async function pipeline(url: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${url}/v2/pipeline`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

describe('Hrana stand-in under @libsql/client', () => {
  test('execute round-trips blobs, floats, 64-bit integers, null and named arguments', async () => {
    const blob = new Uint8Array([0, 1, 2, 250, 255]);
    const inserted = await client.execute({ sql: 'INSERT INTO items (name, data, score, big) VALUES (?, ?, ?, ?)', args: ['a', blob, 2.5, 9007199254740993n] });
    assert.equal(inserted.rowsAffected, 1);
    assert.equal(inserted.lastInsertRowid, 1n);
    const bigClient = createClient({ url: standin.url, intMode: 'bigint' });
    const { rows, columns, columnTypes } = await bigClient.execute({ sql: 'SELECT * FROM items WHERE name = :name', args: { name: 'a' } });
    bigClient.close();
    assert.deepEqual(columns, ['id', 'name', 'data', 'score', 'big']);
    assert.deepEqual(columnTypes, ['INTEGER', 'TEXT', 'BLOB', 'REAL', 'INTEGER']);
    assert.deepEqual(new Uint8Array(rows[0]!.data as ArrayBuffer), blob);
    assert.equal(rows[0]!.score, 2.5);
    assert.equal(rows[0]!.big, 9007199254740993n);
    const empty = await client.execute('SELECT NULL AS absent, 1 AS one');
    assert.deepEqual({ ...empty.rows[0] }, { absent: null, one: 1 });
    // DDL after a write does not report the write's stale row count.
    assert.equal((await client.execute('CREATE TABLE scratch (x)')).rowsAffected, 0);
  });

  test('a batch is one transaction: a failing statement rolls back the ones before it', async () => {
    const results = await client.batch(["INSERT INTO items (name) VALUES ('b')", 'SELECT count(*) AS n FROM items'], 'write');
    assert.equal(results[1]!.rows[0]!.n, 2);
    await assert.rejects(client.batch(["INSERT INTO items (name) VALUES ('c')", "INSERT INTO items (name) VALUES ('a')"], 'write'), /UNIQUE constraint failed/);
    assert.equal((await client.execute("SELECT count(*) AS n FROM items WHERE name = 'c'")).rows[0]!.n, 0);
  });

  test('an interactive transaction keeps its connection across requests; a second writer waits for its commit', async () => {
    const tx = await client.transaction('write');
    await tx.execute("INSERT INTO items (name) VALUES ('tx')");
    assert.equal((await tx.execute("SELECT count(*) AS n FROM items WHERE name = 'tx'")).rows[0]!.n, 1);
    assert.equal(standin.openStreams(), 1);
    const other = createClient({ url: standin.url });
    let outsiderDone = false;
    const outsider = other.execute("INSERT INTO items (name) VALUES ('outsider')").then(() => (outsiderDone = true));
    assert.equal((await client.execute("SELECT count(*) AS n FROM items WHERE name = 'tx'")).rows[0]!.n, 0, 'uncommitted rows are not visible elsewhere');
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(outsiderDone, false, 'the second writer waits for the lock');
    await tx.commit();
    await outsider;
    other.close();
    assert.equal((await client.execute("SELECT count(*) AS n FROM items WHERE name IN ('tx', 'outsider')")).rows[0]!.n, 2);
    assert.equal(standin.openStreams(), 0);

    const rolledBack = await client.transaction('write');
    await rolledBack.execute("INSERT INTO items (name) VALUES ('gone')");
    await rolledBack.rollback();
    assert.equal((await client.execute("SELECT count(*) AS n FROM items WHERE name = 'gone'")).rows[0]!.n, 0);
  });

  test('executeMultiple runs a sequence; the SQL cache stores texts with store_sql', async () => {
    await client.executeMultiple("INSERT INTO items (name) VALUES ('m1'); INSERT INTO items (name) VALUES ('m2');");
    const same = Array.from({ length: 5 }, (_, i) => ({ sql: 'INSERT INTO items (name) VALUES (?)', args: [`s${i}`] }));
    await client.batch(same, 'write');
    assert.equal((await client.execute("SELECT count(*) AS n FROM items WHERE name LIKE 'm_' OR name LIKE 's_'")).rows[0]!.n, 7);
  });

  test('the protocol on the wire: conditions, batons used once, v3 autocommit, errors', async () => {
    const opened = await pipeline(standin.url, {
      requests: [
        { type: 'store_sql', sql_id: 1, sql: 'SELECT ? + 1 AS n' },
        {
          type: 'batch',
          batch: {
            steps: [
              { stmt: { sql: 'BEGIN' } },
              { stmt: { sql: 'SELECT nonsense FROM nowhere' } },
              { condition: { type: 'error', step: 1 }, stmt: { sql_id: 1, args: [{ type: 'integer', value: '41' }] } },
              { condition: { type: 'ok', step: 1 }, stmt: { sql: 'SELECT 0' } },
              { condition: { type: 'not', cond: { type: 'is_autocommit' } }, stmt: { sql: 'ROLLBACK' } },
            ],
          },
        },
        { type: 'get_autocommit' },
      ],
    });
    assert.equal(opened.status, 200);
    const batch = opened.body.results[1].response.result;
    assert.match(batch.step_errors[1].message, /no such table/);
    assert.equal(batch.step_errors[1].code, 'SQLITE_ERROR');
    assert.deepEqual(batch.step_results[2].rows, [[{ type: 'integer', value: '42' }]]);
    assert.equal(batch.step_results[3], null, 'a step whose condition fails is skipped');
    assert.ok(batch.step_results[4], 'ROLLBACK ran inside the transaction');
    assert.equal(opened.body.results[2].response.is_autocommit, true);
    assert.equal(typeof opened.body.baton, 'string');

    const next = await pipeline(standin.url, {
      baton: opened.body.baton,
      requests: [{ type: 'execute', stmt: { sql_id: 1, args: [{ type: 'float', value: 1.5 }] } }, { type: 'close' }],
    });
    assert.deepEqual(next.body.results[0].response.result.rows, [[{ type: 'float', value: 2.5 }]]);
    assert.equal(next.body.baton, null);
    const replay = await pipeline(standin.url, { baton: opened.body.baton, requests: [{ type: 'close' }] });
    assert.equal(replay.status, 400);
    assert.equal(replay.body.code, 'STREAM_EXPIRED');
    const bad = await pipeline(standin.url, { requests: [{ type: 'describe', sql: 'SELECT 1' }, { type: 'close' }] });
    assert.equal(bad.body.results[0].type, 'error');
    assert.match(bad.body.results[0].error.message, /describe is not implemented/);
  });

  test('an idle stream expires: its transaction is rolled back and its baton refused', async () => {
    const short = await startHranaStandin({ file: join(dir, 'db.sqlite'), streamExpiryMs: 150 });
    const opened = await pipeline(short.url, {
      requests: [
        { type: 'execute', stmt: { sql: 'BEGIN IMMEDIATE' } },
        { type: 'execute', stmt: { sql: "INSERT INTO items (name) VALUES ('expired')" } },
      ],
    });
    assert.equal(short.openStreams(), 1);
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.equal(short.openStreams(), 0);
    assert.equal((await pipeline(short.url, { baton: opened.body.baton, requests: [{ type: 'close' }] })).status, 400);
    assert.equal((await client.execute("SELECT count(*) AS n FROM items WHERE name = 'expired'")).rows[0]!.n, 0);
    await short.close();
  });

  test('with an auth token, a request without it is refused and the client with it works', async () => {
    const guarded = await startHranaStandin({ file: join(dir, 'guarded.sqlite'), authToken: 'secret-db-token' });
    const anonymous = await pipeline(guarded.url, { requests: [{ type: 'close' }] });
    assert.equal(anonymous.status, 401);
    const wrong = createClient({ url: guarded.url, authToken: 'nope' });
    await assert.rejects(wrong.execute('SELECT 1'), /database token/);
    const right = createClient({ url: guarded.url, authToken: 'secret-db-token' });
    assert.equal((await right.execute('SELECT 1 AS one')).rows[0]!.one, 1);
    wrong.close();
    right.close();
    await guarded.close();
  });
});

describe('Flowyard on the network database path', () => {
  test('the whole migration set applies over HTTP and yields the same tables as a file database', async () => {
    const remote = await startHranaStandin({ file: join(dir, 'flowyard-remote.db') });
    const overHttp = await openDatabase(remote.url);
    await migrateDatabase(overHttp.db);
    await migrateDatabase(overHttp.db); // idempotent, as at every start-up
    const local = await openDatabase(`file:${join(dir, 'flowyard-local.db')}`);
    await migrateDatabase(local.db);
    const tables = async (c: Client) =>
      (await c.execute("SELECT name, sql FROM sqlite_master WHERE type IN ('table', 'index') ORDER BY name")).rows.map((r) => ({ ...r }));
    const remoteTables = await tables(overHttp.client);
    assert.ok(remoteTables.some((t) => t.name === 'plugin_versions'));
    assert.deepEqual(remoteTables, await tables(local.client));
    overHttp.close();
    local.close();
    await remote.close();
  });

  test('flowyard serve with DATABASE_URL=http://… migrates, serves an API flow, and the rows land in the stand-in file', async () => {
    const file = join(dir, 'serve.db');
    const remote = await startHranaStandin({ file, authToken: 'serve-token' });
    const port = await freePort();
    const data = mkdtempSync(join(tmpdir(), 'flowyard-hrana-serve-'));
    const adminToken = 'fy_hrana_admin_token_0123456789abcdef';
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/cli/main.ts', 'serve', '--no-runner', '--port', String(port), '--data', data], {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DATABASE_URL: remote.url,
        DATABASE_AUTH_TOKEN: 'serve-token',
        FLOWYARD_ADMIN_TOKEN: adminToken,
        FLOWYARD_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let output = '';
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          if (output.includes('listening on')) resolve();
        });
        child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.once('exit', (code) => reject(new Error(`flowyard serve exited with ${code}: ${output}`)));
      });
      assert.match(output, new RegExp(`database http://127\\.0\\.0\\.1:${remote.port}`));
      const call = async (method: string, path: string, body?: unknown) => {
        const response = await fetch(`http://127.0.0.1:${port}${path}`, {
          method,
          headers: { authorization: `Bearer ${adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        return { status: response.status, body: (await response.json()) as Record<string, any> };
      };
      const ready = await call('GET', '/readyz');
      assert.equal(ready.body.checks.database.status, 'ok');
      const yaml = 'name: remote\npipelines:\n  main:\n    steps:\n      - name: say\n        type: step.log\n        config: { message: hi }\n';
      const created = await call('POST', '/api/workflows', { name: 'remote', yaml });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const published = await call('POST', `/api/workflows/${created.body.id}/publish`, { message: 'first' });
      assert.equal(published.status, 200, JSON.stringify(published.body));
      const run = await call('POST', `/api/workflows/${created.body.id}/runs`, { pipeline: 'main', inputs: {} });
      assert.equal(run.status, 201, JSON.stringify(run.body));
      assert.equal((await call('GET', `/api/runs/${run.body.id}`)).body.state, 'queued');
      assert.ok(remote.pipelines() > 10, 'the API reached its database through the stand-in');

      const direct = createClient({ url: `file:${file}` });
      const rows = (await direct.execute('SELECT w.name, v.number AS version FROM workflows w JOIN workflow_versions v ON v.workflow_id = w.id')).rows;
      direct.close();
      assert.deepEqual(
        rows.map((r) => ({ ...r })),
        [{ name: 'remote', version: 1 }],
      );
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(undefined)));
      rmSync(data, { recursive: true, force: true });
      await remote.close();
    }
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
