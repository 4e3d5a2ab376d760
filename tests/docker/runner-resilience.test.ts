import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { RunnerApi } from '../../runners/daemon/client.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { finished, json, publishWorkflow, rawLog, runnerFor, startRun, waitForRun } from '../helpers/runs.ts';

// Long enough that a runner on a busy machine renews before it would fence itself (after half the lease).
const LEASE_MS = 8000;
let server: TestServer;

before(async () => {
  server = await startTestServer({ leaseMs: LEASE_MS });
});
after(() => server.close());

const workflow = (name: string, steps: string, extra = '') => `name: ${name}
pipelines:
  main:
    runs_on: [${name}]
${extra}    steps:
${steps}`;

const echoStep = `      - name: hello
        type: step.shell_exec
        config: { image: flowyard/busybox:latest, commands: ["echo hello from $HOSTNAME"] }
`;

/** A runner that claims a job through the protocol and then vanishes: no renewals, no reports. */
async function claimAndVanish(label: string) {
  const api = new RunnerApi(server.url);
  const registered = (await api.call<{ token: string }>('POST', '/register', {
    registrationToken: await server.registrationToken(),
    name: `ghost-${label}`,
    labels: [label],
    capacity: 1,
  }))!;
  api.setToken(registered.token);
  const claimed = await api.call<{ job: { jobId: string; leaseMs: number } }>('POST', '/claim', { waitSeconds: 5 });
  assert.ok(claimed, 'the ghost runner should get the job');
  assert.equal(claimed.job.leaseMs, LEASE_MS);
  return { api, jobId: claimed.job.jobId };
}

test('a job whose runner vanished fails with "runner lost" within the lease time', async () => {
  const id = await publishWorkflow(server, 'lost', workflow('lost', echoStep));
  const run = await startRun(server, id);
  const { api, jobId } = await claimAndVanish('lost');
  const claimedAt = Date.now();
  const ended = await waitForRun(server, run.id, finished, 20_000);
  assert.equal(ended.state, 'failed');
  assert.equal(ended.error, 'runner lost');
  assert.ok(Date.now() - claimedAt < LEASE_MS + 1500, `took ${Date.now() - claimedAt} ms`);
  await assert.rejects(api.call('POST', `/jobs/${jobId}/lease`), /409/);
});

test('with retry on runner_lost the job is requeued and a live runner finishes it', async () => {
  const id = await publishWorkflow(server, 'retried', workflow('retried', echoStep, '    retry: { on: [runner_lost], max_attempts: 2 }\n'));
  const run = await startRun(server, id);
  await claimAndVanish('retried');
  await waitForRun(server, run.id, (r) => r.jobs[0].state === 'queued' && r.jobs[0].attempt === 1, 20_000);
  const runner = await runnerFor(server, 'rescuer', ['retried']);
  try {
    const ended = await waitForRun(server, run.id, finished);
    assert.equal(ended.state, 'succeeded');
    assert.equal(ended.jobs[0].attempt, 2);
    assert.match(await rawLog(server, run.id, 'hello'), /^hello from/m);
  } finally {
    await runner.stop();
  }
});

test('while the API is away the runner keeps going and delivers every log line exactly once', async () => {
  // The lease must outlast the outage, as a real deployment's 30 s lease outlasts a restart.
  const longLease = await startTestServer({ leaseMs: 20_000 });
  try {
    const id = await publishWorkflow(
      longLease,
      'outage',
      workflow(
        'outage',
        `      - name: count
        type: step.shell_exec
        config: { image: flowyard/busybox:latest, commands: ["for i in $(seq 1 30); do echo tick $i; sleep 0.1; done"] }
`,
      ),
    );
    const runner = await runnerFor(longLease, 'steady', ['outage']);
    try {
      const run = await startRun(longLease, id);
      await waitForRun(longLease, run.id, (r) => r.steps[0].logBytes > 0);
      await longLease.stop();
      await new Promise((r) => setTimeout(r, 2500));
      await longLease.restart();
      const ended = await waitForRun(longLease, run.id, finished, 30_000);
      assert.equal(ended.state, 'succeeded');
      const ticks = (await rawLog(longLease, run.id, 'count')).split('\n').filter((l) => l.startsWith('tick '));
      assert.deepEqual(
        ticks,
        Array.from({ length: 30 }, (_, i) => `tick ${i + 1}`),
      );
    } finally {
      await runner.stop();
    }
  } finally {
    await longLease.close();
  }
});

test('a runner stopping mid-job hands it back and another runner runs it from the start', async () => {
  const id = await publishWorkflow(
    server,
    'handover',
    workflow(
      'handover',
      `      - name: slow
        type: step.shell_exec
        config: { image: flowyard/busybox:latest, commands: ["echo begin", "sleep 30"] }
`,
    ),
  );
  const first = await runnerFor(server, 'leaving', ['handover']);
  const run = await startRun(server, id);
  await waitForRun(server, run.id, (r) => r.steps[0].state === 'running');
  await first.stop();
  const requeued = await json(await server.call('GET', `/api/runs/${run.id}`));
  assert.equal(requeued.jobs[0].state, 'queued');
  assert.equal(requeued.steps[0].state, 'pending');
  const second = await runnerFor(server, 'arriving', ['handover']);
  try {
    await waitForRun(server, run.id, (r) => r.steps[0].state === 'running' && r.jobs[0].attempt === 2);
    assert.equal((await server.call('POST', `/api/runs/${run.id}/cancel`)).status, 200);
    assert.equal((await waitForRun(server, run.id, finished)).state, 'cancelled');
  } finally {
    await second.stop();
  }
});

test('several runners never take the same job twice', async () => {
  const id = await publishWorkflow(
    server,
    'contended',
    workflow(
      'contended',
      `      - name: note
        type: step.log
        config: { message: "run {{ .meta.run_number }}" }
`,
    ),
  );
  const runners = await Promise.all(['a', 'b', 'c'].map((n) => runnerFor(server, `racer-${n}`, ['contended'])));
  try {
    const started = await Promise.all(Array.from({ length: 6 }, () => startRun(server, id)));
    const ended = await Promise.all(started.map((r) => waitForRun(server, r.id, finished)));
    assert.ok(
      ended.every((r) => r.state === 'succeeded' && r.jobs[0].attempt === 1),
      JSON.stringify(ended.map((r) => r.jobs)),
    );
    assert.ok(new Set(ended.map((r) => r.jobs[0].runnerId)).size >= 2, 'work spread over runners');
  } finally {
    await Promise.all(runners.map((r) => r.stop()));
  }
});

test('a revoked runner is refused at once', async () => {
  const api = new RunnerApi(server.url);
  const registered = (await api.call<{ runnerId: string; token: string }>('POST', '/register', {
    registrationToken: await server.registrationToken(),
    name: 'to-revoke',
    labels: ['x'],
  }))!;
  api.setToken(registered.token);
  assert.deepEqual(await api.call('POST', '/heartbeat', { runningJobs: [] }), { cancelJobs: [] });
  const listed = await json(await server.call('GET', '/api/runners'));
  const mine = listed.runners.find((r: any) => r.id === registered.runnerId);
  assert.equal(mine.online, true);
  assert.deepEqual(mine.labels, ['x']);
  assert.equal((await server.call('DELETE', `/api/runners/${registered.runnerId}`)).status, 204);
  await assert.rejects(api.call('POST', '/heartbeat', { runningJobs: [] }), /401/);
  await assert.rejects(new RunnerApi(server.url).call('POST', '/register', { registrationToken: 'fy_reg_nope', name: 'x' }), /401/);
  const stored = await server.database.client.execute('select token_hash from runners');
  assert.ok(stored.rows.every((r) => r.token_hash !== registered.token && /^[0-9a-f]{64}$/.test(String(r.token_hash))));
});
