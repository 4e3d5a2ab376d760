import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { RunningRunner } from '../../runners/daemon/daemon.ts';
import { createApiToken, createUser } from '../../server/services/auth.ts';
import { finished, json, publishWorkflow, rawLog, runnerFor, startRun, waitForRun } from '../helpers/runs.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
let runner: RunningRunner;
before(async () => {
  server = await startTestServer({ leaseMs: 5000 });
  runner = await runnerFor(server, 'gate-runner', ['gates']);
});
after(async () => {
  await runner.stop();
  await server.close();
});

const gated = (name: string, gateConfig: string) => `name: ${name}
pipelines:
  deliver:
    runs_on: [gates]
    steps:
      - name: build
        type: step.shell_exec
        config: { image: flowyard/busybox:latest, commands: ["echo built-$RANDOM > artifact.txt", "cat artifact.txt"] }
      - name: facts
        type: step.set
        config: { values: { ready: "yes" } }
      - name: approval
        type: step.gate
        config: ${gateConfig}
      - name: ship
        type: step.shell_exec
        config: { image: flowyard/busybox:latest, commands: ["cat artifact.txt", "echo ready={{ .ready }} build={{ .steps.build.exit_code }}"] }
`;

async function callAs(token: string, method: string, path: string, body?: unknown) {
  return fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

test('a manual gate waits without a runner slot; only a listed approver decides; the workspace carries over', async () => {
  const approver = await createUser(server.database.db, { email: 'rel@example.com', name: 'Rel', role: 'editor' });
  const outsider = await createUser(server.database.db, { email: 'dev@example.com', name: 'Dev', role: 'editor' });
  const approverToken = (await createApiToken(server.database.db, approver.id, 't')).token;
  const outsiderToken = (await createApiToken(server.database.db, outsider.id, 't')).token;
  const id = await publishWorkflow(server, 'gated', gated('gated', '{ type: manual, approvers: [rel@example.com], timeout: 1h }'));
  const run = await waitForRun(server, (await startRun(server, id)).id, (r) => r.state === 'waiting');
  assert.deepEqual(
    run.steps.map((s: any) => s.state),
    ['succeeded', 'succeeded', 'waiting', 'pending'],
  );
  const runners = await json(await server.call('GET', '/api/runners'));
  assert.deepEqual(runners.runners.find((r: any) => r.name === 'gate-runner').currentJobs, [], 'no runner slot held while waiting');

  const denied = await callAs(outsiderToken, 'POST', `/api/runs/${run.id}/gates/approval/approve`, { comment: 'lgtm' });
  assert.equal(denied.status, 403);
  assert.match((await denied.json()).error.message, /only rel@example.com may decide/);
  const approved = await callAs(approverToken, 'POST', `/api/runs/${run.id}/gates/approval/approve`, { comment: 'ship it' });
  assert.equal(approved.status, 200);
  const ended = await waitForRun(server, run.id, finished);
  assert.equal(ended.state, 'succeeded', JSON.stringify(ended.steps));
  assert.deepEqual(ended.steps[2].outputs, { gate_result: { passed: true, type: 'manual', reason: 'ship it' } });
  assert.equal(ended.jobs.length, 2);
  const built = (await rawLog(server, run.id, 'build')).match(/^built-\d+$/m)![0];
  const shipped = await rawLog(server, run.id, 'ship');
  assert.ok(shipped.includes(built), "the second job saw the first job's workspace");
  assert.match(shipped, /ready=yes build=0/);
  assert.deepEqual(
    ended.gateDecisions.map((d: any) => [d.decision, d.via, d.userId, d.comment]),
    [['approved', 'manual', approver.id, 'ship it']],
  );
  assert.equal((await callAs(approverToken, 'POST', `/api/runs/${run.id}/gates/approval/reject`, {})).status, 409);
});

test('rejection fails the run and skips what follows', async () => {
  const id = await publishWorkflow(server, 'rejected', gated('rejected', '{ type: manual, approvers: ["role:admin"] }'));
  const run = await waitForRun(server, (await startRun(server, id)).id, (r) => r.state === 'waiting');
  const rejected = await server.call('POST', `/api/runs/${run.id}/gates/approval/reject`, { comment: 'not today' });
  assert.equal(rejected.status, 200);
  const ended = await json(await server.call('GET', `/api/runs/${run.id}`));
  assert.equal(ended.state, 'failed');
  assert.match(ended.error, /gate approval rejected by admin@flowyard.local: not today/);
  assert.deepEqual(
    ended.steps.map((s: any) => s.state),
    ['succeeded', 'succeeded', 'failed', 'skipped'],
  );
});

test('auto-approve conditions over earlier outputs pass the gate at once', async () => {
  const id = await publishWorkflow(
    server,
    'auto',
    gated('auto', '{ type: manual, auto_approve_conditions: ["steps.build.exit_code == 0 && steps.facts.ready == \'yes\'"] }'),
  );
  const ended = await waitForRun(server, (await startRun(server, id)).id, finished);
  assert.equal(ended.state, 'succeeded');
  assert.equal(ended.steps[2].outputs.gate_result.type, 'auto');
  assert.equal(ended.gateDecisions[0].via, 'auto');
});

test('a gate that times out decides by on_timeout', async () => {
  const id = await publishWorkflow(server, 'timeout', gated('timeout', '{ type: manual, timeout: 1s, on_timeout: reject }'));
  const run = await waitForRun(server, (await startRun(server, id)).id, (r) => r.state === 'waiting');
  const ended = await waitForRun(server, run.id, finished, 10_000);
  assert.equal(ended.state, 'failed');
  assert.equal(ended.gateDecisions[0].via, 'timeout');
  const cancelled = await waitForRun(
    server,
    (await startRun(server, await publishWorkflow(server, 'cancel-wait', gated('cancel-wait', '{ type: manual }')))).id,
    (r) => r.state === 'waiting',
  );
  const afterCancel = await json(await server.call('POST', `/api/runs/${cancelled.id}/cancel`));
  assert.equal(afterCancel.state, 'cancelled');
  assert.equal(afterCancel.steps[2].state, 'cancelled');
});
