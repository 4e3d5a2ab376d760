import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { plugins, pluginVersions } from '../../db/schema.ts';
import { httpCheckManifest } from '../helpers/http-check-manifest.ts';
import { protocolRunner } from '../helpers/protocol-runner.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

/** Installs a plugin version the way the installer stores it: a plugins row, and a plugin_versions row with its manifest. */
async function install(server: TestServer, version: string, runtime: Record<string, unknown> = { kind: 'container', image: `acme/http-check:${version}` }) {
  const manifest = httpCheckManifest(version, { outputs: { status: { description: 'HTTP status' } }, runtime });
  const { db } = server.database;
  await db.insert(plugins).values({ name: manifest.name }).onConflictDoNothing();
  const digest = `sha256:${version.replace(/\D/g, '').padEnd(64, '0')}`;
  await db.insert(pluginVersions).values({ pluginName: manifest.name, version, digest, manifest, archive: Buffer.from(`fake archive ${version}`) });
  return digest;
}

const yaml = (range: string, step = 'step.http_check', config = '{ url: "http://127.0.0.1:9/healthz" }') => `name: probe
requires:
  plugins:
    - { name: acme/http-check, version: "${range}" }
pipelines:
  main:
    steps:
      - name: check
        type: ${step}
        config: ${config}
      - name: report
        type: step.log
        config: { message: "status {{ .steps.check.status }}" }
`;

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.close());

const body = async (response: Response) => (await response.json()) as Record<string, any>;

async function createWorkflow(name: string, text: string): Promise<string> {
  const created = await server.call('POST', '/api/workflows', { name, yaml: text });
  assert.equal(created.status, 201, await created.clone().text());
  return (await body(created)).id as string;
}

describe('builds with installed plugins', () => {
  test('an uninstalled plugin is a diagnostic that names the plugin and version to install', async () => {
    const response = await server.call('POST', '/api/try-activate', { yaml: yaml('^1.0.0') });
    assert.equal(response.status, 422);
    const result = await body(response);
    const entry = result.diagnostics.find((d: any) => d.code === 'plugin_not_installed');
    assert.equal(entry.message, 'plugin acme/http-check is not installed; install acme/http-check@^1.0.0');
    assert.equal(entry.line, 4);
    assert.ok(result.diagnostics.some((d: any) => d.code === 'unknown_step_type' && /neither built in nor provided by an installed plugin/.test(d.message)));
  });

  test('try-activate sees plugin steps: config checks, outputs in templates, available types', async () => {
    const digest = await install(server, '1.0.0');
    const ok = await server.call('POST', '/api/try-activate', { yaml: yaml('^1.0.0') });
    assert.equal(ok.status, 200, await ok.clone().text());
    const built = await body(ok);
    assert.deepEqual(built.stepTypes, ['step.http_check', 'step.log']);
    assert.ok(built.available.stepTypes.includes('step.http_check'));
    assert.deepEqual(built.plan.pipelines[0].steps[0].outputs, ['status']);
    assert.deepEqual(built.pluginPins, [{ name: 'acme/http-check', version: '1.0.0', digest }]);

    const id = await createWorkflow('probe-draft', yaml('^1.0.0', 'step.http_check', '{ url: "http://x", expect_statsu: 201 }'));
    const live = await body(await server.call('POST', `/api/workflows/${id}/try-activate?live=true`));
    assert.equal(live.status, 'build_failed');
    const [d] = live.diagnostics;
    assert.equal(d.path, 'pipelines.main.steps[0].config.expect_statsu');
    assert.match(d.message, /did you mean "expect_status"/);
  });

  test('publish pins the exact version, a newer install does not change the published build, and the run spec carries the plugin runtime', async () => {
    const id = await createWorkflow('probe', yaml('^1.0.0'));
    const published = await server.call('POST', `/api/workflows/${id}/publish`);
    assert.equal(published.status, 200, await published.clone().text());
    const pins = await server.database.client.execute({ sql: 'select plugin_pins from workflow_versions where workflow_id = ?', args: [id] });
    const v1Digest = `sha256:${'100'.padEnd(64, '0')}`;
    assert.deepEqual(JSON.parse(String(pins.rows[0]!.plugin_pins)), [{ name: 'acme/http-check', version: '1.0.0', digest: v1Digest }]);

    await install(server, '1.1.0', { kind: 'remote', command: ['node', 'serve.js'] });
    // The draft now builds with 1.1.0 and the change summary shows the step it changes…
    const draft = await body(await server.call('POST', `/api/workflows/${id}/try-activate`));
    assert.equal(draft.status, 'build_ok');
    assert.deepEqual(draft.changes.steps, [{ pipeline: 'main', added: [], removed: [], changed: ['check'] }]);
    // …but a run of the published version uses the pinned 1.0.0.
    const run = await server.call('POST', `/api/workflows/${id}/runs`, { inputs: {} });
    assert.equal(run.status, 201, await run.clone().text());
    const runner = await protocolRunner(server, 'plugin-runner', []);
    const job = await runner.claim();
    assert.ok(job);
    const [check, report] = job.steps;
    assert.deepEqual(check!.plugin, {
      name: 'acme/http-check',
      version: '1.0.0',
      digest: v1Digest,
      runtime: { kind: 'container', image: 'acme/http-check:1.0.0' },
    });
    assert.deepEqual(check!.config, { url: 'http://127.0.0.1:9/healthz', expect_status: 200 });
    assert.equal(report!.plugin, undefined);
    await runner.done(job.jobId, { state: 'succeeded', outputs: {} });

    // Publishing again pins the newer version, whose remote runtime the next run carries.
    assert.equal((await server.call('POST', `/api/workflows/${id}/publish`)).status, 200);
    await server.call('POST', `/api/workflows/${id}/runs`, { inputs: {} });
    const next = await runner.claim();
    assert.deepEqual(next!.steps[0]!.plugin, {
      name: 'acme/http-check',
      version: '1.1.0',
      digest: `sha256:${'110'.padEnd(64, '0')}`,
      runtime: { kind: 'remote', command: ['node', 'serve.js'], transport: 'unix' },
    });
  });

  test('a plugin step without its requirement says which entry to add', async () => {
    const text = yaml('^1.0.0').replace(/requires:\n {2}plugins:\n.*\n/, '');
    const result = await body(await server.call('POST', '/api/try-activate', { yaml: text }));
    const d = result.diagnostics.find((x: any) => x.code === 'plugin_not_required');
    assert.match(d.message, /add \{ name: acme\/http-check, version: "\^1.1.0" \} under requires.plugins/);
  });

  test('the editor schema and step types include the installed plugins, and revalidate', async () => {
    const schema = await server.call('GET', '/api/schema/workflow.json');
    assert.equal(schema.headers.get('cache-control'), 'no-cache');
    const text = await schema.text();
    assert.match(text, /step\.http_check/);
    assert.match(text, /The URL to call/);
    const etag = schema.headers.get('etag');
    assert.ok(etag);
    const again = await fetch(`${server.url}/api/schema/workflow.json`, { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
    const types = await body(await server.call('GET', '/api/schema/step-types.json'));
    const plugin = types.stepTypes.find((t: any) => t.type === 'step.http_check');
    assert.deepEqual(plugin.outputs, { status: { description: 'HTTP status' } });
  });
});
