import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { parse } from 'yaml';
import { openDatabase } from '../../db/client.ts';
import { plugins, pluginVersions } from '../../db/schema.ts';
import { httpCheckManifest } from '../helpers/http-check-manifest.ts';
import { screenshot, signIn } from '../e2e-helpers/browser.ts';
import { replaceLine, suggestionLabels } from '../e2e-helpers/editor.ts';
import { startServer, type FlowyardServer } from '../e2e-helpers/server.ts';

let server: FlowyardServer;

/** An installed plugin, stored as the installer stores it (a manifest row; the archive bytes do not matter here). */
async function installHttpCheck(dataDir: string): Promise<void> {
  const deployProvider = parse(readFileSync(join(import.meta.dirname, '../../examples/plugins/deploy-digitalocean/plugin.yaml'), 'utf8')) as {
    name: string;
    version: string;
  };
  const handle = await openDatabase(`file:${dataDir}/flowyard.db`);
  try {
    for (const manifest of [httpCheckManifest('1.0.0'), deployProvider]) {
      await handle.db.insert(plugins).values({ name: manifest.name });
      await handle.db
        .insert(pluginVersions)
        .values({ pluginName: manifest.name, version: manifest.version, digest: `sha256:${'1'.repeat(64)}`, manifest, archive: Buffer.from('fake archive') });
    }
  } finally {
    handle.close();
  }
}

test.beforeAll(async () => {
  server = await startServer();
  await installHttpCheck(server.dataDir);
});

test.afterAll(async () => {
  await server?.stop();
});

const WORKFLOW = `name: probe
requires:
  plugins:
    - { name: acme/http-check, version: ^1.0.0 }
pipelines:
  main:
    steps:
      - name: check
        type: step.http_check
        config:
          url: http://127.0.0.1:9/healthz
          expect_status: 200
      - name: report
        type: step.log
        config:
          message: "done"
`;

async function createWorkflow(name: string, yaml = WORKFLOW): Promise<string> {
  const response = await fetch(`${server.url}/api/workflows`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, yaml }),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { id: string }).id;
}

/** As openEditor, with more time to connect: the first editor page of a fresh server on a busy machine is slow. */
async function openEditor(page: Page, id: string): Promise<void> {
  await signIn(page, server);
  await page.goto(`${server.url}/workflows/${id}`);
  await expect(page.getByRole('status').filter({ hasText: 'Connected' })).toBeVisible({ timeout: 45_000 });
  await expect(page.locator('.monaco-editor .view-line').first()).not.toBeEmpty();
}

test('an installed plugin step type is completed, its config keys described on hover, its outputs completed in templates', async ({ page }) => {
  test.setTimeout(120_000);
  await openEditor(page, await createWorkflow('plugin-editor'));
  await expect(page.getByText('No problems.')).toBeVisible();
  await expect(page.locator('.types')).toContainText('acme/http-check 1.0.0'); // the version publishing would pin

  await replaceLine(page, 9, '        type: step.http_');
  await page.keyboard.press('Control+Space');
  await expect.poll(() => suggestionLabels(page)).toContain('step.http_check');
  await screenshot(page, 'editor-plugin-step-completion');
  await page.keyboard.press('Escape');
  await replaceLine(page, 9, '        type: step.http_check');

  await page.locator('.monaco-editor .view-line span', { hasText: 'expect_status' }).first().hover({ force: true });
  await expect(page.locator('.monaco-hover').filter({ hasText: 'The HTTP status the URL must answer with' })).toBeVisible();
  await screenshot(page, 'editor-plugin-config-hover');
  await page.mouse.move(0, 0); // the hover would take the next click

  await replaceLine(page, 16, '          message: "{{ .steps.check.');
  await expect.poll(() => suggestionLabels(page)).toEqual(['status']);
  await expect(page.locator('.suggest-widget')).toContainText('HTTP status the URL answered with');
  await page.keyboard.press('Escape');

  await replaceLine(page, 4, '    - name: ');
  await page.keyboard.press('Control+Space');
  await expect.poll(() => suggestionLabels(page)).toContain('acme/http-check');
  await page.keyboard.press('Escape');
  await replaceLine(page, 4, '    - { name: acme/http-check, version: ^1.0.0 }');

  await replaceLine(page, 12, '          expect_statuz: 200');
  await expect(page.getByRole('list', { name: 'Problems' })).toContainText('did you mean "expect_status"');
});

const DEPLOY_WORKFLOW = `name: ship
requires:
  plugins:
    - { name: flowyard/digitalocean, version: ^0.1.0 }
modules:
  - name: cloud
    type: deploy.target
    config:
      provider: digitalocean
      settings:
        token_secret: DO_TOKEN
pipelines:
  main:
    steps:
      - name: hello
        type: step.log
        config:
          message: hi
`;

test("an installed plugin's deploy provider is completed in deploy.target, and its settings keys under settings", async ({ page }) => {
  test.setTimeout(120_000);
  await openEditor(page, await createWorkflow('plugin-deploy-editor', DEPLOY_WORKFLOW));
  await expect(page.getByText('No problems.')).toBeVisible();

  await replaceLine(page, 9, '      provider: d');
  await page.keyboard.press('Control+Space');
  await expect.poll(() => suggestionLabels(page)).toEqual(expect.arrayContaining(['digitalocean', 'docker']));
  await page.keyboard.press('Escape');
  await replaceLine(page, 9, '      provider: digitalocean');

  await replaceLine(page, 11, '        app_');
  await page.keyboard.press('Control+Space');
  await expect.poll(() => suggestionLabels(page)).toContain('app_name');
  await screenshot(page, 'editor-deploy-provider-settings-completion');
});
