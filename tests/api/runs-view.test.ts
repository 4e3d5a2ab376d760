/**
 * What the run page reads from the API: why a queued run waits, who triggered and cancelled it, which runner
 * ran each job, succeeded_with_warnings, rendered gate messages, re-runs (whole and from the failed job),
 * run list filters and the share link default. Real server, real runner, real Docker.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eq } from 'drizzle-orm';
import { runSteps } from '../../db/schema.ts';
import type { RunningRunner } from '../../runners/daemon/daemon.ts';
import { recordDeployment } from '../../server/services/environments.ts';
import { json, publishWorkflow, rawLog, runnerFor, startRun, waitForRun } from '../helpers/runs.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
let runner: RunningRunner;
before(async () => {
  server = await startTestServer({ leaseMs: 5000 });
  runner = await runnerFor(server, 'view-runner', ['view']);
});
after(async () => {
  await runner.stop();
  await server.close();
});

const ended = (run: any) => ['succeeded', 'succeeded_with_warnings', 'failed', 'cancelled', 'timed_out'].includes(run.state);
const shell = (name: string, commands: string[], extra = '') =>
  `      - name: ${name}\n        type: step.shell_exec\n        config: { image: flowyard/busybox:latest, commands: ${JSON.stringify(commands)} }\n${extra}`;
const workflow = (name: string, labels: string, steps: string) => `name: ${name}\npipelines:\n  main:\n    runs_on: [${labels}]\n    steps:\n${steps}`;

test('a run no online runner can take says why; publish warns (not fails) about the labels; cancel records who', async () => {
  const yaml = workflow('stranded', 'gpu-x', shell('only', ['echo never']));
  const created = await json(await server.call('POST', '/api/workflows', { name: 'stranded', yaml }));
  const tried = await json(await server.call('POST', `/api/workflows/${created.id}/try-activate`));
  assert.equal(tried.status, 'build_ok');
  const warning = tried.diagnostics.find((d: any) => d.code === 'no_matching_runner');
  assert.ok(warning, `try-activate warns: ${JSON.stringify(tried)}`);
  assert.equal(warning.severity, 'warning');
  assert.match(warning.message, /no registered runner has the labels \[gpu-x\]/);
  assert.equal(warning.line, 4, 'points at runs_on');
  const published = await server.call('POST', `/api/workflows/${created.id}/publish`);
  assert.equal(published.status, 200, 'a warning does not stop publishing');

  const run = await startRun(server, created.id);
  const seen = await json(await server.call('GET', `/api/runs/${run.id}`));
  assert.equal(seen.state, 'queued');
  assert.equal(seen.waitingReason, 'no online runner has the labels [gpu-x]; 1 runner online');
  assert.equal(seen.trigger.type, 'manual');
  assert.equal(seen.trigger.user.email, 'admin@flowyard.local');

  const cancelled = await json(await server.call('POST', `/api/runs/${run.id}/cancel`));
  assert.equal(cancelled.state, 'cancelled');
  assert.equal(cancelled.waitingReason, null);
  assert.equal(cancelled.cancelledByUser.email, 'admin@flowyard.local');
  assert.equal(cancelled.cancelledBy, cancelled.cancelledByUser.id);
  assert.deepEqual(
    cancelled.steps.map((s: any) => [s.state, s.startedAt]),
    [['cancelled', null]],
  );
});

test('failed continue_on_error steps end the run succeeded_with_warnings; the list filters by state and pipeline and says who', async () => {
  const steps = shell('flaky', ['exit 3'], '        continue_on_error: true\n') + shell('after', ['echo fine']);
  const id = await publishWorkflow(server, 'warned', workflow('warned', 'view', steps));
  const run = await waitForRun(server, (await startRun(server, id)).id, ended);
  assert.equal(run.state, 'succeeded_with_warnings', JSON.stringify(run.steps));
  assert.deepEqual(
    run.steps.map((s: any) => s.state),
    ['failed', 'succeeded'],
  );
  assert.equal(run.runnerNames[run.jobs[0].id], 'view-runner');
  const whole = await server.call('GET', `/api/runs/${run.id}/log`);
  assert.equal(whole.status, 200);
  assert.match(await whole.text(), /── flaky \(failed\) ──\x1b\[0m\n(.|\n)*── after \(succeeded\) ──\x1b\[0m\n(.|\n)*fine\n$/);
  const tail = await server.call('GET', `/api/runs/${run.id}/log?tail_lines=1`);
  assert.equal(tail.headers.get('x-log-truncated'), '1');
  assert.equal(await tail.text(), 'fine\n');
  const all = await server.call('GET', `/api/runs/${run.id}/log?tail_lines=1000`);
  assert.equal(all.headers.get('x-log-truncated'), '0');
  assert.equal(await all.text(), await (await server.call('GET', `/api/runs/${run.id}/log`)).text());
  const clean = await waitForRun(
    server,
    (await startRun(server, await publishWorkflow(server, 'clean', workflow('clean', 'view', shell('ok', ['true']))))).id,
    ended,
  );
  assert.equal(clean.state, 'succeeded');

  const warned = await json(await server.call('GET', `/api/workflows/${id}/runs?state=succeeded_with_warnings`));
  assert.deepEqual(
    warned.runs.map((r: any) => r.id),
    [run.id],
  );
  assert.equal(warned.runs[0].trigger.user.name, 'Admin');
  assert.deepEqual((await json(await server.call('GET', `/api/workflows/${id}/runs?state=failed`))).runs, []);
  assert.equal((await json(await server.call('GET', `/api/workflows/${id}/runs?pipeline=main`))).runs.length, 1);
  assert.deepEqual((await json(await server.call('GET', `/api/workflows/${id}/runs?pipeline=other`))).runs, []);
  const bad = await server.call('GET', `/api/workflows/${id}/runs?state=exploded`);
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error.message, /state/);
});

test('a gate shows its message rendered with earlier outputs and inputs, secrets masked', async () => {
  const yaml = `name: gated-message
secrets: [TOKEN]
pipelines:
  main:
    runs_on: [view]
    inputs: { target: { type: string, default: prod } }
    steps:
${shell('build', ['echo built'])}      - name: facts
        type: step.set
        config: { values: { release: "r-42" } }
      - name: approval
        type: step.gate
        config: { type: manual, message: "Ship {{ .release }} to {{ .Inputs.target }} (build exit {{ .steps.build.exit_code }}) with {{ .Secrets.TOKEN }}" }
${shell('ship', ['echo shipped'])}`;
  const id = await publishWorkflow(server, 'gated-message', yaml);
  assert.equal((await server.call('PUT', `/api/workflows/${id}/secrets/TOKEN`, { value: 'hunter2-secret' })).status, 204);
  const run = await waitForRun(server, (await startRun(server, id)).id, (r) => r.state === 'waiting');
  const gate = run.steps.find((s: any) => s.name === 'approval');
  assert.equal(gate.outputs.message, 'Ship r-42 to prod (build exit 0) with ***');
  await server.call('POST', `/api/runs/${run.id}/gates/approval/reject`, { comment: 'not now' });
});

test('re-run from the failed job carries the earlier job, its outputs and workspace; a whole re-run starts over', async () => {
  const yaml = `name: rerun-me
pipelines:
  main:
    runs_on: [view]
    steps:
${shell('build', ['echo built-$RANDOM$RANDOM > artifact.txt', 'cat artifact.txt'])}      - name: approval
        type: step.gate
        config: { type: auto, auto_approve_conditions: ["steps.build.exit_code == 0"] }
${shell('check', ['cat artifact.txt', 'echo exit={{ .steps.build.exit_code }}', 'test "$GO" = go-ahead'])}`;
  const id = await publishWorkflow(server, 'rerun-me', yaml);
  await server.call('PUT', `/api/workflows/${id}/secrets/GO`, { value: 'stop-here' });
  const first = await waitForRun(server, (await startRun(server, id)).id, ended);
  assert.equal(first.state, 'failed', JSON.stringify(first.steps));
  const built = (await rawLog(server, first.id, 'build')).match(/built-\d+/)![0];

  const early = await server.call('POST', `/api/runs/${first.id}/rerun`, { fromFailed: true, extra: 1 });
  assert.equal(early.status, 400, 'unknown fields are refused');
  await server.call('PUT', `/api/workflows/${id}/secrets/GO`, { value: 'go-ahead' });
  const response = await server.call('POST', `/api/runs/${first.id}/rerun`, { fromFailed: true });
  assert.equal(response.status, 201, await response.clone().text());
  const queued = await response.json();
  assert.equal(queued.number, 2);
  assert.equal(queued.version, first.version);
  assert.deepEqual(queued.trigger.rerunOf, { run_id: first.id, number: 1, from_job: 1 });
  assert.equal(queued.trigger.user.email, 'admin@flowyard.local');
  assert.deepEqual(
    queued.steps.map((s: any) => s.state),
    ['succeeded', 'succeeded', 'pending'],
  );
  const second = await waitForRun(server, queued.id, ended);
  assert.equal(second.state, 'succeeded', JSON.stringify(second.steps));
  const checked = await rawLog(server, second.id, 'check');
  assert.ok(checked.includes(built), `the failed job restored the first run's workspace: ${checked}`);
  assert.match(checked, /exit=0/);
  assert.ok((await rawLog(server, second.id, 'build')).includes(built), 'the carried job keeps its log');

  const whole = await json(await server.call('POST', `/api/runs/${second.id}/rerun`));
  assert.deepEqual(
    whole.steps.map((s: any) => s.state),
    ['pending', 'pending', 'pending'],
  );
  assert.equal(whole.trigger.rerunOf.from_job, 0);
  const third = await waitForRun(server, whole.id, ended);
  assert.equal(third.state, 'succeeded');
  assert.ok(!(await rawLog(server, third.id, 'build')).includes(built), 'a whole re-run builds again');

  const nothing = await server.call('POST', `/api/runs/${third.id}/rerun`, { fromFailed: true });
  assert.equal(nothing.status, 409);
  assert.match((await nothing.json()).error.message, /no failed job/);
  assert.equal((await server.call('POST', '/api/runs/no-such-run/rerun')).status, 404);
});

test('re-running from the failed job asks its manual gate again: an approval is never carried over', async () => {
  const yaml = `name: rerun-gated
pipelines:
  main:
    runs_on: [view]
    steps:
${shell('build', ['echo built'])}      - name: approval
        type: step.gate
        config: { approvers: ["admin@flowyard.local"] }
${shell('deploy', ['test "$GO" = go-ahead'])}`;
  const id = await publishWorkflow(server, 'rerun-gated', yaml);
  await server.call('PUT', `/api/workflows/${id}/secrets/GO`, { value: 'stop-here' });
  const started = await startRun(server, id);
  await waitForRun(server, started.id, (run: any) => run.state === 'waiting');
  assert.equal((await server.call('POST', `/api/runs/${started.id}/gates/approval/approve`, { comment: 'first time' })).status, 200);
  const first = await waitForRun(server, started.id, ended);
  assert.equal(first.state, 'failed');

  await server.call('PUT', `/api/workflows/${id}/secrets/GO`, { value: 'go-ahead' });
  const rerun = await json(await server.call('POST', `/api/runs/${first.id}/rerun`, { fromFailed: true }));
  assert.equal(rerun.state, 'waiting', 'the re-run waits for a new decision instead of deploying at once');
  assert.deepEqual(
    rerun.steps.map((s: any) => s.state),
    ['succeeded', 'waiting', 'pending'],
  );
  assert.deepEqual(rerun.gateDecisions, [], "the first run's approval is not copied");
  assert.equal((await server.call('POST', `/api/runs/${rerun.id}/gates/approval/approve`, { comment: 'again' })).status, 200);
  const second = await waitForRun(server, rerun.id, ended);
  assert.equal(second.state, 'succeeded', JSON.stringify(second.steps));
});

test('share links last 7 days unless told otherwise; null means until revoked', async () => {
  const id = await publishWorkflow(server, 'shared', workflow('shared', 'view', shell('one', ['true'])));
  const run = await startRun(server, id);
  const plain = await json(await server.call('POST', `/api/runs/${run.id}/shares`));
  const days = (Date.parse(plain.expiresAt) - Date.now()) / 86_400_000;
  assert.ok(days > 6.99 && days <= 7, `expires in ${days} days`);
  assert.equal((await json(await server.call('POST', `/api/runs/${run.id}/shares`, { expiresInHours: null }))).expiresAt, null);
  const day = await json(await server.call('POST', `/api/runs/${run.id}/shares`, { expiresInHours: 24 }));
  assert.ok(Math.abs(Date.parse(day.expiresAt) - Date.now() - 86_400_000) < 60_000);
});

test('deploy history names the workflow and run number and links the live URL the deploy step reported', async () => {
  const id = await publishWorkflow(server, 'deployer', workflow('deployer', 'view', shell('ship', ['true'])));
  const run = await waitForRun(server, (await startRun(server, id)).id, ended);
  const environment = await json(await server.call('POST', '/api/environments', { name: 'view-staging', provider: 'docker', config: {} }));
  // What reportStep stores for a finished step.deploy (tests/docker/delivery.test.ts runs a real one).
  await server.database.db
    .update(runSteps)
    .set({ outputs: { url: 'http://127.0.0.1:8081/', status: 'deployed' } })
    .where(eq(runSteps.runId, run.id));
  await recordDeployment(server.database.db, {
    environment: 'view-staging',
    workflowId: id,
    runId: run.id,
    step: 'ship',
    image: 'app:1',
    version: '1',
    strategy: 'rolling',
    result: 'deployed',
    triggeredBy: null,
  });
  const history = await json(await server.call('GET', `/api/environments/${environment.id}/deployments`));
  assert.deepEqual(
    history.deployments.map((d: any) => [d.workflowName, d.runNumber, d.url]),
    [['deployer', 1, 'http://127.0.0.1:8081/']],
  );
});
