// The server masks secret values in everything it stores from a runner and in what it writes itself, even
// when a runner (an old, buggy or hostile one) reports them in clear: step outputs and step.set values,
// step errors (step.fail), job results, run outputs, deploy records and gate comments.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { json, publishWorkflow, startRun, waitForRun } from '../helpers/runs.ts';
import { protocolRunner, type ProtocolRunner } from '../helpers/protocol-runner.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const SECRET = 'wf-secret-5b1d9e';
const LONGER = `${SECRET}-and-more`;
const ENV_SECRET = 'env-secret-a77c03';

let server: TestServer;
let runner: ProtocolRunner;
before(async () => {
  server = await startTestServer();
  runner = await protocolRunner(server, 'unmasked-runner', ['masking-server']);
});
after(() => server.close());

const yaml = `name: leaky-server
secrets: [API_KEY, LONG_KEY]
modules:
  - name: local
    type: deploy.target
    config: { provider: docker }
pipelines:
  main:
    runs_on: [masking-server]
    outputs: { key: "{{ .Secrets.API_KEY }}" }
    steps:
      - name: remember
        type: step.set
        config: { values: { token: "{{ .Secrets.API_KEY }}" } }
      - name: ship
        type: step.deploy
        config: { environment: masked, target: local, image: "web:1" }
      - name: approval
        type: step.gate
        config: { type: manual }
      - name: fail
        type: step.fail
        config: { message: "failing with {{ .Secrets.API_KEY }}" }
`;

async function dbText(sql: string, args: unknown[]): Promise<string> {
  return JSON.stringify((await server.database.client.execute({ sql, args: args as never })).rows);
}

test('secret values a runner reports in clear are stored, served and shared as ***', async () => {
  const created = await server.call('POST', '/api/environments', {
    name: 'masked',
    provider: 'docker',
    config: {},
    secrets: { DEPLOY_TOKEN: ENV_SECRET },
    allowedWorkflows: ['leaky-server'],
  });
  assert.equal(created.status, 201);
  const env = await json(created);
  const id = await publishWorkflow(server, 'leaky-server', yaml);
  assert.equal((await server.call('PUT', `/api/workflows/${id}/secrets/API_KEY`, { value: SECRET })).status, 204);
  assert.equal((await server.call('PUT', `/api/workflows/${id}/secrets/LONG_KEY`, { value: LONGER })).status, 204);
  const run = await startRun(server, id);

  const first = (await runner.claim())!;
  await runner.step(first.jobId, 0, {
    state: 'succeeded',
    outputs: { token: SECRET, note: `key ${LONGER}`, nested: { list: [SECRET] }, [SECRET]: 'as a key' },
  });
  await runner.step(first.jobId, 1, {
    state: 'succeeded',
    outputs: { image: `web:${ENV_SECRET}`, version: ENV_SECRET, status: 'deployed', url: `http://127.0.0.1/${SECRET}` },
  });
  await runner.done(first.jobId, { state: 'succeeded' });
  await waitForRun(server, run.id, (r) => r.state === 'waiting');
  assert.equal((await server.call('POST', `/api/runs/${run.id}/gates/approval/approve`, { comment: `pasted ${SECRET} by mistake` })).status, 200);

  const second = (await runner.claim())!;
  await runner.step(second.jobId, 3, { state: 'failed', error: `failing with ${SECRET}` });
  await runner.done(second.jobId, { state: 'failed', error: `step fail failed: failing with ${SECRET}`, outputs: { key: SECRET } });
  const ended = await waitForRun(server, run.id, (r) => r.state === 'failed');

  const steps = Object.fromEntries(ended.steps.map((s: any) => [s.name, s]));
  assert.deepEqual(
    steps.remember.outputs,
    { token: '***', note: 'key ***', nested: { list: ['***'] }, '***': 'as a key' },
    'the longest secret is masked whole',
  );
  assert.equal(steps.fail.error, 'failing with ***');
  assert.equal(ended.error, 'step fail failed: failing with ***');
  assert.deepEqual(ended.outputs, { key: '***' });
  assert.equal(steps.approval.outputs.gate_result.reason, 'pasted *** by mistake');

  const served = JSON.stringify(ended);
  const link = await json(await server.call('POST', `/api/runs/${run.id}/shares`, {}));
  const shared = await fetch(`${server.url}/api/share/${link.token}`);
  assert.equal(shared.status, 200);
  const sharedText = await shared.text();
  assert.match(sharedText, /failing with \*\*\*/);
  const history = JSON.stringify(await json(await server.call('GET', `/api/environments/${env.id}/deployments`)));
  assert.match(history, /web:\*\*\*/);
  const stored = [
    await dbText('select outputs, error from run_steps where run_id = ?', [run.id]),
    await dbText('select outputs, error from runs where id = ?', [run.id]),
    await dbText('select error from jobs where run_id = ?', [run.id]),
    await dbText('select image, version, result from deployments where run_id = ?', [run.id]),
    await dbText('select comment from gate_decisions where run_id = ?', [run.id]),
  ].join('\n');
  assert.match(stored, /\*\*\*/);
  for (const [where, text] of Object.entries({ served, sharedText, history, stored })) {
    for (const secret of [SECRET, ENV_SECRET]) assert.ok(!text.includes(secret), `${where} holds ${secret}: ${text}`);
  }
});
