import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { RunnerApi } from '../../runners/daemon/client.ts';
import { JobOutbox } from '../../runners/daemon/outbox.ts';
import { encodeLogFrames, LOG_FRAMES_CONTENT_TYPE } from '../../runners/protocol/log-frames.ts';
import { TEST_ADMIN_TOKEN } from '../helpers/api.ts';
import { protocolRunner, type ProtocolRunner } from '../helpers/protocol-runner.ts';
import { publishWorkflow, startRun } from '../helpers/runs.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
let runner: ProtocolRunner;
let workflowId: string;

before(async () => {
  server = await startTestServer();
  workflowId = await publishWorkflow(
    server,
    'framed',
    'name: framed\npipelines:\n  main:\n    runs_on: [frames]\n    steps:\n      - name: say\n        type: step.log\n        config: { message: hi }\n',
  );
  runner = await protocolRunner(server, 'frames-runner', ['frames']);
});
after(() => server.close());

/** A run of the workflow claimed by the hand-driven runner, its step running. */
async function claimedRun(): Promise<{ runId: string; jobId: string }> {
  const runId = (await startRun(server, workflowId)).id as string;
  const job = await runner.claim();
  assert.ok(job, 'the run was claimed');
  assert.equal(job.runId, runId);
  await runner.step(job.jobId, 0, { state: 'running', startedAt: Date.now() });
  return { runId, jobId: job.jobId };
}

const text = (s: string) => new TextEncoder().encode(s);
const postFrames = (jobId: string, body: Uint8Array<ArrayBuffer>, type = LOG_FRAMES_CONTENT_TYPE) =>
  fetch(`${server.url}/api/runner/v1/jobs/${jobId}/log-frames`, {
    method: 'POST',
    headers: { authorization: `Bearer ${runner.token}`, 'content-type': type },
    body,
  });
const rawLog = async (runId: string, extra = '') => (await server.call('GET', `/api/runs/${runId}/logs?step=say${extra}`)).text();

test('binary frames are stored once each, compressed at rest, and read back as sent by every reader', async () => {
  const { runId, jobId } = await claimedRun();
  const big = Array.from({ length: 2000 }, (_, i) => `compiling module ${i % 40} of the project ... ok\n`).join('');
  const frames = [
    { stepIndex: 0, seq: 0, data: text('\x1b[32mstart\x1b[0m\n') },
    { stepIndex: 0, seq: 1, data: text(big) },
    { stepIndex: 0, seq: 2, data: text('done ✓\n') },
  ];
  const first = await postFrames(jobId, encodeLogFrames(frames));
  assert.equal(first.status, 200, await first.clone().text());
  assert.deepEqual(await first.json(), { stored: 3, duplicates: 0 });
  // A re-send after a lost answer changes nothing.
  assert.deepEqual(await (await postFrames(jobId, encodeLogFrames(frames.slice(1)))).json(), { stored: 0, duplicates: 2 });

  const whole = `\x1b[32mstart\x1b[0m\n${big}done ✓\n`;
  assert.equal(await rawLog(runId), whole);
  assert.equal(await rawLog(runId, '&tail_lines=2'), `compiling module 39 of the project ... ok\ndone ✓\n`);
  const run = (await (await server.call('GET', `/api/runs/${runId}`)).json()) as { steps: Array<{ logBytes: number }> };
  assert.equal(run.steps[0]!.logBytes, Buffer.byteLength(whole), 'the byte count is of the text, not of what is stored');

  const rows = await server.database.client.execute({
    sql: 'select seq, encoding, length(data) as size from log_chunks where run_id = ? order by seq',
    args: [runId],
  });
  assert.deepEqual(
    rows.rows.map((r) => r.encoding),
    ['identity', 'br', 'identity'],
    'small chunks as they are, the big one compressed',
  );
  assert.ok(Number(rows.rows[1]!.size) * 10 < Buffer.byteLength(big), `stored ${rows.rows[1]!.size} bytes for ${Buffer.byteLength(big)}`);
  await runner.done(jobId, { state: 'succeeded' });
});

test('rows stored before compression (no encoding given) read back unchanged', async () => {
  const { runId, jobId } = await claimedRun();
  for (const [seq, line] of ['old line one\n', 'old line two\n'].entries()) {
    await server.database.client.execute({ sql: 'insert into log_chunks (run_id, step_index, seq, data) values (?, 0, ?, ?)', args: [runId, seq, text(line)] });
  }
  assert.equal(await rawLog(runId), 'old line one\nold line two\n');
  assert.equal(await rawLog(runId, '&tail_lines=1'), 'old line two\n');
  await runner.done(jobId, { state: 'succeeded' });
});

/** Reads SSE events until `end`: the log events' ids and texts. */
async function readSse(response: Response): Promise<Array<{ id: string; text: string }>> {
  const events: Array<{ id: string; text: string }> = [];
  const decoder = new TextDecoder();
  let pending = '';
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
      if (field('event') === 'log') events.push({ id: field('id')!, text: JSON.parse(field('data')!) as string });
    }
  }
  throw new Error('the stream closed without an end event');
}

test('a live SSE viewer gets chunks in sequence order when a later batch is stored before an earlier one', async () => {
  const { runId, jobId } = await claimedRun();
  const stream = await fetch(`${server.url}/api/runs/${runId}/logs?step=say`, {
    headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, accept: 'text/event-stream' },
  });
  assert.equal(stream.status, 200);
  const received = readSse(stream);
  const frame = (seq: number) => ({ stepIndex: 0, seq, data: text(`line ${seq}\n`) });
  assert.equal((await postFrames(jobId, encodeLogFrames([frame(2), frame(3)]))).status, 200);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await postFrames(jobId, encodeLogFrames([frame(0), frame(1)]))).status, 200);
  await new Promise((r) => setTimeout(r, 300));
  await runner.step(jobId, 0, { state: 'succeeded', finishedAt: Date.now() });
  assert.deepEqual(
    await received,
    [0, 1, 2, 3].map((seq) => ({ id: String(seq), text: `line ${seq}\n` })),
  );
  await runner.done(jobId, { state: 'succeeded' });
});

test('a malformed frames body is refused with a message naming the frame; another content type too', async () => {
  const { runId, jobId } = await claimedRun();
  const good = encodeLogFrames([{ stepIndex: 0, seq: 0, data: text('kept out\n') }]);
  const cut = await postFrames(jobId, good.slice(0, good.length - 3));
  assert.equal(cut.status, 400);
  const error = ((await cut.json()) as { error: { code: string; message: string } }).error;
  assert.equal(error.code, 'invalid_request');
  assert.match(error.message, /log frame 0 \(at byte 0\): the header announces 9 bytes of data but only 6 follow/);
  assert.equal((await postFrames(jobId, good.slice(0, 5))).status, 400);
  const json = await postFrames(jobId, good, 'application/json');
  assert.equal(json.status, 400);
  assert.match(((await json.json()) as { error: { message: string } }).error.message, /application\/vnd\.flowyard\.log-frames/);
  assert.equal(await rawLog(runId), '', 'nothing of a refused body is stored');
  await runner.done(jobId, { state: 'succeeded' });
});

test('the outbox delivers many chunks with batches in flight, each once and in order, and falls back to JSON on a server without frames', async () => {
  // A server from before appendLogFrames: the same API with that route missing.
  const old = createServer(async (request, response) => {
    if (request.url?.endsWith('/log-frames')) return void response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"not_found"}}');
    const parts: Buffer[] = [];
    for await (const part of request) parts.push(part as Buffer);
    const forwarded = await fetch(`${server.url}${request.url}`, {
      method: request.method,
      headers: { authorization: request.headers.authorization ?? '', 'content-type': request.headers['content-type'] ?? 'application/json' },
      body: parts.length ? Buffer.concat(parts) : undefined,
    });
    response
      .writeHead(forwarded.status, { 'content-type': forwarded.headers.get('content-type') ?? 'text/plain' })
      .end(Buffer.from(await forwarded.arrayBuffer()));
  });
  await new Promise<void>((listening) => old.listen(0, '127.0.0.1', listening));
  try {
    for (const url of [server.url, `http://127.0.0.1:${(old.address() as AddressInfo).port}`]) {
      const { runId, jobId } = await claimedRun();
      const outbox = new JobOutbox(new RunnerApi(url, runner.token), jobId);
      const lines = Array.from({ length: 1500 }, (_, i) => `${String(i).padStart(5, '0')} ${'x'.repeat(500)}\n`);
      lines.forEach((line, seq) => outbox.chunk(0, seq, line));
      outbox.step(0, { state: 'succeeded', finishedAt: Date.now() });
      outbox.done({ state: 'succeeded' });
      await outbox.drained;
      assert.equal(outbox.lost, undefined);
      assert.equal(await rawLog(runId), lines.join(''), url);
      const run = (await (await server.call('GET', `/api/runs/${runId}`)).json()) as { state: string; steps: Array<{ state: string }> };
      assert.equal(run.steps[0]!.state, 'succeeded');
      assert.equal(run.state, 'succeeded');
    }
  } finally {
    old.close();
  }
});
