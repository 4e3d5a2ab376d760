/**
 * GET /metrics on a real server over a real database: after a run is created and a runner claims its job and
 * sends a log, the series exist with plausible values; a scrape without the token (or with a wrong one, or as
 * a non-admin) is refused; two servers in one process keep separate registries.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { protocolRunner } from '../helpers/protocol-runner.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { publishWorkflow, startRun } from '../helpers/runs.ts';

const METRICS_TOKEN = 'fy_metrics_token_for_tests_0123456789';
const ADMIN = { authorization: 'Bearer fy_test_admin_token_0123456789abcdef' };
let server: TestServer;
let other: TestServer;

before(async () => {
  server = await startTestServer({ env: { FLOWYARD_METRICS_TOKEN: METRICS_TOKEN } });
  other = await startTestServer();
});
after(async () => {
  await server.close();
  await other.close();
});

const scrape = (target: TestServer, headers: Record<string, string> = { authorization: `Bearer ${METRICS_TOKEN}` }) =>
  fetch(`${target.url}/metrics`, { headers });

/** The value of one series line, e.g. `flowyard_runs{state="running"}`; undefined when the series is absent. */
function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('a scrape after a run is created and claimed shows runs, queue, claim latency, runners, logs and HTTP latency', async () => {
  const workflowId = await publishWorkflow(
    server,
    'metered',
    'name: metered\npipelines:\n  main:\n    runs_on: [metrics-b, metrics-a]\n    steps:\n      - name: say\n        type: step.log\n        config: { message: hi }\n',
  );
  const first = await startRun(server, workflowId);
  await startRun(server, workflowId);

  const before = await (await scrape(server)).text();
  assert.equal(value(before, 'flowyard_runs{state="queued"}'), 2, before);
  assert.equal(value(before, 'flowyard_queue_depth{labels="metrics-a,metrics-b"}'), 2, 'the label set is sorted and counted');

  const runner = await protocolRunner(server, 'metrics-runner', ['metrics-a', 'metrics-b']);
  const job = await runner.claim();
  assert.ok(job, 'the runner claims a job');
  assert.equal(job.runId, first.id);
  await runner.log(job.jobId, 0, 0, 'hello metrics\n');
  await runner.log(job.jobId, 0, 0, 'hello metrics\n'); // a re-sent chunk is not counted twice

  const response = await scrape(server);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await response.text();
  assert.equal(value(text, 'flowyard_runs{state="running"}'), 1, text);
  assert.equal(value(text, 'flowyard_runs{state="queued"}'), 1);
  assert.equal(value(text, 'flowyard_runs{state="failed"}'), 0, 'every state has a series');
  assert.equal(value(text, 'flowyard_queue_depth{labels="metrics-a,metrics-b"}'), 1);
  assert.equal(value(text, 'flowyard_job_claim_latency_seconds_count{labels="metrics-a,metrics-b"}'), 1);
  const waited = value(text, 'flowyard_job_claim_latency_seconds_sum{labels="metrics-a,metrics-b"}')!;
  assert.ok(waited >= 0 && waited < 60, `claim latency ${waited} s`);
  assert.equal(value(text, 'flowyard_runners_online'), 1);
  assert.equal(value(text, 'flowyard_log_bytes_ingested_total'), 'hello metrics\n'.length);
  assert.equal(value(text, 'flowyard_artifact_bytes'), 0);
  assert.equal(value(text, 'flowyard_sse_connections'), 0);
  assert.equal(value(text, 'flowyard_collab_connections'), 0);
  // Routes by pattern, never by raw path: the run id must not become a label value.
  assert.ok((value(text, 'flowyard_http_request_duration_seconds_count{method="POST",route="/api/workflows/:id/runs",status="201"}') ?? 0) >= 2, text);
  assert.ok(!text.includes(first.id), 'no run id in any label');
});

test('an open live-log stream counts as an SSE connection until it closes', async () => {
  const workflowId = await publishWorkflow(
    server,
    'streamed',
    'name: streamed\npipelines:\n  main:\n    runs_on: [nobody-streams]\n    steps:\n      - name: say\n        type: step.log\n        config: { message: hi }\n',
  );
  const run = await startRun(server, workflowId);
  const controller = new AbortController();
  const stream = await fetch(`${server.url}/api/runs/${run.id}/logs?step=say`, {
    headers: { authorization: `Bearer fy_test_admin_token_0123456789abcdef`, accept: 'text/event-stream' },
    signal: controller.signal,
  });
  assert.equal(stream.status, 200);
  assert.equal(value(await (await scrape(server)).text(), 'flowyard_sse_connections'), 1);
  controller.abort();
  const deadline = Date.now() + 5000;
  while (value(await (await scrape(server)).text(), 'flowyard_sse_connections') !== 0) {
    assert.ok(Date.now() < deadline, 'the SSE gauge goes back to 0 once the client leaves');
    await new Promise((r) => setTimeout(r, 100));
  }
});

// Co-editing documents are kept per process (@y/websocket-server), bound to the server attached last: `other`.
test('an open co-editing connection counts until it closes', async () => {
  const workflowId = await publishWorkflow(
    other,
    'coedited',
    'name: coedited\npipelines:\n  main:\n    steps:\n      - name: say\n        type: step.log\n        config: { message: hi }\n',
  );
  const socket = new WebSocket(`ws://127.0.0.1:${other.port}/api/collab/${workflowId}`, {
    headers: { authorization: 'Bearer fy_test_admin_token_0123456789abcdef' },
  });
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  assert.equal(value(await (await scrape(other, ADMIN)).text(), 'flowyard_collab_connections'), 1);
  socket.close();
  const deadline = Date.now() + 5000;
  while (value(await (await scrape(other, ADMIN)).text(), 'flowyard_collab_connections') !== 0) {
    assert.ok(Date.now() < deadline, 'the co-editing gauge goes back to 0 once the socket closes');
    await new Promise((r) => setTimeout(r, 100));
  }
});

test('scrapes without the token, with a wrong token or as a non-admin are refused', async () => {
  const none = await scrape(server, {});
  assert.equal(none.status, 401);
  assert.match(((await none.json()) as { error: { message: string } }).error.message, /FLOWYARD_METRICS_TOKEN/);
  assert.equal((await scrape(server, { authorization: 'Bearer fy_metrics_token_for_tests_0123456780' })).status, 401);
  assert.equal((await scrape(server, { authorization: `Basic ${Buffer.from(`x:${METRICS_TOKEN}`).toString('base64')}` })).status, 401);

  const password = 'a-Long-viewer-passphrase-42';
  const viewer = await server.call('POST', '/api/users', { email: 'metrics-viewer@example.com', name: 'Viewer', role: 'viewer', password });
  assert.equal(viewer.status, 201, await viewer.clone().text());
  const login = await fetch(`${server.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'metrics-viewer@example.com', password }),
  });
  assert.equal(login.status, 200, await login.clone().text());
  const cookie = login.headers.getSetCookie()[0]!.split(';')[0]!;
  assert.equal((await scrape(server, { cookie })).status, 403);

  // The admin may read it without the token; the token of one server opens nothing on another.
  assert.equal((await scrape(server, { authorization: 'Bearer fy_test_admin_token_0123456789abcdef' })).status, 200);
  assert.equal((await scrape(other)).status, 401);
});

test('each server keeps its own registry', async () => {
  const mine = await (await scrape(server)).text();
  const theirs = await (await scrape(other, { authorization: 'Bearer fy_test_admin_token_0123456789abcdef' })).text();
  assert.ok((value(mine, 'flowyard_log_bytes_ingested_total') ?? 0) > 0);
  assert.equal(value(theirs, 'flowyard_log_bytes_ingested_total'), 0);
  assert.equal(value(theirs, 'flowyard_runners_online'), 0);
});
