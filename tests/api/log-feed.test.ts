/**
 * Many SSE viewers on one step share one reader: a log append costs a bounded number of database statements,
 * not a few per viewer (issue 13: 500 viewers made every append take seconds). Counted at the libSQL client,
 * so every statement the server runs is seen, whoever makes it.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { InArgs, InStatement } from '@libsql/client';
import { appendLogChunks } from '../../server/services/logs.ts';
import { protocolRunner, type ProtocolRunner } from '../helpers/protocol-runner.ts';
import { publishWorkflow, startRun } from '../helpers/runs.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { openLogStream } from '../scale/sse-viewer.ts';

const VIEWERS = 200;
/** Statements one append may cost with all viewers attached: the feed's reads and one shared credential check. */
const STATEMENTS_PER_APPEND = 12;

let server: TestServer;
let runner: ProtocolRunner;
let workflowId: string;
const statements: string[] = [];

before(async () => {
  server = await startTestServer();
  const client = server.database.client;
  const execute = client.execute.bind(client);
  client.execute = ((statement: InStatement, args?: InArgs) => {
    statements.push(typeof statement === 'string' ? statement : statement.sql);
    return args === undefined ? execute(statement) : execute(statement as string, args);
  }) as typeof client.execute;
  workflowId = await publishWorkflow(
    server,
    'watched',
    'name: watched\npipelines:\n  p:\n    runs_on: [feed]\n    steps:\n      - { name: work, type: step.log, config: { message: hi } }\n',
  );
  runner = await protocolRunner(server, 'feed-runner', ['feed']);
});
after(() => server.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const append = (runId: string, seq: number) =>
  appendLogChunks(server.database.db, server.events, runId, [{ stepIndex: 0, seq, data: new TextEncoder().encode(`chunk ${seq}\n`) }]);
const logIds = (viewer: ReturnType<typeof openLogStream>) => viewer.events.filter((e) => e.event === 'log').map((e) => Number(e.id));

async function allReceived(viewers: Array<ReturnType<typeof openLogStream>>, seq: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (viewers.some((v) => !logIds(v).includes(seq))) {
    if (Date.now() > deadline) assert.fail(`${viewers.filter((v) => !logIds(v).includes(seq)).length} viewers never got chunk ${seq}`);
    await sleep(20);
  }
}

test(`${VIEWERS} viewers on one step: an append costs a bounded number of statements, and every viewer gets every chunk once, in order`, async () => {
  const runId = (await startRun(server, workflowId)).id as string;
  const job = await runner.claim();
  assert.equal(job?.runId, runId);
  await runner.step(job.jobId, 0, { state: 'running', startedAt: Date.now() });
  const viewers = Array.from({ length: VIEWERS }, () => openLogStream(server.url, runId, 'work'));
  try {
    await append(runId, 0);
    await allReceived(viewers, 0);
    const perAppend: number[] = [];
    for (let seq = 1; seq <= 5; seq++) {
      // Quiet first, so idle credential checks of the 1 s period are not counted as the append's.
      await sleep(150);
      const from = statements.length;
      await append(runId, seq);
      await allReceived(viewers, seq);
      const made = statements.slice(from);
      perAppend.push(made.length);
      const pageReads = made.filter((sql) => /^select .* from "log_chunks"/i.test(sql)).length;
      assert.ok(pageReads <= 4, `chunk ${seq}: ${pageReads} log page reads for ${VIEWERS} viewers:\n${made.join('\n')}`);
      assert.ok(made.length <= STATEMENTS_PER_APPEND, `chunk ${seq}: ${made.length} statements for ${VIEWERS} viewers:\n${made.join('\n')}`);
    }
    console.log(`statements per append with ${VIEWERS} viewers: ${perAppend.join(', ')}`);

    // A viewer that resumes behind the feed reads its own way up to it: no gap, no repeat.
    const resumed = openLogStream(server.url, runId, 'work', '2');
    await append(runId, 7); // stored before 6: held back until the gap is filled
    await sleep(300);
    await append(runId, 6);
    await runner.step(job.jobId, 0, { state: 'succeeded', exitCode: 0, finishedAt: Date.now() });
    await runner.done(job.jobId, { state: 'succeeded' });
    await Promise.all([...viewers, resumed].map((v) => v.closed));
    for (const viewer of viewers) {
      assert.deepEqual(logIds(viewer), [0, 1, 2, 3, 4, 5, 6, 7]);
      assert.equal(viewer.events.at(-1)?.event, 'end');
      assert.deepEqual(JSON.parse(viewer.events.at(-1)!.data), { state: 'succeeded' });
    }
    assert.deepEqual(logIds(resumed), [3, 4, 5, 6, 7]);
    assert.deepEqual(
      resumed.events.filter((e) => e.event === 'log').map((e) => JSON.parse(e.data)),
      [3, 4, 5, 6, 7].map((seq) => `chunk ${seq}\n`),
    );
  } finally {
    for (const viewer of viewers) viewer.close();
  }
});

test('a viewer behind the feed catches up from its own pages, then follows the feed, through the end', async () => {
  const runId = (await startRun(server, workflowId)).id as string;
  const job = await runner.claim();
  assert.equal(job?.runId, runId);
  await runner.step(job.jobId, 0, { state: 'running', startedAt: Date.now() });
  for (let seq = 0; seq < 4; seq++) await append(runId, seq);
  // The first viewer resumes at 1, so the step's feed starts there; the second wants everything from the start.
  const resumed = openLogStream(server.url, runId, 'work', '1');
  await resumed.next((e) => e.id === '3');
  const fresh = openLogStream(server.url, runId, 'work');
  await fresh.next((e) => e.id === '3');
  await append(runId, 5); // a gap at 4 while the step runs: held back
  await sleep(300);
  assert.ok(!logIds(fresh).includes(5) && !logIds(resumed).includes(5), 'nothing after a gap goes out while the step runs');
  await append(runId, 4);
  await append(runId, 7); // 6 never comes: once the step ended, what is stored goes out, gaps and all
  await allReceived([fresh, resumed], 5);
  await runner.step(job.jobId, 0, { state: 'failed', exitCode: 1, finishedAt: Date.now() });
  await Promise.all([fresh.closed, resumed.closed]);
  assert.deepEqual(logIds(fresh), [0, 1, 2, 3, 4, 5, 7]);
  assert.deepEqual(logIds(resumed), [2, 3, 4, 5, 7]);
  for (const viewer of [fresh, resumed]) assert.deepEqual(JSON.parse(viewer.events.at(-1)!.data), { state: 'failed' });
});
