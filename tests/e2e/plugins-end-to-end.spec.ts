/**
 * The plugins' "done" end to end, with real parts only: both example plugins are built (the http-check image on
 * the local Docker engine, the kv gRPC service bundled) and uploaded to a second Flowyard process, the remote
 * registry. The server under test (FLOWYARD_PLUGIN_REGISTRIES naming it, its embedded runner on the same engine)
 * installs both by name and range through the API; in the editor their step types and outputs complete; the
 * workflow is published from the editor with `requires: plugins` pinning both; a run on the embedded runner
 * streams its logs to the run page while it runs, and the steps' outputs are the plugins' (http-check checks a
 * page a container serves on the run's network, so the test targets nothing but loopback).
 */
import { expect, test, type Page } from '@playwright/test';
import { buildExamplePlugins, type PackedPlugin } from '../../scripts/build-example-plugins.ts';
import { screenshot, signIn } from '../e2e-helpers/browser.ts';
import { replaceLine, suggestionLabels } from '../e2e-helpers/editor.ts';
import { api, getRun, terminalText, waitForEmbeddedRunner, waitForRun } from '../e2e-helpers/runs.ts';
import { startServer, type FlowyardServer } from '../e2e-helpers/server.ts';

const HTTP_CHECK = 'flowyard-examples/http-check';
const KV = 'flowyard-examples/kv';

let built: Record<'http-check' | 'kv', PackedPlugin>;
let registry: FlowyardServer;
let server: FlowyardServer;

test.beforeAll(async () => {
  // Two servers, an image build and a bundle on a busy machine.
  test.setTimeout(300_000);
  built = await buildExamplePlugins();
  registry = await startServer();
  for (const plugin of Object.values(built)) {
    const uploaded = await fetch(`${registry.url}/api/plugins/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${registry.adminToken}`, 'content-type': 'application/gzip' },
      body: new Uint8Array(plugin.archive),
    });
    expect(uploaded.status, `${await uploaded.clone().text()}\n${registry.output()}`).toBe(201);
  }
  server = await startServer({ runner: true, env: { FLOWYARD_PLUGIN_REGISTRIES: `${registry.url}/registry`, FLOWYARD_PLUGIN_REGISTRY_TTL: '0' } });
  await waitForEmbeddedRunner(server);
});

test.afterAll(async () => {
  await server?.stop();
  await registry?.stop();
});

// Line numbers matter: the test edits lines 19, 24 and 28.
const WORKFLOW = `name: plugins-e2e
requires:
  plugins:
    - { name: ${HTTP_CHECK}, version: ^0.1.0 }
    - { name: ${KV}, version: ^0.1 }
pipelines:
  main:
    trigger: { type: manual }
    runs_on: [linux, docker]
    steps:
      - name: web
        type: step.docker_run
        config:
          image: flowyard/busybox:latest
          command: [sh, -c, 'mkdir -p /www && echo ok > /www/index.html && exec timeout 120 httpd -f -p 8080 -h /www']
          wait_for_exit: false
          network_mode: bridge
      - name: check
        type: step.http_check
        config:
          url: 'http://{{ printf "%.12s" .steps.web.container_id }}:8080/'
          network_mode: bridge
      - name: remember
        type: step.kv
        config:
          op: set
          key: status
          value: 'web answered {{ .steps.check.status }}'
      - name: greet
        type: step.kv
        config:
          op: render
          template: '[[status]] in run {{ .meta.run_number }}'
      - name: hold
        type: step.kv
        config: { op: get, key: status, wait_ms: 30000 }
`;

interface Details {
  installed: boolean;
  versions: Array<{ version: string; digest: string; installed: boolean; installedByEmail: string | null }>;
  usedBy: Array<{ workflow: string; version: number; pinned: string }>;
}

async function json<T>(response: Response, status: number): Promise<T> {
  const text = await response.text();
  expect(response.status, text).toBe(status);
  return JSON.parse(text) as T;
}

async function completes(page: Page, line: number, typed: string, expected: string, restore: string): Promise<void> {
  await replaceLine(page, line, typed);
  await page.keyboard.press('Control+Space');
  await expect.poll(() => suggestionLabels(page), { timeout: 15_000 }).toContain(expected);
  await page.keyboard.press('Escape');
  await replaceLine(page, line, restore);
}

test('both example plugins install from a remote registry, complete in the editor and run in a published workflow', async ({ page }) => {
  test.setTimeout(300_000);

  // Offered by the other Flowyard only, then installed by name and range as an admin; the digest is the one the build packed.
  for (const [name, range, plugin] of [
    [HTTP_CHECK, '^0.1.0', built['http-check']],
    [KV, '0.1.x', built.kv],
  ] as const) {
    const offered = await json<{ plugins: Array<{ name: string; source: string; installed: boolean }> }>(
      await api(server, 'GET', `/api/plugins?q=${encodeURIComponent(name)}`),
      200,
    );
    expect(offered.plugins.find((p) => p.name === name)).toMatchObject({ source: `${registry.url}/registry`, installed: false });
    const installed = await json<Details>(await api(server, 'POST', '/api/plugins/install', { name, version: range }), 201);
    expect(installed.installed).toBe(true);
    expect(installed.versions.filter((v) => v.installed)).toEqual([
      expect.objectContaining({ version: '0.1.0', digest: plugin.digest, installedByEmail: server.adminEmail }),
    ]);
  }

  // The marketplace and the validation matrix link to each other; both list the installed plugins.
  await signIn(page, server);
  await page.goto(`${server.url}/marketplace`);
  await expect(page.getByRole('article', { name: KV }).getByText('installed 0.1.0')).toBeVisible();
  await page.locator('main').getByRole('link', { name: 'Validation matrix' }).click();
  await expect(page).toHaveURL(`${server.url}/marketplace/matrix`);
  await expect(page.locator('main')).toContainText(HTTP_CHECK);
  await page.locator('main').getByRole('link', { name: 'Marketplace', exact: true }).click();
  await expect(page).toHaveURL(`${server.url}/marketplace`);

  const { id } = await json<{ id: string }>(await api(server, 'POST', '/api/workflows', { name: 'plugins-e2e', yaml: WORKFLOW }), 201);
  await page.goto(`${server.url}/workflows/${id}`);
  await expect(page.getByRole('status').filter({ hasText: 'Connected' })).toBeVisible({ timeout: 45_000 });
  await expect(page.locator('.monaco-editor .view-line').first()).not.toBeEmpty();
  await expect(page.getByText('No problems.')).toBeVisible({ timeout: 30_000 });
  await expect(page.locator('.types')).toContainText(`${HTTP_CHECK} 0.1.0`);
  await expect(page.locator('.types')).toContainText(`${KV} 0.1.0`);

  // The plugin step types complete like built-in ones, and so do their declared outputs in templates.
  await completes(page, 19, '        type: step.http_', 'step.http_check', '        type: step.http_check');
  await screenshot(page, 'plugins-e2e-completion');
  await completes(page, 24, '        type: step.k', 'step.kv', '        type: step.kv');
  await replaceLine(page, 28, "          value: 'web answered {{ .steps.check.");
  await expect.poll(() => suggestionLabels(page), { timeout: 15_000 }).toEqual(expect.arrayContaining(['status', 'ok', 'latency_ms']));
  await page.keyboard.press('Escape');
  await replaceLine(page, 28, "          value: 'web answered {{ .steps.check.status }}'");
  await expect(page.getByText('No problems.')).toBeVisible({ timeout: 30_000 });

  // Published from the editor: the version pins both plugins with their digests.
  await page.locator('.monaco-editor .view-lines').click();
  await page.keyboard.press('Control+Enter');
  const dialog = page.getByRole('dialog', { name: 'Publish' });
  await dialog.getByLabel('Message').fill('both example plugins');
  await dialog.getByLabel('Message').press('Control+Enter');
  await expect(page.getByRole('status').filter({ hasText: 'Published version 1' })).toBeVisible({ timeout: 30_000 });
  const version = await json<{ yaml: string }>(await api(server, 'GET', `/api/workflows/${id}/versions/1`), 200);
  expect(version.yaml).toBe(WORKFLOW);
  for (const name of [HTTP_CHECK, KV]) {
    const details = await json<Details>(await api(server, 'GET', `/api/plugins/${name}`), 200);
    expect(details.usedBy).toEqual([{ workflow: 'plugins-e2e', version: 1, pinned: '0.1.0' }]);
  }

  // Run it on the embedded runner; the run page streams the logs while the last step still waits.
  const run = await json<{ id: string }>(await api(server, 'POST', `/api/workflows/${id}/runs`, { pipeline: 'main' }), 201);
  // hold logs, then waits 30 s before answering: the page follows the running step and streams its lines meanwhile.
  // The page is opened once hold runs: Chromium drops its requests (ERR_NETWORK_CHANGED) while Docker adds the
  // bridge interfaces of the earlier steps' containers.
  await waitForRun(server, run.id, (r) => r.steps.find((s) => s.name === 'hold')?.state === 'running', 120_000);
  await page.goto(`${server.url}/runs/${run.id}`);
  await expect.poll(() => terminalText(page), { timeout: 25_000 }).toMatch(/kv get in plugins-e2e #1 step hold\nsecrets received: none/);
  expect((await getRun(server, run.id)).state, 'the log arrived while the run was going').toBe('running');
  await screenshot(page, 'plugins-e2e-run-streaming');

  const ended = await waitForRun(server, run.id, (r) => !['queued', 'running', 'waiting'].includes(r.state), 120_000);
  expect(ended.state, JSON.stringify(ended.steps)).toBe('succeeded');
  await page
    .getByRole('navigation', { name: 'Steps' })
    .getByRole('link', { name: /^All steps/ })
    .click();
  await expect.poll(() => terminalText(page), { timeout: 30_000 }).toMatch(/GET http:\/\/\w{12}:8080\/: 200 in \d+ ms/);
  expect(await terminalText(page)).toMatch(/kv set in plugins-e2e #1 step remember\nsecrets received: none\nset status = web answered 200/);
  await screenshot(page, 'plugins-e2e-run');

  const outputs = (name: string) => (ended.steps.find((s) => s.name === name) as unknown as { outputs: Record<string, unknown> }).outputs;
  expect(outputs('check')).toMatchObject({ status: 200, ok: true });
  expect(typeof outputs('check').latency_ms).toBe('number');
  expect(outputs('remember')).toEqual({ key: 'status', value: 'web answered 200' });
  expect(outputs('greet')).toEqual({ text: 'web answered 200 in run 1' });
  expect(outputs('hold')).toMatchObject({ key: 'status', value: 'web answered 200', found: true });

  // Validating kv publishes its minimal example into its system workflow, which the editor shows read-only to an admin.
  const environment = await json<{ id: string }>(
    await api(server, 'POST', '/api/environments', { name: 'kv-staging', provider: 'docker', config: {}, secrets: { KV_TOKEN: 'staging' } }),
    201,
  );
  await json(await api(server, 'PUT', `/api/plugin-validations/${KV}/environment`, { environmentId: environment.id }), 200);
  const validation = await json<{ result: string; runId: string }>(await api(server, 'POST', `/api/plugin-validations/${KV}/validate`), 202);
  expect(validation.result).toBe('running');
  const { workflowId } = await json<{ workflowId: string }>(await api(server, 'GET', `/api/runs/${validation.runId}`), 200);
  await page.goto(`${server.url}/workflows/${workflowId}`);
  await expect(page.getByRole('note')).toContainText(
    'Read-only: workflow "plugin-validation--flowyard-examples--kv" is a plugin validation workflow: it runs with the secrets lent',
  );
  await expect(page.locator('.monaco-editor .view-lines')).toContainText('type: step.kv', { timeout: 30_000 });
  await expect(page.getByRole('button', { name: /^Publish…/ })).toHaveCount(0);
  await expect(page.getByText('Loading the shared draft…')).toHaveCount(0);
  await screenshot(page, 'plugins-e2e-validation-workflow-read-only');
  const validated = await waitForRun(server, validation.runId, (r) => !['queued', 'running', 'waiting'].includes(r.state), 120_000);
  expect(validated.state, JSON.stringify(validated.steps)).toBe('succeeded');
});
