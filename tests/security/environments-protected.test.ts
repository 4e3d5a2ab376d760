// Protected environments: only workflows an admin allowed deploy there, and the approvers of its deploys
// are the environment's (set by an admin), not whoever the workflow file names.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createApiToken, createUser } from '../../server/services/auth.ts';
import { json, startRun, waitForRun } from '../helpers/runs.ts';
import { protocolRunner, type ProtocolRunner } from '../helpers/protocol-runner.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
let runner: ProtocolRunner;
let editorToken: string;
let releaseToken: string;
const AUTHOR = 'author@example.com';

before(async () => {
  server = await startTestServer();
  runner = await protocolRunner(server, 'protected-runner', ['protected']);
  const editor = await createUser(server.database.db, { email: AUTHOR, name: 'Author', role: 'editor' });
  editorToken = (await createApiToken(server.database.db, editor.id, 't')).token;
  const release = await createUser(server.database.db, { email: 'release@example.com', name: 'Release', role: 'editor' });
  releaseToken = (await createApiToken(server.database.db, release.id, 't')).token;
});
after(() => server.close());

async function as(token: string, method: string, path: string, body?: unknown) {
  return fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function environment(name: string, extra: Record<string, unknown> = {}) {
  const response = await server.call('POST', '/api/environments', {
    name,
    provider: 'docker',
    config: {},
    secrets: { TOKEN: `${name}-token-value` },
    ...extra,
  });
  assert.equal(response.status, 201, await response.clone().text());
  return json(response);
}

const deployer = (name: string, environmentName: string, beforeDeploy = '') => `name: ${name}
modules:
  - name: local
    type: deploy.target
    config: { provider: docker }
pipelines:
  main:
    runs_on: [protected]
    steps:
      - name: build
        type: step.log
        config: { message: built }
${beforeDeploy}      - name: ship
        type: step.deploy
        config: { environment: ${environmentName}, target: local, image: "web:1" }
`;

const notAllowed = (env: string, workflow: string) =>
  `environment "${env}" is protected: an admin must allow workflow "${workflow}" to deploy to it (Environments → ${env} → Allowed workflows)`;

async function createAsEditor(name: string, yaml: string): Promise<string> {
  const created = await as(editorToken, 'POST', '/api/workflows', { name, yaml });
  assert.equal(created.status, 201, await created.clone().text());
  return (await created.json()).id;
}

test('new environments are protected; an editor cannot change protection', async () => {
  const env = await environment('guarded');
  assert.equal(env.protected, true);
  assert.deepEqual(env.allowedWorkflows, []);
  const widened = await as(editorToken, 'PUT', `/api/environments/${env.id}`, {
    name: 'guarded',
    provider: 'docker',
    config: {},
    allowedWorkflows: ['mine'],
    protected: false,
  });
  assert.equal(widened.status, 403);
  const bad = await server.call('PUT', `/api/environments/${env.id}`, { name: 'guarded', provider: 'docker', config: {}, approvers: ['not an approver'] });
  assert.equal(bad.status, 400);
  assert.match(await bad.text(), /approver is an e-mail address or one of role:viewer, role:editor, role:admin/);
});

test("an editor's workflow deploying to a protected environment is refused at try-activate and publish until an admin allows it", async () => {
  const env = await environment('prod');
  const yaml = deployer('sneaky', 'prod');
  const id = await createAsEditor('sneaky', yaml);
  const line = yaml.split('\n').findIndex((l) => l.includes('environment: prod')) + 1;
  const column = yaml.split('\n')[line - 1]!.indexOf('prod') + 1;
  for (const path of [`/api/workflows/${id}/try-activate`, `/api/workflows/${id}/publish`]) {
    const refused = await as(editorToken, 'POST', path, {});
    assert.equal(refused.status, 422, path);
    const body = await refused.json();
    const diagnostic = body.diagnostics.find((d: any) => d.code === 'environment_protected');
    assert.deepEqual(
      { message: diagnostic.message, line: diagnostic.line, column: diagnostic.column, path: diagnostic.path },
      { message: notAllowed('prod', 'sneaky'), line, column, path: 'pipelines.main.steps[1].config.environment' },
    );
    assert.equal(body.error, `line ${line}, column ${column}: ${notAllowed('prod', 'sneaky')}`);
  }
  const workflow = await json(await server.call('GET', `/api/workflows/${id}`));
  assert.equal(workflow.activeVersion, null, 'nothing was published');

  const allowed = await server.call('PUT', `/api/environments/${env.id}`, { name: 'prod', provider: 'docker', config: {}, allowedWorkflows: ['sneaky'] });
  assert.equal(allowed.status, 200);
  assert.deepEqual((await allowed.json()).allowedWorkflows, ['sneaky']);
  assert.equal((await as(editorToken, 'POST', `/api/workflows/${id}/publish`, {})).status, 200);

  // An admin takes the permission back after publish: the deploy fails when the job is claimed.
  assert.equal((await server.call('PUT', `/api/environments/${env.id}`, { name: 'prod', provider: 'docker', config: {}, allowedWorkflows: [] })).status, 200);
  const run = await startRun(server, id);
  const job = (await runner.claim())!;
  const ship = job.steps.find((s) => s.name === 'ship')!;
  assert.deepEqual(
    { type: ship.type, config: ship.config, secrets: ship.secrets },
    { type: 'step.fail', config: { message: notAllowed('prod', 'sneaky') }, secrets: undefined },
  );
  assert.ok(!JSON.stringify(job).includes('prod-token-value'));
  await runner.done(job.jobId, { state: 'failed', error: `step ship failed: ${notAllowed('prod', 'sneaky')}` });
  await waitForRun(server, run.id, (r) => r.state === 'failed');
});

test("a deploy to a protected environment with approvers needs a gate, decided by the environment's approvers only", async () => {
  const env = await environment('live', { allowedWorkflows: ['gated-deploy', 'ungated-deploy'], approvers: ['release@example.com'] });
  assert.deepEqual(env.approvers, ['release@example.com']);
  const ungated = await createAsEditor('ungated-deploy', deployer('ungated-deploy', 'live'));
  const refused = await (await as(editorToken, 'POST', `/api/workflows/${ungated}/publish`, {})).json();
  assert.match(refused.error, /environment "live" is protected and its deployments need approval by release@example.com: put a step\.gate before this step/);

  // The author names themselves approver and adds conditions that hold: neither decides a protected deploy.
  const gate = `      - name: approval
        type: step.gate
        config: { type: auto, approvers: ["${AUTHOR}"], auto_approve_conditions: ["steps.build.state == 'succeeded'"], on_timeout: approve }
`;
  const id = await createAsEditor('gated-deploy', deployer('gated-deploy', 'live', gate));
  assert.equal((await as(editorToken, 'POST', `/api/workflows/${id}/publish`, {})).status, 200);
  const run = await startRun(server, id);
  const first = (await runner.claim())!;
  await runner.step(first.jobId, 0, { state: 'succeeded', outputs: {} });
  await runner.done(first.jobId, { state: 'succeeded' });
  const waiting = await waitForRun(server, run.id, (r) => r.state === 'waiting' || r.state === 'queued' || r.state === 'failed');
  assert.equal(waiting.state, 'waiting', 'no auto-approval before a protected deploy');

  const byAuthor = await as(editorToken, 'POST', `/api/runs/${run.id}/gates/approval/approve`, { comment: 'self-approved' });
  assert.equal(byAuthor.status, 403);
  assert.match(
    (await byAuthor.json()).error.message,
    /only release@example.com may decide gate "approval": it guards a deploy to protected environment "live"/,
  );
  assert.equal((await as(releaseToken, 'POST', `/api/runs/${run.id}/gates/approval/approve`, { comment: 'ok' })).status, 200);

  const second = (await runner.claim())!;
  const ship = second.steps.find((s) => s.name === 'ship')!;
  assert.equal(ship.type, 'step.deploy');
  assert.deepEqual(ship.secrets, { TOKEN: 'live-token-value' });
  await runner.done(second.jobId, { state: 'succeeded' });
});
