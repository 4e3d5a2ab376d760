import { expect, test } from '@playwright/test';
import { screenshot, signIn } from '../e2e-helpers/browser.ts';
import { startServer, type FlowyardServer } from '../e2e-helpers/server.ts';

let server: FlowyardServer;

test.beforeAll(async () => {
  server = await startServer({ keepPrintedPassword: true });
});

test.afterAll(async () => {
  await server?.stop();
});

test('the first sign-in with the printed password leads to choosing a new one, before anything else', async ({ page }) => {
  await page.goto(`${server.url}/runners`);
  await page.getByLabel('E-mail').fill(server.adminEmail);
  await page.getByLabel('Password').fill(server.adminPassword);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(`${server.url}/settings/password?next=${encodeURIComponent('/runners')}`);
  await expect(page.getByRole('heading', { name: 'Choose a new password', level: 1 })).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Workflows' })).toHaveCount(0);
  await page.goto(`${server.url}/`);
  await expect(page).toHaveURL(/\/settings\/password/);

  const newPassword = 'the admin chose this one';
  await page.getByLabel('Current password').fill(server.adminPassword);
  await page.getByLabel('New password', { exact: true }).fill(newPassword);
  await page.getByLabel('Repeat new password').fill(newPassword);
  await screenshot(page, 'password-forced-change');
  await page.getByRole('button', { name: 'Change password' }).click();
  await expect(page).toHaveURL(`${server.url}/`);
  await expect(page.getByRole('heading', { name: 'Workflows', level: 1 })).toBeVisible();
  server.adminPassword = newPassword;
});

test("an admin disables a user on the Users page; that user's API token fails at once", async ({ page }) => {
  const admin = { authorization: `Bearer ${server.adminToken}` };
  const created = await page.request.post(`${server.url}/api/users`, {
    headers: admin,
    data: { email: 'leaver@example.com', name: 'Leaver', role: 'editor', password: 'leaver password 1' },
  });
  expect(created.status(), await created.text()).toBe(201);
  // The user signs in elsewhere and makes a token for their scripts.
  const login = await fetch(`${server.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'leaver@example.com', password: 'leaver password 1' }),
  });
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
  const tokenResponse = await fetch(`${server.url}/api/tokens`, {
    method: 'POST',
    headers: { cookie, origin: server.url, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'scripts' }),
  });
  const { token } = (await tokenResponse.json()) as { token: string };
  const asLeaver = () => fetch(`${server.url}/api/workflows`, { headers: { authorization: `Bearer ${token}` } });
  expect((await asLeaver()).status).toBe(200);

  await signIn(page, server);
  await page.goto(`${server.url}/`);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
  await expect(page.getByRole('heading', { name: 'Users', level: 1 })).toBeVisible();
  const row = page.getByRole('row').filter({ hasText: 'leaver@example.com' });
  await expect(row).toContainText('Active');
  await row.getByRole('button', { name: 'Disable' }).click();
  await row.getByRole('button', { name: 'Disable leaver@example.com' }).click();
  await expect(row).toContainText('Disabled');
  await expect(page.getByRole('status')).toContainText('no longer work');
  await screenshot(page, 'users-disabled');

  expect((await asLeaver()).status).toBe(401);
  expect((await fetch(`${server.url}/api/auth/me`, { headers: { cookie } })).status).toBe(401);

  // The last admin cannot lock everyone out.
  const adminRow = page.getByRole('row').filter({ hasText: server.adminEmail });
  await adminRow.getByRole('button', { name: 'Disable' }).click();
  await adminRow.getByRole('button', { name: `Disable ${server.adminEmail}` }).click();
  await expect(page.getByRole('alert')).toContainText('last enabled admin');
  await expect(adminRow).toContainText('Active');
});

test('viewers and editors see no Users link', async ({ page }) => {
  const admin = { authorization: `Bearer ${server.adminToken}` };
  await page.request.post(`${server.url}/api/users`, {
    headers: admin,
    data: { email: 'ed@example.com', name: 'Ed', role: 'editor', password: 'editor password 1' },
  });
  const response = await page.request.post(`${server.url}/api/auth/login`, { data: { email: 'ed@example.com', password: 'editor password 1' } });
  expect(response.status()).toBe(200);
  await page.goto(`${server.url}/`);
  await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' })).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' })).toHaveCount(0);
});
