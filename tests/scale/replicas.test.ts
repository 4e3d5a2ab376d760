import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { TEST_ADMIN_TOKEN } from '../helpers/api.ts';
import { startReplicas, type ReplicaSet } from '../helpers/replicas.ts';
import { followLog, openLogStream } from './sse-viewer.ts';

/**
 * Three `flowyard serve --no-runner` replicas on one database file, events through Redis, nginx round robin in
 * front (tests/helpers/replicas.ts). The runner, the viewer and the user talk to different replicas.
 */
let set: ReplicaSet;
let scheduleArmedAt = 0;
let scheduledWorkflow = '';
/** A claim that waited for its database poll (every 2 s) instead of an event would answer later than this. */
const WOKEN_WITHIN_MS = 1000;
/** serve fires schedules every 5 s (server/cli/serve.ts): after this every replica has ticked at least once. */
const ALL_REPLICAS_TICKED_MS = 6000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function ok<T>(response: Response | Promise<Response>, status = 200): Promise<T> {
  const answer = await response;
  const text = await answer.text();
  assert.equal(answer.status, status, `${answer.url}: ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

async function publish(name: string, yaml: string): Promise<string> {
  const { id } = await ok<{ id: string }>(set.call('POST', '/api/workflows', { name, yaml }), 201);
  await ok(set.call('POST', `/api/workflows/${id}/publish`));
  return id;
}

async function startRun(workflowId: string, base?: string): Promise<string> {
  return (await ok<{ id: string }>(set.call('POST', `/api/workflows/${workflowId}/runs`, {}, base), 201)).id;
}

/** A runner spoken by hand; every call names the replica it goes to. */
async function handRunner(name: string, labels: string[]) {
  const { token } = await ok<{ token: string }>(
    fetch(`${set.url}/api/runner/v1/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ registrationToken: await set.registrationToken(), name, labels }),
    }),
    201,
  );
  const call = (base: string, method: string, path: string, body?: unknown) =>
    fetch(`${base}/api/runner/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  return {
    call,
    async claim(base: string, waitSeconds: number) {
      const response = await call(base, 'POST', '/claim', { waitSeconds });
      const answeredAt = Date.now();
      if (response.status === 204) return { job: undefined, answeredAt };
      return { job: (await ok<{ job: { jobId: string; runId: string } }>(response)).job, answeredAt };
    },
  };
}

const replica = (index: number) => set.replicas[index]!.url;

before(async () => {
  set = await startReplicas();
  // Armed first, checked last: by then every replica's scheduler has had its turns at the one due slot.
  scheduledWorkflow = await publish(
    'every-five-minutes',
    `name: every-five-minutes
pipelines:
  tick:
    runs_on: [nobody-runs-this]
    trigger: { type: schedule, config: { cron: "0 3 1 1 *", timezone: UTC } }
    steps:
      - { name: say, type: step.log, config: { message: tick } }
`,
  );
  scheduleArmedAt = Date.now();
  await set.database.client.execute({
    sql: 'update schedule_registrations set next_run_at = ? where workflow_id = ?',
    args: [scheduleArmedAt - 1000, scheduledWorkflow],
  });
});
after(() => set?.close());

const handYaml = (name: string, label: string) => `name: ${name}
pipelines:
  p:
    runs_on: [${label}]
    steps:
      - { name: work, type: step.log, config: { message: hello } }
`;

test('a claim long-polling on replica 0 wakes when a run is created on replica 1', async () => {
  const id = await publish('wake', handYaml('wake', 'wake'));
  const runner = await handRunner('waker', ['wake']);
  const claim = runner.claim(replica(0), 10);
  await sleep(600);
  const createdAt = Date.now();
  const runId = await startRun(id, replica(1));
  const { job, answeredAt } = await claim;
  assert.equal(job?.runId, runId);
  assert.ok(answeredAt - createdAt < WOKEN_WITHIN_MS, `the claim answered ${answeredAt - createdAt} ms after the run was created elsewhere`);
  await ok(runner.call(replica(2), 'POST', `/jobs/${job.jobId}/done`, { state: 'succeeded' }), 204);
});

test('log chunks appended on replica 0 reach an SSE viewer on replica 2 at once', async () => {
  const id = await publish('logs-across', handYaml('logs-across', 'logs-across'));
  const runner = await handRunner('logger', ['logs-across']);
  const runId = await startRun(id, replica(1));
  const { job } = await runner.claim(replica(0), 10);
  assert.equal(job?.runId, runId);
  await ok(runner.call(replica(0), 'POST', `/jobs/${job.jobId}/steps/0`, { state: 'running' }), 204);
  const viewer = openLogStream(replica(2), runId, 'work');
  const latencies: number[] = [];
  await sleep(300);
  for (let seq = 0; seq < 4; seq++) {
    const sentAt = Date.now();
    const data = Buffer.from(`line ${seq}\n`).toString('base64');
    await ok(runner.call(replica(0), 'POST', `/jobs/${job.jobId}/logs`, { chunks: [{ stepIndex: 0, seq, data }] }));
    const received = await viewer.next((event) => event.event === 'log' && event.id === String(seq));
    assert.equal(JSON.parse(received.data), `line ${seq}\n`);
    latencies.push(received.receivedAt - sentAt);
    // The viewer is idle again, well inside the 1 s it would otherwise wait before re-reading the database.
    await sleep(150);
  }
  assert.ok(Math.max(...latencies) < 700, `chunk → viewer on another replica took ${latencies.join(', ')} ms`);
  await ok(runner.call(replica(0), 'POST', `/jobs/${job.jobId}/steps/0`, { state: 'succeeded', exitCode: 0 }), 204);
  await ok(runner.call(replica(1), 'POST', `/jobs/${job.jobId}/done`, { state: 'succeeded' }), 204);
  assert.equal(JSON.parse((await viewer.next((event) => event.event === 'end')).data).state, 'succeeded');
  await viewer.closed;
});

test('a cancel on replica 1 reaches the runner waiting on replica 0', async () => {
  const id = await publish('cancel-across', handYaml('cancel-across', 'cancel-across'));
  const runner = await handRunner('canceller', ['cancel-across']);
  const runId = await startRun(id, replica(2));
  const { job } = await runner.claim(replica(0), 10);
  assert.equal(job?.runId, runId);
  const waiting = runner
    .call(replica(0), 'GET', `/jobs/${job.jobId}/cancel?wait=10`)
    .then(async (response) => ({ answer: await ok<{ cancelled: boolean }>(response), at: Date.now() }));
  await sleep(300);
  const cancelledAt = Date.now();
  await ok(set.call('POST', `/api/runs/${runId}/cancel`, undefined, replica(1)));
  const { answer, at } = await waiting;
  assert.equal(answer.cancelled, true);
  assert.ok(at - cancelledAt < WOKEN_WITHIN_MS, `the runner heard of the cancel ${at - cancelledAt} ms later`);
  await ok(runner.call(replica(0), 'POST', `/jobs/${job.jobId}/done`, { state: 'cancelled' }), 204);
  assert.equal((await ok<{ state: string }>(set.call('GET', `/api/runs/${runId}`))).state, 'cancelled');
});

test('a gate approved on replica 2 wakes the claim waiting on replica 0 with the next job', async () => {
  const id = await publish(
    'gate-across',
    `name: gate-across
pipelines:
  release:
    runs_on: [gate-across]
    steps:
      - { name: build, type: step.log, config: { message: built } }
      - { name: hold, type: step.gate, config: { type: manual, timeout: 1h, on_timeout: reject } }
      - { name: ship, type: step.log, config: { message: shipped } }
`,
  );
  const runner = await handRunner('gated', ['gate-across']);
  const runId = await startRun(id, replica(1));
  const first = await runner.claim(replica(0), 10);
  assert.equal(first.job?.runId, runId);
  await ok(runner.call(replica(1), 'POST', `/jobs/${first.job.jobId}/done`, { state: 'succeeded' }), 204);
  assert.equal((await ok<{ state: string }>(set.call('GET', `/api/runs/${runId}`))).state, 'waiting');
  const claim = runner.claim(replica(0), 10);
  await sleep(600);
  const approvedAt = Date.now();
  await ok(set.call('POST', `/api/runs/${runId}/gates/hold/approve`, {}, replica(2)));
  const next = await claim;
  assert.equal(next.job?.runId, runId);
  assert.notEqual(next.job.jobId, first.job.jobId);
  assert.ok(next.answeredAt - approvedAt < WOKEN_WITHIN_MS, `the next job reached the runner ${next.answeredAt - approvedAt} ms after the approval`);
  await ok(runner.call(replica(0), 'POST', `/jobs/${next.job.jobId}/done`, { state: 'succeeded' }), 204);
  assert.equal((await ok<{ state: string }>(set.call('GET', `/api/runs/${runId}`))).state, 'succeeded');
});

/** A browser's co-editor: a Yjs doc over y-websocket to `base`. */
function coEditor(base: string, workflowId: string, name: string) {
  const doc = new Y.Doc();
  const AuthedWebSocket = class extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
    }
  };
  const provider = new WebsocketProvider(`${base.replace(/^http/, 'ws')}/api/collab`, workflowId, doc, {
    WebSocketPolyfill: AuthedWebSocket as never,
    disableBc: true,
  });
  provider.awareness.setLocalStateField('user', { name });
  const synced = new Promise<void>((resolve) => provider.once('sync', () => resolve()));
  return {
    text: doc.getText('yaml'),
    provider,
    synced,
    close() {
      provider.destroy();
      doc.destroy();
    },
  };
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

test('co-editors on different replicas converge, see each other, and their text is stored once they leave', async () => {
  const yaml = 'name: co-edited\npipelines:\n  p:\n    steps:\n      - { name: a, type: step.log, config: { message: one } }\n';
  const { id } = await ok<{ id: string }>(set.call('POST', '/api/workflows', { name: 'co-edited', yaml }), 201);
  const editors: ReturnType<typeof coEditor>[] = [];
  const open = (base: string, name: string) => editors[editors.push(coEditor(base, id, name)) - 1]!;
  try {
    await coEditing(id, yaml, open);
  } finally {
    for (const editor of editors) editor.close();
  }
});

async function coEditing(id: string, yaml: string, open: (base: string, name: string) => ReturnType<typeof coEditor>) {
  const alice = open(replica(0), 'alice');
  const bob = open(replica(1), 'bob');
  await Promise.all([alice.synced, bob.synced]);
  assert.equal(bob.text.toString(), yaml);
  alice.text.insert(0, '# alice was here\n');
  bob.text.insert(bob.text.length, '# bob was here\n');
  await until(
    () => alice.text.toString() === bob.text.toString() && alice.text.toString().includes('bob') && bob.text.toString().includes('alice'),
    'convergence',
  );
  const names = (editor: ReturnType<typeof coEditor>) =>
    [...editor.provider.awareness.getStates().values()].map((state) => (state.user as { name: string })?.name);
  await until(() => names(alice).includes('bob') && names(bob).includes('alice'), 'each editor to see the other in awareness');
  // A third editor through the load balancer, on whichever replica it lands, catches up with edits not saved yet.
  const carol = open(set.url, 'carol');
  await carol.synced;
  await until(() => carol.text.toString() === alice.text.toString(), 'the third editor to catch up');
  carol.text.insert(0, '# carol too\n');
  await until(() => alice.text.toString().startsWith('# carol too\n') && bob.text.toString().startsWith('# carol too\n'), 'the third editor reaching both');
  const final = alice.text.toString();
  for (const editor of [alice, bob, carol]) editor.close();
  await until(
    async () => (await ok<{ draftYaml: string }>(set.call('GET', `/api/workflows/${id}`))).draftYaml === final,
    'the draft to hold every edit',
    15_000,
  );
  const again = open(replica(2), 'dave');
  await again.synced;
  assert.equal(again.text.toString(), final, 'a new session on another replica starts from the stored text');
}

test('a Docker step run by a runner daemon through nginx streams its log to a viewer through nginx', async () => {
  const runner = await set.startRunner({ name: 'scale-docker', labels: ['scale-docker'], capacity: 1 });
  try {
    const id = await publish(
      'docker-across',
      `name: docker-across
pipelines:
  p:
    runs_on: [scale-docker]
    steps:
      - name: count
        type: step.shell_exec
        config:
          image: flowyard/busybox:latest
          commands: ["i=0; while [ $i -lt 20 ]; do i=$((i+1)); echo line $i; sleep 0.05; done"]
`,
    );
    const runId = await startRun(id);
    const { chunks, end } = await followLog(set.url, runId, 'count');
    assert.equal(end.state, 'succeeded', runner.output());
    const lines = chunks
      .map((chunk) => chunk.text)
      .join('')
      .split('\n')
      .filter((line) => line.startsWith('line '));
    assert.deepEqual(
      lines,
      Array.from({ length: 20 }, (_, i) => `line ${i + 1}`),
    );
    await until(async () => (await ok<{ state: string }>(set.call('GET', `/api/runs/${runId}`))).state === 'succeeded', 'the run to succeed', 20_000);
  } finally {
    await runner.stop();
  }
});

test('a due schedule fires once across three replicas', async () => {
  await sleep(Math.max(0, scheduleArmedAt + ALL_REPLICAS_TICKED_MS - Date.now()));
  const { runs } = await ok<{ runs: { id: string; triggerType: string }[] }>(set.call('GET', `/api/workflows/${scheduledWorkflow}/runs`));
  assert.deepEqual(
    runs.map((run) => run.triggerType),
    ['schedule'],
  );
  await ok(set.call('POST', `/api/runs/${runs[0]!.id}/cancel`));
  const stuck = await set.database.client.execute("select count(*) as n from runs where state in ('queued', 'running')");
  assert.equal(Number(stuck.rows[0]!.n), 0, 'no run is left queued or running');
});
