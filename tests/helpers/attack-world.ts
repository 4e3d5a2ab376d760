/**
 * A populated server for attacks: users of every role (and a revoked token, a disabled user, an expired session),
 * a registered runner holding real jobs, a published workflow with a secret and a webhook, runs, a share link and
 * an environment, all made through the API so that every path parameter names a real object.
 */
import assert from 'node:assert/strict';
import type { Role } from '../../db/schema.ts';
import { createApiToken, createSession, resetPassword } from '../../server/services/auth.ts';
import { installPackage } from '../../server/services/plugins/installed.ts';
import { readPackage } from '../../server/services/plugins/package.ts';
import { packFolder } from '../../server/services/plugins/pack-folder.ts';
import { TEST_ADMIN_TOKEN } from './api.ts';
import type { TestServer } from './server.ts';

/** Who a request claims to be: the user role it carries (null: none that counts) or a runner. */
export interface Credential {
  name: string;
  role: Role | null;
  runner: boolean;
  /** Cookie credentials send our Origin on unsafe requests, as the browser does; CSRF is tested separately. */
  headers: Record<string, string>;
  cookie?: string;
  /** Routes this credential may still use although it counts as no role (a password that must be changed first). */
  stillAllowed?: string[];
}

export interface AttackWorld {
  credentials: Credential[];
  byName(name: string): Credential;
  workflowId: string;
  hookPath: string;
  runId: string;
  otherRunId: string;
  jobId: string;
  runLogText: string;
  otherRunLogText: string;
  /** A run waiting at a gate no approvers are listed for: editors decide. */
  gatedRunId: string;
  shareToken: string;
  spareShareId: string;
  victimUserId: string;
  editorTokenId: string;
  spareRegistrationTokenId: string;
  runnerId: string;
  environmentId: string;
  secretValue: string;
  environmentSecretValue: string;
  /** An installed plugin (`owner/name`, version 1.0.0): the fixture of tests/fixtures/plugins/hello-echo. */
  pluginName: string;
}

export const PASSWORD = 'a long enough password';
export const HOOK_SECRET_VALUE = 'matrix-hook-secret';
const ENVIRONMENT_SECRET_VALUE = 'matrix-environment-secret';
const WORKFLOW_YAML = `name: matrix
secrets: [HOOK_SECRET]
pipelines:
  build:
    trigger: { type: manual }
    runs_on: [matrix]
    steps:
      - name: say
        type: step.log
        config: { message: hi }
  gated:
    trigger: { type: manual }
    runs_on: [matrix]
    steps:
      - name: build
        type: step.log
        config: { message: built }
      - name: approval
        type: step.gate
        config: { type: manual }
  on-push:
    trigger: { type: http, config: { path: /matrix/push, secret: HOOK_SECRET } }
    runs_on: [matrix]
    steps:
      - name: say
        type: step.log
        config: { message: pushed }
`;

async function expectJson(response: Response, status: number): Promise<any> {
  const text = await response.text();
  assert.equal(response.status, status, `${response.url}: ${text}`);
  return text ? JSON.parse(text) : undefined;
}

export async function buildAttackWorld(server: TestServer): Promise<AttackWorld> {
  const admin = (method: string, path: string, body?: unknown) => server.call(method, path, body);
  const request = (path: string, init: RequestInit) => fetch(`${server.url}${path}`, init);

  /** Through the API; without a password when the test never signs in as them (hashing is the slow part). */
  async function newUser(email: string, role: Role, password: string | undefined = PASSWORD): Promise<string> {
    return (await expectJson(await admin('POST', '/api/users', { email, name: email.split('@')[0], role, password }), 201)).user.id;
  }
  async function signIn(email: string, password = PASSWORD): Promise<string> {
    const response = await request('/api/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    await expectJson(response.clone(), 200);
    return (response.headers.get('set-cookie') ?? '').split(';')[0]!;
  }
  async function apiToken(cookie: string, name: string): Promise<{ id: string; token: string }> {
    const response = await request('/api/tokens', {
      method: 'POST',
      headers: { cookie, origin: server.url, 'content-type': 'application/json' },
      body: JSON.stringify({ name }),
    });
    return expectJson(response, 201);
  }
  const cookieCredential = (name: string, role: Role | null, cookie: string): Credential => ({
    name,
    role,
    runner: false,
    cookie,
    headers: { cookie, origin: server.url },
  });
  const bearerCredential = (name: string, role: Role | null, token: string, runner = false): Credential => ({
    name,
    role,
    runner,
    headers: { authorization: `Bearer ${token}` },
  });

  await newUser('viewer@example.com', 'viewer');
  await newUser('editor@example.com', 'editor');
  await newUser('admin2@example.com', 'admin');
  const disabledId = await newUser('gone@example.com', 'editor', undefined);
  const expiredId = await newUser('expired@example.com', 'editor', undefined);
  const victimUserId = await newUser('victim@example.com', 'viewer', undefined);

  const viewerCookie = await signIn('viewer@example.com');
  const editorCookie = await signIn('editor@example.com');
  const adminCookie = await signIn('admin2@example.com');
  const viewerToken = await apiToken(viewerCookie, 'viewer automation');
  const editorToken = await apiToken(editorCookie, 'editor automation');
  const revoked = await apiToken(viewerCookie, 'leaked');
  assert.equal((await request(`/api/tokens/${revoked.id}`, { method: 'DELETE', headers: { cookie: viewerCookie, origin: server.url } })).status, 204);
  const expiredToken = await apiToken(viewerCookie, 'expired automation');
  await server.database.client.execute({ sql: 'update api_tokens set expires_at = ? where id = ?', args: [Date.now() - 60_000, expiredToken.id] });
  const disabledToken = await createApiToken(server.database.db, disabledId, 'former colleague');
  await expectJson(await admin('PATCH', `/api/users/${disabledId}`, { disabled: true }), 200);
  // An admin whose password was reset (a printed password, perhaps read from a log) must choose a new one first.
  await newUser('pending@example.com', 'admin');
  const pendingCookie = await signIn('pending@example.com', await resetPassword(server.database.db, 'pending@example.com'));
  const expiredCookie = `flowyard_session=${(await createSession(server.database.db, expiredId)).token}`;
  await server.database.client.execute({ sql: 'update sessions set expires_at = ? where user_id = ?', args: [Date.now() - 60_000, expiredId] });

  // The runner registers through the protocol with a registration token an admin created.
  const registration = await expectJson(await admin('POST', '/api/runner-tokens', { description: 'matrix', labels: ['matrix'] }), 201);
  const spareRegistrationTokenId = (await expectJson(await admin('POST', '/api/runner-tokens', { description: 'spare' }), 201)).id;
  const registered = await expectJson(
    await request('/api/runner/v1/register', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ registrationToken: registration.token, name: 'matrix-runner', labels: ['matrix'], capacity: 3 }),
    }),
    201,
  );
  const runnerCall = (method: string, path: string, body?: unknown) =>
    request(`/api/runner/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${registered.token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  const workflowId = (await expectJson(await admin('POST', '/api/workflows', { name: 'matrix', yaml: WORKFLOW_YAML }), 201)).id;
  await expectJson(await admin('POST', `/api/workflows/${workflowId}/publish`), 200);
  await expectJson(await admin('PUT', `/api/workflows/${workflowId}/secrets/HOOK_SECRET`, { value: HOOK_SECRET_VALUE }), 204);

  async function runWithLog(text: string): Promise<{ runId: string; jobId: string }> {
    const runId = (await expectJson(await admin('POST', `/api/workflows/${workflowId}/runs`, { pipeline: 'build' }), 201)).id;
    const claimed = await expectJson(await runnerCall('POST', '/claim', { waitSeconds: 2 }), 200);
    const jobId: string = claimed.job.jobId;
    const logged = await runnerCall('POST', `/jobs/${jobId}/logs`, { chunks: [{ stepIndex: 0, seq: 0, data: Buffer.from(text).toString('base64') }] });
    await expectJson(logged, 200);
    return { runId, jobId };
  }
  const runLogText = 'log line of the shared run';
  const otherRunLogText = 'log line of a run nobody shared';
  const { runId, jobId } = await runWithLog(runLogText);
  const { runId: otherRunId } = await runWithLog(otherRunLogText);

  const gatedRunId = (await expectJson(await admin('POST', `/api/workflows/${workflowId}/runs`, { pipeline: 'gated' }), 201)).id;
  const gatedJob = (await expectJson(await runnerCall('POST', '/claim', { waitSeconds: 2 }), 200)).job.jobId;
  assert.equal((await runnerCall('POST', `/jobs/${gatedJob}/steps/0`, { state: 'succeeded', exitCode: 0 })).status, 204);
  assert.equal((await runnerCall('POST', `/jobs/${gatedJob}/done`, { state: 'succeeded' })).status, 204);

  const share = await expectJson(await admin('POST', `/api/runs/${runId}/shares`, {}), 201);
  const spareShareId = (await expectJson(await admin('POST', `/api/runs/${runId}/shares`, {}), 201)).id;
  const environment = await expectJson(
    await admin('POST', '/api/environments', { name: 'matrix-env', provider: 'docker', config: {}, secrets: { DEPLOY_KEY: ENVIRONMENT_SECRET_VALUE } }),
    201,
  );

  const plugin = await readPackage(await packFolder(new URL('../fixtures/plugins/hello-echo', import.meta.url).pathname));
  await installPackage(server.database.db, plugin, { registry: 'local', userId: null });
  const credentials: Credential[] = [
    { name: 'anonymous', role: null, runner: false, headers: {} },
    { name: 'malformed Authorization', role: null, runner: false, headers: { authorization: 'Basic YWRtaW46YWRtaW4=' } },
    cookieCredential('viewer session', 'viewer', viewerCookie),
    bearerCredential('viewer API token', 'viewer', viewerToken.token),
    cookieCredential('editor session', 'editor', editorCookie),
    bearerCredential('editor API token', 'editor', editorToken.token),
    cookieCredential('admin session', 'admin', adminCookie),
    bearerCredential('admin API token', 'admin', TEST_ADMIN_TOKEN),
    bearerCredential('runner token', null, registered.token, true),
    bearerCredential('share token as Bearer', null, share.token),
    bearerCredential('revoked API token', null, revoked.token),
    bearerCredential('expired API token', null, expiredToken.token),
    bearerCredential('disabled user API token', null, disabledToken.token),
    cookieCredential('expired session', null, expiredCookie),
    {
      ...cookieCredential('admin session before the forced password change', null, pendingCookie),
      stillAllowed: ['GET /api/auth/me', 'POST /api/auth/password', 'POST /api/auth/logout'],
    },
  ];
  return {
    credentials,
    byName: (name) => credentials.find((credential) => credential.name === name) ?? assert.fail(`no credential ${name}`),
    workflowId,
    hookPath: '/hooks/matrix/push',
    runId,
    otherRunId,
    gatedRunId,
    jobId,
    runLogText,
    otherRunLogText,
    shareToken: share.token,
    spareShareId,
    victimUserId,
    editorTokenId: editorToken.id,
    spareRegistrationTokenId,
    runnerId: registered.runnerId,
    environmentId: environment.id,
    secretValue: HOOK_SECRET_VALUE,
    environmentSecretValue: ENVIRONMENT_SECRET_VALUE,
    pluginName: plugin.manifest.name,
  };
}
