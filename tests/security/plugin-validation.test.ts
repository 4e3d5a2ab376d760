import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eq } from 'drizzle-orm';
import { users } from '../../db/schema.ts';
import { recordValidationRun, startValidationRecorder } from '../../server/services/plugin-validation-results.ts';
import { validationWorkflowName } from '../../server/services/plugin-validation.ts';
import { publishWorkflow } from '../../server/services/workflows.ts';
import { installExamplePlugin } from '../helpers/plugin-rows.ts';
import { protocolRunner, type ProtocolRunner } from '../helpers/protocol-runner.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
let runner: ProtocolRunner;
let stopRecorder: () => void;

before(async () => {
  server = await startTestServer();
  runner = await protocolRunner(server, 'validation-attacks', ['docker']);
  stopRecorder = startValidationRecorder(server.database.db, server.events);
});
after(async () => {
  stopRecorder();
  await server.close();
});

const EXAMPLE = `name: minimal
secrets: [STAGING_TOKEN]
pipelines:
  main:
    runs_on: [docker]
    steps:
      - { name: probe, type: step.log, config: { message: probing } }
`;

const install = (name: string) => installExamplePlugin(server.database.db, name, EXAMPLE);

async function ok(response: Response, status = 200) {
  assert.equal(response.status, status, await response.clone().text());
  return response.json();
}

async function environmentWithSecret(name: string) {
  return ok(await server.call('POST', '/api/environments', { name, provider: 'docker', config: {}, secrets: { STAGING_TOKEN: `token-of-${name}` } }), 201);
}

const lentSecrets = async (workflowName: string) =>
  Number(
    (
      await server.database.client.execute({
        sql: 'select count(*) as n from workflow_secrets s join workflows w on w.id = s.workflow_id where w.name = ?',
        args: [workflowName],
      })
    ).rows[0]!.n,
  );

/** Takes the queued job and reports it finished with `state`, as a runner would. */
async function finishNextJob(state: 'succeeded' | 'failed') {
  const job = await runner.claim();
  assert.ok(job, 'a job to claim');
  await runner.done(job.jobId, { state, outputs: {}, ...(state === 'failed' ? { error: 'probe failed' } : {}) });
  return job;
}

const history = async (name: string) => ok(await server.call('GET', `/api/plugin-validations/${name}`));

async function waitForResults(name: string, count: number) {
  for (let i = 0; ; i++) {
    const seen = await history(name);
    if (seen.results.length >= count) return seen;
    assert.ok(i < 100, `expected ${count} results, have ${JSON.stringify(seen.results)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('secrets are lent to the system workflow only while its validation runs; forged validation runs promote nothing', async () => {
  const plugin = 'acme/target';
  await install(plugin);
  const env = await environmentWithSecret('target-staging');
  await ok(await server.call('PUT', `/api/plugin-validations/${plugin}/environment`, { environmentId: env.id }));
  const started = await ok(await server.call('POST', `/api/plugin-validations/${plugin}/validate`), 202);
  assert.equal(started.result, 'running');
  assert.equal(await lentSecrets(validationWorkflowName(plugin)), 1, 'lent while the run is queued');
  const job = await finishNextJob('failed');
  assert.equal(job.secrets.STAGING_TOKEN, 'token-of-target-staging', 'the run got the credential');
  await waitForResults(plugin, 1);
  assert.equal(await lentSecrets(validationWorkflowName(plugin)), 0, 'withdrawn once the run ended');

  // A version with a webhook in the system workflow, not published by the system user, and a body that claims to be a validation.
  const workflowId = started.runId && (await ok(await server.call('GET', `/api/runs/${started.runId}`))).workflowId;
  const forged = `name: ${validationWorkflowName(plugin)}
pipelines:
  main:
    trigger: { type: http, config: { path: /forge } }
    runs_on: [docker]
    steps:
      - { name: fake, type: step.log, config: { message: all good } }
`;
  // The API refuses it (validation-workflow-lock.test.ts); published some other way, it must still promote nothing.
  assert.equal((await server.call('POST', `/api/workflows/${workflowId}/publish`, { yaml: forged })).status, 403);
  const [admin] = await server.database.db.select({ id: users.id }).from(users).where(eq(users.role, 'admin'));
  assert.equal((await publishWorkflow(server.database.db, workflowId, { yaml: forged }, admin!)).status, 'published');
  const hook = await fetch(`${server.url}/hooks/forge`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-flowyard-delivery': 'forged-1' },
    body: JSON.stringify({ type: 'plugin_validation', plugin, version: '1.0.0' }),
  });
  const forgedRun = await ok(hook, 202);
  await finishNextJob('succeeded');
  assert.equal(await recordValidationRun(server.database.db, forgedRun.runId), null, 'not a validation run');
  await new Promise((r) => setTimeout(r, 300));
  const after = await history(plugin);
  assert.equal(after.status, 'experimental', 'the forged green run promoted nothing');
  assert.deepEqual(
    after.results.map((r: { result: string }) => r.result),
    ['red'],
  );
});

test("a workflow squatting a plugin's validation name is refused, and gets none of the environment's secrets", async () => {
  const plugin = 'acme/squatted';
  await install(plugin);
  await ok(await server.call('POST', '/api/workflows', { name: validationWorkflowName(plugin), yaml: EXAMPLE.replace('name: minimal', 'name: x') }), 201);
  const env = await environmentWithSecret('squat-staging');
  await ok(await server.call('PUT', `/api/plugin-validations/${plugin}/environment`, { environmentId: env.id }));
  const refused = await server.call('POST', `/api/plugin-validations/${plugin}/validate`);
  assert.equal(refused.status, 409);
  assert.match((await refused.json()).error.message, /not made by plugin validation/);
  assert.equal(await lentSecrets(validationWorkflowName(plugin)), 0);
});

test('a user who can sign in with the system e-mail is not adopted as the owner of validations', async () => {
  const plugin = 'acme/impostor';
  await install(plugin);
  const env = await environmentWithSecret('impostor-staging');
  await ok(await server.call('PUT', `/api/plugin-validations/${plugin}/environment`, { environmentId: env.id }));
  // The system user exists from the first test; make it an account that can sign in, as an admin could.
  await server.database.client.execute("update users set password_hash = 'x', disabled_at = null where email = 'system@flowyard.local'");
  const refused = await server.call('POST', `/api/plugin-validations/${plugin}/validate`);
  assert.equal(refused.status, 409);
  assert.match((await refused.json()).error.message, /can sign in, so it cannot own plugin validations/);
  assert.equal(await lentSecrets(validationWorkflowName(plugin)), 0);
});
