import { join, resolve } from 'node:path';
import { expect, type Page } from '@playwright/test';
import type { FlowyardServer } from './server.ts';

const SCREENSHOTS = resolve(import.meta.dirname, '../output/screenshots');

/** Signs the page's browser context in through the API (the cookie is shared with the page). */
export async function signIn(page: Page, server: FlowyardServer): Promise<void> {
  const response = await page.request.post(`${server.url}/api/auth/login`, { data: { email: server.adminEmail, password: server.adminPassword } });
  expect(response.status(), await response.text()).toBe(200);
}

/** Saves a full-page screenshot as tests/output/screenshots/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}
