import { expect, test, type APIRequestContext, type Locator, type Page } from '@playwright/test';
import { packFiles } from '../../server/services/plugins/archive.ts';
import { screenshot, signIn } from '../e2e-helpers/browser.ts';
import { startServer, type FlowyardServer } from '../e2e-helpers/server.ts';

const PLUGIN = 'acme/flaky-example';
let server: FlowyardServer;

test.beforeAll(async () => {
  server = await startServer({ runner: true });
});

test.afterAll(async () => {
  await server?.stop();
});

/** A plugin archive whose minimal example (a shell step on the runner) passes or exits 1. */
async function pluginArchive(version: string, passes: boolean): Promise<Buffer> {
  const manifest = `name: ${PLUGIN}
version: ${version}
description: A plugin whose example can be made to fail
license: MIT
steps:
  - type: step.flaky_probe
    description: probes
    config: { type: object }
    runtime: { kind: container, image: "flowyard/busybox:latest" }
`;
  const example = `name: minimal
secrets: [PROBE_TOKEN]
pipelines:
  main:
    runs_on: [docker]
    steps:
      - name: probe
        type: step.shell_exec
        config:
          image: flowyard/busybox:latest
          commands: ['echo "probing with $PROBE_TOKEN"', '${passes ? 'echo probe passed' : 'exit 1'}']
`;
  return packFiles(
    new Map([
      ['plugin.yaml', Buffer.from(manifest)],
      ['examples/minimal/config.yaml', Buffer.from(example)],
    ]),
  );
}

async function api(request: APIRequestContext, method: string, path: string, data?: unknown, contentType = 'application/json') {
  const response = await request.fetch(`${server.url}${path}`, {
    method,
    data: data as never,
    headers: { authorization: `Bearer ${server.adminToken}`, ...(data === undefined ? {} : { 'content-type': contentType }) },
  });
  expect(response.ok(), `${method} ${path}: ${await response.text()}`).toBe(true);
  return response.json();
}

const install = (request: APIRequestContext, version: string, passes: boolean) =>
  pluginArchive(version, passes).then((archive) => api(request, 'POST', '/api/plugins/upload', archive, 'application/gzip'));

const rowOf = (page: Page) => page.locator(`tr[data-plugin="${PLUGIN}"]`);
const cells = (row: Locator, result: string) => row.locator(`[data-result="${result}"]`);

/** Clicks "Validate now" and waits until the matrix shows one more result than before. */
async function validateFromPage(page: Page, row: Locator) {
  // The matrix loads after a navigation: count its cells only once the row (and so its button) is there.
  await expect(row.getByRole('button', { name: 'Validate now' })).toBeEnabled({ timeout: 60_000 });
  const before = await row.locator('[data-result]').count();
  await row.getByRole('button', { name: 'Validate now' }).click();
  await expect(row.locator('[data-result]')).toHaveCount(before + 1, { timeout: 90_000 });
}

test('a plugin is promoted by a green run, warned after one red, demoted after two, shown on the matrix and recorded', async ({ page, request }) => {
  test.setTimeout(300_000);
  await install(request, '1.0.0', true);
  const environment = await api(request, 'POST', '/api/environments', {
    name: 'probe-staging',
    provider: 'docker',
    config: {},
    secrets: { PROBE_TOKEN: 'tok' },
  });
  await signIn(page, server);
  await page.goto(`${server.url}/marketplace/matrix`);
  const row = rowOf(page);
  await expect(row.locator('[data-status]')).toHaveText('experimental');
  await expect(row.getByLabel(`Validation environment of ${PLUGIN}`)).toHaveValue('');

  await row.getByLabel(`Validation environment of ${PLUGIN}`).selectOption({ label: 'probe-staging' });
  await expect.poll(async () => (await api(request, 'GET', `/api/plugin-validations/${PLUGIN}`)).environment?.id).toBe(environment.id);

  await validateFromPage(page, row);
  await expect(cells(row, 'green')).toHaveCount(1);
  await expect(row.locator('[data-status]')).toHaveText('verified');

  await install(request, '1.1.0', false);
  await validateFromPage(page, row);
  await expect(cells(row, 'red')).toHaveCount(1);
  await expect(row.locator('[data-status]')).toHaveText('verified');
  await expect(row.locator('[data-warning]')).toBeVisible();
  // The plugin's own page warns too, with the same cells.
  await page.goto(`${server.url}/marketplace/${PLUGIN}`);
  const panel = page.getByRole('region', { name: 'Validation matrix' });
  await expect(panel.locator('[data-warning]')).toContainText('one more red run demotes');
  await expect(panel.locator('[data-result]')).toHaveCount(2);
  await page.goto(`${server.url}/marketplace/matrix`);

  await validateFromPage(page, row);
  await expect(cells(row, 'red')).toHaveCount(2);
  await expect(row.locator('[data-status]')).toHaveText('experimental');
  await expect(row.locator('[data-warning]')).toHaveCount(0);
  await screenshot(page, 'plugin-matrix-demoted');

  // The red cells link to their runs, and the demotion is recorded with exactly those runs.
  const redRuns = await cells(row, 'red').evaluateAll((links) => links.map((link) => link.getAttribute('href')!.replace('/runs/', '')));
  const history = await api(request, 'GET', `/api/plugin-validations/${PLUGIN}`);
  const [demotion, promotion] = history.statusChanges;
  expect([demotion.fromStatus, demotion.toStatus, demotion.changedBy]).toEqual(['verified', 'experimental', 'validation']);
  expect(demotion.runIds).toEqual(redRuns);
  expect([promotion.fromStatus, promotion.toStatus, promotion.changedBy]).toEqual(['experimental', 'verified', 'validation']);
  expect(history.results.map((r: { result: string; version: string }) => `${r.result}@${r.version}`)).toEqual(['red@1.1.0', 'red@1.1.0', 'green@1.0.0']);

  await cells(row, 'red').first().click();
  await expect(page).toHaveURL(new RegExp(`/runs/${redRuns[0]}$`));
  await expect(page.getByText('failed').first()).toBeVisible();
});
