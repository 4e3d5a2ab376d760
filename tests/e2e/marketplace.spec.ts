import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect, test } from '@playwright/test';
import { screenshot, signIn } from '../e2e-helpers/browser.ts';
import { startServer, type FlowyardServer } from '../e2e-helpers/server.ts';
import { packFiles } from '../../server/services/plugins/archive.ts';

const FIXTURE = resolve(import.meta.dirname, '../fixtures/plugins/hello-echo');
const ECHO = 'test-fixtures/hello-echo';
const LOCAL = 'test-fixtures/local-greeter';

let registry: FlowyardServer;
let server: FlowyardServer;

/** The fixture plugin under another name and step type, packed. */
async function fixtureArchive(name: string, stepType: string): Promise<Buffer> {
  const manifest = readFileSync(join(FIXTURE, 'plugin.yaml'), 'utf8').replace(`name: ${ECHO}`, `name: ${name}`).replaceAll('step.hello_echo', stepType);
  const example = readFileSync(join(FIXTURE, 'examples/minimal/config.yaml'), 'utf8').replaceAll(ECHO, name).replaceAll('step.hello_echo', stepType);
  return packFiles(
    new Map([
      ['plugin.yaml', Buffer.from(manifest)],
      ['examples/minimal/config.yaml', Buffer.from(example)],
    ]),
  );
}

async function upload(target: FlowyardServer, archive: Buffer) {
  const response = await fetch(`${target.url}/api/plugins/upload`, {
    method: 'POST',
    headers: { authorization: `Bearer ${target.adminToken}`, 'content-type': 'application/gzip' },
    body: new Uint8Array(archive),
  });
  expect(response.status, await response.clone().text()).toBe(201);
}

test.beforeAll(async () => {
  // Two servers start on a busy machine.
  test.setTimeout(120_000);
  // A second Flowyard is the remote registry this one searches and installs from.
  registry = await startServer();
  await upload(registry, await fixtureArchive(ECHO, 'step.hello_echo'));
  server = await startServer({ env: { FLOWYARD_PLUGIN_REGISTRIES: `${registry.url}/registry`, FLOWYARD_PLUGIN_REGISTRY_TTL: '0' } });
  await upload(server, await fixtureArchive(LOCAL, 'step.local_greet'));
  const verified = await fetch(`${server.url}/api/plugins/${LOCAL}/status`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ status: 'verified', reason: 'checked by hand' }),
  });
  expect(verified.status).toBe(200);
});

test.afterAll(async () => {
  await server?.stop();
  await registry?.stop();
});

test('search and filter the marketplace, open a plugin and install it as an admin', async ({ page }) => {
  await signIn(page, server);
  await page.goto(`${server.url}/`);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Marketplace' }).click();
  await expect(page.getByRole('heading', { name: 'Marketplace', level: 1 })).toBeVisible();

  const cards = page.getByRole('region', { name: 'Plugins' }).getByRole('article');
  await expect(cards).toHaveCount(2);
  const local = page.getByRole('article', { name: LOCAL });
  await expect(local.getByText('verified')).toBeVisible();
  await expect(local.getByText('installed 1.0.0')).toBeVisible();
  const remote = page.getByRole('article', { name: ECHO });
  await expect(remote.getByText('experimental')).toBeVisible();
  await expect(remote.getByText(`1.0.0 from ${registry.url}/registry`)).toBeVisible();
  await screenshot(page, 'marketplace');

  await page.getByLabel('Search', { exact: true }).fill('local_greet');
  await expect(cards).toHaveCount(1);
  await expect(cards.first()).toHaveAccessibleName(LOCAL);
  await page.getByLabel('Search', { exact: true }).fill('');
  await expect(cards).toHaveCount(2);

  await page.getByLabel('Status').selectOption('experimental');
  await expect(cards).toHaveCount(1);
  await expect(cards.first()).toHaveAccessibleName(ECHO);
  await page.getByLabel('Status').selectOption('deprecated');
  await expect(page.getByText('No plugins found')).toBeVisible();
  await page.getByLabel('Status').selectOption('');

  await page.getByRole('link', { name: ECHO }).click();
  await expect(page).toHaveURL(`${server.url}/marketplace/${ECHO}`);
  await expect(page.getByRole('heading', { name: ECHO, level: 1 })).toBeVisible();
  const step = page.getByRole('region', { name: 'step.hello_echo' });
  await expect(step.getByRole('cell', { name: 'greeting required' })).toBeVisible();
  await expect(step.getByText('Prints a greeting and outputs it.')).toBeVisible();
  await expect(page.getByLabel('Minimal example')).toContainText('name: hello-echo-minimal');
  await expect(page.getByText('not installed · 1.0.0 available')).toBeVisible();
  await expect(page.getByText('Not validated yet.')).toBeVisible();

  const manage = page.getByRole('region', { name: 'Manage plugin' });
  await manage.getByLabel('Version or range').fill('^1');
  await manage.getByRole('button', { name: 'Install' }).click();
  await expect(page.getByText('installed 1.0.0')).toBeVisible();
  await expect(page.getByRole('row').filter({ hasText: server.adminEmail })).toHaveCount(1);
  await expect(manage.getByRole('button', { name: 'Uninstall' })).toBeVisible();
  await screenshot(page, 'marketplace-plugin');

  await manage.getByRole('button', { name: 'Uninstall' }).click();
  await manage.getByRole('button', { name: `Uninstall ${ECHO}` }).click();
  await expect(page.getByText('not installed · 1.0.0 available')).toBeVisible();
});

test('an admin uploads an archive from the marketplace; a broken one shows where it is wrong', async ({ page }) => {
  await signIn(page, server);
  await page.goto(`${server.url}/marketplace`);
  const broken = await packFiles(
    new Map([
      ['plugin.yaml', Buffer.from('name: test-fixtures/broken\nversion: 1.0.0\n')],
      ['examples/minimal/config.yaml', Buffer.from('name: x\n')],
    ]),
  );
  await page.getByLabel('Upload plugin archive').setInputFiles({ name: 'broken.tar.gz', mimeType: 'application/gzip', buffer: broken });
  await expect(page.getByRole('alert')).toContainText('plugin.yaml:1:1: description: required field is missing');

  const archive = await fixtureArchive('test-fixtures/uploaded', 'step.uploaded_greet');
  await page.getByLabel('Upload plugin archive').setInputFiles({ name: 'uploaded.tar.gz', mimeType: 'application/gzip', buffer: archive });
  await expect(page).toHaveURL(`${server.url}/marketplace/test-fixtures/uploaded`);
  await expect(page.getByText('installed 1.0.0')).toBeVisible();
  await expect(page.getByText('from local')).toBeVisible();
});

test("a plugin's deploy providers: found by provider name, shown on its page with their settings", async ({ page }) => {
  const folder = resolve(import.meta.dirname, '../../examples/plugins/deploy-aws-ecs');
  const files = ['plugin.yaml', 'examples/minimal/config.yaml'];
  await upload(server, await packFiles(new Map(files.map((file) => [file, readFileSync(join(folder, file))]))));
  await signIn(page, server);
  await page.goto(`${server.url}/marketplace`);
  const cards = page.getByRole('region', { name: 'Plugins' }).getByRole('article');
  await page.getByLabel('Deploy provider').fill('aws_ecs');
  await expect(cards).toHaveCount(1);
  await expect(cards.first()).toHaveAccessibleName('flowyard/aws-ecs');
  await cards.first().getByRole('link', { name: 'flowyard/aws-ecs' }).click();
  const provider = page.getByRole('region', { name: 'deploy provider aws_ecs' });
  await expect(provider).toContainText('Amazon ECS');
  await expect(provider.getByRole('row').filter({ hasText: 'cluster' })).toContainText('required');
});
