import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { TEST_ADMIN_TOKEN } from '../helpers/api.ts';
import { freshDatabase } from '../helpers/db.ts';
import { protocolRunner, type ProtocolRunner } from '../helpers/protocol-runner.ts';
import { publishWorkflow, startRun } from '../helpers/runs.ts';
import { S3_CREDENTIALS, startS3 } from '../helpers/s3.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { createS3Store } from '../../server/services/artifacts/index.ts';
import { appendLogChunks } from '../../server/services/logs.ts';
import { archiveStep, expireArchivedLogs } from '../../server/services/log-archive.ts';
import { attachLogArchive, logArchiveOf, readArchivedPage } from '../../server/services/log-archive-read.ts';

let server: TestServer;
let runner: ProtocolRunner;
let workflowId: string;

before(async () => {
  server = await startTestServer();
  workflowId = await publishWorkflow(
    server,
    'archived',
    'name: archived\npipelines:\n  main:\n    runs_on: [archive]\n    steps:\n      - name: say\n        type: step.log\n        config: { message: hi }\n',
  );
  runner = await protocolRunner(server, 'archive-runner', ['archive']);
});
after(() => server.close());

async function claimedRun(): Promise<{ runId: string; jobId: string }> {
  const runId = (await startRun(server, workflowId)).id as string;
  const job = await runner.claim();
  assert.ok(job, 'the run was claimed');
  await runner.step(job.jobId, 0, { state: 'running', startedAt: Date.now() });
  return { runId, jobId: job.jobId };
}

/** `count` chunks of log lines of random hex: about half compressible, as build output with hashes and ids is. */
function generatedLog(count: number, chunkBytes: number): Buffer[] {
  return Array.from({ length: count }, (_, seq) => {
    const hex = randomBytes(chunkBytes / 2).toString('hex');
    const lines = hex.match(/.{1,99}/g)!.map((line, i) => (i === 0 ? `${seq} ${line.slice(seq.toString().length + 1)}` : line));
    return Buffer.from(`${lines.join('\n')}\n`.slice(0, chunkBytes - 1) + '\n');
  });
}

const usedBytes = async () => {
  const pages = async (pragma: string) => Number((await server.database.client.execute(`pragma ${pragma}`)).rows[0]![0]);
  return ((await pages('page_count')) - (await pages('freelist_count'))) * (await pages('page_size'));
};
const chunkRows = async (runId: string) =>
  Number((await server.database.client.execute({ sql: 'select count(*) from log_chunks where run_id = ?', args: [runId] })).rows[0]![0]);
const get = (path: string, headers: Record<string, string> = {}) =>
  fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, ...headers } });
const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function ingest(runId: string, chunks: Buffer[]) {
  for (let seq = 0; seq < chunks.length; seq += 8) {
    const batch = chunks.slice(seq, seq + 8).map((data, i) => ({ stepIndex: 0, seq: seq + i, data }));
    await appendLogChunks(server.database.db, server.events, runId, batch);
  }
}

/** SSE log events after `lastEventId` until the end event. */
async function sseAfter(runId: string, lastEventId: number): Promise<Array<{ id: number; text: string }>> {
  const response = await get(`/api/runs/${runId}/logs?step=say`, { accept: 'text/event-stream', 'last-event-id': String(lastEventId) });
  assert.equal(response.status, 200);
  const events: Array<{ id: number; text: string }> = [];
  let pending = '';
  const decoder = new TextDecoder();
  for await (const bytes of response.body as unknown as AsyncIterable<Uint8Array>) {
    pending += decoder.decode(bytes, { stream: true });
    let boundary: number;
    while ((boundary = pending.indexOf('\n\n')) >= 0) {
      const event = pending.slice(0, boundary);
      pending = pending.slice(boundary + 2);
      const field = (name: string) =>
        event
          .split('\n')
          .find((line) => line.startsWith(`${name}: `))
          ?.slice(name.length + 2);
      if (field('event') === 'end') return events;
      if (field('event') === 'log') events.push({ id: Number(field('id')), text: JSON.parse(field('data')!) as string });
    }
  }
  throw new Error('the stream closed without an end event');
}

test('a finished 64 MB step log moves to the store, leaves the database small, and reads back identically', async () => {
  const { runId, jobId } = await claimedRun();
  const chunks = generatedLog(256, 256 * 1024);
  const whole = Buffer.concat(chunks);
  const usedBefore = await usedBytes();
  await ingest(runId, chunks);
  assert.equal(await chunkRows(runId), chunks.length);

  await runner.step(jobId, 0, { state: 'succeeded', finishedAt: Date.now() });
  await runner.done(jobId, { state: 'succeeded' });
  await until('the run is archived', async () => (await chunkRows(runId)) === 0);

  const growth = (await usedBytes()) - usedBefore;
  assert.ok(growth < whole.length / 100, `the database grew by ${growth} bytes for a ${whole.length}-byte log (goal < 1%)`);
  const objects = readdirSync(join(server.database.dir, 'artifacts', 'logs', runId));
  assert.equal(objects.length, 1, 'one object for the step');

  const raw = new Uint8Array(await (await get(`/api/runs/${runId}/logs?step=say`)).arrayBuffer());
  assert.equal(raw.length, whole.length);
  assert.equal(sha(raw), sha(whole), 'the raw download is the log as sent');
  const tail = await get(`/api/runs/${runId}/logs?step=say&tail_lines=3`);
  assert.equal(tail.headers.get('x-log-truncated'), '1');
  assert.equal(await tail.text(), whole.toString().split('\n').slice(-4).join('\n'));
  const resumed = await sseAfter(runId, 252);
  assert.deepEqual(
    resumed.map((e) => e.id),
    [253, 254, 255],
  );
  assert.equal(resumed.map((e) => e.text).join(''), Buffer.concat(chunks.slice(253)).toString(), 'SSE resumes after Last-Event-ID from the archive');
  const wholeRun = new Uint8Array(await (await get(`/api/runs/${runId}/log`)).arrayBuffer());
  assert.ok(Buffer.from(wholeRun).includes(chunks[200]!), 'the whole-run log reads the archive too');
});

test('retention: a workflow setting, bounded; the sweep deletes archived logs of runs older than it', async () => {
  const bad = await server.call('PATCH', `/api/workflows/${workflowId}/settings`, { logRetentionDays: 0 });
  assert.equal(bad.status, 400);
  assert.match(await bad.text(), /logRetentionDays/);
  const missing = await server.call('PATCH', `/api/workflows/nope/settings`, { logRetentionDays: 3 });
  assert.equal(missing.status, 404);

  const { runId, jobId } = await claimedRun();
  await ingest(runId, generatedLog(4, 4096));
  await runner.step(jobId, 0, { state: 'succeeded', finishedAt: Date.now() });
  await runner.done(jobId, { state: 'succeeded' });
  await until('the run is archived', async () => (await chunkRows(runId)) === 0);
  const store = logArchiveOf(server.database.db)!;
  assert.equal(await expireArchivedLogs(server.database.db, store), 0, 'kept forever by default');

  const set = await server.call('PATCH', `/api/workflows/${workflowId}/settings`, { logRetentionDays: 2 });
  assert.deepEqual(await set.json(), { logRetentionDays: 2 });
  assert.equal(await expireArchivedLogs(server.database.db, store), 0, 'a run of today is younger than 2 days');
  await server.database.client.execute({ sql: 'update runs set finished_at = ? where id = ?', args: [Date.now() - 3 * 86_400_000, runId] });
  assert.equal(await expireArchivedLogs(server.database.db, store), 1);
  const left = await server.database.client.execute({ sql: 'select count(*) from log_archives where run_id = ?', args: [runId] });
  assert.equal(Number(left.rows[0]![0]), 0);
  assert.deepEqual(readdirSync(join(server.database.dir, 'artifacts', 'logs', runId)), [], 'the object is gone');
  assert.equal(await (await get(`/api/runs/${runId}/logs?step=say`)).text(), '');
  await server.call('PATCH', `/api/workflows/${workflowId}/settings`, { logRetentionDays: null });
});

test('an archive that fails leaves the chunks in the database, readable', async () => {
  const { runId, jobId } = await claimedRun();
  const chunks = generatedLog(100, 4096);
  await ingest(runId, chunks);
  const failing = {
    ...logArchiveOf(server.database.db)!,
    async putObject(_key: string, parts: AsyncIterable<Uint8Array>): Promise<{ size: number }> {
      for await (const part of parts) void part;
      throw new Error('disk full');
    },
  };
  await assert.rejects(archiveStep(server.database.db, failing, runId, 0), /disk full/);
  assert.equal(await chunkRows(runId), chunks.length);
  assert.equal(Buffer.from(await (await get(`/api/runs/${runId}/logs?step=say`)).arrayBuffer()).compare(Buffer.concat(chunks)), 0);
  assert.deepEqual(readdirSync(join(server.database.dir, 'artifacts', 'logs')).includes(runId), false, 'no object left behind');
  await runner.done(jobId, { state: 'succeeded' });
});

test('S3: an archived step pages by range reads from the bucket', async () => {
  const s3 = await startS3('logs');
  const database = await freshDatabase();
  try {
    const store = createS3Store(s3.url, S3_CREDENTIALS);
    attachLogArchive(database.db, store);
    const chunks = generatedLog(90, 128 * 1024);
    const events = { publish: () => undefined } as unknown as Parameters<typeof appendLogChunks>[1];
    await appendLogChunks(
      database.db,
      events,
      'run-s3',
      chunks.map((data, seq) => ({ stepIndex: 1, seq, data })),
    );
    await archiveStep(database.db, store, 'run-s3', 1);
    const rows = await database.client.execute('select count(*) from log_chunks');
    assert.equal(Number(rows.rows[0]![0]), 0);
    const page = await readArchivedPage(database.db, 'run-s3', 1, { afterSeq: 40, limit: 5 });
    assert.deepEqual(
      page!.map((c) => c.seq),
      [41, 42, 43, 44, 45],
    );
    assert.equal(Buffer.concat(page!.map((c) => c.data)).compare(Buffer.concat(chunks.slice(41, 46))), 0);
    const last = await readArchivedPage(database.db, 'run-s3', 1, { beforeSeq: Number.MAX_SAFE_INTEGER, limit: 2 });
    assert.deepEqual(
      last!.map((c) => c.seq),
      [89, 88],
    );
  } finally {
    database.cleanup();
    await s3.close();
  }
});

test('a re-run from the failed job lists the carried job’s archived log under the new run', async () => {
  const id = await publishWorkflow(
    server,
    'archived-rerun',
    `name: archived-rerun
pipelines:
  main:
    runs_on: [archive]
    steps:
      - name: say
        type: step.log
        config: { message: hi }
      - name: approval
        type: step.gate
        config: { type: auto, auto_approve_conditions: ["1 == 1"] }
      - name: later
        type: step.log
        config: { message: later }
`,
  );
  const runId = (await startRun(server, id)).id as string;
  const first = await runner.claim();
  assert.ok(first);
  await runner.step(first.jobId, 0, { state: 'running', startedAt: Date.now() });
  const chunks = generatedLog(40, 4096);
  await ingest(runId, chunks);
  await runner.step(first.jobId, 0, { state: 'succeeded', exitCode: 0, finishedAt: Date.now() });
  await runner.done(first.jobId, { state: 'succeeded' });
  let second: Awaited<ReturnType<ProtocolRunner['claim']>> = null;
  await until('the job after the gate is queued', async () => (second = await runner.claim()) !== null);
  await runner.step(second!.jobId, 2, { state: 'failed', exitCode: 1, startedAt: Date.now(), finishedAt: Date.now() });
  await runner.done(second!.jobId, { state: 'failed', error: 'broke' });
  await until('the run is archived', async () => (await chunkRows(runId)) === 0);

  const rerun = await server.call('POST', `/api/runs/${runId}/rerun`, { fromFailed: true });
  assert.equal(rerun.status, 201, await rerun.clone().text());
  const newId = ((await rerun.json()) as { id: string }).id;
  const carried = Buffer.from(await (await get(`/api/runs/${newId}/logs?step=say`)).arrayBuffer());
  assert.equal(carried.compare(Buffer.concat(chunks)), 0, 'the new run reads the same archived object');
});
