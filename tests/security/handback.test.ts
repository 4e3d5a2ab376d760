// A job handed back (runner shutting down) or requeued after its lease lapsed starts over, but only that
// job: the steps of the jobs before its gate keep their state, outputs and logs.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { json, publishWorkflow, rawLog, startRun, waitForRun } from '../helpers/runs.ts';
import { protocolRunner, type ProtocolRunner } from '../helpers/protocol-runner.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
let runner: ProtocolRunner;
before(async () => {
  server = await startTestServer({ leaseMs: 1000 });
  runner = await protocolRunner(server, 'handback-runner', ['handback']);
});
after(() => server.close());

const gated = (name: string) => `name: ${name}
pipelines:
  deliver:
    runs_on: [handback]
    retry: { on: [runner_lost], max_attempts: 3 }
    steps:
      - name: build
        type: step.shell_exec
        config: { image: flowyard/busybox:latest, commands: ["echo built"] }
      - name: approval
        type: step.gate
        config: { type: manual }
      - name: ship
        type: step.shell_exec
        config: { image: flowyard/busybox:latest, commands: ["echo shipping"] }
`;

/** Job 1 succeeds with outputs and a log, the gate is approved, job 2 is claimed and starts. */
async function runUntilSecondJob(name: string) {
  const run = await startRun(server, await publishWorkflow(server, name, gated(name)));
  const first = (await runner.claim())!;
  assert.equal(first.runId, run.id);
  await runner.step(first.jobId, 0, { state: 'running', startedAt: Date.now() });
  await runner.log(first.jobId, 0, 0, 'built\n');
  await runner.step(first.jobId, 0, { state: 'succeeded', exitCode: 0, finishedAt: Date.now(), outputs: { exit_code: 0, digest: 'sha256:abc' } });
  await runner.done(first.jobId, { state: 'succeeded' });
  await waitForRun(server, run.id, (r) => r.state === 'waiting');
  assert.equal((await server.call('POST', `/api/runs/${run.id}/gates/approval/approve`, { comment: 'go' })).status, 200);
  const second = (await runner.claim())!;
  assert.equal(second.runId, run.id);
  assert.deepEqual(
    second.steps.map((s) => s.name),
    ['ship'],
  );
  await runner.step(second.jobId, 2, { state: 'running', startedAt: Date.now() });
  await runner.log(second.jobId, 2, 0, 'shipping\n');
  return { runId: run.id, second };
}

async function assertFirstJobKept(runId: string) {
  const run = await json(await server.call('GET', `/api/runs/${runId}`));
  const steps = Object.fromEntries(run.steps.map((s: any) => [s.name, s]));
  assert.equal(steps.build.state, 'succeeded');
  assert.deepEqual(steps.build.outputs, { exit_code: 0, digest: 'sha256:abc' });
  assert.equal(steps.build.exitCode, 0);
  assert.equal(steps.approval.state, 'succeeded');
  assert.equal(steps.approval.outputs.gate_result.passed, true);
  assert.equal(await rawLog(server, runId, 'build'), 'built\n');
  assert.equal(steps.ship.state, 'pending', 'the handed-back job starts over');
  assert.equal(await rawLog(server, runId, 'ship'), '', 'and its own log goes');
  return run;
}

test("a hand-back during the job after a gate keeps the first job's steps, outputs and log", async () => {
  const { runId, second } = await runUntilSecondJob('handback-release');
  await runner.release(second.jobId);
  const run = await assertFirstJobKept(runId);
  assert.equal(run.jobs.find((j: any) => j.index === 1).state, 'queued');
  const again = (await runner.claim())!;
  assert.equal(again.jobId, second.jobId);
  assert.deepEqual(again.priorOutputs.build, { exit_code: 0, digest: 'sha256:abc' }, 'the next attempt still gets the earlier outputs');
  await runner.done(again.jobId, { state: 'succeeded' });
});

test('a lease that lapses during the job after a gate requeues only that job', async () => {
  const { runId, second } = await runUntilSecondJob('handback-lease');
  // No lease renewal: the sweeper (every 250 ms, lease 1 s) requeues the job.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const run = await json(await server.call('GET', `/api/runs/${runId}`));
    if (run.jobs.find((j: any) => j.id === second.jobId)?.state === 'queued') break;
    assert.ok(Date.now() < deadline, 'the lapsed job was not requeued');
    await new Promise((r) => setTimeout(r, 100));
  }
  await assertFirstJobKept(runId);
});
