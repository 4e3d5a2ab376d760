import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApi, type TestApi } from '../helpers/api.ts';

const workflowYaml = (hookPath: string, message = 'hi') => `name: hooks
pipelines:
  on-push:
    trigger: { type: http, config: { path: ${hookPath} } }
    steps:
      - name: say
        type: step.log
        config: { message: "${message}" }
  nightly:
    trigger: { type: schedule, config: { cron: "0 3 * * *" } }
    steps:
      - name: say
        type: step.log
        config: { message: nightly }
`;

let api: TestApi;
before(async () => {
  api = await testApi();
});
after(() => api.database.cleanup());

async function json(response: Response) {
  return (await response.json()) as Record<string, any>;
}

async function createWorkflow(name: string, yaml: string) {
  const response = await api.call('POST', '/api/workflows', { name, yaml });
  assert.equal(response.status, 201, await response.clone().text());
  return json(response);
}

async function registrations() {
  const hooks = await api.database.client.execute('select workflow_id, path, version from webhook_registrations order by path');
  const schedules = await api.database.client.execute('select workflow_id, cron, version from schedule_registrations');
  return { hooks: hooks.rows.map((r) => ({ ...r })), schedules: schedules.rows.map((r) => ({ ...r })) };
}

describe('public and protected routes', () => {
  test('healthz, schema and openapi need no credential', async () => {
    for (const path of ['/healthz', '/api/schema/workflow.json', '/api/openapi.json']) {
      const response = await api.app.request(path);
      assert.equal(response.status, 200, path);
    }
    const schema = await json(await api.app.request('/api/schema/workflow.json'));
    assert.equal(schema.$id, 'http://127.0.0.1:8080/api/schema/workflow.json');
    assert.ok(JSON.stringify(schema).includes('step.shell_exec'));
  });

  test('everything else needs a credential', async () => {
    for (const [method, path] of [
      ['GET', '/api/workflows'],
      ['POST', '/api/try-activate'],
      ['GET', '/api/workflows/x/versions'],
    ] as const) {
      const response = await api.app.request(path, { method });
      assert.equal(response.status, 401, `${method} ${path}`);
    }
  });

  test('openapi describes every route', async () => {
    const doc = await json(await api.app.request('/api/openapi.json'));
    for (const path of [
      '/api/try-activate',
      '/api/workflows',
      '/api/workflows/{id}/draft',
      '/api/workflows/{id}/publish',
      '/api/workflows/{id}/versions/{n}/restore',
      '/api/schema/workflow.json',
      '/api/tokens',
      '/healthz',
    ]) {
      assert.ok(doc.paths[path], `missing ${path}`);
    }
  });
});

describe('try-activate', () => {
  test('build_ok lists sorted types, the plan and every available type', async () => {
    const response = await api.call('POST', '/api/try-activate', { yaml: workflowYaml('/a') });
    assert.equal(response.status, 200);
    const body = await json(response);
    assert.equal(body.status, 'build_ok');
    assert.deepEqual(body.stepTypes, ['step.log']);
    assert.deepEqual(body.triggerTypes, ['http', 'schedule']);
    assert.deepEqual(body.moduleTypes, []);
    assert.equal(body.plan.pipelines.length, 2);
    assert.ok(body.available.stepTypes.includes('step.deploy'));
    assert.ok(body.available.moduleTypes.includes('docker.registry'));
  });

  test('build_failed is a 422 with positioned diagnostics', async () => {
    const response = await api.call('POST', '/api/try-activate', { yaml: 'name: x\npipelines:\n  p:\n    stepz: []\n' });
    assert.equal(response.status, 422);
    const body = await json(response);
    assert.equal(body.status, 'build_failed');
    assert.equal(body.error, 'line 3, column 3: missing required field "steps" (and 1 more error)');
    const unknownKey = body.diagnostics.find((d: any) => d.code === 'unknown_key');
    assert.deepEqual([unknownKey.line, unknownKey.column, unknownKey.path], [4, 5, 'pipelines.p.stepz']);
    assert.match(unknownKey.message, /did you mean "steps"\?/);
  });

  test('a malformed request is a 400, not a 500', async () => {
    const bad = await api.call('POST', '/api/try-activate', '{not json');
    assert.equal(bad.status, 400);
    const wrong = await api.call('POST', '/api/try-activate', { yml: 'x' });
    assert.equal(wrong.status, 400);
    assert.match((await json(wrong)).error.message, /yaml/);
  });
});

describe('drafts, publish, rollback, versions', () => {
  test('draft saves detect stale revisions', async () => {
    const created = await createWorkflow('drafts', workflowYaml('/drafts'));
    assert.equal(created.draftRevision, 1);
    const first = await api.call('PUT', `/api/workflows/${created.id}/draft`, { yaml: workflowYaml('/drafts', 'one'), baseRevision: 1 });
    assert.equal(first.status, 200);
    assert.equal((await json(first)).revision, 2);
    const stale = await api.call('PUT', `/api/workflows/${created.id}/draft`, { yaml: workflowYaml('/drafts', 'lost'), baseRevision: 1 });
    assert.equal(stale.status, 409);
    assert.equal((await json(stale)).error.currentRevision, 2);
    const stored = await json(await api.call('GET', `/api/workflows/${created.id}`));
    assert.match(stored.draftYaml, /"one"/);
  });

  test('a duplicate name is a 409 and an unknown id a 404', async () => {
    await createWorkflow('twice', workflowYaml('/twice'));
    assert.equal((await api.call('POST', '/api/workflows', { name: 'twice', yaml: 'x' })).status, 409);
    assert.equal((await api.call('GET', '/api/workflows/nope')).status, 404);
  });

  test('publish activates; a failing build changes nothing', async () => {
    const wf = await createWorkflow('publish-me', workflowYaml('/publish-me'));
    const published = await api.call('POST', `/api/workflows/${wf.id}/publish`, { message: 'first' });
    assert.equal(published.status, 200, await published.clone().text());
    assert.equal((await json(published)).version, 1);
    const before = await registrations();
    assert.ok(before.hooks.some((h) => h.path === '/publish-me' && h.version === 1));

    const broken = await api.call('POST', `/api/workflows/${wf.id}/publish`, { yaml: workflowYaml('/publish-me').replace('step.log', 'step.lgo') });
    assert.equal(broken.status, 422);
    assert.equal((await json(broken)).status, 'build_failed');
    assert.deepEqual(await registrations(), before);
    const versions = await json(await api.call('GET', `/api/workflows/${wf.id}/versions`));
    assert.equal(versions.versions.length, 1);
    assert.equal((await json(await api.call('GET', `/api/workflows/${wf.id}`))).activeVersion, 1);
  });

  test('an activation conflict rolls back to the previous version', async () => {
    const holder = await createWorkflow('holder', workflowYaml('/taken'));
    assert.equal((await api.call('POST', `/api/workflows/${holder.id}/publish`)).status, 200);
    const wf = await createWorkflow('wants-it', workflowYaml('/mine'));
    assert.equal((await api.call('POST', `/api/workflows/${wf.id}/publish`)).status, 200);
    const before = await registrations();

    const response = await api.call('POST', `/api/workflows/${wf.id}/publish`, { yaml: workflowYaml('/taken') });
    assert.equal(response.status, 409);
    const body = await json(response);
    assert.equal(body.status, 'rolled_back');
    assert.match(body.error, /^rolled back: webhook path \/taken is already registered by workflow "holder"/);
    assert.equal(body.activeVersion, 1);
    assert.deepEqual(await registrations(), before);
    const versions = await json(await api.call('GET', `/api/workflows/${wf.id}/versions`));
    assert.deepEqual(
      versions.versions.map((v: any) => v.number),
      [1],
    );
  });

  test('try-activate on a published workflow summarises the change', async () => {
    const wf = await createWorkflow('diffed', workflowYaml('/diffed'));
    await api.call('POST', `/api/workflows/${wf.id}/publish`);
    const response = await api.call('POST', `/api/workflows/${wf.id}/try-activate`, { yaml: workflowYaml('/diffed-2', 'changed') });
    const body = await json(response);
    assert.equal(body.status, 'build_ok');
    assert.deepEqual(body.changes.steps, [{ pipeline: 'on-push', added: [], removed: [], changed: ['say'] }]);
    assert.deepEqual(body.changes.triggers, { added: ['on-push: http POST /diffed-2'], removed: ['on-push: http POST /diffed'] });
    assert.equal(body.changes.lines.added, 2);
    assert.match(body.changes.patch, /^\+\s+trigger: \{ type: http, config: \{ path: \/diffed-2 \} \}$/m);
    const draft = await api.call('POST', `/api/workflows/${wf.id}/try-activate`);
    assert.equal((await json(draft)).status, 'build_ok');
  });

  test('versions are kept and restore goes through the same path', async () => {
    const wf = await createWorkflow('restorable', workflowYaml('/r1'));
    await api.call('POST', `/api/workflows/${wf.id}/publish`, { message: 'v1' });
    await api.call('POST', `/api/workflows/${wf.id}/publish`, { yaml: workflowYaml('/r2'), message: 'v2' });
    assert.ok((await registrations()).hooks.some((h) => h.path === '/r2'));
    const restored = await api.call('POST', `/api/workflows/${wf.id}/versions/1/restore`);
    assert.equal(restored.status, 200);
    assert.equal((await json(restored)).version, 3);
    const hooks = (await registrations()).hooks.filter((h) => h.workflow_id === wf.id);
    assert.deepEqual(
      hooks.map((h) => [h.path, h.version]),
      [['/r1', 3]],
    );
    const versions = (await json(await api.call('GET', `/api/workflows/${wf.id}/versions`))).versions;
    assert.deepEqual(
      versions.map((v: any) => [v.number, v.restoredFrom, v.createdBy]),
      [
        [3, 1, 'admin@flowyard.local'],
        [2, null, 'admin@flowyard.local'],
        [1, null, 'admin@flowyard.local'],
      ],
    );
    const v1 = await json(await api.call('GET', `/api/workflows/${wf.id}/versions/1`));
    assert.match(v1.sha256, /^[0-9a-f]{64}$/);
    assert.match(v1.yaml, /\/r1/);
    assert.equal((await api.call('POST', `/api/workflows/${wf.id}/versions/9/restore`)).status, 404);
  });

  test('delete removes the workflow and frees its webhook paths', async () => {
    const wf = await createWorkflow('deleted', workflowYaml('/deleted'));
    await api.call('POST', `/api/workflows/${wf.id}/publish`);
    assert.equal((await api.call('DELETE', `/api/workflows/${wf.id}`)).status, 204);
    assert.equal((await api.call('GET', `/api/workflows/${wf.id}`)).status, 404);
    assert.ok(!(await registrations()).hooks.some((h) => h.path === '/deleted'));
  });
});

describe('users', () => {
  test('an admin adds users with roles; a viewer may read but not change', async () => {
    const created = await api.call('POST', '/api/users', { email: 'Viewer@Example.com', name: 'Vee', role: 'viewer', password: 'a long enough password' });
    assert.equal(created.status, 201);
    assert.equal((await json(created)).user.email, 'viewer@example.com');
    assert.equal((await api.call('POST', '/api/users', { email: 'viewer@example.com', name: 'Again', role: 'viewer' })).status, 409);
    assert.equal((await api.call('POST', '/api/users', { email: 'weak@example.com', name: 'Weak', role: 'viewer', password: 'short' })).status, 400);
    const login = await api.app.request('/api/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'viewer@example.com', password: 'a long enough password' }),
    });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const asViewer = (method: string, path: string, body?: unknown) =>
      api.app.request(path, {
        method,
        headers: { cookie, origin: 'http://localhost', 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    assert.equal((await asViewer('GET', '/api/workflows')).status, 200);
    assert.equal((await asViewer('POST', '/api/workflows', { name: 'nope', yaml: 'x' })).status, 403);
    assert.equal((await asViewer('GET', '/api/users')).status, 403);
    const listed = await json(await api.call('GET', '/api/users'));
    assert.deepEqual(listed.users.map((u: any) => u.role).sort(), ['admin', 'viewer']);
  });
});
