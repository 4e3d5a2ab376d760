import { expect, test } from '@playwright/test';
import { startServer, type FlowyardServer } from '../e2e-helpers/server.ts';

let server: FlowyardServer;

// Parsing the 1.7 MB Swagger UI bundle and rendering every operation takes a while on a busy machine.
test.describe.configure({ timeout: 90_000 });

test.beforeAll(async () => {
  server = await startServer();
});

test.afterAll(async () => {
  await server?.stop();
});

test('the API reference renders the operations of the served OpenAPI document, with no request leaving the server', async ({ page }) => {
  const foreign: string[] = [];
  const problems: string[] = [];
  page.on('request', (request) => {
    if (!request.url().startsWith(server.url) && !request.url().startsWith('data:')) foreign.push(request.url());
  });
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));

  await page.goto(`${server.url}/api/docs`);
  await expect(page.locator('.swagger-ui .info .title')).toContainText('Flowyard API', { timeout: 20_000 });
  const operations = page.locator('.opblock');
  await expect(operations.first()).toBeVisible();
  expect(await operations.count()).toBeGreaterThan(20);
  await expect(page.locator('.opblock-summary-path', { hasText: /^\/api\/workflows$/ }).first()).toBeVisible();

  // Opening an operation shows its parameters and responses.
  await page.locator('.opblock-get .opblock-summary', { hasText: '/api/runs/{id}' }).first().click();
  await expect(page.locator('.opblock.is-open .responses-wrapper')).toBeVisible();

  expect(foreign, 'requests to other hosts').toEqual([]);
  expect(problems, 'console errors (a CSP violation would show here)').toEqual([]);
});
