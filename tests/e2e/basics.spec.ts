import { expect, test } from '@playwright/test';
import { screenshot, signIn } from '../e2e-helpers/browser.ts';
import { startServer, type FlowyardServer } from '../e2e-helpers/server.ts';
import { templates } from '../../app/lib/examples.ts';

let server: FlowyardServer;

test.beforeAll(async () => {
  server = await startServer();
});

test.afterAll(async () => {
  await server?.stop();
});

test('signs in with the printed first-admin password', async ({ page }) => {
  await page.goto(`${server.url}/`);
  await expect(page).toHaveURL(`${server.url}/login`);
  await page.getByLabel('E-mail').fill(server.adminEmail);
  await page.getByLabel('Password').fill('not-the-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toContainText('wrong email or password');
  await screenshot(page, 'login-error');

  await page.getByLabel('Password').fill(server.adminPassword);
  await page.getByLabel('Password').press('Enter');
  await expect(page).toHaveURL(`${server.url}/`);
  await expect(page.getByRole('heading', { name: 'Workflows', level: 1 })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'No workflows yet' })).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Main' })).toBeVisible();
  await screenshot(page, 'workflows-empty');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(`${server.url}/login`);
});

test('every example builds with try-activate', async ({ request }) => {
  for (const template of templates) {
    const response = await request.post(`${server.url}/api/try-activate`, {
      headers: { authorization: `Bearer ${server.adminToken}` },
      data: { yaml: template.yaml(`example-${template.id}`) },
    });
    const body = await response.json();
    expect(body.status, `${template.id}: ${JSON.stringify(body.diagnostics)}`).toBe('build_ok');
  }
});

test('creates a workflow from an example and lists it', async ({ page }) => {
  await signIn(page, server);
  await page.goto(`${server.url}/`);
  await page.getByRole('button', { name: 'New workflow' }).first().click();
  const dialog = page.getByRole('dialog', { name: 'New workflow' });
  await dialog.getByLabel('Name').fill('site-build');
  await dialog.getByRole('radio', { name: /Shell build/ }).check();
  await screenshot(page, 'workflows-create');
  await dialog.getByRole('button', { name: 'Create workflow' }).click();
  await expect(page).toHaveURL(/\/workflows\/[\w-]+$/);

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Workflows' }).click();
  const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: 'site-build' }) });
  await expect(row).toContainText('Draft only');
  await expect(row).toContainText('Never run');
  await expect(row).toContainText(server.adminEmail);
  await screenshot(page, 'workflows-list');

  // The same name again is refused with the server's message, shown in the dialog.
  await page.getByRole('button', { name: 'New workflow' }).click();
  await dialog.getByLabel('Name').fill('site-build');
  await dialog.getByRole('button', { name: 'Create workflow' }).click();
  await expect(dialog.getByRole('alert')).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
});

test('runners page creates a registration token and shows a new runner without a reload', async ({ page, request }) => {
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  await signIn(page, server);
  await page.goto(`${server.url}/runners`);
  await expect(page.getByRole('heading', { name: 'No runners yet' })).toBeVisible();
  await page.getByLabel('Description').fill('e2e host');
  await page.getByRole('button', { name: 'Create registration token' }).click();

  const command = page.getByRole('textbox', { name: 'Command' });
  const token = await page.getByRole('textbox', { name: 'Registration token' }).inputValue();
  expect(token.length).toBeGreaterThan(20);
  await expect(command).toHaveValue(
    new RegExp(`^npx --yes ${server.url}/downloads/flowyard-[0-9.]+\\.tgz runner --url ${server.url} --token ${token} --labels linux,docker$`),
  );
  await page.getByRole('button', { name: 'Copy command' }).click();
  await expect(page.getByRole('button', { name: 'Copied' })).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(await command.inputValue());

  const registered = await request.post(`${server.url}/api/runner/v1/register`, {
    data: { registrationToken: token, name: 'e2e-runner', labels: ['linux', 'docker'], capacity: 3, version: '9.9.9' },
  });
  expect(registered.status()).toBe(201);
  const row = page.getByRole('row').filter({ hasText: 'e2e-runner' });
  await expect(row).toContainText('Online', { timeout: 10_000 });
  await expect(row).toContainText('0 / 3');
  await expect(row).toContainText('9.9.9');
  await screenshot(page, 'runners');
});

test('settings creates an API token shown once, which works until revoked', async ({ page, request }) => {
  await signIn(page, server);
  await page.goto(`${server.url}/settings`);
  // The admin's FLOWYARD_ADMIN_TOKEN is already listed.
  await expect(page.getByRole('row')).not.toHaveCount(0);
  await page.getByLabel('Token name').fill('ci-bot');
  await page.getByRole('button', { name: 'Create token' }).click();

  const secret = await page.getByRole('textbox', { name: 'API token “ci-bot”' }).inputValue();
  const asBot = () => request.get(`${server.url}/api/auth/me`, { headers: { authorization: `Bearer ${secret}` } });
  expect((await asBot()).status()).toBe(200);
  const row = page.getByRole('row').filter({ hasText: 'ci-bot' });
  await expect(row).toContainText('active');
  await screenshot(page, 'settings-token-created');

  await page.getByRole('button', { name: 'Done' }).click();
  await expect(page.getByRole('textbox', { name: 'API token “ci-bot”' })).toHaveCount(0);
  await row.getByRole('button', { name: 'Revoke' }).click();
  await row.getByRole('button', { name: 'Revoke ci-bot' }).click();
  await expect(row).toContainText('revoked');
  expect((await asBot()).status()).toBe(401);
  await screenshot(page, 'settings-token-revoked');
});

test('a signed-out visit to /settings lands on /login and returns after signing in', async ({ page }) => {
  await page.goto(`${server.url}/settings`);
  await expect(page).toHaveURL(`${server.url}/login?next=${encodeURIComponent('/settings')}`);
  await expect(page.getByRole('navigation', { name: 'Main' })).toHaveCount(0);
  await page.getByLabel('E-mail').fill(server.adminEmail);
  await page.getByLabel('Password').fill(server.adminPassword);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(`${server.url}/settings`);
  await expect(page.getByRole('heading', { name: 'Settings', level: 1 })).toBeVisible();
});
