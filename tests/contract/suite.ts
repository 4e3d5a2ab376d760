/**
 * The API contract suite: the same cases against any runtime (tests/contract/<runtime>.test.ts gives a
 * ContractTarget). One workflow is reused across the cases and one Docker step runs on a real runner
 * process; everything goes through HTTP and WebSocket, so it holds for Node, Deno and workerd alike.
 * A case the runtime lists in `unsupported` asserts its documented refusal instead.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { caller, coEditor, readSse, refusedHandshake, until, type Answer, type Call } from './client.ts';
import { startRunnerProcess, startServices, stopProcess, type RunningServices } from './services.ts';
import type { ContractTarget, StartedApi, UnsupportedRoute } from './target.ts';

export const CONTRACT_CASES = [
  'auth',
  'workflows and drafts',
  'try-activate',
  'publish and rollback',
  'runs and the runner protocol',
  'SSE logs with resume',
  'artifacts',
  'share links',
  'co-editing',
] as const;
export type ContractCase = (typeof CONTRACT_CASES)[number];

const workflowYaml = (hookPath: string, line = 'line') => `name: contract
pipelines:
  main:
    runs_on: [docker]
    trigger: { type: http, config: { path: ${hookPath} } }
    steps:
      - name: build
        type: step.shell_exec
        config:
          image: flowyard/busybox:latest
          commands: ["mkdir -p dist", "echo 'contract artifact' > dist/index.html", "for i in 1 2 3; do echo ${line} $i; sleep 0.3; done"]
          artifacts_out: [{ key: site, path: dist }]
`;

export function defineContractSuite(target: ContractTarget): void {
  describe(`API contract on ${target.runtime}`, { timeout: 120_000 }, () => {
    let services: RunningServices;
    let api: StartedApi;
    let admin: Call;
    let editor: Call;
    let editorToken: string;
    let registration: Answer;
    let runnerStarting: Promise<ChildProcess> | undefined;
    const runnerName = `contract-${target.runtime}`;
    const state: { workflowId?: string; runId?: string; logEvents?: { id?: string; data: string }[] } = {};
    const hook = `/contract-${target.runtime}`;

    before(async () => {
      services = await startServices(target.runtime);
      api = await target.start(services);
      admin = caller(api.baseUrl, { token: services.adminToken });
      // The runner process starts while the first cases run; the runs case waits for it.
      registration = await admin('POST', '/api/runner-tokens', { description: 'contract' });
      runnerStarting = registration.status === 201 ? startRunnerProcess(api.baseUrl, registration.body.token, runnerName, services.dir) : undefined;
      runnerStarting?.catch(() => undefined);
    });
    after(async () => {
      const runner = await runnerStarting?.catch(() => undefined);
      if (runner) await stopProcess(runner);
      await api?.stop();
      await services?.close();
    });

    /** A case the runtime refuses asserts the refusal; others run `body`. */
    const contract = (name: ContractCase, body: () => Promise<void>, refusal?: (route: UnsupportedRoute) => Promise<{ status: number; message: string }>) => {
      const unsupported = target.unsupported?.find((route) => route.contractCase === name);
      if (!unsupported) return test(name, body);
      assert.ok(refusal, `the suite cannot assert a refusal of "${name}"`);
      return test(`${name}: refused as documented (${unsupported.reason})`, async () => {
        const answer = await refusal(unsupported);
        assert.equal(answer.status, unsupported.status);
        assert.match(answer.message, unsupported.message);
      });
    };

    contract('auth', async () => {
      assert.equal((await caller(api.baseUrl)('GET', '/api/workflows')).status, 401);
      assert.equal((await caller(api.baseUrl, { token: 'fy_not_a_token' })('GET', '/api/workflows')).status, 401);
      const password = 'contract-Password-42!';
      const email = `editor-${target.runtime}@example.com`;
      const created = await admin('POST', '/api/users', { email, name: 'Editor', role: 'editor', password });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const login = await caller(api.baseUrl)('POST', '/api/auth/login', { email, password });
      assert.equal(login.status, 200, JSON.stringify(login.body));
      const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
      assert.match(cookie, /^flowyard_session=/);
      let session = caller(api.baseUrl, { cookie });
      if (login.body.user.mustChangePassword) {
        assert.equal((await session('POST', '/api/auth/password', { currentPassword: password, newPassword: `${password}-new` })).status, 200);
        const again = await caller(api.baseUrl)('POST', '/api/auth/login', { email, password: `${password}-new` });
        session = caller(api.baseUrl, { cookie: (again.headers.get('set-cookie') ?? '').split(';')[0]! });
      }
      const me = await session('GET', '/api/auth/me');
      assert.equal(me.body.user.email, email);
      assert.equal((await caller(api.baseUrl)('POST', '/api/auth/login', { email, password: 'wrong-password' })).status, 401);
      const token = await session('POST', '/api/tokens', { name: 'contract' });
      assert.equal(token.status, 201, JSON.stringify(token.body));
      editorToken = token.body.token;
      editor = caller(api.baseUrl, { token: editorToken });
      assert.equal((await editor('GET', '/api/workflows')).status, 200);
      assert.equal((await editor('GET', '/api/users')).status, 403, 'an editor is not an admin');
    });

    contract('workflows and drafts', async () => {
      const created = await editor('POST', '/api/workflows', { name: 'contract', yaml: workflowYaml(hook) });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      state.workflowId = created.body.id;
      const { draftRevision } = created.body;
      assert.equal((await editor('POST', '/api/workflows', { name: 'contract', yaml: workflowYaml(hook) })).status, 409, 'names are unique');
      const saved = await editor('PUT', `/api/workflows/${state.workflowId}/draft`, { yaml: workflowYaml(hook, 'draft line'), baseRevision: draftRevision });
      assert.equal(saved.status, 200, JSON.stringify(saved.body));
      const stale = await editor('PUT', `/api/workflows/${state.workflowId}/draft`, { yaml: workflowYaml(hook), baseRevision: draftRevision });
      assert.equal(stale.status, 409);
      const read = await editor('GET', `/api/workflows/${state.workflowId}`);
      assert.match(read.body.draftYaml, /draft line/);
      assert.ok((await editor('GET', '/api/workflows')).body.workflows.some((w: any) => w.id === state.workflowId));
      assert.equal((await editor('GET', '/api/workflows/no-such-workflow')).status, 404);
    });

    contract('try-activate', async () => {
      const ok = await editor('POST', '/api/try-activate', { yaml: workflowYaml(hook) });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.status, 'build_ok');
      const bad = await editor('POST', '/api/try-activate', { yaml: workflowYaml(hook).replace('step.shell_exec', 'step.nonexistent') });
      assert.equal(bad.status, 422);
      assert.equal(bad.body.status, 'build_failed');
      const ofDraft = await editor('POST', `/api/workflows/${state.workflowId}/try-activate`, {});
      assert.equal(ofDraft.status, 200, JSON.stringify(ofDraft.body));
    });

    contract('publish and rollback', async () => {
      const id = state.workflowId!;
      const first = await editor('POST', `/api/workflows/${id}/publish`, { yaml: workflowYaml(hook), message: 'first' });
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.equal(first.body.version, 1);
      const broken = await editor('POST', `/api/workflows/${id}/publish`, { yaml: 'name: [unclosed' });
      assert.equal(broken.status, 422);
      const holder = await editor('POST', '/api/workflows', {
        name: 'path-holder',
        yaml: workflowYaml(`${hook}-taken`).replace('name: contract', 'name: path-holder'),
      });
      assert.equal((await editor('POST', `/api/workflows/${holder.body.id}/publish`, {})).status, 200);
      const conflict = await editor('POST', `/api/workflows/${id}/publish`, { yaml: workflowYaml(`${hook}-taken`) });
      assert.equal(conflict.status, 409, JSON.stringify(conflict.body));
      assert.equal(conflict.body.status, 'rolled_back');
      assert.equal(conflict.body.activeVersion, 1);
      assert.equal((await editor('POST', `/api/workflows/${id}/publish`, { yaml: workflowYaml(hook, 'second'), message: 'second' })).body.version, 2);
      const restored = await editor('POST', `/api/workflows/${id}/versions/1/restore`, {});
      assert.equal(restored.status, 200, JSON.stringify(restored.body));
      assert.equal(restored.body.version, 3);
      const versions = await editor('GET', `/api/workflows/${id}/versions`);
      assert.deepEqual(versions.body.versions.map((v: any) => [v.number, v.restoredFrom]).sort(), [
        [1, null],
        [2, null],
        [3, 1],
      ]);
      assert.equal((await editor('GET', `/api/workflows/${id}`)).body.activeVersion, 3);
    });

    contract('runs and the runner protocol', async () => {
      assert.equal(registration.status, 201, JSON.stringify(registration.body));
      await runnerStarting;
      const runners = await admin('GET', '/api/runners');
      assert.ok(runners.body.runners.some((r: any) => r.name === runnerName && r.online === true));
      const started = await editor('POST', `/api/workflows/${state.workflowId}/runs`, { pipeline: 'main', inputs: {} });
      assert.equal(started.status, 201, JSON.stringify(started.body));
      state.runId = started.body.id;
      // Watch the log live while the runner works: the stream waits for the step and follows it to its end.
      const live = readSse(`${api.baseUrl}/api/runs/${state.runId}/logs?step=build`, { authorization: `Bearer ${editorToken}` }, 'end', 60_000);
      let run: any;
      await until(
        async () => {
          run = (await editor('GET', `/api/runs/${state.runId}`)).body;
          return ['succeeded', 'failed', 'cancelled', 'timed_out'].includes(run.state);
        },
        'the run to finish',
        60_000,
      );
      assert.equal(run.state, 'succeeded', JSON.stringify(run.steps));
      assert.equal(run.steps[0].exitCode, 0);
      const events = await live;
      state.logEvents = events.filter((e) => e.event === 'log');
      assert.equal(events.at(-1)!.event, 'end');
      assert.match(state.logEvents.map((e) => JSON.parse(e.data)).join(''), /line 1\nline 2\nline 3\n/);
    });

    contract('SSE logs with resume', async () => {
      const logEvents = state.logEvents!;
      assert.ok(logEvents.length >= 2, `the step's output came in several chunks (${logEvents.length})`);
      const [first] = logEvents;
      const resumed = await readSse(`${api.baseUrl}/api/runs/${state.runId}/logs?step=build`, {
        authorization: `Bearer ${editorToken}`,
        'last-event-id': first!.id!,
      });
      assert.deepEqual(
        resumed.filter((e) => e.event === 'log').map((e) => [e.id, e.data]),
        logEvents.slice(1).map((e) => [e.id, e.data]),
        'exactly the chunks after Last-Event-ID',
      );
      const raw = await editor('GET', `/api/runs/${state.runId}/logs?step=build`);
      assert.equal(raw.body, logEvents.map((e) => JSON.parse(e.data)).join(''));
    });

    contract('artifacts', async () => {
      const listed = await editor('GET', `/api/runs/${state.runId}/artifacts`);
      assert.equal(listed.status, 200);
      const [artifact] = listed.body.artifacts;
      assert.equal(artifact.key, 'site');
      const redirect = await editor('GET', `/api/runs/${state.runId}/artifacts/download?key=site`);
      assert.ok([302, 303, 307].includes(redirect.status), `a redirect to a signed URL, got ${redirect.status}`);
      const location = new URL(redirect.headers.get('location')!);
      assert.match(location.search, /X-Amz-Signature=/, 'a presigned S3 URL');
      assert.equal(location.origin, new URL(new URLSearchParams(services.artifactsUrl.split('?')[1]).get('endpoint')!).origin);
      const bytes = Buffer.from(await (await fetch(location)).arrayBuffer());
      assert.equal(bytes.length, artifact.size);
      assert.equal(createHash('sha256').update(bytes).digest('hex'), artifact.sha256);
      assert.ok(bytes.includes(Buffer.from('contract artifact')));
      assert.equal((await editor('GET', `/api/runs/${state.runId}/artifacts/download?key=nope`)).status, 404);
    });

    contract('share links', async () => {
      const shared = await editor('POST', `/api/runs/${state.runId}/shares`, { expiresInHours: 1 });
      assert.equal(shared.status, 201, JSON.stringify(shared.body));
      const anonymous = caller(api.baseUrl);
      const view = await anonymous('GET', `/api/share/${shared.body.token}`);
      assert.equal(view.status, 200);
      assert.equal(view.body.workflowName, 'contract');
      assert.ok(!('inputs' in view.body), 'a share shows no inputs');
      assert.match((await anonymous('GET', `/api/share/${shared.body.token}/logs?step=build`)).body, /line 3/);
      assert.equal((await editor('DELETE', `/api/runs/${state.runId}/shares/${shared.body.id}`)).status, 204);
      assert.equal((await anonymous('GET', `/api/share/${shared.body.token}`)).status, 404);
    });

    contract(
      'co-editing',
      async () => {
        const id = state.workflowId!;
        const alice = coEditor(api.wsUrl, id, editorToken);
        const bob = coEditor(api.wsUrl, id, services.adminToken);
        try {
          await Promise.all([alice.synced, bob.synced]);
          const before = (await editor('GET', `/api/workflows/${id}`)).body;
          assert.equal(alice.text.toString(), before.draftYaml);
          alice.text.insert(0, '# from alice\n');
          await until(() => bob.text.toString().startsWith('# from alice\n'), 'bob to see alice');
          bob.text.insert(bob.text.length, '# from bob\n');
          await until(() => alice.text.toString().endsWith('# from bob\n'), 'alice to see bob');
          await until(async () => (await editor('GET', `/api/workflows/${id}`)).body.draftYaml === alice.text.toString(), 'the draft to be saved');
          assert.ok((await editor('GET', `/api/workflows/${id}`)).body.draftRevision > before.draftRevision);
        } finally {
          alice.close();
          bob.close();
        }
        const refused = await refusedHandshake(`${api.wsUrl}/api/collab/${id}`, 'fy_not_a_token');
        assert.equal(refused.status, 401);
      },
      async () => {
        const refused = await refusedHandshake(`${api.wsUrl}/api/collab/${state.workflowId}`, editorToken);
        return { status: refused.status, message: JSON.parse(refused.body).error.message };
      },
    );
  });
}
