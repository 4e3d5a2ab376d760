import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openDatabase, type DbHandle } from '../../db/client.ts';
import { EDGE_UNSUPPORTED } from '../../server/edge/unsupported.ts';
import { startWorkerd, wranglerSettings, type WorkerdServer } from '../helpers/workerd.ts';
import { caller, coEditor, refusedHandshake, until, type Call } from './client.ts';
import { startServices, type RunningServices } from './services.ts';
import { defineContractSuite } from './suite.ts';

/** server/edge.ts bundled for workerd (scripts/build-edge.ts), in Miniflare on a loopback port, with wrangler.toml's bindings. */
defineContractSuite({
  runtime: 'workerd',
  async start(services) {
    const worker = await startWorkerd((baseUrl) => ({ ...services.env, FLOWYARD_PUBLIC_URL: baseUrl }));
    return { baseUrl: worker.url, wsUrl: worker.url.replace(/^http/, 'ws'), stop: () => worker.close() };
  },
});

const LEASE_MS = 1000;

/** What only the edge does: the documented refusals, the cron trigger, wake-ups through the Durable Objects. */
describe('Cloudflare Workers specifics in workerd', { timeout: 90_000 }, () => {
  let services: RunningServices;
  let worker: WorkerdServer;
  let database: DbHandle;
  let admin: Call;
  let runner: Call;

  before(async () => {
    services = await startServices('workerd-edge');
    worker = await startWorkerd((baseUrl) => ({ ...services.env, FLOWYARD_PUBLIC_URL: baseUrl, FLOWYARD_LEASE_MS: String(LEASE_MS) }));
    database = await openDatabase(services.databaseUrl, services.databaseAuthToken);
    admin = caller(worker.url, { token: services.adminToken });
    const registration = await admin('POST', '/api/runner-tokens', { description: 'edge' });
    const registered = await caller(worker.url)('POST', '/api/runner/v1/register', {
      registrationToken: registration.body.token,
      name: 'by-hand',
      labels: ['edge'],
    });
    assert.equal(registered.status, 201, JSON.stringify(registered.body));
    const runnerCall = caller(worker.url, { token: registered.body.token });
    runner = (method, path, body) => runnerCall(method, `/api/runner/v1${path}`, body);
  });
  after(async () => {
    database?.close();
    await worker?.close();
    await services?.close();
  });

  const publish = async (name: string, yaml: string) => {
    const created = await admin('POST', '/api/workflows', { name, yaml });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal((await admin('POST', `/api/workflows/${created.body.id}/publish`, {})).status, 200);
    return created.body.id as string;
  };
  /** A new user of `role` signed in (choosing a new password when asked) with an API token of their own. */
  const tokenOfNewUser = async (email: string, role: string) => {
    const password = 'edge-Password-42!';
    assert.equal((await admin('POST', '/api/users', { email, name: role, role, password })).status, 201);
    const signIn = async (secret: string) => {
      const login = await caller(worker.url)('POST', '/api/auth/login', { email, password: secret });
      assert.equal(login.status, 200, JSON.stringify(login.body));
      return {
        session: caller(worker.url, { cookie: (login.headers.get('set-cookie') ?? '').split(';')[0]! }),
        mustChange: login.body.user.mustChangePassword,
      };
    };
    const first = await signIn(password);
    let session = first.session;
    if (first.mustChange) {
      assert.equal((await session('POST', '/api/auth/password', { currentPassword: password, newPassword: `${password}-new` })).status, 200);
      ({ session } = await signIn(`${password}-new`));
    }
    const token = await session('POST', '/api/tokens', { name: role });
    assert.equal(token.status, 201, JSON.stringify(token.body));
    return { token: token.body.token as string, id: token.body.id as string };
  };
  const runOf = async (runId: string) => (await admin('GET', `/api/runs/${runId}`)).body;

  test('wrangler.toml declares what the bundle exports and the test runs', () => {
    const settings = wranglerSettings();
    assert.deepEqual(settings.durableObjects, { RUN_EVENTS: 'RunEvents', WORKFLOW_COLLAB: 'WorkflowCollab' });
    assert.deepEqual(settings.migratedClasses.sort(), ['RunEvents', 'WorkflowCollab']);
    assert.ok(settings.compatibilityFlags.includes('nodejs_compat'));
    assert.deepEqual(settings.crons, ['* * * * *']);
  });

  test('routes a Worker cannot serve answer 501 naming the reason; the rest of the API is there', async () => {
    const probes: [string, string][] = [
      ['GET', '/downloads/flowyard-0.1.0.tgz'],
      ['POST', '/api/environments/some-id/test'],
      ['PUT', '/api/blobs/runs/x/site'],
      ['GET', '/metrics'],
      ['GET', '/api/docs'],
    ];
    assert.equal(probes.length, EDGE_UNSUPPORTED.length, 'one probe per documented refusal');
    for (const [method, path] of probes) {
      const answer = await admin(method, path);
      assert.equal(answer.status, 501, `${method} ${path}`);
      assert.match(answer.body.error.message, /is not available on Cloudflare Workers: \S/);
    }
    assert.equal((await admin('GET', '/api/openapi.json')).status, 200);
  });

  test('the cron trigger fires a due schedule, whose job wakes a waiting claim through the claims object; then it lapses the lease', async () => {
    const id = await publish(
      'edge-nightly',
      'name: edge-nightly\npipelines:\n  nightly:\n    runs_on: [edge]\n    trigger: { type: schedule, config: { cron: "0 3 * * *", timezone: UTC } }\n    steps:\n      - { name: say, type: step.log, config: { message: tick } }\n',
    );
    await database.client.execute({ sql: 'update schedule_registrations set next_run_at = ? where workflow_id = ?', args: [Date.now() - 60_000, id] });
    const waiting = runner('POST', '/claim', { waitSeconds: 20 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const fired = Date.now();
    await worker.scheduled();
    const claimed = await waiting;
    // The claim's own database poll comes every 2 s: an answer well before that was woken by the event.
    assert.equal(claimed.status, 200, JSON.stringify(claimed.body));
    assert.ok(Date.now() - fired < 1500, `claimed ${Date.now() - fired} ms after the cron trigger`);
    const runId = claimed.body.job.runId as string;
    assert.equal((await runOf(runId)).triggerType, 'schedule');
    // The runner goes silent: its lease lapses, and the next cron sweep finds it.
    await new Promise((resolve) => setTimeout(resolve, LEASE_MS + 200));
    assert.equal((await runOf(runId)).state, 'running');
    await worker.scheduled();
    const run = await runOf(runId);
    assert.equal(run.state, 'failed', JSON.stringify(run));
  });

  test('the cron trigger applies a gate timeout', async () => {
    const id = await publish(
      'edge-gated',
      'name: edge-gated\npipelines:\n  main:\n    runs_on: [edge]\n    steps:\n      - { name: build, type: step.log, config: { message: built } }\n      - { name: approval, type: step.gate, config: { type: manual, timeout: 1s, on_timeout: reject } }\n      - { name: ship, type: step.log, config: { message: shipped } }\n',
    );
    const started = await admin('POST', `/api/workflows/${id}/runs`, { inputs: {} });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const claimed = await runner('POST', '/claim', { waitSeconds: 5 });
    assert.equal(claimed.status, 200, JSON.stringify(claimed.body));
    const { jobId } = claimed.body.job;
    assert.equal((await runner('POST', `/jobs/${jobId}/steps/0`, { state: 'succeeded', exitCode: 0 })).status, 204);
    assert.equal((await runner('POST', `/jobs/${jobId}/done`, { state: 'succeeded' })).status, 204);
    await until(async () => (await runOf(started.body.id)).state === 'waiting', 'the gate to wait');
    await new Promise((resolve) => setTimeout(resolve, 1200));
    await worker.scheduled();
    const run = await runOf(started.body.id);
    const gate = run.steps.find((s: any) => s.name === 'approval');
    assert.equal(gate.state, 'failed', JSON.stringify(run.steps));
    assert.equal(gate.outputs.gate_result.type, 'timeout');
    assert.equal(run.steps.find((s: any) => s.name === 'ship').state, 'skipped');
  });

  test('a REST draft save reaches a live co-editor through the workflow object; a viewer may not open it', async () => {
    const created = await admin('POST', '/api/workflows', { name: 'edge-draft', yaml: 'name: edge-draft\npipelines: {}\n' });
    const editor = coEditor(worker.url.replace(/^http/, 'ws'), created.body.id, services.adminToken);
    try {
      await editor.synced;
      const saved = await admin('PUT', `/api/workflows/${created.body.id}/draft`, {
        yaml: 'name: edge-draft\n# saved by REST\npipelines: {}\n',
        baseRevision: created.body.draftRevision,
      });
      assert.equal(saved.status, 200, JSON.stringify(saved.body));
      await until(() => editor.text.toString().includes('# saved by REST'), 'the live document to take the REST save');
    } finally {
      editor.close();
    }
    const { token: viewerToken } = await tokenOfNewUser('viewer@example.com', 'viewer');
    assert.equal((await refusedHandshake(`${worker.url.replace(/^http/, 'ws')}/api/collab/${created.body.id}`, viewerToken)).status, 403);
    assert.equal((await refusedHandshake(`${worker.url.replace(/^http/, 'ws')}/api/collab/${created.body.id}`, 'fy_not_a_token')).status, 401);
  });

  test('a co-editor whose token is revoked is cut off: an edit made after that never reaches the draft', async () => {
    const created = await admin('POST', '/api/workflows', { name: 'edge-revoked', yaml: 'name: edge-revoked\npipelines: {}\n' });
    const draft = async () => (await admin('GET', `/api/workflows/${created.body.id}`)).body.draftYaml as string;
    const { token, id } = await tokenOfNewUser('editor2@example.com', 'editor');
    const editor = coEditor(worker.url.replace(/^http/, 'ws'), created.body.id, token);
    try {
      await editor.synced;
      editor.text.insert(0, '# before\n');
      await until(async () => (await draft()).startsWith('# before'), 'the first edit to be saved');
      assert.equal((await caller(worker.url, { token })('DELETE', `/api/tokens/${id}`)).status, 204);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      editor.text.insert(0, '# after revocation\n');
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.doesNotMatch(await draft(), /after revocation/);
    } finally {
      editor.close();
    }
  });
});

test('a Worker missing a setting answers every request with a JSON error naming it, not a stack trace', async () => {
  const worker = (await import('../../server/edge.ts')).default;
  const env = { FLOWYARD_PUBLIC_URL: 'https://flowyard.example.com', FLOWYARD_SECRET_KEY: 'k'.repeat(40), DATABASE_URL: 'libsql://db.example.com' } as never;
  const answer = await worker.fetch(new Request('https://flowyard.example.com/api/workflows'), env, { waitUntil: () => {} });
  assert.equal(answer.status, 500);
  const body = (await answer.json()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, 'misconfigured');
  assert.match(body.error.message, /ARTIFACTS_URL must be an s3:\/\/ URL/);
  assert.doesNotMatch(body.error.message, /\n\s+at /);
});
