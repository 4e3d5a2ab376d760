import { expect, type Page } from '@playwright/test';
import { signIn } from './browser.ts';
import type { FlowyardServer } from './server.ts';

/** Signs in, opens the editor and waits until the shared draft is in it. */
export async function openEditor(page: Page, server: FlowyardServer, id: string): Promise<void> {
  await signIn(page, server);
  await page.goto(`${server.url}/workflows/${id}`);
  await expect(page.getByRole('status').filter({ hasText: 'Connected' })).toBeVisible({ timeout: 15_000 });
  await expect(page.locator('.monaco-editor .view-line').first()).not.toBeEmpty();
}

/** Puts the cursor at the start of a line through Monaco's Go to Line (Ctrl+G). */
export async function goToLine(page: Page, line: number): Promise<void> {
  await page.locator('.monaco-editor .view-lines').click();
  await page.keyboard.press('Control+g');
  await page.keyboard.type(String(line));
  await page.keyboard.press('Enter');
}

export async function endOfLine(page: Page, line: number): Promise<void> {
  await goToLine(page, line);
  await page.keyboard.press('End');
}

/** Replaces a whole line, without Monaco's auto-closing of brackets and quotes. */
export async function replaceLine(page: Page, line: number, text: string): Promise<void> {
  await goToLine(page, line);
  await page.keyboard.press('Shift+End');
  await page.keyboard.insertText(text);
}

/** The labels of the open suggest widget's items. */
export function suggestionLabels(page: Page): Promise<string[]> {
  return page.locator('.monaco-editor .suggest-widget .monaco-list-row .label-name').allTextContents();
}
