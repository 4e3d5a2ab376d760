/**
 * In-page probes for the editor benchmarks. Times are taken inside the browser with performance.now():
 * a capture-phase keydown listener stamps the key press, and a MutationObserver stamps the moment the
 * editor's DOM shows the result (Monaco renders in an animation frame, so that frame paints it).
 * The functions run in the page: no named inner functions (tsx would wrap them in a `__name` helper).
 */
import { expect, type Page } from '@playwright/test';
import type { FlowyardServer } from '../e2e-helpers/server.ts';

declare global {
  interface Window {
    benchKeyAt: number;
    benchSeen: Promise<number>;
  }
}

/** Signs in, opens the workflow's editor and waits for the shared draft and its first build. */
export async function openEditor(page: Page, server: FlowyardServer, workflowId: string): Promise<void> {
  const login = await page.request.post(`${server.url}/api/auth/login`, { data: { email: server.adminEmail, password: server.adminPassword } });
  expect(login.status()).toBe(200);
  await page.goto(`${server.url}/workflows/${workflowId}`);
  await expect(page.getByRole('status').filter({ hasText: 'Connected' })).toBeVisible({ timeout: 30_000 });
  await expect(page.getByText('Builds', { exact: true })).toBeVisible({ timeout: 30_000 });
  // Wall-clock stamps (timeOrigin + now) so that two pages of one browser can be compared.
  await page.evaluate(() => addEventListener('keydown', () => (window.benchKeyAt = performance.timeOrigin + performance.now()), { capture: true }));
}

/** Moves the cursor to a line and column with Monaco's Go to Line (Ctrl+G accepts `line:column`). */
export async function placeCursor(page: Page, line: number, column: number): Promise<void> {
  await page.locator('.monaco-editor .view-lines').click();
  await page.keyboard.press('Control+g');
  await page.keyboard.type(`${line}:${column}`);
  await page.keyboard.press('Enter');
}

/** Arms a probe that resolves, in wall-clock ms, once an error squiggle is present (or absent). */
export function watchSquiggle(page: Page, present: boolean): Promise<void> {
  return page.evaluate((present) => {
    const editor = document.querySelector('.monaco-editor')!;
    window.benchSeen = new Promise((resolve) => {
      const observer = new MutationObserver(() => {
        if ((editor.querySelector('.cdr.squiggly-error') !== null) !== present) return;
        observer.disconnect();
        resolve(performance.timeOrigin + performance.now());
      });
      observer.observe(editor, { subtree: true, childList: true, attributes: true });
    });
  }, present);
}

/** Arms a probe that resolves once the editor's visible lines contain `text`. */
export function watchText(page: Page, text: string): Promise<void> {
  return page.evaluate((text) => {
    const lines = document.querySelector('.monaco-editor .view-lines')!;
    window.benchSeen = new Promise((resolve) => {
      const observer = new MutationObserver(() => {
        if (!(lines.textContent ?? '').replace(/\u00a0/g, ' ').includes(text)) return;
        observer.disconnect();
        resolve(performance.timeOrigin + performance.now());
      });
      observer.observe(lines, { subtree: true, childList: true, characterData: true });
    });
  }, text);
}

export const keyPressedAt = (page: Page) => page.evaluate(() => window.benchKeyAt);
/** The armed probe's stamp; fails after 15 s (an edit that never showed). */
export const seenAt = (page: Page) =>
  page.evaluate(() =>
    Promise.race([window.benchSeen, new Promise<number>((_, reject) => setTimeout(() => reject(new Error('nothing showed within 15 s')), 15_000))]),
  );

/** The newest POST /api/try-activate as the browser saw it (Resource Timing), in wall-clock ms. */
export const lastCheck = (page: Page) =>
  page.evaluate(() => {
    const entries = performance.getEntriesByType('resource') as PerformanceResourceTiming[];
    const entry = entries.filter((e) => e.name.endsWith('/api/try-activate')).at(-1);
    performance.clearResourceTimings();
    return entry ? { start: performance.timeOrigin + entry.startTime, end: performance.timeOrigin + entry.responseEnd } : undefined;
  });
