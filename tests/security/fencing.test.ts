import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fenceAfterMs } from '../../runners/daemon/daemon.ts';
import { startProxy } from '../helpers/proxy.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { docker, finished, publishWorkflow, rawLog, runnerFor, startRun, waitForRun } from '../helpers/runs.ts';

const LEASE_MS = 5000;
let server: TestServer;

before(async () => {
  server = await startTestServer({ leaseMs: LEASE_MS });
});
after(() => server.close());

const workflow = (name: string, command: string, extra = '') => `name: ${name}
pipelines:
  main:
    runs_on: [${name}]
${extra}    steps:
      - name: work
        type: step.shell_exec
        config: { image: flowyard/busybox:latest, commands: ["echo started", "${command}"] }
`;

async function jobRow(runId: string) {
  const result = await server.database.client.execute({ sql: 'select id, state, lease_expires_at from jobs where run_id = ?', args: [runId] });
  return result.rows[0] as unknown as { id: string; state: string; lease_expires_at: number | null };
}

async function containerRunning(id: string): Promise<boolean> {
  try {
    return (await docker.getContainer(id).inspect()).State.Running;
  } catch {
    return false;
  }
}

async function stepContainers(runId: string) {
  return docker.listContainers({ all: true, filters: { label: [`flowyard.run=${runId}`] } });
}

/** Container start / die / destroy times (ms) from the engine's event stream, by container id. */
async function watchContainerEvents(runId: string) {
  const events = new Map<string, Record<string, number>>();
  const stream = (await docker.getEvents({ filters: { type: ['container'], label: [`flowyard.run=${runId}`] } as never })) as NodeJS.ReadableStream & {
    destroy(): void;
  };
  let buffered = '';
  stream.on('data', (data: Buffer) => {
    buffered += data.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines.filter(Boolean)) {
      const event = JSON.parse(line) as { id: string; status?: string; Action?: string; timeNano: number };
      const action = (event.Action ?? event.status ?? '').split(':')[0]!;
      const times = events.get(event.id) ?? {};
      times[action] ??= event.timeNano / 1e6;
      events.set(event.id, times);
    }
  });
  return { events, stop: () => stream.destroy() };
}

test('a runner gives a job up a margin before its lease lapses: 20 % of it, at least 2 s, at most half', () => {
  assert.equal(fenceAfterMs(30_000), 24_000);
  assert.equal(fenceAfterMs(5000), 3000);
  assert.equal(fenceAfterMs(3000), 1500);
});

test('a runner cut off from the API stops its step container before its lease lapses and reports nothing more', async () => {
  const id = await publishWorkflow(server, 'fence-cut', workflow('fence-cut', 'sleep 60'));
  const proxy = await startProxy(server.url);
  const runner = await runnerFor(server, 'cut-off', ['fence-cut'], 1, proxy.url);
  try {
    const run = await startRun(server, id);
    const running = await waitForRun(server, run.id, (r) => (r.steps[0].state === 'running' && r.steps[0].logBytes > 0) || finished(r));
    assert.equal(running.state, 'running', JSON.stringify(running));
    const [container] = await stepContainers(run.id);
    assert.ok(container, 'the step container runs');
    const { id: jobId } = await jobRow(run.id);
    assert.equal((await docker.getContainer(container.Id).inspect()).Config.Labels['flowyard.job'], jobId);

    proxy.block();
    const blockedAt = Date.now();
    const requestsBefore = proxy.requests.length;
    await new Promise((r) => setTimeout(r, 100));
    const lease = await jobRow(run.id);
    assert.equal(lease.state, 'running');
    const leaseExpiresAt = Number(lease.lease_expires_at);

    while (await containerRunning(container.Id)) {
      assert.ok(Date.now() < leaseExpiresAt, `the container still ran when the lease lapsed (${Date.now() - blockedAt} ms after the cut)`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const stoppedAt = Date.now();
    assert.ok(stoppedAt < leaseExpiresAt, `stopped ${stoppedAt - leaseExpiresAt} ms after the lease lapsed`);
    assert.ok(stoppedAt - blockedAt < LEASE_MS, `stopped ${stoppedAt - blockedAt} ms after the cut`);
    assert.equal((await jobRow(run.id)).state, 'running', 'the API had not given the job away yet');

    proxy.unblock();
    const ended = await waitForRun(server, run.id, finished, 15_000);
    assert.equal(ended.state, 'failed');
    assert.equal(ended.error, 'runner lost');
    assert.match(await rawLog(server, run.id, 'work'), /^started$/m, 'lines delivered before the cut are kept');
    await new Promise((r) => setTimeout(r, 1000));
    const later = proxy.requests.slice(requestsBefore).filter((r) => r.path.includes(`/jobs/${jobId}/`));
    assert.deepEqual(
      later.map((r) => r.path),
      [],
      'a fenced runner reports nothing about the job',
    );
    assert.equal((await stepContainers(run.id)).length, 0);
  } finally {
    proxy.unblock();
    await runner.stop();
    await proxy.close();
  }
});

test('with retry on runner_lost the first attempt is gone before the second attempt starts', async () => {
  const name = 'fence-retry';
  const id = await publishWorkflow(server, name, workflow(name, 'sleep 60', '    retry: { on: [runner_lost], max_attempts: 2 }\n'));
  const proxy = await startProxy(server.url);
  const first = await runnerFor(server, 'partitioned', [name], 1, proxy.url);
  let second: Awaited<ReturnType<typeof runnerFor>> | undefined;
  const run = await startRun(server, id);
  const watch = await watchContainerEvents(run.id);
  try {
    await waitForRun(server, run.id, (r) => r.steps[0].state === 'running' && r.steps[0].logBytes > 0);
    second = await runnerFor(server, 'healthy', [name]);
    proxy.block();
    await waitForRun(server, run.id, (r) => r.jobs[0].attempt === 2 && r.steps[0].state === 'running' && r.steps[0].logBytes > 0, 40_000);
    await new Promise((r) => setTimeout(r, 500));

    const attempts = [...watch.events.entries()].filter(([, times]) => times.start).sort((a, b) => a[1].start! - b[1].start!);
    assert.equal(attempts.length, 2, JSON.stringify([...watch.events]));
    const [[, one], [, two]] = attempts as [[string, Record<string, number>], [string, Record<string, number>]];
    assert.ok(one.die && one.die < two.start!, `attempt 1 died at ${one.die}, attempt 2 started at ${two.start}`);
    assert.ok(one.destroy && one.destroy < two.start!, "attempt 1's container was removed before attempt 2 started");

    assert.equal((await server.call('POST', `/api/runs/${run.id}/cancel`)).status, 200);
    assert.equal((await waitForRun(server, run.id, finished)).state, 'cancelled');
  } finally {
    watch.stop();
    proxy.unblock();
    await Promise.all([first.stop(), second?.stop()]);
    await proxy.close();
  }
});
